"""Ingest pipeline: quality checks over columnar batches."""

from processtwin.pipeline.checks import CheckState, apply_checks
from processtwin.pipeline.pipeline import Pipeline, PipelineResult

__all__ = ["CheckState", "Pipeline", "PipelineResult", "apply_checks"]
