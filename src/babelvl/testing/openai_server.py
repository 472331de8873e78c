"""A loopback HTTP server speaking the OpenAI chat-completions API: a test double for a remote model server.

A remote model server (vLLM, OpenAI, llama.cpp) is a true external boundary of babelvl, so tests and docs replace it
with this real HTTP server rather than mocking the client: requests go through the official ``openai`` client, real
sockets, JSON and base64 data URLs. Answers are deterministic functions of the request; the server records what it
received, how many requests were in flight at once, and can be told to fail or slow down, so retries and concurrency
limits can be tested. Needs the ``dev`` extra (fastapi, uvicorn).

Run one by hand: ``python -m babelvl.testing.openai_server --port 8000`` then use ``--api-base
http://127.0.0.1:8000/v1``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import uvicorn
from fastapi import FastAPI, Request as HttpRequest
from fastapi.responses import JSONResponse

Responder = Callable[[str, list[bytes]], str]


def echo_images(prompt: str, images: list[bytes]) -> str:
    """Default answer: the number of images, each one's short sha256, then the prompt."""
    hashes = ",".join(hashlib.sha256(img).hexdigest()[:8] for img in images)
    return f"images={len(images)} [{hashes}] prompt={prompt}"


@dataclass
class ReceivedRequest:
    """One chat-completions call as the server saw it (images decoded from their data URLs)."""

    model: str
    prompt: str
    images: list[bytes]
    image_mimes: list[str]
    system: str | None
    params: dict[str, Any] = field(default_factory=dict)


def _parse_data_url(url: str) -> tuple[str, bytes]:
    header, _, payload = url.partition(",")
    if not header.startswith("data:") or not header.endswith(";base64"):
        raise ValueError(f"expected a base64 data URL, got {url[:40]!r}")
    return header[5:-7], base64.b64decode(payload, validate=True)


def _parse(body: dict[str, Any]) -> ReceivedRequest:
    prompt_parts: list[str] = []
    images: list[bytes] = []
    mimes: list[str] = []
    system: str | None = None
    for message in body.get("messages", []):
        content = message.get("content")
        if message.get("role") == "system":
            system = content if isinstance(content, str) else "".join(p.get("text", "") for p in content)
            continue
        if isinstance(content, str):
            prompt_parts.append(content)
            continue
        for part in content or []:
            if part.get("type") == "text":
                prompt_parts.append(part["text"])
            elif part.get("type") == "image_url":
                mime, data = _parse_data_url(part["image_url"]["url"])
                mimes.append(mime)
                images.append(data)
    params = {k: v for k, v in body.items() if k not in ("messages", "model")}
    return ReceivedRequest(body.get("model", ""), "\n".join(prompt_parts), images, mimes, system, params)


