"""Call a model behind an OpenAI-compatible chat-completions server (OpenAI, vLLM, llama.cpp, TGI...).

Retries with exponential backoff and timeouts are the official ``openai`` client's; this module adds bounded
concurrency and turns images into base64 data URLs.
"""

from __future__ import annotations

import base64
import io
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Sequence

from babelvl.errors import BabelvlError
from babelvl.models.base import Backend, GenerationSettings, Request


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
        from openai import OpenAI

        if concurrency < 1:
            raise BabelvlError(f"concurrency must be at least 1, got {concurrency}")
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.batch_size = concurrency * 2  # enough queued work to keep every slot busy
        self._client = OpenAI(
            base_url=self.base_url,
            api_key=api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY",
            timeout=timeout,
            max_retries=max_retries,
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

    def generate(self, requests: Sequence[Request], settings: GenerationSettings) -> list[str]:
        from openai import OpenAIError

        # build every payload first so a bad image fails before anything is sent
        payloads = []
        for index, request in enumerate(requests):
            try:
                payloads.append(chat_messages(request))
            except BabelvlError as exc:
                raise BabelvlError(f"request {index}: {exc}") from exc
        pool = self._executor()
        failed = threading.Event()  # once one request has failed for good, do not start the others
        futures: list[Future[str | None]] = [
            pool.submit(self._complete, messages, settings, failed) for messages in payloads
        ]
        answers: list[str] = []
        for index, future in enumerate(futures):
            try:
                answer = future.result()
            except (OpenAIError, BabelvlError) as exc:
                for pending in futures[index + 1 :]:
                    pending.cancel()
                raise BabelvlError(
                    f"OpenAI-compatible server {self.base_url} failed on request {index} of {len(requests)} "
                    f"(model {self.model!r}, after up to {self.max_retries} retries): {exc}"
                ) from exc
            if answer is None:  # skipped because an earlier-finishing request failed; find that one
                continue
            answers.append(answer)
        if len(answers) != len(requests):  # pragma: no cover - a failure above always raises first
            raise BabelvlError(f"OpenAI-compatible server {self.base_url}: some requests were not sent")
        return answers

    def _complete(
        self, messages: list[dict[str, Any]], settings: GenerationSettings, failed: threading.Event
    ) -> str | None:
        if failed.is_set():
            return None
        try:
            response = self._client.chat.completions.create(
                model=self.model,
                messages=messages,  # type: ignore[arg-type]
                temperature=settings.temperature,
                top_p=settings.top_p,
                max_tokens=settings.max_new_tokens,
                seed=settings.seed,
            )
            if not response.choices:
                raise BabelvlError("the server answered with no choices")
        except BaseException:
            failed.set()
            raise
        return (response.choices[0].message.content or "").strip()

    def close(self) -> None:
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        self._client.close()
