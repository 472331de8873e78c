"""The sliding request window, against a real loopback HTTP server that counts concurrent requests."""

from __future__ import annotations

import hashlib
from collections import deque
from pathlib import Path

import pytest

from babelvl.errors import BabelvlError
from babelvl.models import CachedBackend, GenerationSettings, Request, ResponseCache
from babelvl.models.base import Backend
from babelvl.models.openai_backend import OpenAIBackend
from babelvl.models.window import WAIT, stream_through
from babelvl.testing.openai_server import FakeVLMServer, echo_images, in_flight_between

SETTINGS = GenerationSettings()


def uneven_delay(messages: str) -> float:
    """0.1-0.8 s, a fixed function of the request: slow ones stall a batch, not a window. Long next to the
    client's own cost per request (tens of ms on a loaded 2-core machine), so the test measures the window."""
    return 0.1 + (hashlib.sha256(messages.encode()).digest()[0] / 255) * 0.7


def backend_for(server: FakeVLMServer, concurrency: int) -> OpenAIBackend:
    return OpenAIBackend("fake-vlm", base_url=server.base_url, api_key="k", concurrency=concurrency)


def test_in_flight_stays_at_the_concurrency_while_there_is_work() -> None:
    concurrency, n = 8, 64
    with FakeVLMServer(delay=uneven_delay) as server:
        backend = backend_for(server, concurrency)
        answers = dict(backend.generate_stream((Request(f"q{i}") for i in range(n)), SETTINGS))
        backend.close()
        log = list(server.in_flight_log)
    assert answers == {i: echo_images(f"q{i}", []) for i in range(n)}
    assert server.max_in_flight == concurrency
    full = next(t for t, level in log if level == concurrency)
    last_arrival = [t for (t, level), (_, before) in zip(log[1:], log) if level > before][-1]
    mean, low = in_flight_between(log, full, last_arrival)
    # a barrier per batch drains to 1 while the slowest request of the batch finishes; a window refills at once
    assert mean >= 0.8 * concurrency, (mean, low)
    assert low >= 2, (mean, low)  # a batch barrier drains to 1 each time; a window only dips while refilling


def test_each_answer_is_in_the_cache_before_it_is_yielded(tmp_path: Path) -> None:
    n = 24
    with FakeVLMServer(delay=uneven_delay) as server:
        cache_file = tmp_path / "cache.sqlite"
        backend = CachedBackend(backend_for(server, 6), ResponseCache(cache_file))
        observer = ResponseCache(cache_file)  # another connection, as a second process would see the file
        rows_seen = []
        for count, (index, answer) in enumerate(backend.generate_stream([Request(f"q{i}") for i in range(n)],
                                                                        SETTINGS), start=1):
            assert answer == echo_images(f"q{index}", [])
            rows_seen.append(len(observer))
            assert rows_seen[-1] >= count
        assert rows_seen[0] < n // 2  # the first answer was stored long before the job ended
        assert server.request_count == n
        again = CachedBackend(backend_for(server, 4), ResponseCache(cache_file))
        assert dict(again.generate_stream([Request(f"q{i}") for i in range(n)], SETTINGS)) == {
            i: echo_images(f"q{i}", []) for i in range(n)}
        assert server.request_count == n and again.hits == n and again.misses == 0


def test_a_producer_can_send_retries_into_the_same_window(tmp_path: Path) -> None:
    """A job that decides on new requests from answers (a retry pass) feeds them into the running window."""
    with FakeVLMServer(delay=0.02) as server:
        backend = CachedBackend(backend_for(server, 4), ResponseCache(tmp_path / "c.sqlite"))
        jobs = deque(Request(f"first {i}") for i in range(10))
        sent: list[Request] = []
        results: dict[str, str] = {}

        def produce():
            while jobs or len(results) < len(sent):
                if jobs:
                    sent.append(jobs.popleft())
                    yield sent[-1]
                else:
                    yield WAIT

        for index, answer in backend.generate_stream(produce(), SETTINGS):
            results[sent[index].prompt] = answer
            if sent[index].prompt.startswith("first") and int(sent[index].prompt.split()[1]) % 3 == 0:
                jobs.append(Request(sent[index].prompt.replace("first", "retry")))
        assert sorted(results) == sorted([f"first {i}" for i in range(10)] + [f"retry {i}" for i in (0, 3, 6, 9)])
        assert server.request_count == 14


def test_identical_requests_in_flight_are_sent_once(tmp_path: Path) -> None:
    with FakeVLMServer(delay=0.05) as server:
        backend = CachedBackend(backend_for(server, 8), ResponseCache(tmp_path / "c.sqlite"))
        requests = [Request(f"q{i % 3}") for i in range(30)]
        answers = dict(backend.generate_stream(requests, SETTINGS))
        assert answers == {i: echo_images(f"q{i % 3}", []) for i in range(30)}
        assert server.request_count == 3 and backend.misses == 3 and backend.hits == 27


def test_a_failure_names_the_request_and_stops_sending() -> None:
    with FakeVLMServer(fail_first=10**6, delay=0.01) as server:
        backend = OpenAIBackend("m", base_url=server.base_url, api_key="k", concurrency=2, max_retries=0)
        with pytest.raises(BabelvlError, match=r"request \d+: OpenAI-compatible server .* failed"):
            list(backend.generate_stream((Request(f"q{i}") for i in range(100)), SETTINGS))
        assert server.calls < 10  # the queue behind the failure was dropped


def test_a_producer_waiting_for_nothing_is_an_error() -> None:
    class Echo(Backend):
        def identity(self):
            return {"backend": "echo"}

        def generate(self, requests, settings):
            return [r.prompt for r in requests]

    with pytest.raises(BabelvlError, match="none is outstanding"):
        list(stream_through(Echo().open_window(SETTINGS), iter([WAIT])))


def test_in_process_backends_stream_in_their_batches() -> None:
    batches: list[list[str]] = []

    class Recording(Backend):
        batch_size = 3

        def identity(self):
            return {"backend": "recording"}

        def generate(self, requests, settings):
            batches.append([r.prompt for r in requests])
            return [r.prompt.upper() for r in requests]

    got = dict(Recording().generate_stream([Request(f"q{i}") for i in range(7)], SETTINGS))
    assert got == {i: f"Q{i}" for i in range(7)}
    assert [len(b) for b in batches] == [3, 3, 1]


def test_streams_running_at_once_send_a_request_once(tmp_path: Path) -> None:
    """Build workers stream different shards through one cached model: a request in flight in one stream is
    not sent again by another; the second takes the first one's answer."""
    from concurrent.futures import ThreadPoolExecutor

    with FakeVLMServer(delay=0.2) as server:
        backend = CachedBackend(backend_for(server, 8), ResponseCache(tmp_path / "c.sqlite"))
        shards = [[Request(f"shared {i}") for i in range(4)] + [Request(f"own {s} {i}") for i in range(2)]
                  for s in range(3)]
        with ThreadPoolExecutor(3) as pool:
            results = list(pool.map(lambda shard: dict(backend.generate_stream(shard, SETTINGS)), shards))
        for shard, got in zip(shards, results):
            assert got == {i: echo_images(r.prompt, []) for i, r in enumerate(shard)}
        assert server.request_count == 4 + 3 * 2
