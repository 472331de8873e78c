"""Core types shared by the translation pieces: segments, engines and check results.

A *segment* is one distinct source text (a line of a question, an option, a hint) after placeholders
were masked. Segments are de-duplicated across the whole dataset, so each distinct text costs one
engine call per language and always gets the same translation.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

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
    """0 for the first try; >0 when a check failure triggered a retry with another prompt or engine."""
    failures: list[CheckResult] = field(default_factory=list)
    """Checks that failed on the final attempt (empty = passed)."""
    fields: list[str] = field(default_factory=list)
    """Which dataset fields use this segment (for the report: checks by field)."""
    edited: bool = False
    editor: str | None = None
    edited_at: str | None = None
    machine_target: str | None = None
    """The engine's output before a human post-edit replaced ``target``."""


@dataclass(frozen=True)
class TranslationJob:
    """One text to translate, as a stream of engine calls carries it (languages and retries mixed)."""

    text: str
    source: LanguagePack
    target: LanguagePack
    variant: int = 0


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

    def prompt_id(self, variant: int = 0) -> str:
        """Names the prompt that ``variant`` uses, for provenance."""
        return f"default-v{variant}"

    def open_window(self) -> "Window[TranslationJob, str]":
        """Where a stream of jobs goes: batches of ``batch_size`` (one ``translate`` call per language pair and
        variant in a batch). Engines behind a model server override it with the server's sliding window."""
        from babelvl.models.window import BatchWindow

        def run(jobs: list[TranslationJob]) -> list[str]:
            groups: dict[tuple[str, str, int], list[int]] = {}
            for i, job in enumerate(jobs):
                groups.setdefault((job.source.code, job.target.code, job.variant), []).append(i)
            out = [""] * len(jobs)
            for indices in groups.values():
                first = jobs[indices[0]]
                texts = self.translate([jobs[i].text for i in indices], first.source, first.target,
                                       variant=first.variant)
                for i, text in zip(indices, texts):
                    out[i] = text
            return out

        return BatchWindow(run, self.batch_size)

    def close(self) -> None:  # pragma: no cover - default no-op
        """Release resources."""
