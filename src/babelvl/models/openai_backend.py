"""Call a model behind an OpenAI-compatible chat-completions server (OpenAI, vLLM, llama.cpp, TGI...).

Retries with exponential backoff and timeouts are the official ``openai`` client's; this module adds a sliding
window of ``concurrency`` requests in flight (``generate_stream``: answers in completion order, no barrier per
batch, see ``babelvl.models.window``) and turns images into base64 data URLs.
"""

from __future__ import annotations

import base64
import io
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

from babelvl.errors import BabelvlError
from babelvl.models.base import Backend, GenerationSettings, Request
from babelvl.models.window import ThreadWindow


def image_mime(data: bytes) -> str:
    """The MIME type of encoded image bytes, read by PIL from the bytes themselves (not from a file name)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format
    except (UnidentifiedImageError, OSError) as exc:
        raise BabelvlError(f"not a readable image ({exc})") from exc
    mime = Image.MIME.get(fmt or "")
    if mime is None:
        raise BabelvlError(f"image format {fmt!r} has no known MIME type")
    return mime


def data_url(data: bytes) -> str:
    """``data:<mime>;base64,<...>``: how the chat-completions API takes inline images."""
    return f"data:{image_mime(data)};base64,{base64.b64encode(data).decode('ascii')}"


def chat_messages(request: Request) -> list[dict[str, Any]]:
    """One optional system turn, then a user turn: images first, then the text."""
    content: list[dict[str, Any]] = [
        {"type": "image_url", "image_url": {"url": data_url(img)}} for img in request.images
    ]
    content.append({"type": "text", "text": request.prompt})
    messages: list[dict[str, Any]] = []
    if request.system:
        messages.append({"role": "system", "content": request.system})
    messages.append({"role": "user", "content": content})
    return messages


class OpenAIBackend(Backend):
    """Chat completions against ``base_url``, at most ``concurrency`` requests in flight."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str,
        api_key: str | None = None,
        concurrency: int = 8,
        timeout: float = 60.0,
        max_retries: int = 5,
    ) -> None:
        import httpx
        from openai import DefaultHttpxClient, OpenAI

        if concurrency < 1:
            raise BabelvlError(f"concurrency must be at least 1, got {concurrency}")
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.batch_size = concurrency * 2  # for callers that still batch: enough work to fill every slot
        self._client = OpenAI(
            base_url=self.base_url,
            api_key=api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY",
            timeout=timeout,
            max_retries=max_retries,
            # keep a connection alive per slot: the default keeps 100, so a wider window would reconnect
            http_client=DefaultHttpxClient(limits=httpx.Limits(
                max_connections=max(1000, concurrency), max_keepalive_connections=concurrency)),
        )
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def identity(self) -> dict[str, Any]:
        return {"backend": "openai", "model": self.model, "base_url": self.base_url}

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="babelvl-openai")
            return self._pool

    def open_window(self, settings: GenerationSettings) -> ThreadWindow[Request, str]:
        """A sliding window of ``concurrency`` requests in flight on this backend's thread pool.

        Every window of this backend shares the pool, so several streams at once (e.g. build workers) still
        keep at most ``concurrency`` requests at the server.
        """
        return ThreadWindow(lambda request, skip: self._complete(request, settings, skip), self._executor(),
                            self.concurrency)

    def generate(self, requests: Sequence[Request], settings: GenerationSettings) -> list[str]:
        """All answers, in order: a wrapper over ``generate_stream``."""
        answers: list[str | None] = [None] * len(requests)
        for index, answer in self.generate_stream(requests, settings):
            answers[index] = answer
        return [a if a is not None else "" for a in answers]

    def _complete(self, request: Request, settings: GenerationSettings, skip: threading.Event) -> str:
        from openai import OpenAIError

        if skip.is_set():  # another request failed for good: do not start this one
            raise BabelvlError("not sent: an earlier request failed")
        messages = chat_messages(request)  # built in the worker: base64 of large images runs in parallel
        try:
            response = self._client.chat.completions.create(
                model=self.model,
                messages=messages,  # type: ignore[arg-type]
                temperature=settings.temperature,
                top_p=settings.top_p,
                max_tokens=settings.max_new_tokens,
                seed=settings.seed,
            )
        except OpenAIError as exc:
            raise BabelvlError(
                f"OpenAI-compatible server {self.base_url} failed (model {self.model!r}, after up to "
                f"{self.max_retries} retries): {exc}"
            ) from exc
        if not response.choices:
            raise BabelvlError(f"OpenAI-compatible server {self.base_url} answered with no choices")
        return (response.choices[0].message.content or "").strip()

    def close(self) -> None:
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        self._client.close()
