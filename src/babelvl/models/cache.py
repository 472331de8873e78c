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
from typing import Any, Iterable, Iterator, Mapping, Sequence

from babelvl.io.files import check_sqlite_path
from babelvl.models.base import Backend, GenerationSettings, Request
from babelvl.models.window import CacheCounters

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


class CachedBackend(CacheCounters, Backend):
    """Wraps a backend: answers from the cache, sends only the misses, stores each answer as soon as it returns.

    A crash therefore repeats at most the requests in flight. ``hits`` and ``misses`` count requests over the
    lifetime of this object (``stats``).
    """

    def __init__(self, backend: Backend, cache: ResponseCache) -> None:
        from babelvl.models.window import InFlight, StreamStats

        self.inner = backend
        self.cache = cache
        self.batch_size = backend.batch_size
        self.stats = StreamStats()
        self.in_flight = InFlight()  # streams of this object running at once send a request once

    def identity(self) -> dict[str, Any]:
        return self.inner.identity()

    def generate_stream(self, requests: Iterable[Request | object], settings: GenerationSettings
                        ) -> Iterator[tuple[int, str]]:
        """``(index, answer)`` in completion order through the inner backend's window, cached on return."""
        from babelvl.models.window import stream_through

        identity = self.inner.identity()
        return stream_through(self.inner.open_window(settings), requests, cache=self.cache,
                              key=lambda request: cache_key(identity, settings, request), stats=self.stats,
                              shared=self.in_flight)

    def generate(self, requests: Sequence[Request], settings: GenerationSettings) -> list[str]:
        answers: list[str] = [""] * len(requests)
        for index, answer in self.generate_stream(requests, settings):
            answers[index] = answer
        return answers

    def close(self) -> None:
        self.inner.close()
