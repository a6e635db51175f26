"""Optimisation: setpoint proposals (later: what-if, RTO, NMPC)."""

from processtwin.optimization.steady import SetpointConfig, SetpointOptimizer, SetpointProposal

__all__ = ["SetpointConfig", "SetpointOptimizer", "SetpointProposal"]
