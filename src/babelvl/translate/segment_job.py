"""Translate the distinct segments into one language: cached engine calls, checks, retries, edits.

Every distinct segment is sent once per language, all languages and retries through one stream of engine
calls (a sliding window at a model server, cached as each answer returns). Segments whose output fails an
automatic check are retried with the engine's alternative prompts (``variant`` 1, 2 ...) in the same
stream, and then with a fallback engine when one is given; a segment that still
fails keeps its best attempt and is flagged with the reasons, never dropped. Human post-edits from the
edit store replace machine output last, and are checked too.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

from babelvl.languages import LanguagePack
from babelvl.translate.base import CheckResult, SegmentTranslation, TranslationJob
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
    """Return segment id -> final translation for ``target`` (one language of ``translate_languages``)."""
    return translate_languages(segments, values, fields, source=source, targets=[target], engines=engines,
                               retries=retries, checker=checker, edits=edits,
                               advance=(lambda _code, n: advance(n)) if advance else None)[target.code]


def translate_languages(segments: dict[str, str], values: dict[str, tuple[str, ...]],
                        fields: dict[str, set[str]], *, source: LanguagePack, targets: Sequence[LanguagePack],
                        engines: Sequence[EngineSlot], retries: int, checker: Any, edits: Any | None = None,
                        advance: Callable[[str, int], None] | None = None
                        ) -> dict[str, dict[str, SegmentTranslation]]:
    """Return language -> segment id -> final translation, for every target at once.

    Every language and every retry of the primary engine go through one stream (one sliding window at a model
    server): a segment whose output fails a check is sent again with the next prompt variant as soon as its answer
    is checked, while the other languages' first attempts are still in flight. What still fails goes to the
    fallback engine(s), again all languages in one stream.
    """
    ids = list(segments)
    best: dict[tuple[str, str], SegmentTranslation] = {}
    pending = [(t, sid) for t in targets for sid in ids]
    attempt_base = 0
    for slot_index, slot in enumerate(engines):
        if not pending:
            break
        variants = retries + 1 if slot_index == 0 else 1
        pending = _run_slot(slot, pending, variants, attempt_base, segments, values, fields, source, checker,
                            best, advance if slot_index == 0 else None)
        attempt_base += variants
    if edits is not None:
        for (code, sid), translation in best.items():
            edit = edits.get(sid, code)
            if edit is not None and edit.text != translation.target:
                translation.machine_target = translation.target
                translation.target = edit.text
                translation.edited, translation.editor, translation.edited_at = True, edit.editor, edit.edited_at
                target = next(t for t in targets if t.code == code)
                translation.failures = _check(checker, translation.source, edit.text, values[sid], target)
    return {t.code: {sid: best[(t.code, sid)] for sid in ids} for t in targets}


def _run_slot(slot: EngineSlot, pending: list[tuple[LanguagePack, str]], variants: int, attempt_base: int,
              segments: dict[str, str], values: dict[str, tuple[str, ...]], fields: dict[str, set[str]],
              source: LanguagePack, checker: Any, best: dict[tuple[str, str], SegmentTranslation],
              advance: Callable[[str, int], None] | None) -> list[tuple[LanguagePack, str]]:
    """Send ``pending`` through one engine stream, retrying failures with the next variant in the same stream;
    return what still fails after the last variant. ``best`` keeps each segment's fewest-error attempt."""
    from babelvl.models.window import WAIT, stream_through

    queue = deque((target, sid, 0) for target, sid in pending)
    sent: list[tuple[LanguagePack, str, int]] = []
    outstanding = 0
    failing: list[tuple[LanguagePack, str]] = []

    def produce() -> Iterator[Any]:
        nonlocal outstanding
        while queue or outstanding:
            if not queue:
                yield WAIT  # retries come from answers still in flight
                continue
            target, sid, variant = queue.popleft()
            sent.append((target, sid, variant))
            outstanding += 1
            yield TranslationJob(segments[sid], source, target, variant)

    stream = getattr(slot.engine, "translate_stream", None)
    answers = stream(produce()) if stream else stream_through(slot.engine.open_window(), produce())
    for index, output in answers:
        outstanding -= 1
        target, sid, variant = sent[index]
        failures = _check(checker, segments[sid], output, values[sid], target)
        candidate = SegmentTranslation(
            segment_id=sid, language=target.code, source=segments[sid], target=output,
            engine=slot.name, prompt_id=slot.engine.prompt_id(variant), attempt=attempt_base + variant,
            failures=failures, fields=sorted(fields.get(sid, ())))
        previous = best.get((target.code, sid))
        if previous is None or _errors(failures) < _errors(previous.failures):
            best[(target.code, sid)] = candidate
        if variant == 0 and advance is not None:
            advance(target.code, 1)
        if _errors(best[(target.code, sid)].failures):
            if variant + 1 < variants:
                queue.append((target, sid, variant + 1))
            else:
                failing.append((target, sid))
    order = {(t.code, sid): i for i, (t, sid) in enumerate(pending)}
    return sorted(failing, key=lambda p: order[(p[0].code, p[1])])


def _check(checker: Any, source_masked: str, target_masked: str, values: tuple[str, ...],
           target: LanguagePack) -> list[CheckResult]:
    return list(checker.check(source_masked, target_masked, target=target,
                              source_plain=unmask(source_masked, values),
                              target_plain=unmask(target_masked, values)))
