"""What-if: fork the twin at *now* and ask what happens under a scenario, with uncertainty.

:func:`run_whatif` samples the initial state from the estimate and its covariance and the
uncertain parameters from their distributions, simulates every sample with the batch
simulator, and returns percentile bands per variable and, per constraint, the probability
of violating it with a Wilson interval. :func:`fork` takes the starting point from a running
twin's estimator; :func:`whatif_live` does both. Requests and results are frozen pydantic
models (:class:`WhatIfRequest`, :class:`WhatIfResult`).
"""

from processtwin.whatif.engine import ProgressFn, ScenarioError, run_whatif, sample_initial, wilson
from processtwin.whatif.live import Fork, fork, offline_fork, whatif_live
from processtwin.whatif.models import (
    Band,
    Change,
    Constraint,
    ConstraintResult,
    Distribution,
    LogNormal,
    Normal,
    Scenario,
    Uniform,
    WhatIfRequest,
    WhatIfResult,
    scenario_problems,
)

__all__ = [
    "Band",
    "Change",
    "Constraint",
    "ConstraintResult",
    "Distribution",
    "Fork",
    "LogNormal",
    "Normal",
    "ProgressFn",
    "Scenario",
    "ScenarioError",
    "Uniform",
    "WhatIfRequest",
    "WhatIfResult",
    "fork",
    "offline_fork",
    "run_whatif",
    "sample_initial",
    "scenario_problems",
    "whatif_live",
    "wilson",
]
