"""Ingest pipeline: quality checks over columnar batches, derived points, data reconciliation.

* :mod:`.checks` – NaN, range, rate of change, flatline (always on);
* :mod:`.config` – per-point quality settings with defaults by point type (``quality:``);
* :mod:`.outliers` – causal Hampel filter; :mod:`.gaps` – gap detection and imputation;
* :mod:`.drift` – CUSUM drift detection on sensor pairs or model residuals;
* :mod:`.reconcile` – weighted least-squares reconciliation with gross-error tests;
* :mod:`.derived` – derived points from safe, unit-checked expressions (:mod:`.expr`,
  :mod:`.units`), live and over history (:mod:`.align`);
* :mod:`.stats` – quality figures per point over a sliding window.
"""

from processtwin.pipeline.align import Series
from processtwin.pipeline.checks import CheckState, apply_checks
from processtwin.pipeline.config import (
    FillMethod,
    PointType,
    QualityConfig,
    QualityOverride,
    QualityParams,
    QualitySettings,
)
from processtwin.pipeline.derived import (
    ConstantConfig,
    DerivedConfig,
    DerivedEngine,
    DerivedPoint,
    compile_derived,
    derived_specs,
    recompute,
)
from processtwin.pipeline.drift import (
    Cusum,
    DriftAlarm,
    DriftMonitor,
    DriftPairConfig,
    DriftStatus,
)
from processtwin.pipeline.gaps import Gap
from processtwin.pipeline.pipeline import Pipeline, PipelineResult
from processtwin.pipeline.reconcile import (
    Balance,
    BalanceConfig,
    GrossError,
    Reconciliation,
    SerialResult,
)
from processtwin.pipeline.stats import PointQuality, QualityStats

__all__ = [
    "Balance",
    "BalanceConfig",
    "CheckState",
    "ConstantConfig",
    "Cusum",
    "DerivedConfig",
    "DerivedEngine",
    "DerivedPoint",
    "DriftAlarm",
    "DriftMonitor",
    "DriftPairConfig",
    "DriftStatus",
    "FillMethod",
    "Gap",
    "GrossError",
    "Pipeline",
    "PipelineResult",
    "PointQuality",
    "PointType",
    "QualityConfig",
    "QualityOverride",
    "QualityParams",
    "QualitySettings",
    "QualityStats",
    "Reconciliation",
    "SerialResult",
    "Series",
    "apply_checks",
    "compile_derived",
    "derived_specs",
    "recompute",
]
