"""Run the same pipeline as Ray Data stages: on this machine (``ray.init()``) or a cluster (``--ray-address``).

Each step becomes a ``map_batches`` stage; model steps run in an actor pool (the model is built once per
actor, ``num_gpus`` per actor), other steps as tasks. Shards are still the unit of resume: finished
shards are skipped, and each finished shard is written with the same atomic writer as the local
executor, so both executors produce the same files.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from babelvl.pipeline.executors.base import LoadShard, RunSummary, pending_shards, tally
from babelvl.pipeline.shards import Shard, write_shard
from babelvl.pipeline.steps import REJECT, Pipeline, Record, Step

SHARD_KEY, ROW_KEY = "_babelvl_shard", "_babelvl_row"


class _StepActor:
    """Holds one built step (and its model) for the life of a Ray actor or task."""

    def __init__(self, step: Step) -> None:
        self.fn = step.build()

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        records = batch.to_pylist()
        # the shard/row bookkeeping rides along outside the step: steps may project their records
        marks = [(r.pop(SHARD_KEY), r.pop(ROW_KEY)) for r in records]
        out = self.fn(records)
        for r, (shard, row) in zip(out, marks):
            r[SHARD_KEY], r[ROW_KEY] = shard, row
        return pa.Table.from_pylist(_uniform(out))


def _uniform(records: list[Record]) -> list[Record]:
    """Give every record every key: Arrow takes its schema from the records, and rejects add a key."""
    keys: dict[str, None] = {}
    for r in records:
        keys.update(dict.fromkeys(r))
    keys.setdefault(REJECT, None)
    return [{k: r.get(k) for k in keys} for r in records]


class RayExecutor:
    def __init__(self, workers: int = 2, address: str | None = None, shards_per_round: int | None = None) -> None:
        self.workers = max(1, workers)
        self.address = address
        self.shards_per_round = shards_per_round or 16 * self.workers  # bounds driver memory

    def _init(self) -> Any:
        import ray

        if not ray.is_initialized():
            if self.address:
                ray.init(address=self.address, ignore_reinit_error=True, log_to_driver=False)
            else:
                ray.init(num_cpus=self.workers, ignore_reinit_error=True, include_dashboard=False,
                         log_to_driver=False)
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True
        ctx.enable_progress_bars = False
        return ray

    def run(self, pipeline: Pipeline, load_shard: LoadShard, shards: list[Shard], out_dir: Path, *,
            on_shard: Callable[[Shard, int], None] | None = None) -> RunSummary:
        summary = RunSummary()
        started = time.perf_counter()
        todo = pending_shards(out_dir, shards, summary)
        ray = self._init()
        for start in range(0, len(todo), self.shards_per_round):
            group = todo[start:start + self.shards_per_round]
            items: list[Record] = []
            sizes: dict[int, int] = {}
            for shard in group:
                records = load_shard(shard)
                sizes[shard.index] = len(records)
                items += [{**r, SHARD_KEY: shard.index, ROW_KEY: i} for i, r in enumerate(records)]
            if not items:
                for shard in group:
                    write_shard(out_dir, shard, [])
                continue
            ds = ray.data.from_items(_uniform(items), override_num_blocks=min(len(items), 4 * self.workers))
            for step in pipeline.steps:
                if step.kind == "model":
                    ds = ds.map_batches(_StepActor, fn_constructor_args=(step,), batch_size=step.batch_size,
                                        batch_format="pyarrow", concurrency=self.workers, num_gpus=step.num_gpus)
                else:
                    ds = ds.map_batches(_StepActor, fn_constructor_args=(step,), batch_size=step.batch_size,
                                        batch_format="pyarrow", concurrency=self.workers)
            rows = ds.take_all()
            by_shard: dict[int, list[Record]] = {s.index: [] for s in group}
            for row in rows:
                by_shard[row.pop(SHARD_KEY)].append(row)
            for shard in group:
                out = sorted(by_shard[shard.index], key=lambda r: r[ROW_KEY])
                out = [{k: v for k, v in r.items() if k != ROW_KEY and not (k == REJECT and v is None)}
                       for r in out]
                kept, rejected = write_shard(out_dir, shard, out)
                summary.rows_in += sizes[shard.index]
                summary.kept += kept
                summary.rejected += rejected
                summary.shards_done += 1
                tally(summary, out)
                if on_shard is not None:
                    on_shard(shard, sizes[shard.index])
        summary.seconds = time.perf_counter() - started
        return summary
