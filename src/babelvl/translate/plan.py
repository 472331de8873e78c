"""Read source rows once and plan the translation: which units and segments each row's fields are made of.

A *unit* is what one engine request carries: the translatable fields of one benchmark item together (its
question, its options and a short hint), so a translator reads "left" or "plain" with its question. A long
hint or lecture travels one sentence at a time, each with the question as context. Units are de-duplicated
as a whole: MMBench's circular copies (the same options, rotated) and POPE's repeated questions are one unit
each, and the same unit always gets the same translation. With grounding, the item's image hash is part of
the unit, so one question over two images is two units.

A *segment* is one line (or sentence) of one field inside a unit, after masking: the grain of checks,
retries, post-edits and provenance. Its id is derived from its unit, so the same words in two different
questions are two segments and may rightly be translated differently.
Row problems (a required field missing, an answer word the pack does not know) are recorded here with
the row and field, and the row is still written (untouched where it could not be translated).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Sequence

from babelvl.data.loading import is_absent, require_text_columns
from babelvl.errors import InputError
from babelvl.languages import LanguagePack
from babelvl.translate.base import segment_id
from babelvl.translate.placeholders import Line, split_lines
from babelvl.translate.specs import FieldSpec


#: a context field (hint, lecture) longer than this many characters is sent one sentence at a time
LONG_CONTEXT_CHARS = 400


@dataclass
class FieldPlan:
    is_list: bool
    elements: list[list[Line]]
    """One list of lines per element (a text field has one element)."""
    segment_ids: list[list[str | None]]
    """The segment id of each line (None for lines with nothing to translate)."""
    had_suffix: bool = False
    sentences: bool = False
    """A long context field split into sentences, each sent with the question as context."""


@dataclass
class Unit:
    """One engine request's worth of source text (see the module docstring)."""

    unit_id: str
    kind: str
    """"unit" (several fields of one item), "single" (the item has one segment), "sentence" (one sentence
    of a long hint or lecture, the question as context)."""
    segments: list[tuple[str, str]]
    """(label, segment id) in the order the engine sees them."""
    context: str | None = None
    image_row: int | None = None
    """A row whose image grounds the unit (None when not grounded)."""
    image_hash: str | None = None


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
    units: dict[str, Unit] = field(default_factory=dict)
    segment_unit: dict[str, str] = field(default_factory=dict)
    segment_labels: dict[str, str] = field(default_factory=dict)
    row_units: list[list[str]] = field(default_factory=list)
    """The unit ids each row uses (for provenance: grounded or not, sent whole or per segment)."""


def column_lists(rows: Any, columns: Any) -> dict[str, list[Any]]:
    """Python lists of ``columns`` read from the Arrow table in one pass each.

    Indexing a ``datasets`` column cell by cell selects (and deep-copies) a table per cell: on MMBench-dev
    that was most of a re-run's time. Image columns are never asked for here.
    """
    table = (rows if rows._indices is None else rows.flatten_indices()).data.table
    return {c: table.column(c).to_pylist() for c in columns if c in table.column_names}


def _strip_suffix(text: str, suffix: str) -> tuple[str, bool]:
    if suffix and text.rstrip().endswith(suffix):
        return text.rstrip()[: -len(suffix)].rstrip(), True
    return text, False


def _labelled(prefix: str, elements: list[list[Line]]) -> list[tuple[str, tuple[int, int], str]]:
    """(label, (element, line), masked text) of every translatable line: ``question`` alone, else
    ``question_1``, ``question_2``..."""
    found = [((e, i), line.body.text) for e, lines in enumerate(elements)
             for i, line in enumerate(lines) if line.body is not None]
    if len(found) == 1:
        return [(prefix, found[0][0], found[0][1])]
    return [(f"{prefix}_{n + 1}", where, text) for n, (where, text) in enumerate(found)]


def _key(payload: Any) -> str:
    return segment_id(json.dumps(payload, ensure_ascii=False, separators=(",", ":")))