class FakeVLMServer:
    """OpenAI-compatible chat-completions server on 127.0.0.1, run by uvicorn in a background thread.

    ``responder(prompt_text, images) -> answer`` decides the answers. ``fail_first`` requests get HTTP
    ``fail_status`` (500 or 429...), with a ``retry-after-ms`` header of ``retry_after_ms`` so client retries are
    quick; ``delay`` seconds (or ``delay(prompt)`` seconds) are waited before answering. With ``slots``, at most that
    many requests are served at once and the rest queue, as in a continuous-batching server (vLLM's
    ``--max-num-seqs``). ``in_flight_log`` holds ``(monotonic time, requests in flight)`` at every change, so tests
    and benchmarks can see whether a client keeps the server busy. Use as a context manager; ``base_url`` ends in
    ``/v1``.
    """

    def __init__(
        self,
        responder: Responder = echo_images,
        *,
        fail_first: int = 0,
        fail_status: int = 500,
        delay: float | Callable[[str], float] = 0.0,
        slots: int | None = None,
        retry_after_ms: int | None = 1,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.responder = responder
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.delay = delay
        self.retry_after_ms = retry_after_ms
        self.received: list[ReceivedRequest] = []
        self.calls = 0  # every HTTP call to chat/completions, failed ones included
        self.failures = 0
        self.max_in_flight = 0
        self.slots = slots
        self.in_flight_log: list[tuple[float, int]] = []
        self._in_flight = 0
        self._slot_gate: asyncio.Semaphore | None = None
        self._lock = threading.Lock()
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.host, self.port = self._socket.getsockname()[:2]
        self._server = uvicorn.Server(
            uvicorn.Config(self._app(), log_level="warning", access_log=False, lifespan="off")
        )
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def request_count(self) -> int:
        """Requests answered successfully."""
        return len(self.received)

    def fail_next(self, count: int, status: int = 500) -> None:
        """Make the next ``count`` calls fail with HTTP ``status``."""
        with self._lock:
            self.fail_first = self.calls + count
            self.fail_status = status

    def reset_stats(self) -> None:
        with self._lock:
            self.received.clear()
            self.calls = self.failures = self.max_in_flight = 0
            self.fail_first = 0
            self.in_flight_log.clear()

    # -- lifecycle -------------------------------------------------------------------------------------------------

    def start(self) -> FakeVLMServer:
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="fake-vlm-server", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake VLM server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._socket.close()

    def __enter__(self) -> FakeVLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- HTTP ------------------------------------------------------------------------------------------------------

    def _app(self) -> FastAPI:
        app = FastAPI(title="babelvl fake VLM server")

        @app.get("/v1/models")
        async def models() -> dict[str, Any]:
            return {"object": "list", "data": [{"id": "fake-vlm", "object": "model", "owned_by": "babelvl"}]}

        @app.post("/v1/chat/completions")
        async def chat_completions(http_request: HttpRequest) -> JSONResponse:
            if self.slots is None:
                return await serve(http_request)
            if self._slot_gate is None:  # created in the server's own event loop
                self._slot_gate = asyncio.Semaphore(self.slots)
            async with self._slot_gate:
                return await serve(http_request)

        async def serve(http_request: HttpRequest) -> JSONResponse:
            with self._lock:
                self.calls += 1
                call = self.calls
                self._in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self._in_flight)
                self.in_flight_log.append((time.monotonic(), self._in_flight))
            try:
                delay = self.delay
                if callable(delay):
                    body = await http_request.json()
                    delay = delay(str(body.get("messages", "")))
                if delay:
                    await asyncio.sleep(delay)
                if call <= self.fail_first:
                    with self._lock:
                        self.failures += 1
                    headers = {"retry-after-ms": str(self.retry_after_ms)} if self.retry_after_ms is not None else {}
                    error = {"message": f"injected failure {call}", "type": "server_error", "code": self.fail_status}
                    return JSONResponse({"error": error}, status_code=self.fail_status, headers=headers)
                try:
                    received = _parse(await http_request.json())
                except (ValueError, KeyError, TypeError) as exc:
                    error = {"message": f"bad request: {exc}", "type": "invalid_request_error"}
                    return JSONResponse({"error": error}, status_code=400)
                answer = self.responder(received.prompt, received.images)
                with self._lock:
                    self.received.append(received)
                return JSONResponse(_completion(received.model, answer, call))
            finally:
                with self._lock:
                    self._in_flight -= 1
                    self.in_flight_log.append((time.monotonic(), self._in_flight))

        return app


def in_flight_between(log: list[tuple[float, int]], start: float, end: float) -> tuple[float, int]:
    """Time-weighted mean and minimum of the in-flight count over ``[start, end]``, from ``in_flight_log``."""
    if end <= start:
        raise ValueError("empty interval")
    level, area, low = 0, 0.0, None
    previous = start
    for t, value in log:
        if t > start:
            span_end = min(t, end)
            area += level * (span_end - previous)
            low = level if low is None else min(low, level)
            previous = span_end
        if t >= end:
            break
        level = value
    if previous < end:
        area += level * (end - previous)
        low = level if low is None else min(low, level)
    return area / (end - start), int(low if low is not None else level)


def _completion(model: str, answer: str, call: int) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-fake-{call}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop", "logprobs": None}
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": len(answer.split()), "total_tokens": len(answer.split())},
    }


def main(argv: list[str] | None = None) -> None:
    """Serve the echo responder until interrupted (for trying the OpenAI backend by hand)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--responder", choices=["echo", "demo"], default="echo",
                        help="echo: images and prompt back; demo: toy answers to every babelvl job "
                             "(babelvl.testing.demo_responder)")
    args = parser.parse_args(argv)
    from babelvl.testing.demo_responder import demo_answer

    responder = demo_answer if args.responder == "demo" else echo_images
    with FakeVLMServer(responder, port=args.port) as server:
        print(f"serving on {server.base_url} (Ctrl-C to stop)", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
