"""What every executor reports, and the shard bookkeeping they share."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from babelvl.pipeline.shards import Shard, is_finished
from babelvl.pipeline.steps import Record

LoadShard = Callable[[Shard], list[Record]]


@dataclass
class RunSummary:
    rows_in: int = 0
    kept: int = 0
    rejected: int = 0
    shards_done: int = 0
    shards_skipped: int = 0
    seconds: float = 0.0
    rejects_by_reason: dict[str, int] = field(default_factory=dict)


def pending_shards(out_dir: Path, shards: list[Shard], summary: RunSummary) -> list[Shard]:
    todo = [s for s in shards if not is_finished(out_dir, s)]
    summary.shards_skipped = len(shards) - len(todo)
    return todo


def tally(summary: RunSummary, records: list[Record]) -> None:
    from babelvl.pipeline.steps import REJECT

    for r in records:
        reason = r.get(REJECT)
        if reason:
            key = str(reason).split(":")[0]
            summary.rejects_by_reason[key] = summary.rejects_by_reason.get(key, 0) + 1
