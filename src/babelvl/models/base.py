"""The one interface every model backend implements: a batch of (images, text) requests in, texts out."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

if TYPE_CHECKING:
    from babelvl.models.window import Window


@dataclass(frozen=True)
class GenerationSettings:
    """Everything about decoding that changes the answer (part of the cache key)."""

    max_new_tokens: int = 32
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Request:
    """One model call: a user turn made of images (encoded bytes, e.g. PNG/JPEG) then text."""

    prompt: str
    images: tuple[bytes, ...] = ()
    system: str | None = None
    image_hashes: tuple[str, ...] = field(default=(), compare=False)

    def hashes(self) -> tuple[str, ...]:
        """sha256 of each image; computed once by whoever built the request when possible."""
        if self.image_hashes:
            return self.image_hashes
        return tuple(hashlib.sha256(img).hexdigest() for img in self.images)


class Backend(ABC):
    """A model that answers requests. Implementations must be deterministic for temperature 0."""

    #: how many requests the backend likes to receive per ``generate`` call
    batch_size: int = 1
    #: seconds spent loading the model so far (backends that load lazily add to it inside ``generate``, so
    #: the runner can take loading out of generation time); 0.0 when there is nothing to load
    load_seconds: float = 0.0
    #: tokens generated so far, or None when the backend cannot count them (reported as unknown)
    generated_tokens: int | None = None

    @abstractmethod
    def identity(self) -> dict[str, Any]:
        """What identifies the model for caching and provenance (backend, model id, revision, dtype...)."""

    @abstractmethod
    def generate(self, requests: Sequence[Request], settings: GenerationSettings) -> list[str]:
        """Return one text per request, in order."""

    def open_window(self, settings: GenerationSettings) -> "Window[Request, str]":
        """Where a stream sends requests: batches of ``batch_size`` for in-process models; server backends
        override it with a sliding window (see ``babelvl.models.window``)."""
        from babelvl.models.window import BatchWindow

        return BatchWindow(lambda batch: self.generate(batch, settings), self.batch_size)

    def generate_stream(self, requests: "Iterable[Request | object]", settings: GenerationSettings
                        ) -> Iterator[tuple[int, str]]:
        """Yield ``(index, answer)`` as answers complete; ``requests`` may be produced lazily and may hold
        ``models.window.WAIT`` (see ``stream_through``)."""
        from babelvl.models.window import stream_through

        return stream_through(self.open_window(settings), requests)  # type: ignore[arg-type]

    def close(self) -> None:  # pragma: no cover - default no-op
        """Release resources (threads, GPU memory)."""
