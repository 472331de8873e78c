"""A persistent response cache: model calls are the cost, so never pay twice for the same answer.

The key covers everything that changes the answer (model identity, decoding settings, system text, prompt, image
hashes). Storage is one SQLite file in WAL mode, so several processes and threads can read and write it at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from babelvl.errors import BabelvlError
from babelvl.io.files import check_sqlite_path
from babelvl.models.base import Backend, GenerationSettings, Request

_SCHEMA = "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, response TEXT NOT NULL, created REAL NOT NULL)"
_MAX_VARIABLES = 500  # stay below SQLite's bound-parameter limit on old builds (999)


def cache_key(identity: Mapping[str, Any], settings: GenerationSettings, request: Request) -> str:
    """sha256 of the canonical JSON of everything that determines the answer."""
    payload = {
        "identity": dict(identity),
        "settings": settings.as_dict(),
        "system": request.system,
        "prompt": request.prompt,
        "images": list(request.hashes()),
    }
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ResponseCache:
    """key -> response text in one SQLite table; one connection per thread, atomic batch writes."""

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 60.0) -> None:
        self.path = Path(path)
        check_sqlite_path(self.path, flag="cache")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._timeout = timeout
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        conn = self._conn()
        conn.execute("PRAGMA journal_mode=WAL")
        with conn:
            conn.execute(_SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # autocommit mode; transactions are opened explicitly so writes are all-or-nothing
            conn = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def get_many(self, keys: Iterable[str]) -> dict[str, str]:
        """The cached responses for those of ``keys`` that are present."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, str] = {}
        conn = self._conn()
        for start in range(0, len(wanted), _MAX_VARIABLES):
            part = wanted[start : start + _MAX_VARIABLES]
            marks = ",".join("?" * len(part))
            rows = conn.execute(f"SELECT key, response FROM responses WHERE key IN ({marks})", part)
            found.update(rows.fetchall())
        return found

    def get(self, key: str) -> str | None:
        return self.get_many([key]).get(key)

    def put_many(self, items: Mapping[str, str] | Iterable[tuple[str, str]]) -> None:
        """Store all items in one transaction: either every item is written or none is."""
        pairs = list(items.items()) if isinstance(items, Mapping) else list(items)
        if not pairs:
            return
        now = time.time()
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(
                "INSERT OR REPLACE INTO responses (key, response, created) VALUES (?, ?, ?)",
                [(key, response, now) for key, response in pairs],
            )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def __len__(self) -> int:
        return self._conn().execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        """Close every connection this object opened (from any thread)."""
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
        self._local = threading.local()

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def through_cache(cache: ResponseCache, keys: Sequence[str], compute: Callable[[list[int]], list[str]], *,
                  chunk_size: int, who: str) -> tuple[list[str], int]:
    """Answer ``keys`` from ``cache``; compute the misses in chunks, storing each chunk as soon as it returns.

    Identical keys are computed once. ``compute`` gets the indices (into ``keys``) of one chunk of distinct
    misses and returns one text each. Returns the answers in order and the number of missed positions.
    Shared by the response cache of model backends and the translation cache of engines.
    """
    cached = cache.get_many(list(keys))
    answers: list[str | None] = [cached.get(key) for key in keys]
    pending: dict[str, list[int]] = {}
    for index, (key, answer) in enumerate(zip(keys, answers)):
        if answer is None:
            pending.setdefault(key, []).append(index)
    todo = list(pending.items())
    step = max(1, chunk_size)
    for start in range(0, len(todo), step):
        chunk = todo[start : start + step]
        texts = compute([indices[0] for _, indices in chunk])
        if len(texts) != len(chunk):
            raise BabelvlError(f"{who} returned {len(texts)} answers for {len(chunk)} requests")
        cache.put_many((key, text) for (key, _), text in zip(chunk, texts))
        for (_, indices), text in zip(chunk, texts):
            for index in indices:
                answers[index] = text
    return [a if a is not None else "" for a in answers], sum(len(v) for v in pending.values())


class CachedBackend(Backend):
    """Wraps a backend: answers from the cache, sends only the misses, stores each chunk as soon as it returns.

    A crash therefore loses at most the chunk in flight. ``hits`` and ``misses`` count requests over the lifetime
    of this object.
    """

    def __init__(self, backend: Backend, cache: ResponseCache) -> None:
        self.inner = backend
        self.cache = cache
        self.batch_size = backend.batch_size
        self.hits = 0
        self.misses = 0
        self._count_lock = threading.Lock()

    def identity(self) -> dict[str, Any]:
        return self.inner.identity()

    def generate(self, requests: Sequence[Request], settings: GenerationSettings) -> list[str]:
        identity = self.inner.identity()
        keys = [cache_key(identity, settings, request) for request in requests]
        answers, missed = through_cache(
            self.cache, keys, lambda indices: self.inner.generate([requests[i] for i in indices], settings),
            chunk_size=self.inner.batch_size, who=f"backend {identity}")
        with self._count_lock:
            self.hits += len(requests) - missed
            self.misses += missed
        return answers

    def close(self) -> None:
        self.inner.close()
