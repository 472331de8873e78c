"""The run log: what one run of a job cost (calls, cache hits, times), kept apart from what describes the data.

Dataset files, dataset cards, quality reports and results hold only what the data is, so a job killed and run
again ends with the same bytes as one uninterrupted run. Figures that differ between runs by nature (model calls
made by this run, cache hits, seconds, items per second) go to ``OUT/run-log.jsonl``, one JSON line appended per
run, with the UTC time it ended. Only that file and the cache file may differ between an interrupted and an
uninterrupted run.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from babelvl import __version__

RUN_LOG = "run-log.jsonl"


def run_log_path(out_dir: str | Path) -> Path:
    return Path(out_dir) / RUN_LOG


def append_run_log(out_dir: str | Path, job: str, figures: dict[str, Any]) -> dict[str, Any]:
    """Append one line for this run of ``job`` and return it (fsynced: the log of a finished run survives)."""
    entry = {"job": job, "ended": datetime.now(timezone.utc).isoformat(timespec="seconds"),
             "babelvl_version": __version__, **figures}
    path = run_log_path(out_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return entry


def read_run_log(out_dir: str | Path) -> Iterator[dict[str, Any]]:
    """Every run's line, oldest first (a torn last line from a kill is skipped)."""
    path = run_log_path(out_dir)
    if not path.exists():
        return
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            yield json.loads(line)
        except json.JSONDecodeError:
            continue
