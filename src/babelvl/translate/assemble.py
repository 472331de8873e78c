"""Rebuild translated rows from the plan and the segment translations, keeping the source schema.

Columns not being translated are never touched (they are copied as Arrow columns, so images stay
byte-identical). Each row gets two provenance columns: ``babelvl_source_row`` and
``babelvl_provenance`` (JSON: per field, the segments, engines and prompts that produced it, and which
segments a human post-edited; per row, its units, how they were requested and whether the engine saw the
image).
"""

from __future__ import annotations

import json
from typing import Any

from babelvl.languages import LanguagePack
from babelvl.translate.base import SegmentTranslation
from babelvl.translate.placeholders import join_lines, unmask
from babelvl.translate.plan import FieldPlan, Plan
from babelvl.translate.specs import FieldSpec

PROVENANCE_COLUMNS = ("babelvl_source_row", "babelvl_provenance")


def _field_value(fp: FieldPlan, translations: dict[str, SegmentTranslation], suffix: str | None,
                 used: list[SegmentTranslation]) -> Any:
    elements = []
    for lines, ids in zip(fp.elements, fp.segment_ids):
        texts: list[str | None] = []
        for line, sid in zip(lines, ids):
            if line.body is None or sid is None:
                texts.append(None)
                continue
            tr = translations[sid]
            used.append(tr)
            texts.append(unmask(tr.target, line.body.values))
        elements.append(join_lines(lines, texts))
    if fp.had_suffix and suffix:
        elements[0] = f"{elements[0]} {suffix}" if elements[0] else suffix
    return elements if fp.is_list else elements[0]


def _answer_word(value: Any, source: LanguagePack, target: LanguagePack) -> tuple[Any, str | None]:
    """Map a yes/no word to the target pack's canonical word, keeping its case style."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return value, "answer word missing: kept as is"
    if not isinstance(value, str):
        return value, f"answer {value!r} is not text (a yes/no word was expected): kept as is"
    word = value.strip()
    folded = word.casefold()
    if folded in (w.casefold() for w in source.yes):
        new = target.yes[0]
    elif folded in (w.casefold() for w in source.no):
        new = target.no[0]
    else:
        return value, f"answer {value!r} is not a yes/no word of '{source.code}': kept as is"
    if word.isupper() and len(word) > 1:
        new = new.upper()
    elif word[:1].isupper():
        new = new[:1].upper() + new[1:]
    else:
        new = new.lower()
    return new, None


def assemble_columns(plan: Plan, spec: FieldSpec, answers: dict[str, list[Any]],
                     translations: dict[str, SegmentTranslation], *, source: LanguagePack,
                     target: LanguagePack, source_name: str) -> tuple[dict[str, list[Any]], list[dict[str, Any]]]:
    """New values for every translated/rewritten column, plus row problems found while assembling."""
    out: dict[str, list[Any]] = {c: [] for c in plan.columns}
    answer_out: dict[str, list[Any]] = {c: [] for c in answers}
    problems: list[dict[str, Any]] = []
    provenance: list[str] = []
    originals = answers  # column -> source values (answer words)
    for row, row_plan in enumerate(plan.rows):
        row_info: dict[str, Any] = {}
        row_used: list[SegmentTranslation] = []
        for column in plan.columns:
            fp = row_plan.get(column)
            if fp is None:
                out[column].append(None)  # placeholder, replaced by the source value by the writer
                continue
            suffix_key = spec.suffixes.get(column)
            used: list[SegmentTranslation] = []
            out[column].append(_field_value(fp, translations, target.instruction(suffix_key)
                                            if suffix_key else None, used))
            row_used += used
            row_info[column] = {
                "segments": [t.segment_id for t in used],
                "engines": sorted({t.engine for t in used}),
                "prompts": sorted({t.prompt_id for t in used}),
                "edited": sorted({t.segment_id for t in used if t.edited}),
                "flagged": sorted({t.segment_id for t in used if any(f.severity == "error" for f in t.failures)}),
            }
            if fp.had_suffix:
                row_info[column]["suffix"] = f"language pack '{target.code}' instructions.{suffix_key}"
        for column, values in originals.items():
            new, problem = _answer_word(values[row], source, target)
            answer_out[column].append(new)
            if problem:
                problems.append({"row": row, "field": column, "reason": problem, "language": target.code})
            else:
                row_info[column] = {"rewritten_from": f"language pack '{target.code}' yes/no words"}
        provenance.append(json.dumps({"source": source_name, "source_row": row, "language": target.code,
                                      "fields": row_info,
                                      "grounded": bool(row_used) and all(t.grounded for t in row_used),
                                      "units": sorted({t.unit_id for t in row_used if t.unit_id}),
                                      "requests": sorted({t.request for t in row_used})},
                                     ensure_ascii=False, sort_keys=True))
    columns = {**out, **answer_out, "babelvl_source_row": list(range(len(plan.rows))),
               "babelvl_provenance": provenance}
    return columns, problems
