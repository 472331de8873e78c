"""OpenAIBackend against a real loopback HTTP server speaking the chat-completions API."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from PIL import Image

from babelvl.errors import BabelvlError
from babelvl.models import CachedBackend, GenerationSettings, Request, ResponseCache, load_backend
from babelvl.models.openai_backend import OpenAIBackend, data_url
from babelvl.testing.openai_server import FakeVLMServer, echo_images


def image_bytes(seed: int, fmt: str = "PNG") -> bytes:
    img = Image.new("RGB", (12, 9), ((seed * 40) % 256, (seed * 90) % 256, 200))
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


@pytest.fixture
def server() -> Iterator[FakeVLMServer]:
    with FakeVLMServer() as srv:
        yield srv


def backend_for(server: FakeVLMServer, **options) -> OpenAIBackend:
    return OpenAIBackend("fake-vlm", base_url=server.base_url, api_key="test-key", **options)


def test_images_arrive_as_data_urls_with_the_same_bytes(server: FakeVLMServer) -> None:
    png, jpeg = image_bytes(1), image_bytes(2, "JPEG")
    settings = GenerationSettings(max_new_tokens=7, temperature=0.5, top_p=0.8, seed=3)
    request = Request("Which colour?", (png, jpeg), system="Be brief.")
    [answer] = backend_for(server).generate([request], settings)

    [got] = server.received
    assert got.images == [png, jpeg]
    assert got.image_mimes == ["image/png", "image/jpeg"]
    assert got.prompt == "Which colour?" and got.system == "Be brief." and got.model == "fake-vlm"
    assert got.params == {"temperature": 0.5, "top_p": 0.8, "max_tokens": 7, "seed": 3}
    assert answer == echo_images("Which colour?", [png, jpeg])


def test_answers_come_back_in_request_order(server: FakeVLMServer) -> None:
    requests = [Request(f"question {i}", (image_bytes(i),)) for i in range(12)]
    answers = backend_for(server, concurrency=4).generate(requests, GenerationSettings())
    assert answers == [echo_images(r.prompt, list(r.images)) for r in requests]


@pytest.mark.parametrize("status", [500, 429])
def test_retries_after_server_errors_then_succeeds(server: FakeVLMServer, status: int) -> None:
    server.fail_next(3, status=status)
    requests = [Request("hello", (image_bytes(1),)), Request("again")]
    answers = backend_for(server, concurrency=1, max_retries=5).generate(requests, GenerationSettings())
    assert answers == [echo_images("hello", [image_bytes(1)]), echo_images("again", [])]
    assert server.failures == 3
    assert server.calls == 5


def test_concurrency_limit_is_respected() -> None:
    with FakeVLMServer(delay=0.05) as server:
        requests = [Request(f"q{i}") for i in range(12)]
        backend_for(server, concurrency=3).generate(requests, GenerationSettings())
        assert server.request_count == 12
        assert 2 <= server.max_in_flight <= 3


def test_a_server_that_keeps_failing_gives_a_clear_error() -> None:
    with FakeVLMServer(fail_first=10**6) as server:
        backend = backend_for(server, concurrency=1, max_retries=2)
        with pytest.raises(BabelvlError) as info:
            backend.generate([Request("a"), Request("b")], GenerationSettings())
        message = str(info.value)
        assert server.base_url in message and "request 0" in message
        assert server.calls == 3  # one try + two retries, and request 1 was never sent


def test_unreachable_server_gives_a_clear_error() -> None:
    with FakeVLMServer() as server:
        base_url = server.base_url
    backend = OpenAIBackend("m", base_url=base_url, max_retries=0, timeout=2)
    with pytest.raises(BabelvlError, match="request 0"):
        backend.generate([Request("a")], GenerationSettings())


def test_non_image_bytes_are_rejected_before_sending(server: FakeVLMServer) -> None:
    # requests stream out as they are produced, so the good one before it may have gone; the bad one never does
    with pytest.raises(BabelvlError, match="request 1: not a readable image"):
        backend_for(server).generate([Request("ok"), Request("bad", (b"nope",))], GenerationSettings())
    assert all(r.prompt != "bad" for r in server.received) and server.calls <= 1


def test_data_url_detects_the_format_from_bytes() -> None:
    assert data_url(image_bytes(1, "JPEG")).startswith("data:image/jpeg;base64,")
    assert data_url(image_bytes(1, "WEBP")).startswith("data:image/webp;base64,")


def test_identity_and_batch_size(server: FakeVLMServer) -> None:
    backend = backend_for(server, concurrency=5)
    assert backend.identity() == {"backend": "openai", "model": "fake-vlm", "base_url": server.base_url}
    assert backend.batch_size >= backend.concurrency


def test_load_backend_openai_spec(server: FakeVLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(BabelvlError, match="--api-base"):
        load_backend("openai:gpt-4o-mini")
    monkeypatch.setenv("OPENAI_API_KEY", "from-env")
    backend = load_backend("openai:fake-vlm", base_url=server.base_url, api_key=None, concurrency=2, timeout=30.0,
                           device="auto", dtype="auto", batch_size=8)  # what the command line passes
    assert isinstance(backend, OpenAIBackend)
    assert backend.identity()["model"] == "fake-vlm"
    assert backend.generate([Request("hi")], GenerationSettings()) == [echo_images("hi", [])]


def test_cached_openai_backend_does_not_call_the_server_twice(server: FakeVLMServer, tmp_path) -> None:
    requests = [Request(f"q{i}", (image_bytes(i),)) for i in range(5)]
    first = CachedBackend(backend_for(server), ResponseCache(tmp_path / "cache.sqlite"))
    answers = first.generate(requests, GenerationSettings())
    assert server.request_count == 5
    second = CachedBackend(backend_for(server), ResponseCache(tmp_path / "cache.sqlite"))
    assert second.generate(requests, GenerationSettings()) == answers
    assert server.request_count == 5 and second.hits == 5 and second.misses == 0
