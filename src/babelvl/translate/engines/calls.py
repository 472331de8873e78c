"""The one place where translation talks to a model backend: many requests in, answers out as they complete.

Every engine that runs on a model backend (``llm:``, ``vlm:``) sends its requests through
:func:`answers_as_completed`, so how requests reach a server (how many in flight, in which order) is decided
here and nowhere else. Today it hands the backend ``batch_size`` requests at a time through ``generate()``;
a backend that streams results as they complete can be used here without touching any caller.
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence

from babelvl.models import GenerationSettings, Request


def answers_as_completed(backend: Any, requests: Sequence[tuple[str, Request]],
                         settings: GenerationSettings) -> Iterator[tuple[str, str]]:
    """Yield ``(key, answer)`` for every ``(key, request)``, each as soon as it is known."""
    size = max(1, int(getattr(backend, "batch_size", 1) or 1))
    for start in range(0, len(requests), size):
        chunk = requests[start:start + size]
        answers = backend.generate([request for _, request in chunk], settings)
        yield from zip((key for key, _ in chunk), answers)
