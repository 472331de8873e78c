"""Translate a plan's units into every target language: cached engine calls, checks, retries, edits.

Every language's requests go to the engine together, and answers are taken as they complete
(:meth:`Engine.stream`), so a server is fed by one stream, not one language after another. A unit (an
item's question, options and short hint) is one request whose answer is a JSON object; each field line in
it is a segment that the automatic checks judge on its own. A pass retries, with the engine's next prompt
variant, every unit whose answer was malformed or had a segment failing a check. Segments of units whose
answer stayed malformed are then translated one at a time with the question as context (a *segment
fallback*), and segments still failing go to the fallback engine when one is given. A segment that still
fails keeps its best attempt and is flagged with the reasons, never dropped. Human post-edits from the
edit store replace machine output last, and are checked too.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

from babelvl.languages import LanguagePack
from babelvl.translate.base import CheckResult, SegmentTranslation, TranslationRequest, segment_id
from babelvl.translate.engines.prompts import clean_output, parse_unit_answer
from babelvl.translate.placeholders import unmask
from babelvl.translate.plan import Plan, Unit

#: how a segment reached the engine (recorded per segment, counted per language in the quality report)
REQUEST_KINDS = {
    "unit": "with the other fields of its item, in one structured request",
    "single": "alone: its item has nothing else to translate",
    "sentence": "one sentence of a long hint or lecture, with the question as context",
    "segment": "alone with the question as context, after the item's structured answer stayed malformed",
    "engine-segment": "alone: the engine translates one text at a time",
}


@dataclass
class EngineSlot:
    """An engine as the job uses it: the cached wrapper plus the name recorded in provenance."""

    name: str
    engine: Any
    """A ``CachedEngine`` (or any Engine)."""


def _errors(failures: Sequence[CheckResult]) -> int:
    return sum(1 for f in failures if f.severity == "error")


#: language -> segment id -> {engine output: failed checks}; checks are pure functions of the texts, so a
#: re-run reads them from the previous run's segment store instead of running language ID again
CheckMemo = dict[str, dict[str, dict[str, list[CheckResult]]]]


def checks_fingerprint(source: LanguagePack, target: LanguagePack) -> str:
    """What check outcomes depend on besides the texts: babelvl's version and both packs' settings."""
    from babelvl import __version__

    payload = json.dumps([__version__, source.code, source.extra, target.code, target.extra], sort_keys=True,
                         default=str, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


class _Job:
    def __init__(self, plan: Plan, source: LanguagePack, targets: Sequence[LanguagePack], checker: Any,
                 image_of: Callable[[int], bytes | None] | None, memo: CheckMemo) -> None:
        self.plan, self.source, self.checker, self.image_of, self.memo = plan, source, checker, image_of, memo
        self.targets = {t.code: t for t in targets}
        self.best: dict[tuple[str, str], SegmentTranslation] = {}
        self.tries: dict[tuple[str, str], int] = {}
        self.malformed: set[tuple[str, str]] = set()

    def request(self, key: str, target: LanguagePack, segments: list[tuple[str, str]], variant: int,
                unit: Unit, engine: Any, context: str | None) -> TranslationRequest:
        grounded = unit.image_row is not None and engine.takes_images and self.image_of is not None
        return TranslationRequest(key=key, source=self.source, target=target, segments=tuple(segments),
                                  variant=variant, context=context if engine.supports_context else None,
                                  image=self.image_of(unit.image_row) if grounded else None,
                                  image_hash=unit.image_hash if grounded else None)

    def unit_requests(self, pending: list[tuple[str, str]], slot: EngineSlot, variant: int
                      ) -> dict[str, tuple[TranslationRequest, str, str, list[str]]]:
        """key -> (request, language, request kind, segment ids it answers)."""
        out = {}
        for lang, uid in pending:
            unit = self.plan.units[uid]
            target = self.targets[lang]
            if unit.kind == "unit" and slot.engine.supports_units:
                segments = [(label, self.plan.segments[sid]) for label, sid in unit.segments]
                key = f"{lang}\x00{uid}\x00{variant}"
                out[key] = (self.request(key, target, segments, variant, unit, slot.engine, None), lang, "unit",
                            [sid for _, sid in unit.segments])
                continue
            kind = unit.kind if unit.kind != "unit" else "engine-segment"
            for _, sid in unit.segments:
                out.update(self.segment_request(lang, sid, slot, variant, kind))
        return out

    def segment_request(self, lang: str, sid: str, slot: EngineSlot, variant: int, kind: str
                        ) -> dict[str, tuple[TranslationRequest, str, str, list[str]]]:
        unit = self.plan.units[self.plan.segment_unit[sid]]
        context = unit.context if kind in ("sentence", "segment") else None
        if kind == "segment":  # a unit's field alone: its question is the context
            context = self._question_of(unit, sid)
        key = f"{lang}\x00{sid}\x00{variant}\x00{kind}"
        request = self.request(key, self.targets[lang], [("text", self.plan.segments[sid])], variant, unit,
                               slot.engine, context)
        return {key: (request, lang, kind, [sid])}

    def _question_of(self, unit: Unit, sid: str) -> str | None:
        texts = [self.plan.segments[s] for label, s in unit.segments
                 if label.split("_")[0] == "question" and s != sid]
        return "\n".join(texts) or None

    def run(self, requests: dict[str, tuple[TranslationRequest, str, str, list[str]]], slot: EngineSlot,
            attempt: int, advance: Callable[[int], None] | None) -> None:
        for key, answer in slot.engine.stream([r for r, *_ in requests.values()]):
            self.take(requests[key], answer, slot, attempt, advance)

    def run_with_retries(self, pending: list[tuple[str, str]], slot: EngineSlot, retries: int,
                         advance: Callable[[int], None] | None) -> int:
        """Every pending unit with variant 0, and each unit's next variant as soon as all of its answers are in
        and it still fails (malformed, or a segment failing a check), all in ONE stream: the retries join the
        running window instead of waiting for the whole pass to finish. Returns the passes used (the highest
        variant sent, plus one), so attempts are numbered as pass after pass would number them."""
        from babelvl.models.window import WAIT

        queue: deque[tuple[str, tuple[TranslationRequest, str, str, list[str]]]] = deque()
        sent: dict[str, tuple[tuple[TranslationRequest, str, str, list[str]], str, int]] = {}
        left: dict[tuple[str, str, int], int] = {}  # (language, unit, variant) -> answers still to come
        passes = 0

        def enqueue(lang: str, uid: str, variant: int) -> None:
            nonlocal passes
            requests = self.unit_requests([(lang, uid)], slot, variant)
            left[(lang, uid, variant)] = len(requests)
            passes = max(passes, variant + 1)
            for key, value in requests.items():
                # a retry goes ahead of first attempts not yet sent: its unit finishes sooner
                (queue.appendleft if variant else queue.append)((key, value))
                sent[key] = (value, uid, variant)

        def produce() -> Iterator[Any]:
            while queue or len(left):
                if queue:
                    yield queue.popleft()[1][0]
                else:
                    yield WAIT  # the next retries come from answers still in flight

        for lang, uid in pending:
            enqueue(lang, uid, 0)
        for key, answer in slot.engine.stream(produce()):
            value, uid, variant = sent.pop(key)
            lang = value[1]
            self.take(value, answer, slot, variant, advance if variant == 0 else None)
            left[(lang, uid, variant)] -= 1
            if left[(lang, uid, variant)]:
                continue
            del left[(lang, uid, variant)]
            if variant < retries and ((lang, uid) in self.malformed or
                                      any(self.failing(lang, sid) for _, sid in self.plan.units[uid].segments)):
                enqueue(lang, uid, variant + 1)
        return passes

    def take(self, value: tuple[TranslationRequest, str, str, list[str]], answer: str, slot: EngineSlot,
             attempt: int, advance: Callable[[int], None] | None) -> None:
        """One answer: parse a unit's fields, check every segment, keep each segment's best attempt."""
        request, lang, kind, sids = value
        target = self.targets[lang]
        if request.is_unit:
            fields = parse_unit_answer(answer, [label for label, _ in request.segments])
            uid = self.plan.segment_unit[sids[0]]
            if fields is None:
                self.malformed.add((lang, uid))
                for sid in sids:
                    self.tries[(lang, sid)] = self.tries.get((lang, sid), 0) + 1
                if advance is not None:
                    advance(1)
                return
            self.malformed.discard((lang, uid))
            outputs = [clean_output(fields[label], text, target, self.source)
                       for label, text in request.segments]
        else:
            outputs = [answer]
        for sid, output in zip(sids, outputs):
            self.candidate(lang, sid, output, slot, request, kind, attempt)
        if advance is not None:
            advance(1)

    def candidate(self, lang: str, sid: str, output: str, slot: EngineSlot, request: TranslationRequest,
                  kind: str, attempt: int) -> None:
        target = self.targets[lang]
        known = self.memo.setdefault(lang, {}).setdefault(sid, {})
        failures = known.get(output)
        if failures is None:
            failures = known[output] = check(self.checker, self.plan.segments[sid], output,
                                             self.plan.segment_values[sid], target)
        failures = list(failures)
        self.tries[(lang, sid)] = self.tries.get((lang, sid), 0) + 1
        candidate = SegmentTranslation(
            segment_id=sid, language=lang, source=self.plan.segments[sid], target=output, engine=slot.name,
            prompt_id=slot.engine.request_prompt_id(request), attempt=attempt, failures=failures,
            fields=sorted(self.plan.segment_fields.get(sid, ())), unit_id=self.plan.segment_unit[sid],
            request=kind, grounded=request.image_hash is not None)
        previous = self.best.get((lang, sid))
        if previous is None or _errors(failures) < _errors(previous.failures):
            self.best[(lang, sid)] = candidate

    def failing(self, lang: str, sid: str) -> bool:
        best = self.best.get((lang, sid))
        return best is None or _errors(best.failures) > 0


def translate_plan(plan: Plan, *, source: LanguagePack, targets: Sequence[LanguagePack],
                   engines: Sequence[EngineSlot], retries: int, checker: Any, edits: Any | None = None,
                   image_of: Callable[[int], bytes | None] | None = None,
                   advance: Callable[[int], None] | None = None,
                   memo: CheckMemo | None = None) -> dict[str, dict[str, SegmentTranslation]]:
    """Return language -> segment id -> final translation. ``image_of(row)`` gives a row's image bytes for
    grounded units (None: no grounding). ``memo`` holds known check outcomes and is filled in place."""
    job = _Job(plan, source, targets, checker, image_of, memo if memo is not None else {})
    primary = engines[0]
    pending = [(t.code, uid) for t in targets for uid in plan.units]
    # every language, and every retry of the primary engine, through one stream (one window at a server)
    attempt = job.run_with_retries(pending, primary, retries, advance) if pending else 0
    # Units whose structured answer stayed malformed: each field alone, with its question as context.
    orphans = [(lang, sid) for lang, uid in sorted(job.malformed) for _, sid in plan.units[uid].segments
               if (lang, sid) not in job.best]
    for variant in range(retries + 1):
        if not orphans:
            break
        requests: dict[str, Any] = {}
        for lang, sid in orphans:
            requests.update(job.segment_request(lang, sid, primary, variant, "segment"))
        job.run(requests, primary, attempt, None)
        orphans = [(lang, sid) for lang, sid in orphans if job.failing(lang, sid)]
        attempt += 1
    for slot in engines[1:]:  # fallback engines: segments that still fail, one at a time
        still = [(t.code, sid) for t in targets for sid in plan.segments if job.failing(t.code, sid)]
        if not still:
            break
        requests = {}
        for lang, sid in still:
            unit = plan.units[plan.segment_unit[sid]]
            kind = "sentence" if unit.kind == "sentence" else "segment" if unit.kind == "unit" else unit.kind
            requests.update(job.segment_request(lang, sid, slot, 0, kind))
        job.run(requests, slot, attempt, None)
        attempt += 1
    result: dict[str, dict[str, SegmentTranslation]] = {}
    for target in targets:
        per_language = result.setdefault(target.code, {})
        for sid in plan.segments:
            translation = job.best.get((target.code, sid)) or _never_answered(plan, sid, target.code, primary)
            translation.tries = job.tries.get((target.code, sid), 0)
            per_language[sid] = translation
        if edits is not None:
            _apply_edits(per_language, edits, checker, plan, target)
    return result


def _never_answered(plan: Plan, sid: str, language: str, slot: EngineSlot) -> SegmentTranslation:
    """A segment no engine answered usably: kept as its source text and flagged (never dropped)."""
    source = plan.segments[sid]
    return SegmentTranslation(
        segment_id=sid, language=language, source=source, target=source, engine=slot.name, prompt_id="none",
        failures=[CheckResult("malformed", "no usable answer: the item's structured answer was malformed")],
        fields=sorted(plan.segment_fields.get(sid, ())), unit_id=plan.segment_unit[sid], request="unit")


def _apply_edits(translations: dict[str, SegmentTranslation], edits: Any, checker: Any, plan: Plan,
                 target: LanguagePack) -> None:
    for sid, translation in translations.items():
        # an edit made before units existed is keyed by the text alone: it applies wherever that text is
        edit = edits.get(sid, target.code) or edits.get(segment_id(translation.source), target.code)
        if edit is not None and edit.text != translation.target:
            translation.machine_target = translation.target
            translation.target = edit.text
            translation.edited, translation.editor, translation.edited_at = True, edit.editor, edit.edited_at
            translation.failures = check(checker, translation.source, edit.text, plan.segment_values[sid], target)


def check(checker: Any, source_masked: str, target_masked: str, values: tuple[str, ...],
          target: LanguagePack) -> list[CheckResult]:
    return list(checker.check(source_masked, target_masked, target=target,
                              source_plain=unmask(source_masked, values),
                              target_plain=unmask(target_masked, values)))
