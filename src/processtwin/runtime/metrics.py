"""Prometheus metrics of one runtime (its own registry, so tests never collide)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["Metrics"]


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.ingested = Counter("ptwin_readings_ingested", "Readings accepted into the twin",
                                ["source"], registry=r)
        self.rejected = Counter("ptwin_readings_rejected",
                                "Inputs sent to the dead-letter record", ["reason"], registry=r)
        self.flags = Counter("ptwin_quality_flags", "Values flagged by a quality check",
                             ["reason"], registry=r)
        self.stored = Counter("ptwin_rows_stored", "Rows committed to the store", registry=r)
        self.store_seconds = Histogram("ptwin_store_commit_seconds", "Store commit latency",
                                       registry=r, buckets=(.001, .005, .01, .05, .1, .5, 1, 5))
        self.sync_latency = Gauge("ptwin_sync_latency_seconds",
                                  "Source timestamp to twin state, last batch median",
                                  ["twin"], registry=r)
        self.staleness = Gauge("ptwin_staleness_seconds", "Age of the newest measurement",
                               ["twin"], registry=r)
        self.coverage = Gauge("ptwin_sensor_coverage", "Share of bound points fresh and good",
                              ["twin"], registry=r)
        self.model_rmse = Gauge("ptwin_model_rmse", "Model RMSE on a measured output",
                                ["twin", "output"], registry=r)
        self.estimates = Counter("ptwin_estimator_steps", "Estimator updates", ["twin"],
                                 registry=r)
        self.verdicts = Counter("ptwin_gate_verdicts", "Gate verdicts", ["outcome"], registry=r)
        self.writes = Counter("ptwin_commands_applied", "Commands written to the plant",
                              registry=r)
        self.write_errors = Counter("ptwin_command_write_errors", "Plant writes that failed",
                                    registry=r)
        self.proposals = Counter("ptwin_proposals", "Optimiser proposals", registry=r)
        self.quality_share = Gauge("ptwin_point_quality_share",
                                   "Share of a point's values per quality over the stats window",
                                   ["point", "category"], registry=r)
        self.gaps = Counter("ptwin_gaps", "Sampling gaps found", ["point"], registry=r)
        self.drift_active = Gauge("ptwin_drift_active", "1 while a drift alarm stands",
                                  ["sensor", "reference"], registry=r)
        self.drift_bias = Gauge("ptwin_drift_bias", "Estimated bias of sensor over reference",
                                ["sensor", "reference"], registry=r)
        self.reconciliation_gamma = Gauge("ptwin_reconciliation_gamma",
                                          "Global test statistic of a balance", ["balance"],
                                          registry=r)
        self.gross_errors = Gauge("ptwin_gross_errors",
                                  "1 while serial elimination names a sensor of a balance",
                                  ["balance", "sensor"], registry=r)
        self.store_buffered = Gauge("ptwin_store_buffered_rows",
                                    "Rows held while the store is unreachable", registry=r)
        self.store_dropped = Gauge("ptwin_store_dropped_rows",
                                   "Rows dropped (oldest first) because the buffer overflowed",
                                   registry=r)
        self.store_available = Gauge("ptwin_store_available", "1 while the store accepts rows",
                                     registry=r)
        self.ws_clients = Gauge("ptwin_ws_clients", "Open WebSocket clients", registry=r)
        self.ws_dropped = Counter("ptwin_ws_dropped", "WebSocket clients dropped as too slow",
                                  registry=r)
        self.api_errors = Counter("ptwin_api_errors", "API requests refused", ["status"],
                                  registry=r)
