"""One entry point for a service: build an EKF, UKF or MHE (optionally with parameters).

The kind follows the configuration's type — :class:`~processtwin.estimation.ekf.EKFConfig`,
:class:`~processtwin.estimation.ukf.UKFConfig` or :class:`~processtwin.estimation.mhe.MHEConfig`
— so a service swaps estimators by configuration alone. ``walks`` appends slowly varying
parameters to the state as random walks (:mod:`~processtwin.estimation.augment`); their
process and initial noise are merged into the configuration unless given there.

Example:
    >>> from processtwin.physics.cstr import van_de_vusse
    >>> est = make_estimator(van_de_vusse(), config_for("ukf", measurement_std={"T_R": 0.1}),
    ...                      walks=[ParamWalk(name="K_w", std=100.0)])
    >>> type(est.est).__name__, est.est.model.state_names[-1]
    ('UnscentedKalmanFilter', 'K_w')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from processtwin.errors import InvalidInputError
from processtwin.estimation.augment import ParamWalk, augment, walk_config
from processtwin.estimation.base import RecursiveEstimator
from processtwin.estimation.delayed import DelayedEstimator
from processtwin.estimation.ekf import EKFConfig, ExtendedKalmanFilter
from processtwin.estimation.mhe import MHEConfig, MovingHorizonEstimator
from processtwin.estimation.ukf import UKFConfig, UnscentedKalmanFilter
from processtwin.physics.model import ProcessModel

__all__ = ["ESTIMATOR_KINDS", "EstimatorKind", "config_for", "make_estimator", "make_filter"]

EstimatorKind = Literal["ekf", "ukf", "mhe"]
ESTIMATOR_KINDS: Mapping[str, type[EKFConfig]] = {"ekf": EKFConfig, "ukf": UKFConfig,
                                                  "mhe": MHEConfig}


def config_for(kind: str, **settings: Any) -> EKFConfig:
    """The configuration of ``kind`` (``"ekf"``, ``"ukf"``, ``"mhe"``) from its fields."""
    cls = ESTIMATOR_KINDS.get(kind)
    if cls is None:
        raise InvalidInputError(f"unknown estimator kind {kind!r}; have {sorted(ESTIMATOR_KINDS)}")
    known = {f.name for f in dataclasses.fields(cls)}
    extra = sorted(set(settings) - known)
    if extra:
        raise InvalidInputError(f"{kind}: unknown settings {extra}")
    return cls(**settings)


def _with_walks(model: ProcessModel, config: EKFConfig, walks: Sequence[ParamWalk]
                ) -> tuple[ProcessModel, EKFConfig]:
    names = {w.name for w in walks}
    aug = augment(model, walks, {k: v for k, v in config.params.items() if k not in names})
    q, p0 = walk_config(aug, walks)
    cfg = dataclasses.replace(
        config, process_std={**q, **config.process_std},
        initial_std={**p0, **config.initial_std},
        params={k: v for k, v in config.params.items() if k not in names})
    return aug, cfg


def make_filter(model: ProcessModel, config: EKFConfig, walks: Sequence[ParamWalk] = ()
                ) -> RecursiveEstimator:
    """The bare estimator for ``config``'s kind, on ``model`` augmented by ``walks``."""
    if walks:
        model, config = _with_walks(model, config, walks)
    if isinstance(config, MHEConfig):
        return MovingHorizonEstimator(model, config)
    if isinstance(config, UKFConfig):
        return UnscentedKalmanFilter(model, config)
    return ExtendedKalmanFilter(model, config)


def make_estimator(model: ProcessModel, config: EKFConfig, *,
                   walks: Sequence[ParamWalk] = (), time_scale: float = 1.0,
                   horizon_s: float = 600.0) -> DelayedEstimator:
    """The estimator stepped on plant time (late values included), ready for a service."""
    return DelayedEstimator(make_filter(model, config, walks), time_scale=time_scale,
                            horizon_s=horizon_s)
