"""The one place where translation talks to a model backend: many requests in, answers out as they complete.

Every engine that runs on a model backend (``llm:``, ``vlm:``) sends its requests through
:func:`answers_as_completed`, so how requests reach a server (how many in flight, in which order) is decided
here and nowhere else: the backend's ``generate_stream`` (``babelvl.models.window``). A server backend keeps
``--concurrency`` requests in flight and refills a slot as soon as an answer returns (no barrier per batch, so
every language of a pass shares one sliding window); an in-process model gets its own batches.
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence

from babelvl.models import GenerationSettings, Request


def answers_as_completed(backend: Any, requests: Sequence[tuple[str, Request]],
                         settings: GenerationSettings) -> Iterator[tuple[str, str]]:
    """Yield ``(key, answer)`` for every ``(key, request)``, each as soon as it is known."""
    for index, answer in backend.generate_stream((request for _, request in requests), settings):
        yield requests[index][0], answer
