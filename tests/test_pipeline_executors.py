"""The same pipeline on the local and the Ray Data executor: same rows, rejects kept, resume by shard."""

from __future__ import annotations

import hashlib

import pyarrow.parquet as pq
import pytest

from babelvl.pipeline import Pipeline, Step, reject
from babelvl.pipeline.executors.local import LocalExecutor
from babelvl.pipeline.shards import make_shards

ROWS = [{"id": i, "text": f"row {i}", "payload": bytes([i % 256]) * 3, "tags": ["a"] * (i % 3)} for i in range(53)]


def upper_step() -> Step:
    def make():
        def fn(batch):
            return [{**r, "text": r["text"].upper(), "digest": hashlib.sha256(r["payload"]).hexdigest()[:8]}
                    for r in batch]
        return fn
    return Step("upper", make)


def reject_sevens() -> Step:
    def make():
        def fn(batch):
            return [reject(r, "divisible by seven", step="filter") if r["id"] % 7 == 0 else r for r in batch]
        return fn
    return Step("filter", make, kind="model", batch_size=5)


PIPELINE = Pipeline("demo", [reject_sevens(), upper_step()])


def load(shard):
    return [dict(r) for r in ROWS[shard.start:shard.stop]]


def _read(out):
    rows = []
    for path in sorted(out.glob("shard-*.parquet")):
        rows += pq.read_table(path).to_pylist()
    rejects = sorted(p.read_text() for p in (out / "rejects").glob("*.jsonl"))
    return rows, rejects


def test_local_executor_keeps_every_row_or_its_reject(tmp_path):
    summary = LocalExecutor(workers=2).run(PIPELINE, load, make_shards(len(ROWS), 10), tmp_path)
    rows, rejects = _read(tmp_path)
    assert summary.rows_in == 53 == summary.kept + summary.rejected
    assert summary.rejected == len([r for r in ROWS if r["id"] % 7 == 0]) == 8
    assert summary.rejects_by_reason == {"filter": 8}
    assert [r["id"] for r in rows] == [r["id"] for r in ROWS if r["id"] % 7]
    assert all(r["text"].startswith("ROW") for r in rows)
    assert "divisible by seven" in "".join(rejects)


def test_resume_skips_finished_shards(tmp_path):
    shards = make_shards(len(ROWS), 10)
    LocalExecutor().run(PIPELINE, load, shards[:3], tmp_path)
    calls = []
    summary = LocalExecutor().run(PIPELINE, lambda s: calls.append(s.index) or load(s), shards, tmp_path)
    assert summary.shards_skipped == 3 and sorted(calls) == [3, 4, 5]
    assert len(_read(tmp_path)[0]) == 45


@pytest.mark.slow
def test_ray_and_local_produce_the_same_files(tmp_path):
    pytest.importorskip("ray")
    from babelvl.pipeline.executors.ray_executor import RayExecutor

    shards = make_shards(len(ROWS), 10)
    LocalExecutor().run(PIPELINE, load, shards, tmp_path / "local")
    summary = RayExecutor(workers=2).run(PIPELINE, load, shards, tmp_path / "ray")
    assert summary.rows_in == 53 and summary.rejected == 8
    assert _read(tmp_path / "local") == _read(tmp_path / "ray")
