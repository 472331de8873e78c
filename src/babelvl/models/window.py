"""A sliding request window: keep a model busy without a barrier after each batch.

A job hands requests to a *window* one at a time and takes answers back as they complete. A server-backed window
(:class:`ThreadWindow`) keeps up to ``concurrency`` requests in flight on a ``ThreadPoolExecutor`` and refills a
slot as soon as one answer returns, so a continuous-batching server (vLLM, SGLang, TGI) never drains to one request
while the slowest of a batch finishes. An in-process model keeps its batches (:class:`BatchWindow`): it batches on
the device, where a batch is the natural unit.

:func:`stream_through` is the one loop every job uses: it reads requests lazily from an iterable (so a job may
produce them while answers arrive, e.g. retries of failed answers), answers from a cache first, sends identical
requests once, stores each answer in the cache the moment it returns (a kill repeats at most the requests in
flight), and yields ``(index, answer)`` pairs in completion order. A producer that has nothing to send until it
sees more answers yields :data:`WAIT`.

The window is the only scheduling here: the thread pool's own queue and ``concurrent.futures.wait`` do the rest.
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Callable, Generic, Hashable, Iterable, Iterator, Protocol, Sequence, TypeVar

from babelvl.errors import BabelvlError

T = TypeVar("T")
R = TypeVar("R")


class _Wait:
    """The marker type of :data:`WAIT`."""

    _instance: "_Wait | None" = None

    def __new__(cls) -> "_Wait":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "WAIT"


#: yielded by a request producer that can send nothing more until at least one more answer has come back
WAIT = _Wait()


class Window(Protocol[T, R]):
    """Requests in, answers out in completion order. ``tag`` is the caller's handle for one request."""

    def has_room(self) -> bool:
        """True when one more request can be submitted without waiting."""

    def submit(self, tag: Any, item: T) -> None:
        """Queue one request (call only when ``has_room()``)."""

    def pending(self) -> int:
        """Requests submitted whose answers have not been returned by ``wait_any`` yet."""

    def wait_any(self, block: bool = True) -> list[tuple[Any, R]]:
        """Return every finished (tag, answer); with ``block``, first wait until at least one is finished."""

    def close(self) -> None:
        """Drop what has not started (after an error, or when the consumer stops early)."""

    def on_answer(self, store: Callable[[Any, R], None]) -> bool:
        """Ask the window to call ``store(tag, answer)`` the moment each answer arrives, in the thread that got
        it; False when the window cannot (its answers arrive when ``wait_any`` runs them anyway)."""


