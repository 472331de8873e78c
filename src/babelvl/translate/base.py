"""Core types shared by the translation pieces: segments, engines and check results.

A *segment* is one distinct source text (a line of a question, an option, a hint) after placeholders
were masked. Segments are de-duplicated across the whole dataset, so each distinct text costs one
engine call per language and always gets the same translation.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

from babelvl.languages import LanguagePack

if TYPE_CHECKING:
    from babelvl.models.window import Window


def segment_id(masked_text: str) -> str:
    """Stable id of a segment: the same source text always has the same id, in every run."""
    return hashlib.sha256(masked_text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class CheckResult:
    """One failed automatic check on one translated segment (or row), with a named reason."""

    check: str
    """Machine name: "language_id", "length_ratio", "placeholders", "numbers", "untranslated",
    "empty", "runaway", "options_distinct", "back_translation"."""
    reason: str
    """Human-readable explanation, e.g. "detected de, expected fr (confidence 0.93)"."""
    severity: str = "error"
    """"error" (retried / flagged) or "warning" (reported only)."""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class SegmentTranslation:
    """The translation of one segment into one language, with how it was made and how it fared."""

    segment_id: str
    language: str
    source: str
    """Masked source text, as sent to the engine (placeholders like ``⟦0⟧``)."""
    target: str
    """Masked translation, as the engine returned it (after output cleaning)."""
    engine: str
    """Engine name as in its identity (e.g. "gguf:gemma3-270m")."""
    prompt_id: str
    attempt: int = 0
    """The pass that produced the kept answer: 0 for the first; >0 a retry with another prompt or engine."""
    failures: list[CheckResult] = field(default_factory=list)
    """Checks that failed on the final attempt (empty = passed)."""
    fields: list[str] = field(default_factory=list)
    """Which dataset fields use this segment (for the report: checks by field)."""
    edited: bool = False
    editor: str | None = None
    edited_at: str | None = None
    machine_target: str | None = None
    """The engine's output before a human post-edit replaced ``target``."""
    unit_id: str | None = None
    """The unit (item fields sent together) this segment belongs to."""
    request: str = "single"
    """How the kept answer was asked for: "unit", "single", "sentence", "segment" (fallback after a
    malformed unit answer) or "engine-segment" (see ``segment_job.REQUEST_KINDS``)."""
    grounded: bool = False
    """True when the engine saw the item's image while translating."""
    tries: int = 1
    """Answers received for this segment (``tries > 1``: it was retried)."""


@dataclass(frozen=True)
class TranslationRequest:
    """One engine request: a text, or the fields of one item (a *unit*) translated together.

    Requests for every language and every retry pass share one type, so a job can hand them all to
    :meth:`Engine.stream` at once and take answers as they complete.
    """

    key: str
    """Names the request within one ``stream`` call (answers come back under it)."""
    source: LanguagePack
    target: LanguagePack
    segments: tuple[tuple[str, str], ...]
    """(label, masked text) per field line; a plain text request has one segment."""
    variant: int = 0
    context: str | None = None
    """Text the engine reads but does not translate (the item's question)."""
    image: bytes | None = field(default=None, compare=False, repr=False)
    image_hash: str | None = None

    @property
    def is_unit(self) -> bool:
        """True when several fields travel together and the answer is structured (JSON)."""
        return len(self.segments) > 1

    @property
    def text(self) -> str:
        return self.segments[0][1]


def keyed_stream(window: "Window[TranslationRequest, str]", requests: Iterable[Any], **cache: Any
                 ) -> Iterator[tuple[str, str]]:
    """``(request key, answer)`` for a lazy iterable of requests (``models.window.WAIT`` allowed) sent through
    ``window``; ``cache`` are ``stream_through``'s cache options."""
    from babelvl.models.window import stream_through

    order: list[TranslationRequest] = []

    def feed() -> Iterator[Any]:
        for r in requests:
            if isinstance(r, TranslationRequest):
                order.append(r)
            yield r

    for index, answer in stream_through(window, feed(), **cache):
        yield order[index].key, answer


class Engine(ABC):
    """A translation engine: a batch of masked texts in, translations out, in order.

    Engines must keep placeholder tokens (``⟦0⟧``, ``⟦1⟧`` ...) unchanged and be deterministic for the
    same inputs (greedy decoding), so caching and resume give identical output.
    """

    #: requests per ``translate`` call the engine handles well
    batch_size: int = 8
    #: SPDX-like license string of the model behind the engine (recorded in every dataset card)
    license: str = "unknown"
    #: True for engines that are only fit for demos and tests (the card says so in bold)
    low_quality: bool = False

    @abstractmethod
    def identity(self) -> dict[str, Any]:
        """What identifies the engine for caching and provenance (kind, model id, revision...)."""

    @abstractmethod
    def translate(self, texts: Sequence[str], source: LanguagePack, target: LanguagePack, *,
                  variant: int = 0) -> list[str]:
        """Translate ``texts`` from ``source`` to ``target``. ``variant`` > 0 selects an alternative
        prompt for retries after a failed check (engines without prompts may ignore it)."""

    #: translates an item's fields together and answers in structured form (JSON)
    supports_units: bool = False
    #: reads a context (the item's question) next to the text it translates
    supports_context: bool = False
    #: sees the item's image while translating (a vision-language model)
    takes_images: bool = False

    def prompt_id(self, variant: int = 0) -> str:
        """Names the prompt that ``variant`` uses, for provenance."""
        return f"default-v{variant}"

    def request_prompt_id(self, request: TranslationRequest) -> str:
        """Names the prompt one request uses (units and contexts have their own wording)."""
        return self.prompt_id(request.variant)

    def stream(self, requests: Sequence[TranslationRequest]) -> Iterator[tuple[str, str]]:
        """Answer many requests (any languages, any variants); yields ``(key, answer)`` as each completes.

        This default suits engines that translate plain texts in batches (MT models, few-shot GGUF): requests
        are grouped by language pair and variant and sent through :meth:`translate`. A unit answer is raw
        text for the caller to parse; engines without ``supports_units`` never receive units.
        """
        groups: dict[tuple[str, str, int], list[TranslationRequest]] = {}
        for request in requests:
            if request.is_unit or request.context or request.image is not None:
                raise ValueError(f"{type(self).__name__} translates plain texts only; got a unit, context or image")
            groups.setdefault((request.source.code, request.target.code, request.variant), []).append(request)
        for group in groups.values():
            size = max(1, self.batch_size)
            for start in range(0, len(group), size):
                chunk = group[start:start + size]
                answers = self.translate([r.text for r in chunk], chunk[0].source, chunk[0].target,
                                         variant=chunk[0].variant)
                yield from zip((r.key for r in chunk), answers)

    def open_window(self) -> "Window[TranslationRequest, str]":
        """Where a lazy stream of requests goes (``CachedEngine.stream``): batches of ``batch_size`` answered by
        :meth:`stream`. Engines behind a model server override it with the server's sliding window."""
        from babelvl.models.window import BatchWindow

        def answer(batch: list[TranslationRequest]) -> list[str]:
            answers = dict(self.stream(batch))
            return [answers[r.key] for r in batch]

        return BatchWindow(answer, self.batch_size)

    def close(self) -> None:  # pragma: no cover - default no-op
        """Release resources."""
