"""Download PixMo images once: a content-addressed cache, retries, sha256 checks and remembered failures.

PixMo ships ~880K image URLs on hosts that rate-limit, time out, vanish (404) or change content, so a
pipeline run must be resumable and must not hammer hosts again for URLs that failed before.

Layout under ``cache_dir``: ``<sha[:2]>/<sha>.img`` holds the bytes of each distinct image (keyed by the
sha256 of the content, so two URLs with the same image share one file) and ``index.sqlite`` maps
url -> sha256 (table ``urls``) and remembers failed URLs (table ``failures``: reason, error, HTTP status,
attempts, time; or in ``failures_db`` when given). A URL is looked up in this order: the cache, the
``mirror`` folder (``<sha256>``, ``<sha[:2]>/<sha256>.img`` or the basename of the URL's path), the
failures table (not retried unless ``retry_failed``), then HTTP with bounded parallelism and
exponential backoff on network errors, 429 and 5xx. Every result is checked: the sha256 the source
publishes (AMA ``image_sha256``) must match, and the bytes must decode (PIL ``verify``).

Failure reasons (``FetchResult.reason``): ``http <status>``, ``network error``, ``sha256 mismatch``,
``undecodable image``, ``empty response``, ``too large``, ``invalid url``, ``not available offline``.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import sqlite3
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence
from urllib.parse import unquote, urlsplit

import httpx
from PIL import Image

from babelvl.io.files import write_atomic

USER_AGENT = "babelvl-image-fetch/0.1 (+https://github.com/babelvl)"
MAX_BACKOFF = 60.0
MAX_BYTES = 64 * 1024 * 1024
WINDOW_PER_WORKER = 4
"""Futures kept in flight per worker, so a 700K-URL list does not become 700K futures at once."""


@dataclass(frozen=True)
class FetchRequest:
    """A URL and, where the source publishes one, the sha256 its bytes must have."""

    url: str
    sha256: str | None = None


@dataclass
class FetchResult:
    """Outcome for one request. ``path`` is the cached (or mirror) file when ``ok``."""

    url: str
    ok: bool
    sha256: str | None
    path: Path | None
    error: str | None
    from_cache: bool = False
    from_mirror: bool = False
    reason: str | None = None
    """Short failure category (see module docstring); ``error`` has the detail."""
    status: int | None = None
    """Last HTTP status seen, if any."""
    attempts: int = 0
    """HTTP requests made for this result in this run (0 for cache, mirror and known failures)."""
    known_failure: bool = False
    """Failed in an earlier run and not retried (pass ``retry_failed=True`` to try again)."""

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["path"] = str(self.path) if self.path else None
        return out


@dataclass
class FetchReport:
    """Counts over every request this fetcher answered: ``requested == ok + failed``."""

    requested: int = 0
    fetched: int = 0
    from_cache: int = 0
    from_mirror: int = 0
    failed: int = 0
    failed_by_reason: dict[str, int] = field(default_factory=dict)
    known_failures: int = 0
    """Failures remembered from an earlier run (a subset of ``failed``)."""
    http_requests: int = 0
    failures: list[FetchResult] = field(default_factory=list)

    @property
    def ok(self) -> int:
        return self.fetched + self.from_cache + self.from_mirror

    def to_json(self) -> dict[str, Any]:
        return {"requested": self.requested, "ok": self.ok, "fetched": self.fetched,
                "from_cache": self.from_cache, "from_mirror": self.from_mirror, "failed": self.failed,
                "failed_by_reason": dict(self.failed_by_reason), "known_failures": self.known_failures,
                "http_requests": self.http_requests, "failures": [f.to_json() for f in self.failures]}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def check_image(data: bytes) -> str | None:
    """None when ``data`` is an image PIL can read, else why not."""
    if not data:
        return "empty response"
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    except Exception as exc:  # PIL raises many types (incl. DecompressionBombError) for bad bytes
        return f"undecodable image ({type(exc).__name__}: {exc})"
    return None


# --- storage: content files and the SQLite index ----------------------------------------------------

class ContentStore:
    """Files named by the sha256 of their bytes, fanned out by the first two hex digits."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / f"{sha256}.img"

    def has(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def put(self, data: bytes, sha256: str) -> Path:
        path = self.path(sha256)
        if not path.is_file():
            write_atomic(path, data)
        return path


class FetchIndex:
    """url -> sha256 and remembered failures, in SQLite (WAL, so a second reader does not block)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), timeout=30, check_same_thread=False)
        with self._lock, self._db:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS urls (url TEXT PRIMARY KEY, sha256 TEXT NOT NULL, "
                             "size INTEGER, fetched_at TEXT)")
            self._db.execute("CREATE TABLE IF NOT EXISTS failures (url TEXT PRIMARY KEY, reason TEXT, "
                             "error TEXT, status INTEGER, attempts INTEGER, failed_at TEXT)")

    def sha_of(self, url: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT sha256 FROM urls WHERE url = ?", (url,)).fetchone()
        return row[0] if row else None

    def put_url(self, url: str, sha256: str, size: int) -> None:
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO urls VALUES (?, ?, ?, ?)", (url, sha256, size, _now()))

    def failure(self, url: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT reason, error, status, attempts, failed_at FROM failures "
                                   "WHERE url = ?", (url,)).fetchone()
        if row is None:
            return None
        return dict(zip(("reason", "error", "status", "attempts", "failed_at"), row))

    def put_failure(self, result: FetchResult) -> None:
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO failures VALUES (?, ?, ?, ?, ?, ?)",
                             (result.url, result.reason, result.error, result.status, result.attempts,
                              _now()))

    def forget_failure(self, url: str) -> None:
        with self._lock, self._db:
            self._db.execute("DELETE FROM failures WHERE url = ?", (url,))

    def failures(self) -> list[dict[str, Any]]:
        """Every remembered failure (all runs), oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT url, reason, error, status, attempts, failed_at FROM failures "
                                    "ORDER BY failed_at, url").fetchall()
        return [dict(zip(("url", "reason", "error", "status", "attempts", "failed_at"), r)) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


# --- the fetcher ------------------------------------------------------------------------------------

@dataclass
class _Download:
    data: bytes | None
    status: int | None
    reason: str | None
    error: str | None
    attempts: int


class ImageFetcher:
    """Fetch image URLs into a content cache, once, in parallel; see the module docstring for the order.

    ``retries`` is the number of extra attempts after the first (network errors, 429, 5xx), waiting
    ``backoff * 2**n`` seconds (plus jitter; at least ``Retry-After`` when given, at most 60 s).
    ``offline=True`` answers from the cache and mirror only. Use as a context manager or call
    :meth:`close`.
    """

    def __init__(self, cache_dir: str | Path, *, mirror: str | Path | None = None, max_parallel: int = 8,
                 retries: int = 3, backoff: float = 0.5, timeout: float = 20,
                 failures_db: str | Path | None = None, retry_failed: bool = False,
                 offline: bool = False, max_bytes: int = MAX_BYTES,
                 client: httpx.Client | None = None) -> None:
        if max_parallel < 1:
            raise ValueError(f"max_parallel must be >= 1, got {max_parallel}")
        if retries < 0 or backoff < 0 or timeout <= 0:
            raise ValueError("retries and backoff must be >= 0 and timeout > 0")
        self.cache_dir = Path(cache_dir)
        self.mirror = Path(mirror) if mirror is not None else None
        if self.mirror is not None and not self.mirror.is_dir():
            raise FileNotFoundError(f"mirror folder not found: {self.mirror}")
        self.max_parallel, self.retries, self.backoff = max_parallel, retries, backoff
        self.retry_failed, self.offline, self.max_bytes = retry_failed, offline, max_bytes
        self.store = ContentStore(self.cache_dir)
        self.index = FetchIndex(self.cache_dir / "index.sqlite")
        self.failures_index = FetchIndex(Path(failures_db)) if failures_db is not None else self.index
        self._own_client = client is None
        self._client = client or httpx.Client(
            timeout=httpx.Timeout(timeout), follow_redirects=True, headers={"User-Agent": USER_AGENT},
            limits=httpx.Limits(max_connections=max_parallel, max_keepalive_connections=max_parallel))
        self._report = FetchReport()

    # -- public API --

    def fetch(self, url: str, sha256: str | None = None) -> FetchResult:
        return self.fetch_many([FetchRequest(url, sha256)])[0]

    def fetch_many(self, requests: Iterable[FetchRequest | str], *,
                   retry_failed: bool | None = None) -> list[FetchResult]:
        """One result per request, in input order; each distinct URL is fetched at most once."""
        reqs = [r if isinstance(r, FetchRequest) else FetchRequest(str(r)) for r in requests]
        retry = self.retry_failed if retry_failed is None else retry_failed
        first: dict[str, FetchRequest] = {}
        for req in reqs:
            first.setdefault(req.url, req)
        outcomes: dict[str, FetchResult] = {}
        pending: list[tuple[FetchRequest, dict[str, Any] | None]] = []
        for url, req in first.items():
            cached = self._from_cache(req)
            if cached is not None:
                outcomes[url] = cached
            else:
                known = None if retry else self.failures_index.failure(url)
                pending.append((req, known))
        self._run(pending, outcomes)
        results: list[FetchResult] = []
        seen: set[str] = set()
        for req in reqs:
            result = outcomes[req.url]
            if req.url in seen:  # a repeat of a URL in this call: served by the first one's fetch
                result = replace(result, attempts=0,
                                 from_cache=result.from_cache or (result.ok and not result.from_mirror))
            seen.add(req.url)
            results.append(self._check_expected(req, result))
        for result in results:
            self._count(result)
        return results

    def report(self) -> FetchReport:
        """Counts of everything answered so far (all calls), and the failed results."""
        return replace(self._report, failed_by_reason=dict(self._report.failed_by_reason),
                       failures=list(self._report.failures))

    def write_failures(self, path: str | Path) -> Path:
        """Failed URLs as JSONL (one line per URL: reason, error, status, how many requests hit it)."""
        by_url: dict[str, dict[str, Any]] = {}
        for result in self._report.failures:
            line = by_url.setdefault(result.url, {
                "url": result.url, "reason": result.reason, "error": result.error, "status": result.status,
                "attempts": result.attempts, "known_failure": result.known_failure, "requests": 0})
            line["requests"] += 1
        text = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in by_url.values())
        write_atomic(path, text)
        return Path(path)

    def close(self) -> None:
        if self._own_client:
            self._client.close()
        self.index.close()
        if self.failures_index is not self.index:
            self.failures_index.close()

    def __enter__(self) -> "ImageFetcher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- lookup order --

    def _from_cache(self, req: FetchRequest) -> FetchResult | None:
        sha = self.index.sha_of(req.url)
        if sha is not None and self.store.has(sha):
            return FetchResult(req.url, True, sha, self.store.path(sha), None, from_cache=True)
        expected = req.sha256.lower() if req.sha256 else None
        if expected and self.store.has(expected):  # same content fetched under another URL
            self.index.put_url(req.url, expected, self.store.path(expected).stat().st_size)
            return FetchResult(req.url, True, expected, self.store.path(expected), None, from_cache=True)
        return None

    def _run(self, pending: Sequence[tuple[FetchRequest, dict[str, Any] | None]],
             outcomes: dict[str, FetchResult]) -> None:
        """Resolve uncached URLs on a bounded thread pool; record outcomes from this thread only."""
        if not pending:
            return
        window = self.max_parallel * WINDOW_PER_WORKER
        with ThreadPoolExecutor(max_workers=self.max_parallel, thread_name_prefix="babelvl-fetch") as pool:
            in_flight: dict[Future[FetchResult], str] = {}
            for req, known in pending:
                if len(in_flight) >= window:
                    self._collect(in_flight, outcomes, wait(in_flight, return_when=FIRST_COMPLETED).done)
                in_flight[pool.submit(self._resolve, req, known)] = req.url
            self._collect(in_flight, outcomes, wait(in_flight).done)

    def _collect(self, in_flight: dict[Future[FetchResult], str], outcomes: dict[str, FetchResult],
                 done: Iterable[Future[FetchResult]]) -> None:
        for future in done:
            url = in_flight.pop(future)
            result = future.result()
            outcomes[url] = result
            if result.ok and not result.from_mirror:
                self.index.put_url(url, result.sha256 or "", result.path.stat().st_size if result.path else 0)
            if result.ok:
                self.failures_index.forget_failure(url)
            elif not result.known_failure and result.reason != "not available offline":
                self.failures_index.put_failure(result)

    def _resolve(self, req: FetchRequest, known: dict[str, Any] | None) -> FetchResult:
        """Mirror, then remembered failure, then HTTP (runs on a worker thread; no database access)."""
        expected = req.sha256.lower() if req.sha256 else None
        mirrored = self._from_mirror(req.url, expected)
        if mirrored is not None:
            return mirrored
        if known is not None:
            return FetchResult(req.url, False, None, None, known["error"], reason=known["reason"],
                               status=known["status"], known_failure=True)
        if self.offline:
            return FetchResult(req.url, False, None, None, "not in the cache or mirror (offline)",
                               reason="not available offline")
        download = self._download(req.url)
        if download.data is None:
            return FetchResult(req.url, False, None, None, download.error, reason=download.reason,
                               status=download.status, attempts=download.attempts)
        sha = hashlib.sha256(download.data).hexdigest()
        problem = self._problem(download.data, sha, expected)
        if problem is not None:
            reason, error = problem
            return FetchResult(req.url, False, sha, None, error, reason=reason, status=download.status,
                               attempts=download.attempts)
        path = self.store.put(download.data, sha)
        return FetchResult(req.url, True, sha, path, None, status=download.status,
                           attempts=download.attempts)

    def _problem(self, data: bytes, sha: str, expected: str | None) -> tuple[str, str] | None:
        """(reason, error) when the bytes are not the expected image, else None."""
        if not data:
            return "empty response", "empty response body"
        if expected and sha != expected:
            return "sha256 mismatch", f"sha256 mismatch (expected {expected}, got {sha})"
        error = check_image(data)
        if error is not None:
            return "undecodable image", error
        return None

    def _mirror_candidates(self, url: str, expected: str | None) -> list[Path]:
        assert self.mirror is not None
        candidates = []
        if expected:
            candidates += [self.mirror / expected, self.mirror / expected[:2] / f"{expected}.img"]
        name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
        if name not in ("", ".", "..") and "/" not in name and "\\" not in name:
            candidates.append(self.mirror / name)
        return candidates

    def _from_mirror(self, url: str, expected: str | None) -> FetchResult | None:
        """A verified mirror file, or None (a wrong or broken mirror file falls through to HTTP)."""
        if self.mirror is None:
            return None
        for candidate in self._mirror_candidates(url, expected):
            if not candidate.is_file():
                continue
            data = candidate.read_bytes()
            sha = hashlib.sha256(data).hexdigest()
            if self._problem(data, sha, expected) is None:
                return FetchResult(url, True, sha, candidate, None, from_mirror=True)
        return None

    # -- HTTP --

    def _download(self, url: str) -> _Download:
        """GET with retries on network errors, 429 and 5xx; other statuses fail at once."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return _Download(None, None, "invalid url", f"not an http(s) URL: {url!r}", 0)
        status: int | None = None
        reason = error = ""
        attempts = 0
        for attempt in range(self.retries + 1):
            attempts += 1
            retry_after = 0.0
            try:
                with self._client.stream("GET", url) as response:
                    status = response.status_code
                    if response.is_success:
                        return self._read_body(response, attempts)
                    reason, error = f"http {status}", f"HTTP {status} {response.reason_phrase}".strip()
                    if status != 429 and status < 500:
                        return _Download(None, status, reason, error, attempts)
                    retry_after = _retry_after(response.headers.get("Retry-After"))
            except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
                return _Download(None, None, "invalid url", f"{type(exc).__name__}: {exc}", attempts)
            except httpx.TransportError as exc:  # connect/read/write errors and timeouts
                status, reason, error = None, "network error", f"{type(exc).__name__}: {exc}".rstrip(": ")
            if attempt < self.retries:
                delay = self.backoff * 2 ** attempt
                time.sleep(min(MAX_BACKOFF, max(retry_after, delay + random.uniform(0, delay / 10))))
        plural = "s" if attempts > 1 else ""
        return _Download(None, status, reason, f"{error} (after {attempts} attempt{plural})", attempts)

    def _read_body(self, response: httpx.Response, attempts: int) -> _Download:
        declared = response.headers.get("Content-Length")
        too_large = _Download(None, response.status_code, "too large",
                              f"response larger than {self.max_bytes} bytes", attempts)
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            return too_large
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                return too_large
            chunks.append(chunk)
        return _Download(b"".join(chunks), response.status_code, None, None, attempts)

    # -- bookkeeping --

    def _check_expected(self, req: FetchRequest, result: FetchResult) -> FetchResult:
        """A request whose own sha256 differs from the content served for its URL fails on its own."""
        expected = req.sha256.lower() if req.sha256 else None
        if not result.ok or not expected or result.sha256 == expected:
            return result
        return replace(result, ok=False, path=None, reason="sha256 mismatch",
                       error=f"sha256 mismatch (expected {expected}, got {result.sha256})")

    def _count(self, result: FetchResult) -> None:
        report = self._report
        report.requested += 1
        report.http_requests += result.attempts
        if result.ok:
            if result.from_cache:
                report.from_cache += 1
            elif result.from_mirror:
                report.from_mirror += 1
            else:
                report.fetched += 1
            return
        report.failed += 1
        report.known_failures += result.known_failure
        reason = result.reason or "unknown"
        report.failed_by_reason[reason] = report.failed_by_reason.get(reason, 0) + 1
        report.failures.append(result)


def _retry_after(value: str | None) -> float:
    """Seconds from a numeric Retry-After header (HTTP dates are ignored: backoff applies)."""
    try:
        return max(0.0, float(value)) if value else 0.0
    except ValueError:
        return 0.0


def requests_for(records: Iterable[Any]) -> list[FetchRequest]:
    """Fetch requests for records with ``image_url`` (and ``image_sha256`` where known), in order."""
    return [FetchRequest(r.image_url, getattr(r, "image_sha256", None)) for r in records
            if getattr(r, "image_url", None)]