class RequestFailed(BabelvlError):
    """A request of a window failed for good; ``tag`` names it, the cause is chained."""

    def __init__(self, tag: Any, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.tag, self.cause = tag, cause


class ThreadWindow(Generic[T, R]):
    """Up to ``size`` calls of ``fn`` in flight on ``pool``; a slot is refilled as soon as an answer returns.

    ``queued`` extra requests (default ``2 * size``) wait in the pool's queue so that a worker thread that finishes
    picks the next one up at once instead of waiting for the consumer to wake: in flight stays at ``size`` (the
    pool must have ``size`` threads) even while the consumer is busy checking or writing answers. Once a call fails, calls that have not started yet are skipped (``skip`` is set), so a dead server
    costs one request's retries, not a whole queue's.
    """

    def __init__(self, fn: Callable[[T, threading.Event], R], pool: ThreadPoolExecutor, size: int,
                 *, queued: int | None = None) -> None:
        if size < 1:
            raise BabelvlError(f"window size must be at least 1, got {size}")
        self._fn, self._pool, self._limit = fn, pool, size + (2 * size if queued is None else queued)
        self._futures: dict[Future[R], Any] = {}
        self._store: Callable[[Any, R], None] | None = None
        self.skip = threading.Event()

    def on_answer(self, store: Callable[[Any, R], None]) -> bool:
        self._store = store
        return True

    def has_room(self) -> bool:
        return len(self._futures) < self._limit

    def submit(self, tag: Any, item: T) -> None:
        store = self._store
        if store is None:
            self._futures[self._pool.submit(self._fn, item, self.skip)] = tag
            return

        def call(item: T, skip: threading.Event) -> R:
            answer = self._fn(item, skip)
            store(tag, answer)  # stored by the thread that received it: a kill now repeats only what is in flight
            return answer

        self._futures[self._pool.submit(call, item, self.skip)] = tag

    def pending(self) -> int:
        return len(self._futures)

    def wait_any(self, block: bool = True) -> list[tuple[Any, R]]:
        if not self._futures:
            return []
        done, _ = wait(list(self._futures), timeout=None if block else 0, return_when=FIRST_COMPLETED)
        finished = []
        for future in done:
            tag = self._futures.pop(future)
            error = future.exception()
            if error is not None:
                self.skip.set()
                raise RequestFailed(tag, error) from error
            finished.append((tag, future.result()))
        return finished

    def close(self) -> None:
        self.skip.set()
        for future in self._futures:
            future.cancel()
        self._futures.clear()


class BatchWindow(Generic[T, R]):
    """Collects up to ``batch_size`` requests and answers them with one ``generate(batch)`` call.

    For in-process models, which batch on the device; ``wait_any`` sends a partial batch when the producer waits.
    """

    def __init__(self, generate: Callable[[list[T]], Sequence[R]], batch_size: int) -> None:
        self._generate, self._size = generate, max(1, batch_size)
        self._tags: list[Any] = []
        self._items: list[T] = []

    def has_room(self) -> bool:
        return len(self._items) < self._size

    def submit(self, tag: Any, item: T) -> None:
        self._tags.append(tag)
        self._items.append(item)

    def pending(self) -> int:
        return len(self._items)

    def wait_any(self, block: bool = True) -> list[tuple[Any, R]]:
        if not block or not self._items:  # nothing runs in the background: a batch runs when asked for
            return []
        tags, items = self._tags, self._items
        self._tags, self._items = [], []
        answers = list(self._generate(items))
        if len(answers) != len(items):
            raise BabelvlError(f"a batch of {len(items)} requests got {len(answers)} answers")
        return list(zip(tags, answers))

    def close(self) -> None:
        self._tags, self._items = [], []

    def on_answer(self, store: Callable[[Any, R], None]) -> bool:
        return False  # a batch's answers arrive inside wait_any: the stream stores them there


class MappedWindow(Generic[T, R]):
    """A window seen through two functions: ``before`` turns a job into the inner request, ``after(job, answer)``
    turns the inner answer into the job's result (e.g. a translation job -> a chat request -> a cleaned text)."""

    def __init__(self, inner: Window[Any, Any], before: Callable[[T], Any], after: Callable[[T, Any], R]) -> None:
        self.inner, self._before, self._after = inner, before, after

    def has_room(self) -> bool:
        return self.inner.has_room()

    def submit(self, tag: Any, item: T) -> None:
        self.inner.submit((tag, item), self._before(item))

    def pending(self) -> int:
        return self.inner.pending()

    def wait_any(self, block: bool = True) -> list[tuple[Any, R]]:
        return [(tag, self._after(item, answer)) for (tag, item), answer in self.inner.wait_any(block)]

    def close(self) -> None:
        self.inner.close()

    def on_answer(self, store: Callable[[Any, R], None]) -> bool:
        return self.inner.on_answer(lambda pair, answer: store(pair[0], self._after(pair[1], answer)))


class StreamCache(Protocol):
    """What :func:`stream_through` needs from a cache (``ResponseCache`` has it)."""

    def get_many(self, keys: Iterable[str]) -> dict[str, str]: ...

    def put_many(self, items: Iterable[tuple[str, str]]) -> None: ...


class StreamStats:
    """Counts of one or more streams: answers from the cache and requests sent (thread-safe adds)."""

    def __init__(self) -> None:
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()

    def add(self, *, hits: int = 0, misses: int = 0) -> None:
        with self._lock:
            self.hits += hits
            self.misses += misses

class CacheCounters:
    """``hits`` and ``misses`` of a cached wrapper, read from its ``stats`` (one definition for the backend and
    the engine caches)."""

    stats: StreamStats

    @property
    def hits(self) -> int:
        return self.stats.hits

    @property
    def misses(self) -> int:
        return self.stats.misses


_END = object()

class _Claim:
    """A key being answered by one stream; others wait on ``done`` and read ``answer`` (None: given up)."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.answer: str | None = None


class InFlight:
    """Keys being answered by some stream of one cached model, so that concurrent streams (build workers on
    different shards) send an identical request once: a second stream waits for the first one's answer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._claims: dict[str, _Claim] = {}

    def claim(self, key: str) -> _Claim | None:
        """None when the caller now owns ``key`` (it must ``resolve`` it); else the claim to wait on."""
        with self._lock:
            if key in self._claims:
                return self._claims[key]
            self._claims[key] = _Claim()
            return None

    def resolve(self, key: str, answer: str | None) -> None:
        """The owner's answer (None: it gave up, e.g. after an error)."""
        with self._lock:
            claim = self._claims.pop(key, None)
        if claim is not None:
            claim.answer = answer
            claim.done.set()


#: requests read ahead for one cache lookup (one SQL query), unless the producer waits first
LOOKUP_CHUNK = 64


def stream_through(window: Window[T, str], items: Iterable[T | _Wait], *,
                   cache: StreamCache | None = None, key: Callable[[T], str] | None = None,
                   stats: StreamStats | None = None, shared: InFlight | None = None
                   ) -> Iterator[tuple[int, str]]:
    """Yield ``(index, answer)`` for every request of ``items`` (``index`` counts requests, not ``WAIT``s).

    With a ``cache`` (and ``key``): answers found there are yielded without a model call; identical keys are
    sent once; each answer is stored the moment it is collected, before it is yielded. Answers come in
    completion order. On an error, requests that have not started are dropped and the error is raised, naming
    the request's index; answers already stored stay stored. With ``shared`` (one per cached model), a request
    that another stream is answering right now is not sent again: this stream takes that answer.
    """
    if (cache is None) != (key is None):
        raise ValueError("stream_through needs both cache and key, or neither")
    source = iter(items)
    ready: deque[tuple[int, str]] = deque()
    waiters: dict[Hashable, list[int]] = {}  # cache key in flight -> indices waiting for its answer
    backlog: deque[tuple[Any, int, T]] = deque()  # (tag, index, request) read but not yet submitted
    foreign: dict[str, Any] = {}  # key answered by another stream -> its claim
    requests_of: dict[str, Any] = {}  # key -> request, for a foreign claim given up
    counter = 0
    exhausted = False

    def read_chunk() -> tuple[list[tuple[int, T]], bool]:
        """Up to one lookup's worth of requests; True when the producer said WAIT (or ran out)."""
        nonlocal counter, exhausted
        chunk: list[tuple[int, T]] = []
        while len(chunk) < (LOOKUP_CHUNK if cache is not None else 1):
            item = next(source, _END)
            if item is _END:
                exhausted = True
                return chunk, True
            if item is WAIT:
                return chunk, True
            chunk.append((counter, item))  # type: ignore[arg-type]
            counter += 1
        return chunk, False

    # each answer is stored the moment it arrives, by the thread that received it, where the window can do that;
    # else when it is collected (still before it is yielded)
    stored_on_arrival = bool(cache is not None and window.on_answer(lambda k, answer: cache.put_many([(k, answer)])))

    def take(finished: list[tuple[Any, str]]) -> None:
        if cache is not None and finished and not stored_on_arrival:
            cache.put_many(finished)  # what returned together is stored together, before anything is yielded
        for tag, answer in finished:
            if cache is None:
                ready.append((tag, answer))
            else:
                if shared is not None:
                    shared.resolve(tag, answer)
                ready.extend((i, answer) for i in waiters.pop(tag))

    def take_foreign(block: bool) -> None:
        """Answers that other streams sent for us; one they gave up on is sent by this stream."""
        if block and not any(c.done.is_set() for c in foreign.values()):
            next(iter(foreign.values())).done.wait()
        for k in [k for k, c in foreign.items() if c.done.is_set()]:
            claim = foreign.pop(k)
            if claim.answer is not None:
                ready.extend((i, claim.answer) for i in waiters.pop(k))
            else:
                owner = shared.claim(k) if shared is not None else None
                if owner is not None:  # yet another stream took it over: wait for that one
                    foreign[k] = owner
                else:
                    backlog.append((k, waiters[k][0], requests_of[k]))

    def admit(chunk: list[tuple[int, T]]) -> None:
        """Answer a chunk from the cache where possible; queue the rest in the backlog."""
        if cache is None or key is None:
            backlog.extend((i, i, item) for i, item in chunk)
            if stats is not None:
                stats.add(misses=len(chunk))
            return
        keys = [key(item) for _, item in chunk]
        found = cache.get_many(k for k in keys if k not in waiters)
        hits = 0
        for (i, item), k in zip(chunk, keys):
            if k in found:
                ready.append((i, found[k]))
                hits += 1
            elif k in waiters:  # the same request is already on its way: wait for its answer
                waiters[k].append(i)
                hits += 1
            else:
                waiters[k] = [i]
                claim = shared.claim(k) if shared is not None else None
                if claim is None:
                    backlog.append((k, i, item))
                else:
                    foreign[k] = claim
                    requests_of[k] = item
        if stats is not None:
            stats.add(hits=hits, misses=len(chunk) - hits)

    def loop() -> Iterator[tuple[int, str]]:
        while True:
            chunk: list[tuple[int, T]] = []
            waited = False
            if not backlog and not exhausted:
                chunk, waited = read_chunk()
                admit(chunk)
            while backlog and window.has_room():
                tag, index, item = backlog.popleft()
                try:
                    window.submit(tag, item)
                except BabelvlError as exc:
                    raise BabelvlError(f"request {index}: {exc}") from exc
            take(window.wait_any(block=False))  # store what has returned meanwhile, now
            if foreign:
                take_foreign(block=False)
            gave = bool(ready)
            while ready:
                yield ready.popleft()
            if not window.pending() and not backlog:
                if foreign and (exhausted or (waited and not gave)):
                    take_foreign(block=True)  # only answers from other streams are left to wait for
                    continue
                if exhausted:
                    return
                if waited and not gave and not chunk:
                    raise BabelvlError("the request producer waits for answers, but none is outstanding")
                continue  # the producer has seen every answer so far: ask it again
            if backlog or (waited and not gave) or exhausted or not window.has_room():
                take(window.wait_any())

    try:
        yield from loop()
    except RequestFailed as failed:
        tag = failed.tag
        index = waiters[tag][0] if cache is not None and tag in waiters else tag
        raise BabelvlError(f"request {index}: {failed}") from failed.cause
    finally:
        window.close()
        if shared is not None:  # keys this stream owned and did not answer: let their waiters send them
            for k in list(waiters):
                if k not in foreign:
                    shared.resolve(k, None)
