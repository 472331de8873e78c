"""The records that flow between sampling, the annotation app, interchange formats and reports.

All three are plain JSON-able dataclasses so they travel as JSONL files between tools:
``plan.jsonl`` (SampleItem + Assignment) -> app or Label Studio/Argilla -> ``annotations.jsonl``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class SampleItem:
    """One thing to judge: a source text and its translation/regeneration, with its image."""

    item_id: str
    """Stable id: ``{dataset}:{language}:{row}:{field}`` (unique within a project)."""
    language: str
    group: str
    """Stratum: benchmark or source name ("mme", "pixmo-cap")."""
    field: str
    """Which column the text comes from ("question", "caption", "A")."""
    source_text: str
    target_text: str
    image_path: str | None = None
    """Path of the image (PNG/JPEG) written next to the plan, relative to the plan folder."""
    overlap: bool = False
    """True when every annotator of the project sees this item (used for agreement)."""
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Assignment:
    item_id: str
    annotator: str


@dataclass
class Annotation:
    """One annotator's judgement of one item under one protocol."""

    item_id: str
    annotator: str
    protocol: str
    """Protocol name ("esa", "mqm", "likert", "postedit")."""
    values: dict[str, Any]
    """Protocol answers: e.g. {"score": 72, "spans": [{"start": 3, "end": 9, "severity": "major"}]} for
    ESA, {"adequacy": 4, "fluency": 5} for Likert, {"errors": [...]} for MQM, {"post_edit": "..."}."""
    seconds: float | None = None
    """Time spent on the item, measured by the app."""
    created: str = ""
    """ISO-8601 UTC time of the submission."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
