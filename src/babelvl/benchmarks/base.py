"""What every benchmark is made of: items from data, a prompt, and metrics over scored items.

A benchmark is data + prompt + parser + metric (DESIGN.md). The parser lives in ``babelvl.parsing`` and is
shared by all benchmarks; each benchmark module declares its schema, turns rows into :class:`Item`, builds
the prompt from a language pack, and computes the official metrics from :class:`Scored` records.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Iterator, Literal, Sequence

from babelvl.languages import LanguagePack

AnswerKind = Literal["choice", "yesno"]
Status = Literal["ok", "refusal", "unsure", "unparseable", "empty", "missing"]
"""ok: an answer was read; refusal: the model declined; unsure: it hedged ("I'm not sure") without
answering; unparseable: no rule could read an answer; empty: the response was empty or blank; missing:
no response at all. Every status but ok is scored wrong and counted separately."""


@dataclass
class Item:
    """One question put to a model, in one language.

    ``id`` is stable across languages for the same source item (translated sets keep ids and row order),
    so predictions and cross-language comparisons can refer to it. ``row`` is the 0-based row of the data
    the item came from (several items can share a row when MMBench passes are built by rotation).
    """

    benchmark: str
    language: str
    id: str
    row: int
    question: str
    answer: str
    """Gold answer: an option letter ("A".."Z") for choice benchmarks, "yes"/"no" for yes/no ones."""
    options: dict[str, str] = field(default_factory=dict)
    """Letter -> option text, in display order; empty for yes/no benchmarks."""
    hint: str | None = None
    images: list[bytes] = field(default_factory=list)
    """Encoded image bytes exactly as stored in the data."""
    category: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    """Benchmark-specific fields the metrics need (l2_category, split, question_id, circular group...)."""


@dataclass
class Rejected:
    """A data row that cannot become an item; kept and reported, never dropped silently."""

    benchmark: str
    language: str
    row: int
    field: str | None
    reason: str
    file: str = ""
    id: str | None = None


@dataclass
class Scored:
    """An item's outcome, without images: what metrics are computed from (and what records store)."""

    id: str
    row: int
    language: str
    answer: str
    prediction: str | None
    """Normalised parsed answer: a letter or "yes"/"no"; None when nothing could be parsed."""
    status: Status
    correct: bool
    category: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)


class Benchmark(ABC):
    """A registered benchmark. Subclasses set the class attributes and implement the three methods."""

    name: str
    kind: AnswerKind
    hub_id: str
    """Default Hub dataset id (users can pass a local path instead)."""
    config: str | None = None
    split: str = "test"
    license: str = ""
    required_columns: tuple[str, ...] = ()

    @abstractmethod
    def iter_items(self, rows: Any, language: str, source: str) -> Iterator[Item | Rejected]:
        """Turn data rows (a ``datasets.Dataset`` with undecoded images) into items, lazily.

        Bad rows yield :class:`Rejected` with the row and field; a missing column raises ``InputError``.
        """

    @abstractmethod
    def prompt(self, item: Item, pack: LanguagePack) -> str:
        """The text sent with the item's images, using the pack's instruction wording."""

    @abstractmethod
    def metrics(self, scored: Sequence[Scored]) -> dict[str, Any]:
        """Official metrics with the key layout documented in README (fractions in [0, 1])."""
