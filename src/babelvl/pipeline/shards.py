"""Input shards and their outputs: the unit of work, of atomic writes and of resume.

The input is cut into fixed-size shards of row ranges. A shard's output is written as one Parquet file
plus one rejects JSONL, each atomically, and a shard counts as finished only once both exist. A resumed
run skips finished shards; inside an unfinished shard, model calls are replayed from the cache.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from babelvl.io.files import write_atomic
from babelvl.pipeline.steps import REJECT, Record


@dataclass(frozen=True)
class Shard:
    index: int
    start: int
    stop: int

    @property
    def name(self) -> str:
        return f"shard-{self.index:05d}"


def make_shards(n_rows: int, shard_size: int) -> list[Shard]:
    size = max(1, shard_size)
    return [Shard(i, start, min(start + size, n_rows)) for i, start in enumerate(range(0, n_rows, size))]


def output_paths(out_dir: Path, shard: Shard) -> tuple[Path, Path]:
    return out_dir / f"{shard.name}.parquet", out_dir / "rejects" / f"{shard.name}.jsonl"


def is_finished(out_dir: Path, shard: Shard) -> bool:
    """The rejects file is written last, so it marks a finished shard, also one that kept no row (and so
    has no Parquet file)."""
    return output_paths(out_dir, shard)[1].exists()


def write_shard(out_dir: Path, shard: Shard, records: list[Record], schema: pa.Schema | None = None) -> tuple[int, int]:
    """Write kept records (Parquet) and rejected ones (JSONL with reasons); returns (kept, rejected).

    A shard that kept no row writes no Parquet file: a 0-row file has no columns to agree with the
    other shards' schema, and ``load_dataset`` fails on it. Its rejects file alone marks it finished.
    """
    kept = [{k: v for k, v in r.items() if k != REJECT} for r in records if not r.get(REJECT)]
    rejected = [r for r in records if r.get(REJECT)]
    data_path, rejects_path = output_paths(out_dir, shard)
    if kept:
        buffer = io.BytesIO()
        pq.write_table(pa.Table.from_pylist(kept, schema=schema), buffer)
        write_atomic(data_path, buffer.getvalue())
    else:
        data_path.unlink(missing_ok=True)  # left by an earlier attempt at this shard
    lines = "".join(json.dumps(_jsonable(r), ensure_ascii=False, default=_summary) + "\n" for r in rejected)
    write_atomic(rejects_path, lines)  # written last: its presence marks the shard finished
    return len(kept), len(rejected)


def _summary(value: Any) -> str:
    """Nested bytes (an embedded image) are summarised in the rejects file."""
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    return str(value)


def _jsonable(record: Record) -> dict[str, Any]:
    """Rejects are for people: bytes are summarised, and empty (None) fields left out, so the file reads
    the same whichever executor wrote it (Arrow-based executors give every record every key)."""
    return {k: (f"<{len(v)} bytes>" if isinstance(v, (bytes, bytearray)) else v)
            for k, v in record.items() if v is not None}
