"""Run a pipeline on this machine: shards processed by a pool of worker threads.

Threads, not processes: model steps spend their time in torch or in HTTP calls, which release the GIL,
and a thread can share the cache connection and the loaded model. Pure-Python CPU-bound steps do not
speed up with more threads; use the Ray executor (processes, or a cluster) for those.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from babelvl.pipeline.executors.base import LoadShard, RunSummary, pending_shards, tally
from babelvl.pipeline.shards import Shard, write_shard
from babelvl.pipeline.steps import Pipeline, run_steps


class LocalExecutor:
    def __init__(self, workers: int = 1) -> None:
        self.workers = max(1, workers)

    def run(self, pipeline: Pipeline, load_shard: LoadShard, shards: list[Shard], out_dir: Path, *,
            on_shard: Callable[[Shard, int], None] | None = None) -> RunSummary:
        summary = RunSummary()
        started = time.perf_counter()
        todo = pending_shards(out_dir, shards, summary)
        local = threading.local()
        lock = threading.Lock()

        def work(shard: Shard) -> None:
            if not hasattr(local, "built"):
                local.built = pipeline.build()  # models are loaded once per worker thread
            records = load_shard(shard)
            out = run_steps(local.built, records)
            kept, rejected = write_shard(out_dir, shard, out)
            with lock:
                summary.rows_in += len(records)
                summary.kept += kept
                summary.rejected += rejected
                summary.shards_done += 1
                tally(summary, out)
            if on_shard is not None:
                on_shard(shard, len(records))

        if self.workers == 1:
            for shard in todo:
                work(shard)
        else:
            with ThreadPoolExecutor(self.workers) as pool:
                for future in [pool.submit(work, shard) for shard in todo]:
                    future.result()
        summary.seconds = time.perf_counter() - started
        return summary
