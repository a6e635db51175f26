"""State and parameter estimation over process models.

Recursive estimators share one face (:class:`RecursiveEstimator`: ``predict``, ``update``,
``x``, ``P``): the EKF, the UKF and the moving-horizon estimator. :func:`make_estimator`
builds any of them from its configuration, optionally with parameters appended as random
walks, wrapped for plant time and late measurements. Offline, :func:`estimate_parameters`
fits parameters to history with confidence intervals and profile likelihoods, and
:func:`observability_report` / :func:`identifiability_report` answer what a sensor set can
tell.
"""

from processtwin.estimation.augment import ParamWalk, augment, walk_config
from processtwin.estimation.base import Amendable, RecursiveEstimator
from processtwin.estimation.delayed import DelayedEstimator
from processtwin.estimation.ekf import DelayedEKF, EKFConfig, ExtendedKalmanFilter
from processtwin.estimation.factory import (
    ESTIMATOR_KINDS,
    EstimatorKind,
    config_for,
    make_estimator,
    make_filter,
)
from processtwin.estimation.mhe import MHEConfig, MHEStats, MovingHorizonEstimator
from processtwin.estimation.observability import (
    AnalysisConfig,
    IdentifiabilityReport,
    ObservabilityReport,
    StateVerdict,
    identifiability_report,
    observability_report,
)
from processtwin.estimation.paramest import (
    History,
    ParamEstConfig,
    ParamEstResult,
    Profile,
    estimate_parameters,
)
from processtwin.estimation.ukf import UKFConfig, UnscentedKalmanFilter

__all__ = [
    "ESTIMATOR_KINDS",
    "Amendable",
    "AnalysisConfig",
    "DelayedEKF",
    "DelayedEstimator",
    "EKFConfig",
    "EstimatorKind",
    "ExtendedKalmanFilter",
    "History",
    "IdentifiabilityReport",
    "MHEConfig",
    "MHEStats",
    "MovingHorizonEstimator",
    "ObservabilityReport",
    "ParamEstConfig",
    "ParamEstResult",
    "ParamWalk",
    "Profile",
    "RecursiveEstimator",
    "StateVerdict",
    "UKFConfig",
    "UnscentedKalmanFilter",
    "augment",
    "config_for",
    "estimate_parameters",
    "identifiability_report",
    "make_estimator",
    "make_filter",
    "observability_report",
    "walk_config",
]
