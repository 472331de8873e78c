"""Read source rows once and plan the translation: which segments each row's fields are made of.

The plan is what makes "one engine call per distinct segment" true: every translated field of every
row is split into lines, masked, and mapped to segment ids; the distinct segments are what engines see.
Row problems (a required field missing, an answer word the pack does not know) are recorded here with
the row and field, and the row is still written (untouched where it could not be translated).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from babelvl.data.loading import is_absent, require_text_columns
from babelvl.errors import InputError
from babelvl.languages import LanguagePack
from babelvl.translate.base import segment_id
from babelvl.translate.placeholders import Line, split_lines
from babelvl.translate.specs import FieldSpec


@dataclass
class FieldPlan:
    is_list: bool
    elements: list[list[Line]]
    """One list of lines per element (a text field has one element)."""
    segment_ids: list[list[str | None]]
    """The segment id of each line (None for lines with nothing to translate)."""
    had_suffix: bool = False


@dataclass
class Plan:
    columns: list[str]
    rows: list[dict[str, FieldPlan]]
    """Per row: column -> plan (columns whose value is missing are absent)."""
    segments: dict[str, str] = field(default_factory=dict)
    """segment id -> masked source text, in order of first appearance."""
    segment_fields: dict[str, set[str]] = field(default_factory=dict)
    segment_values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Protected spans of a segment's first occurrence (to show editors a readable text)."""
    problems: list[dict[str, Any]] = field(default_factory=list)
    occurrences: int = 0
    """How many segment occurrences the rows hold (before de-duplication)."""


def _strip_suffix(text: str, suffix: str) -> tuple[str, bool]:
    if suffix and text.rstrip().endswith(suffix):
        return text.rstrip()[: -len(suffix)].rstrip(), True
    return text, False


def build_plan(rows: Any, spec: FieldSpec, source: LanguagePack, *, file: str,
               mask_quoted: bool = False, dedup: bool = True) -> Plan:
    """Plan every row of ``rows`` (a datasets.Dataset). Raises InputError for a missing column.

    ``dedup=False`` gives every occurrence its own segment: only for measuring what de-duplication saves.
    """
    present = set(rows.column_names)
    for column in spec.translate:
        if column not in present:
            raise InputError(f"column to translate is missing (columns: {', '.join(rows.column_names)})",
                             file=file, field=column)
    columns = [c for c in spec.columns_to_translate() if c in present]
    if not columns:
        raise InputError(f"none of the fields {', '.join(spec.columns_to_translate())} exist in the data",
                         file=file)
    require_text_columns(rows, columns, file=file)  # an int64 "question" is an error, not a crash
    plan = Plan(columns=columns, rows=[])
    values = {c: rows[c] for c in columns}  # text columns only: cheap, images stay on disk
    for row in range(len(rows)):
        row_plan: dict[str, FieldPlan] = {}
        for column in columns:
            value = values[column][row]
            if not isinstance(value, (list, tuple)) and is_absent(value):  # None, NaN, "": one definition
                if column in spec.translate:
                    plan.problems.append({"row": row, "field": column, "reason": "missing value: kept as is"})
                continue
            is_list = isinstance(value, (list, tuple))
            texts = [str(v) if v is not None else "" for v in value] if is_list else [str(value)]
            had_suffix = False
            if column in spec.suffixes and not is_list:
                texts[0], had_suffix = _strip_suffix(texts[0], source.instruction(spec.suffixes[column]))
            elements = [split_lines(t, quoted=mask_quoted) for t in texts]
            ids: list[list[str | None]] = []
            for position, lines in enumerate(elements):
                ids.append([])
                for number, line in enumerate(lines):
                    if line.body is None:
                        ids[-1].append(None)
                        continue
                    key = line.body.text if dedup else f"{row}\x00{column}\x00{position}\x00{number}\x00{line.body.text}"
                    sid = segment_id(key)
                    ids[-1].append(sid)
                    plan.occurrences += 1
                    if sid not in plan.segments:
                        plan.segments[sid] = line.body.text
                        plan.segment_values[sid] = line.body.values
                    plan.segment_fields.setdefault(sid, set()).add(column)
            row_plan[column] = FieldPlan(is_list, elements, ids, had_suffix)
        plan.rows.append(row_plan)
    return plan
