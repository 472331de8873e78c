"""Parse and check what an admin imports: SampleItem JSONL, assignment JSONL or a plan file.

Checking is separate from storing so that a bad file is refused as a whole with every problem
listed, and nothing is half-written.

A *plan file* is JSONL whose lines are either SampleItem records (optionally with an
``"annotators": [...]`` list), Assignment records (``{"item_id", "annotator"}``), or tagged lines
``{"item": {...}, "annotators": [...]}`` / ``{"assignment": {...}}``. A single JSON object
``{"items": [...], "assignments": [...]}`` is accepted too.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from babelvl.quality.schema import Assignment, SampleItem

from .db import NewItem

ITEM_FIELDS = {f.name for f in dataclasses.fields(SampleItem)}
REQUIRED_ITEM_FIELDS = {"item_id", "language", "group", "field", "source_text", "target_text"}
MAX_PROBLEMS = 50


@dataclass
class ImportBatch:
    items: list[SampleItem] = field(default_factory=list)
    assignments: list[Assignment] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def problem(self, message: str) -> None:
        self.problems.append(message)


def sniff_image(data: bytes) -> str | None:
    """The MIME type of PNG, JPEG, GIF or WebP bytes, else None (no SVG: it can carry script)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _lines(data: bytes, source: str, batch: ImportBatch) -> list[tuple[int, Any]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        batch.problem(f"{source}: not UTF-8 text")
        return []
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append((number, json.loads(line)))
        except json.JSONDecodeError as exc:
            batch.problem(f"{source} line {number}: not valid JSON ({exc.msg})")
    return out


def _item(record: Any, where: str, batch: ImportBatch) -> SampleItem | None:
    if not isinstance(record, dict):
        batch.problem(f"{where}: expected a JSON object")
        return None
    missing = sorted(REQUIRED_ITEM_FIELDS - record.keys())
    unknown = sorted(record.keys() - ITEM_FIELDS)
    if missing or unknown:
        batch.problem(f"{where}: " + "; ".join(
            ([f"missing field(s) {', '.join(missing)}"] if missing else [])
            + ([f"unknown field(s) {', '.join(unknown)}"] if unknown else [])))
        return None
    wrong = [k for k in REQUIRED_ITEM_FIELDS if not isinstance(record[k], str)]
    if wrong or not record["item_id"].strip():
        batch.problem(f"{where}: field(s) {', '.join(sorted(wrong)) or 'item_id'} must be non-empty text")
        return None
    if not isinstance(record.get("meta", {}), dict) or not isinstance(record.get("image_path") or "", str):
        batch.problem(f"{where}: 'meta' must be an object and 'image_path' text")
        return None
    return SampleItem(**record)


def _assignment(record: Any, where: str, batch: ImportBatch) -> Assignment | None:
    if not (isinstance(record, dict) and set(record) == {"item_id", "annotator"}
            and all(isinstance(v, str) and v for v in record.values())):
        batch.problem(f"{where}: expected {{\"item_id\": ..., \"annotator\": ...}}")
        return None
    return Assignment(record["item_id"], record["annotator"])


def _plan_record(record: Any, where: str, batch: ImportBatch) -> None:
    if isinstance(record, dict) and ("assignment" in record or set(record) == {"item_id", "annotator"}):
        assignment = _assignment(record.get("assignment", record), where, batch)
        if assignment:
            batch.assignments.append(assignment)
        return
    annotators: Any = []
    if isinstance(record, dict):
        record = dict(record)
        annotators = record.pop("annotators", [])
        record = record.get("item", record) if set(record) == {"item"} else record
    if not isinstance(annotators, list) or not all(isinstance(a, str) for a in annotators):
        batch.problem(f"{where}: 'annotators' must be a list of names")
        return
    item = _item(record, where, batch)
    if item:
        batch.items.append(item)
        batch.assignments.extend(Assignment(item.item_id, a) for a in annotators)


def parse_upload(batch: ImportBatch, data: bytes, source: str, kind: str) -> None:
    """Add the records of one uploaded file (kind: items, assignments or plan) to the batch."""
    stripped = data.strip()
    if kind == "plan" and stripped.startswith(b"{") and b"\n{" not in stripped:
        try:
            whole = json.loads(stripped)
        except (json.JSONDecodeError, UnicodeDecodeError):
            whole = None
        if isinstance(whole, dict) and "items" in whole:
            for i, record in enumerate(whole.get("items") or []):
                _plan_record(record, f"{source} items[{i}]", batch)
            for i, record in enumerate(whole.get("assignments") or []):
                a = _assignment(record, f"{source} assignments[{i}]", batch)
                if a:
                    batch.assignments.append(a)
            return
    for number, record in _lines(data, source, batch):
        where = f"{source} line {number}"
        if kind == "items":
            item = _item(record, where, batch)
            if item:
                batch.items.append(item)
        elif kind == "assignments":
            a = _assignment(record, where, batch)
            if a:
                batch.assignments.append(a)
        else:
            _plan_record(record, where, batch)


def check_batch(batch: ImportBatch, existing_items: set[str], existing_pairs: set[tuple[str, str]],
                annotators: set[str]) -> None:
    """Record duplicate and unknown ids: the batch is refused whole when any problem is found."""
    seen: set[str] = set()
    for item in batch.items:
        if item.item_id in existing_items:
            batch.problem(f"item {item.item_id!r} is already in the project")
        elif item.item_id in seen:
            batch.problem(f"item {item.item_id!r} appears twice")
        seen.add(item.item_id)
    known = existing_items | seen
    pairs: set[tuple[str, str]] = set()
    for a in batch.assignments:
        pair = (a.item_id, a.annotator)
        if a.item_id not in known:
            batch.problem(f"assignment of unknown item {a.item_id!r} to {a.annotator!r}")
        if a.annotator not in annotators:
            batch.problem(f"assignment to unknown user {a.annotator!r} (create the user first)")
        if pair in existing_pairs or pair in pairs:
            batch.problem(f"item {a.item_id!r} is assigned to {a.annotator!r} twice")
        pairs.add(pair)
    if not batch.items and not batch.assignments and not batch.problems:
        batch.problem("nothing to import: the files hold no items or assignments")


def attach_images(batch: ImportBatch, uploads: dict[str, bytes], image_dir: Path | None = None) -> list[NewItem]:
    """Pair items with image bytes: an uploaded file with the same base name, else a file under
    ``image_dir`` (the plan folder). An item without a found image keeps its path only."""
    out = []
    for item in batch.items:
        data: bytes | None = None
        if item.image_path:
            rel = PurePosixPath(item.image_path.replace("\\", "/"))
            data = uploads.get(rel.name)
            if data is None and image_dir is not None and not rel.is_absolute() and ".." not in rel.parts:
                candidate = image_dir / rel
                data = candidate.read_bytes() if candidate.is_file() else None
        kind = sniff_image(data) if data is not None else None
        if data is not None and kind is None:
            batch.problem(f"item {item.item_id!r}: image {item.image_path!r} is not PNG, JPEG, GIF or WebP")
        out.append(NewItem(item.item_id, item.to_json(), data if kind else None, kind, item.image_path))
    return out