def build_plan(rows: Any, spec: FieldSpec, source: LanguagePack, *, file: str,
               mask_quoted: bool = False, dedup: bool = True,
               image_hashes: Sequence[str | None] | None = None) -> Plan:
    """Plan every row of ``rows`` (a datasets.Dataset). Raises InputError for a missing column.

    ``image_hashes`` (one per row) grounds each unit in its row's image. ``dedup=False`` gives every row its
    own units: only for measuring what de-duplication saves.
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
    # an int64 "question" or options stored as one string are errors, not crashes
    require_text_columns(rows, columns, file=file, lists=spec.options if len(spec.options) == 1 else ())
    plan = Plan(columns=columns, rows=[])
    values = column_lists(rows, columns)  # text columns only: cheap, images stay on disk
    split_memo: dict[tuple[str, bool], list[Line]] = {}  # benchmarks repeat texts (circular copies, POPE)

    def split(text: str, sentences: bool) -> list[Line]:
        lines = split_memo.get((text, sentences))
        if lines is None:
            lines = split_memo[(text, sentences)] = split_lines(text, quoted=mask_quoted, code=spec.code,
                                                                sentences=sentences)
        return lines  # Lines are immutable: rows may share them
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
            long = column in spec.context and not is_list and len(texts[0]) > LONG_CONTEXT_CHARS
            elements = [split(t, long) for t in texts]
            row_plan[column] = FieldPlan(is_list, elements, [[None] * len(lines) for lines in elements],
                                         had_suffix, long)
        image_hash = image_hashes[row] if image_hashes is not None else None
        plan.row_units.append(_plan_units(plan, row_plan, spec, row, image_hash, dedup))
        plan.rows.append(row_plan)
    return plan


def _plan_units(plan: Plan, row_plan: dict[str, FieldPlan], spec: FieldSpec, row: int,
                image_hash: str | None, dedup: bool) -> list[str]:
    """Group one row's segments into units, register them in ``plan``; returns the row's unit ids."""
    parts: list[tuple[str, str, str, tuple[int, int]]] = []  # (label, text, column, (element, line))
    sentences: list[tuple[str, str, tuple[int, int]]] = []
    for column, fp in row_plan.items():
        if column in spec.options:
            continue
        if fp.sentences:
            sentences += [(column, text, where) for _, where, text in _labelled(column, fp.elements)]
            continue
        parts += [(label, text, column, where) for label, where, text in _labelled(column, fp.elements)]
    # Options: each distinct option (by its masked lines) once, in a canonical order, so rotated copies of
    # one question (MMBench's circular passes) are the same unit.
    options: dict[tuple[str, ...], list[tuple[str, tuple[int, int]]]] = {}
    for column in spec.options:
        fp = row_plan.get(column)
        if fp is None:
            continue
        for e, lines in enumerate(fp.elements):
            key = tuple(line.body.text if line.body is not None else "" for line in lines)
            if any(key):
                options.setdefault(key, []).extend((column, (e, i)) for i, line in enumerate(lines)
                                                   if line.body is not None)
    for n, key in enumerate(sorted(options)):
        texts = [t for t in key if t]
        labels = [f"option_{n + 1}"] if len(texts) == 1 else [f"option_{n + 1}_{k + 1}" for k in range(len(texts))]
        # every occurrence of this option (one column, or several identical ones) maps to the same labels
        occurrences = options[key]
        per_occurrence = len(texts)
        for start in range(0, len(occurrences), per_occurrence):
            for label, text, (column, where) in zip(labels, texts, occurrences[start:start + per_occurrence]):
                parts.append((label, text, column, where))
    question = row_plan.get(spec.question)
    context = "\n".join(line.body.text for lines in question.elements for line in lines
                        if line.body is not None) if question is not None else ""
    unit_ids = []
    if parts:
        kind = "unit" if len({label for label, *_ in parts}) > 1 else "single"
        ordered = list(dict.fromkeys((label, text) for label, text, *_ in parts))
        payload = [kind, ordered, image_hash] + ([] if dedup else [row])
        unit_ids.append(_register(plan, _key(payload), kind, ordered, None, row, image_hash,
                                  [(label, column, where) for label, _, column, where in parts], row_plan))
    for column, text, where in sentences:
        payload = ["sentence", text, context or None, image_hash] + ([] if dedup else [row])
        unit_ids.append(_register(plan, _key(payload), "sentence", [("text", text)], context or None, row,
                                  image_hash, [("text", column, where)], row_plan))
    return list(dict.fromkeys(unit_ids))


def _register(plan: Plan, unit_id: str, kind: str, ordered: list[tuple[str, str]], context: str | None,
              row: int, image_hash: str | None, places: list[tuple[str, str, tuple[int, int]]],
              row_plan: dict[str, FieldPlan]) -> str:
    sids = {label: segment_id(f"{unit_id}\x00{label}") for label, _ in ordered}
    if unit_id not in plan.units:
        plan.units[unit_id] = Unit(unit_id, kind, [(label, sids[label]) for label, _ in ordered], context,
                                   row if image_hash else None, image_hash)
        for label, text in ordered:
            plan.segments[sids[label]] = text
            plan.segment_unit[sids[label]] = unit_id
            plan.segment_labels[sids[label]] = label
    for label, column, (e, i) in places:
        sid = sids[label]
        fp = row_plan[column]
        fp.segment_ids[e][i] = sid
        plan.occurrences += 1
        plan.segment_values.setdefault(sid, fp.elements[e][i].body.values)
        plan.segment_fields.setdefault(sid, set()).add(column)
    return unit_id
