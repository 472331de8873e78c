"""Steps and pipelines: the one definition that every executor runs.

A step is a function from a batch of records (dicts) to a batch of records. A record a step cannot
handle is not dropped: the step marks it with :func:`reject` (a reason under the ``REJECT`` key), later
steps pass it through untouched, and the executor writes it to the rejects file. So for every run,
rows in = rows out + rejects.

Steps that hold a model say so (``kind="model"``): the local executor builds them once per worker, the
Ray executor runs them in an actor pool (one model per actor, GPUs per actor configurable), so a model
is loaded once per worker, not once per batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal

Record = dict[str, Any]
BatchFn = Callable[[list[Record]], list[Record]]

REJECT = "_babelvl_reject"


def reject(record: Record, reason: str, *, step: str = "") -> Record:
    """Mark ``record`` as rejected with a reason (kept, written to the rejects file)."""
    return {**record, REJECT: f"{step}: {reason}" if step else reason}


def is_rejected(record: Record) -> bool:
    return bool(record.get(REJECT))


@dataclass
class Step:
    """One stage. ``make`` builds the batch function (called once per worker/actor, so it may load a model)."""

    name: str
    make: Callable[[], BatchFn]
    kind: Literal["cpu", "model"] = "cpu"
    batch_size: int = 16
    num_gpus: float = 0.0
    """GPUs per Ray actor for model steps."""

    def build(self) -> BatchFn:
        fn = self.make()

        def run(batch: list[Record]) -> list[Record]:
            todo = [r for r in batch if not is_rejected(r)]
            if not todo:
                return batch
            done = iter(fn(todo))
            out = [r if is_rejected(r) else next(done) for r in batch]
            if next(done, None) is not None:
                raise RuntimeError(f"step {self.name} returned more records than it was given")
            return out

        return run


@dataclass
class Pipeline:
    name: str
    steps: list[Step] = field(default_factory=list)

    def build(self) -> list[tuple[Step, BatchFn]]:
        return [(step, step.build()) for step in self.steps]


def run_steps(built: list[tuple[Step, BatchFn]], records: list[Record]) -> list[Record]:
    """Apply every step to ``records`` in the step's own batch size (used by the local executor)."""
    for step, fn in built:
        out: list[Record] = []
        for start in range(0, len(records), max(1, step.batch_size)):
            chunk = records[start:start + step.batch_size]
            result = fn(chunk)
            if len(result) != len(chunk):
                raise RuntimeError(f"step {step.name} returned {len(result)} records for {len(chunk)}")
            out.extend(result)
        records = out
    return records
