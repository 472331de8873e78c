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
    data, rejects = output_paths(out_dir, shard)
    return data.exists() and rejects.exists()


def write_shard(out_dir: Path, shard: Shard, records: list[Record], schema: pa.Schema | None = None) -> tuple[int, int]:
    """Write kept records (Parquet) and rejected ones (JSONL with reasons); returns (kept, rejected)."""
    kept = [{k: v for k, v in r.items() if k != REJECT} for r in records if not r.get(REJECT)]
    rejected = [r for r in records if r.get(REJECT)]
    data_path, rejects_path = output_paths(out_dir, shard)
    table = pa.Table.from_pylist(kept, schema=schema) if kept or schema is not None else pa.table({})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    write_atomic(data_path, buffer.getvalue())
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
