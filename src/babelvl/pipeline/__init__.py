"""Pipelines of small steps over batches of records, run by interchangeable executors (local or Ray Data)."""

from babelvl.pipeline.steps import REJECT, Pipeline, Step, reject

__all__ = ["Pipeline", "Step", "REJECT", "reject"]
