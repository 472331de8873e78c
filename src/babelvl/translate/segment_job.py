"""Translate the distinct segments into one language: cached engine calls, checks, retries, edits.

For each language every distinct segment is sent once (in engine-sized batches, cached as each batch
returns). Segments whose output fails an automatic check are retried with the engine's alternative
prompts (``variant`` 1, 2 ...) and then with a fallback engine when one is given; a segment that still
fails keeps its best attempt and is flagged with the reasons, never dropped. Human post-edits from the
edit store replace machine output last, and are checked too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from babelvl.languages import LanguagePack
from babelvl.translate.base import CheckResult, SegmentTranslation
from babelvl.translate.placeholders import unmask


@dataclass
class EngineSlot:
    """An engine as the job uses it: the cached wrapper plus the name recorded in provenance."""

    name: str
    engine: Any
    """A ``CachedEngine`` (or any Engine)."""


def _errors(failures: Sequence[CheckResult]) -> int:
    return sum(1 for f in failures if f.severity == "error")


def translate_segments(segments: dict[str, str], values: dict[str, tuple[str, ...]],
                       fields: dict[str, set[str]], *, source: LanguagePack, target: LanguagePack,
                       engines: Sequence[EngineSlot], retries: int, checker: Any,
                       edits: Any | None = None, advance: Callable[[int], None] | None = None
                       ) -> dict[str, SegmentTranslation]:
    """Return segment id -> final translation for ``target``."""
    ids = list(segments)
    best: dict[str, SegmentTranslation] = {}
    pending = ids
    attempt = 0
    plan = [(slot, variant) for slot_index, slot in enumerate(engines)
            for variant in (range(retries + 1) if slot_index == 0 else range(1))]
    for slot, variant in plan:
        if not pending:
            break
        outputs = _translate_in_batches(slot.engine, [segments[s] for s in pending], source, target,
                                        variant, advance if attempt == 0 else None)
        still_failing = []
        for sid, output in zip(pending, outputs):
            failures = _check(checker, segments[sid], output, values[sid], target)
            candidate = SegmentTranslation(
                segment_id=sid, language=target.code, source=segments[sid], target=output,
                engine=slot.name, prompt_id=slot.engine.prompt_id(variant), attempt=attempt,
                failures=failures, fields=sorted(fields.get(sid, ())))
            previous = best.get(sid)
            if previous is None or _errors(failures) < _errors(previous.failures):
                best[sid] = candidate
            if _errors(best[sid].failures):
                still_failing.append(sid)
        pending = still_failing
        attempt += 1
    if edits is not None:
        for sid, translation in best.items():
            edit = edits.get(sid, target.code)
            if edit is not None and edit.text != translation.target:
                translation.machine_target = translation.target
                translation.target = edit.text
                translation.edited, translation.editor, translation.edited_at = True, edit.editor, edit.edited_at
                translation.failures = _check(checker, translation.source, edit.text, values[sid], target)
    return {sid: best[sid] for sid in ids}


def _translate_in_batches(engine: Any, texts: list[str], source: LanguagePack, target: LanguagePack,
                          variant: int, advance: Callable[[int], None] | None) -> list[str]:
    size = max(1, getattr(engine, "batch_size", 8)) * 4  # the cached engine re-chunks for the model
    out: list[str] = []
    for start in range(0, len(texts), size):
        chunk = texts[start:start + size]
        out.extend(engine.translate(chunk, source, target, variant=variant))
        if advance is not None:
            advance(len(chunk))
    return out


def _check(checker: Any, source_masked: str, target_masked: str, values: tuple[str, ...],
           target: LanguagePack) -> list[CheckResult]:
    return list(checker.check(source_masked, target_masked, target=target,
                              source_plain=unmask(source_masked, values),
                              target_plain=unmask(target_masked, values)))
