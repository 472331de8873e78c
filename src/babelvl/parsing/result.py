"""The outcome of parsing one response, shared by every parser mode."""

from __future__ import annotations

from dataclasses import dataclass

from babelvl.benchmarks.base import Status


@dataclass(frozen=True)
class Parsed:
    """What a parser read from a response.

    ``prediction`` is an option letter ("A".."Z") or "yes"/"no", and None whenever ``status`` is not
    "ok", so that a refusal is never mistaken for an answer.
    """

    prediction: str | None
    status: Status

    @classmethod
    def ok(cls, prediction: str) -> Parsed:
        return cls(prediction, "ok")

    @classmethod
    def refusal(cls) -> Parsed:
        return cls(None, "refusal")

    @classmethod
    def unsure(cls) -> Parsed:
        return cls(None, "unsure")

    @classmethod
    def empty(cls) -> Parsed:
        return cls(None, "empty")

    @classmethod
    def unparseable(cls) -> Parsed:
        return cls(None, "unparseable")
