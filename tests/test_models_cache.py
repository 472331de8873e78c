"""ResponseCache, cache_key and CachedBackend."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Sequence

import pytest

from babelvl.models import Backend, CachedBackend, GenerationSettings, Request, ResponseCache, cache_key

SETTINGS = GenerationSettings()


class RecordingBackend(Backend):
    """A deterministic in-memory backend that records every batch it is sent."""

    def __init__(self, model: str = "m", batch_size: int = 3, fail_on_call: int | None = None) -> None:
        self.model = model
        self.batch_size = batch_size
        self.fail_on_call = fail_on_call
        self.batches: list[list[str]] = []

    def identity(self) -> dict[str, Any]:
        return {"backend": "recording", "model": self.model}

    def generate(self, requests: Sequence[Request], settings: GenerationSettings) -> list[str]:
        if self.fail_on_call is not None and len(self.batches) + 1 == self.fail_on_call:
            raise RuntimeError("backend crashed")
        self.batches.append([r.prompt for r in requests])
        return [f"{self.model}|{r.prompt}|{len(r.images)}|{settings.temperature}" for r in requests]

    @property
    def sent(self) -> int:
        return sum(len(b) for b in self.batches)


def requests(n: int, tag: str = "q") -> list[Request]:
    return [Request(f"{tag}{i}", (f"image-{i}".encode(),)) for i in range(n)]


def test_second_run_makes_no_inner_calls(tmp_path: Path) -> None:
    batch = requests(7)
    inner = RecordingBackend()
    first = CachedBackend(inner, ResponseCache(tmp_path / "c.sqlite"))
    answers = first.generate(batch, SETTINGS)
    assert answers == [f"m|q{i}|1|0.0" for i in range(7)]
    assert [len(b) for b in inner.batches] == [3, 3, 1]
    assert (first.hits, first.misses) == (0, 7)

    again_inner = RecordingBackend()
    again = CachedBackend(again_inner, ResponseCache(tmp_path / "c.sqlite"))  # a fresh process would do this
    assert again.generate(batch, SETTINGS) == answers
    assert again_inner.batches == []
    assert (again.hits, again.misses) == (7, 0)


def test_only_misses_are_sent_and_order_is_kept(tmp_path: Path) -> None:
    inner = RecordingBackend()
    cached = CachedBackend(inner, ResponseCache(tmp_path / "c.sqlite"))
    batch = requests(6)
    cached.generate(batch[::2], SETTINGS)
    inner.batches.clear()
    assert cached.generate(batch, SETTINGS) == [f"m|q{i}|1|0.0" for i in range(6)]
    assert inner.batches == [["q1", "q3", "q5"]]


def test_identical_requests_in_one_batch_are_sent_once(tmp_path: Path) -> None:
    inner = RecordingBackend()
    cached = CachedBackend(inner, ResponseCache(tmp_path / "c.sqlite"))
    same = Request("same", (b"img",))
    assert cached.generate([same, same, same], SETTINGS) == ["m|same|1|0.0"] * 3
    assert inner.sent == 1


def test_everything_that_changes_the_answer_changes_the_key() -> None:
    identity = {"backend": "transformers", "model": "a", "revision": None, "dtype": "float32"}
    base = Request("prompt", (b"image-1",), system="sys")
    key = cache_key(identity, SETTINGS, base)
    assert key == cache_key(dict(reversed(list(identity.items()))), SETTINGS, base)  # canonical JSON
    variants = [
        cache_key({**identity, "model": "b"}, SETTINGS, base),
        cache_key({**identity, "revision": "v2"}, SETTINGS, base),
        cache_key({**identity, "dtype": "bfloat16"}, SETTINGS, base),
        cache_key(identity, GenerationSettings(max_new_tokens=33), base),
        cache_key(identity, GenerationSettings(temperature=0.7), base),
        cache_key(identity, GenerationSettings(top_p=0.9), base),
        cache_key(identity, GenerationSettings(seed=1), base),
        cache_key(identity, SETTINGS, Request("prompt!", base.images, system="sys")),
        cache_key(identity, SETTINGS, Request("prompt", (b"image-2",), system="sys")),
        cache_key(identity, SETTINGS, Request("prompt", (b"image-1", b"image-1"), system="sys")),
        cache_key(identity, SETTINGS, Request("prompt", (), system="sys")),
        cache_key(identity, SETTINGS, Request("prompt", base.images, system=None)),
    ]
    assert key not in variants
    assert len(set(variants)) == len(variants)


def test_precomputed_image_hashes_give_the_same_key() -> None:
    import hashlib

    plain = Request("p", (b"img",))
    hashed = Request("p", (b"img",), image_hashes=(hashlib.sha256(b"img").hexdigest(),))
    assert cache_key({"m": 1}, SETTINGS, plain) == cache_key({"m": 1}, SETTINGS, hashed)


def test_changed_model_or_settings_miss(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite")
    batch = requests(2)
    CachedBackend(RecordingBackend("m1"), cache).generate(batch, SETTINGS)
    other_model = CachedBackend(RecordingBackend("m2"), cache)
    assert other_model.generate(batch, SETTINGS) == ["m2|q0|1|0.0", "m2|q1|1|0.0"]
    assert other_model.misses == 2
    hot = CachedBackend(RecordingBackend("m1"), cache)
    hot.generate(batch, GenerationSettings(temperature=1.0))
    assert hot.misses == 2
    new_image = CachedBackend(RecordingBackend("m1"), cache)
    new_image.generate([Request("q0", (b"another image",))], SETTINGS)
    assert new_image.misses == 1


def test_each_chunk_is_stored_as_soon_as_it_returns(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite")
    crashing = CachedBackend(RecordingBackend(batch_size=2, fail_on_call=3), cache)
    with pytest.raises(RuntimeError, match="crashed"):
        crashing.generate(requests(7), SETTINGS)
    assert len(cache) == 4  # two finished chunks survive the crash
    resumed_inner = RecordingBackend(batch_size=2)
    CachedBackend(resumed_inner, cache).generate(requests(7), SETTINGS)
    assert resumed_inner.batches == [["q4", "q5"], ["q6"]]


def test_put_many_is_all_or_nothing(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite")

    def items():
        yield "k1", "v1"
        yield "k2", None  # NOT NULL constraint fails mid-batch

    with pytest.raises(sqlite3.IntegrityError):
        cache.put_many(items())
    assert cache.get_many(["k1", "k2"]) == {}
    cache.put_many({"k1": "v1"})
    assert cache.get("k1") == "v1" and cache.get("missing") is None


def test_concurrent_writers_from_threads_lose_nothing(tmp_path: Path) -> None:
    shared = ResponseCache(tmp_path / "c.sqlite")
    barrier = threading.Barrier(8)

    def write(worker: int) -> None:
        # half the workers share one cache object, half open their own
        cache = shared if worker % 2 else ResponseCache(tmp_path / "c.sqlite")
        barrier.wait()
        for chunk in range(10):
            cache.put_many({f"w{worker}-{chunk}-{i}": f"v{worker}" for i in range(5)})

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, range(8)))
    keys = [f"w{w}-{c}-{i}" for w in range(8) for c in range(10) for i in range(5)]
    found = shared.get_many(keys)
    assert len(found) == len(keys) == len(shared)
    shared.close()


def _write_from_process(path: str, worker: int) -> int:
    cache = ResponseCache(path)
    for chunk in range(20):
        cache.put_many({f"p{worker}-{chunk}-{i}": "v" for i in range(10)})
    cache.close()
    return worker


def test_concurrent_writers_from_processes_lose_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "c.sqlite")
    ResponseCache(path).close()
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        assert sorted(pool.map(_write_from_process, [path] * 2, range(2))) == [0, 1]
    assert len(ResponseCache(path)) == 2 * 20 * 10


def test_cached_backend_forwards_identity_and_batch_size(tmp_path: Path) -> None:
    inner = RecordingBackend(batch_size=5)
    cached = CachedBackend(inner, ResponseCache(tmp_path / "c.sqlite"))
    assert cached.identity() == inner.identity()
    assert cached.batch_size == 5
