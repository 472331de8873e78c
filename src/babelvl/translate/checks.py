"""Automatic checks on machine translations: each catches one way an engine output goes wrong.

Every check is a small function returning a :class:`CheckResult` with a named reason, or ``None``
when the segment passes. :class:`SegmentChecker` runs them on one segment; errors make the pipeline
retry or flag the segment, warnings are only reported. Checks run on the *masked* texts (so
placeholders ``⟦n⟧`` can be counted) and on the plain texts where masking does not matter
(numbers). Language-specific knowledge (number formats, length-ratio bounds) comes from the
language packs, never from code.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Collection, Mapping, Sequence

from babelvl.data.loading import is_absent
from babelvl.errors import InputError
from babelvl.languages import LanguagePack
from babelvl.translate.base import CheckResult
from babelvl.translate.code import code_tokens
from babelvl.translate.langid import LanguageDetector, too_short

PLACEHOLDER_RE = re.compile(r"⟦(\d+)⟧")

#: every check a :class:`SegmentChecker` runs, in order
SEGMENT_CHECKS = ("empty", "placeholders", "runaway", "numbers", "code", "untranslated", "language_id",
                  "length_ratio")

#: target/source character ratio accepted when neither the caller nor the pack says otherwise
DEFAULT_LENGTH_RATIO = (0.5, 2.5)
#: sources shorter than this (characters) are not ratio-checked: "OK" -> "D'accord" is fine
MIN_RATIO_SOURCE_CHARS = 20
#: output longer than ``RUNAWAY_FACTOR * len(source) + RUNAWAY_SLACK`` characters is a runaway
RUNAWAY_FACTOR = 3.0
RUNAWAY_SLACK = 20
#: a word n-gram (n <= 8) repeated this many times in a row, more often than in the source, loops
REPEAT_WORDS = 4
#: a character unit (<= 20 characters, with a letter) repeated this often in a row loops; catches
#: scripts written without spaces
REPEAT_CHARS = 8
#: language ID fails when another language beats the target by at least this much confidence
LANGUAGE_ID_MARGIN = 0.2
#: back-translations scoring below this chrF (0-100) against the source get a warning
BACK_TRANSLATION_THRESHOLD = 30.0


def _result(check: str, reason: str, severity: str = "error", **details: Any) -> CheckResult:
    return CheckResult(check=check, reason=reason, severity=severity, details=details)


# --- empty and runaway output -------------------------------------------------------------------

def check_empty(source: str, target: str) -> CheckResult | None:
    """An engine that returns nothing for real text failed (timeouts, stop tokens, filters)."""
    if source.strip() and not target.strip():
        return _result("empty", "empty translation for a non-empty source")
    return None


def _max_repeat(seq: Sequence[str], max_n: int,
                accept: Callable[[Sequence[str]], bool]) -> tuple[int, Sequence[str]]:
    """Longest run of one unit (1..max_n items) repeated back to back: (repeats, unit)."""
    best: tuple[int, Sequence[str]] = (1, ())
    length = len(seq)
    for n in range(1, min(max_n, length // 2) + 1):
        run = 0
        for j in range(length - n):
            if seq[j] != seq[j + n]:
                run = 0
                continue
            run += 1
            repeats = run // n + 1
            if repeats > best[0]:
                start = j - run + 1
                unit = seq[start:start + n]
                if accept(unit):
                    best = (repeats, unit)
    return best


def _has_alnum(unit: Sequence[str]) -> bool:
    return any(ch.isalnum() for part in unit for ch in part)


def _has_letter(unit: Sequence[str]) -> bool:
    return any(ch.isalpha() for part in unit for ch in part)


def check_runaway(source: str, target: str) -> CheckResult | None:
    """Small models loop or keep generating; both show as too much text or back-to-back repeats.

    Repeats already present in the source (a list, "very very") are not held against the output.
    """
    limit = int(RUNAWAY_FACTOR * len(source) + RUNAWAY_SLACK)
    if len(target) > limit:
        return _result("runaway", f"output has {len(target)} characters for a {len(source)}-character "
                                  f"source (limit {limit})", length=len(target), limit=limit)

    def words(text: str) -> list[str]:
        return re.findall(r"\w+|[^\w\s]", text.casefold())

    for split, max_n, threshold, accept, sep in (
            (words, 8, REPEAT_WORDS, _has_alnum, " "),
            (lambda t: list(t.casefold()), 20, REPEAT_CHARS, _has_letter, "")):
        repeats, unit = _max_repeat(split(target), max_n, accept)
        if repeats >= threshold and repeats > _max_repeat(split(source), max_n, accept)[0]:
            text = sep.join(unit)
            return _result("runaway", f"'{text}' repeated {repeats} times in a row",
                           unit=text, repeats=repeats)
    return None


# --- placeholders --------------------------------------------------------------------------------

def check_placeholders(source_masked: str, target_masked: str) -> CheckResult | None:
    """Each ``⟦n⟧`` must come back exactly as often as sent: a lost one loses a number or a name."""
    want = Counter(PLACEHOLDER_RE.findall(source_masked))
    got = Counter(PLACEHOLDER_RE.findall(target_masked))
    missing = sorted((p for p in want if got[p] < want[p]), key=int)
    duplicated = sorted((p for p in want if got[p] > want[p]), key=int)
    invented = sorted((p for p in got if p not in want), key=int)
    stray = PLACEHOLDER_RE.sub("", target_masked)
    malformed = "⟦" in stray or "⟧" in stray
    problems = [*(f"missing ⟦{p}⟧" for p in missing),
                *(f"duplicated ⟦{p}⟧ ({got[p]}×)" for p in duplicated),
                *(f"invented ⟦{p}⟧" for p in invented),
                *(["malformed placeholder"] if malformed else [])]
    if not problems:
        return None
    return _result("placeholders", "; ".join(problems), missing=missing, duplicated=duplicated,
                   invented=invented, malformed=malformed)


# --- numbers -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class NumberFormat:
    """How a language writes numbers, from the pack's ``numbers:`` section."""

    decimal: str
    thousands: tuple[str, ...]

    @classmethod
    def of(cls, pack: LanguagePack) -> NumberFormat | None:
        """The pack's format, None when it has no ``numbers:`` section; bad values name the field."""
        raw = pack.extra.get("numbers")
        if raw is None:
            return None
        where = {"file": pack.source or None}
        if not isinstance(raw, dict):
            raise InputError("must be a mapping with 'decimal' and 'thousands'", field="numbers", **where)
        decimal, thousands = raw.get("decimal"), raw.get("thousands", [])
        if not isinstance(decimal, str) or len(decimal) != 1 or decimal.isdigit():
            raise InputError("must be one non-digit character", field="numbers.decimal", **where)
        if not isinstance(thousands, list) or not all(
                isinstance(t, str) and len(t) == 1 and not t.isdigit() and t != decimal for t in thousands):
            raise InputError("must be a list of single non-digit characters other than the decimal "
                             "separator", field="numbers.thousands", **where)
        return cls(decimal, tuple(thousands))

    def parse(self, text: str) -> list[tuple[Decimal, str]]:
        """Every number in ``text`` read in this format: (value, as written). Signs are ignored."""
        found = []
        for match in _number_pattern(self.decimal, self.thousands).finditer(text):
            written = match.group(0)
            plain = "".join(ch for ch in written if ch not in self.thousands).replace(self.decimal, ".")
            try:
                found.append((Decimal(plain), written))
            except InvalidOperation:  # pragma: no cover - the pattern only matches digits
                continue
        return found


@lru_cache(maxsize=64)
def _number_pattern(decimal: str, thousands: tuple[str, ...]) -> re.Pattern[str]:
    """Numbers as one format writes them: "1 000,5", "3,5", ",5" (French); never part of a longer one."""
    dec = re.escape(decimal)
    groups = rf"\d{{1,3}}(?:[{''.join(map(re.escape, thousands))}]\d{{3}})+" if thousands else r"(?!)"
    return re.compile(rf"(?<!\d)(?:(?:{groups}|\d+)(?:{dec}\d+)?|{dec}\d+)(?!\d)")


#: used for packs without a ``numbers:`` section: either common convention is accepted
LENIENT_FORMATS = (NumberFormat(".", (",",)), NumberFormat(",", (".", " ", "\u00a0", "\u202f")))


def check_numbers(source_plain: str, target_plain: str, source_format: NumberFormat,
                  target_formats: Sequence[NumberFormat]) -> CheckResult | None:
    """Numbers must survive translation; "3.5" may become "3,5" and "1,000" "1 000" or "1.000".

    A number is found when the target holds it as often as the source, read in one of the target's
    formats or copied as written in the source (years, versions and codes often stay unchanged).
    """
    need = source_format.parse(source_plain)
    if not need:
        return None
    wanted = Counter(value for value, _ in need)
    readings = [Counter(v for v, _ in fmt.parse(target_plain))
                for fmt in (*target_formats, source_format)]
    missing = [value for value, count in wanted.items() if not any(r[value] >= count for r in readings)]
    if not missing:
        return None
    written = [next(w for v, w in need if v == value) for value in missing]
    return _result("numbers", "numbers missing from the translation: " + ", ".join(written),
                   missing=written)


# --- code ----------------------------------------------------------------------------------------

def check_code(source_plain: str, target_plain: str) -> CheckResult | None:
    """Identifiers, keywords and formulas must come back spelled as they were.

    Code that the planner recognised never reaches an engine; this catches what slipped through (a call,
    ``self.name``, ``snake_case``, ``(a+b)*(a-b)`` inside prose) and was rewritten ("(un+b)").
    """
    need = Counter(code_tokens(source_plain))
    changed = [token for token, count in need.items() if target_plain.count(token) < count]
    if not changed:
        return None
    return _result("code", "code changed by the engine: " + ", ".join(repr(t) for t in changed[:5]),
                   changed=changed)


# --- untranslated --------------------------------------------------------------------------------

def _comparable(text: str) -> str:
    """Text with placeholders, punctuation and case removed, for "is it the same" comparisons."""
    return " ".join(re.sub(r"[\W_]+", " ", PLACEHOLDER_RE.sub(" ", text).casefold()).split())


def _is_name_or_code(text: str) -> bool:
    """True for strings that may rightly stay as they are: formulas, code, multi-word names."""
    letters = sum(ch.isalpha() for ch in PLACEHOLDER_RE.sub(" ", text))
    if letters < 3:
        return True
    words = [w.strip(".,;:!?()[]{}\"'«»“”") for w in PLACEHOLDER_RE.sub(" ", text).split()]
    words = [w for w in words if len(w) >= 2 and w.isalpha()]
    if not words:  # "H2O", "x = f(y)", "numpy.array": no plain word at all
        return True
    return len(words) >= 2 and all(w[0].isupper() for w in words)  # "New York", "Mona Lisa"


def check_untranslated(source_masked: str, target_masked: str) -> CheckResult | None:
    """An output equal to the source was usually not translated; short ones may be fine ("OK")."""
    if _comparable(source_masked) != _comparable(target_masked) or _is_name_or_code(source_masked):
        return None
    severity = "warning" if too_short(PLACEHOLDER_RE.sub(" ", source_masked)) else "error"
    return _result("untranslated", "translation is identical to the source", severity)


# --- language ID ---------------------------------------------------------------------------------

def check_language_id(target_masked: str, expected: str, detector: LanguageDetector,
                      margin: float = LANGUAGE_ID_MARGIN) -> CheckResult | None:
    """The output must be in the target language. Passes without a verdict when the text is too
    short to judge or the language unknown to the detector (see :mod:`babelvl.translate.langid`).

    It fails only when another language beats the target by ``margin``: close calls between
    related languages ("¿De qué color es el coche?" scores fr 0.40, es 0.39) are not errors.
    """
    text = PLACEHOLDER_RE.sub(" ", target_masked)
    if too_short(text) or not detector.supports(expected):
        return None
    scores = detector.confidences(text)
    if not scores:
        return None
    detected = max(scores, key=lambda code: scores[code])
    if scores[expected] >= scores[detected] - margin:
        return None
    return _result("language_id", f"detected {detected}, expected {expected} (confidence "
                                  f"{scores[detected]:.2f}, {expected} {scores[expected]:.2f})",
                   detected=detected, confidence=round(scores[detected], 4),
                   expected_confidence=round(scores[expected], 4))


# --- length ratio --------------------------------------------------------------------------------

def check_length_ratio(source_masked: str, target_masked: str,
                       bounds: tuple[float, float] = DEFAULT_LENGTH_RATIO) -> CheckResult | None:
    """A translation far shorter or longer than its source dropped or invented content."""
    source_len = len(source_masked.strip())
    if source_len < MIN_RATIO_SOURCE_CHARS:
        return None
    ratio = len(target_masked.strip()) / source_len
    low, high = bounds
    if low <= ratio <= high:
        return None
    return _result("length_ratio", f"length ratio {ratio:.2f} outside [{low:g}, {high:g}]",
                   ratio=round(ratio, 4), bounds=[low, high])


def _as_bounds(value: Any, where: str) -> tuple[float, float]:
    if isinstance(value, Mapping):
        value = (value.get("min"), value.get("max"))
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise InputError("length-ratio bounds must be [min, max] or {min, max}", field=where) from None
    if not 0 <= low < high:
        raise InputError(f"length-ratio bounds need 0 <= min < max, got [{low}, {high}]", field=where)
    return low, high


# --- the segment checker -------------------------------------------------------------------------

class SegmentChecker:
    """Runs every segment check for one source language and its target languages.

    ``length_ratio_bounds`` maps ``"<src>-<tgt>"``, ``"<tgt>"`` or ``"default"`` to ``(min, max)``;
    next come a target pack's own ``length_ratio: {min, max}`` key, then
    :data:`DEFAULT_LENGTH_RATIO`. ``skip`` names checks to leave out.
    """

    def __init__(self, source: LanguagePack, targets: Sequence[LanguagePack], *,
                 length_ratio_bounds: dict | None = None, detector: LanguageDetector | None = None,
                 language_id_margin: float = LANGUAGE_ID_MARGIN, skip: Collection[str] = ()) -> None:
        unknown = set(skip) - set(SEGMENT_CHECKS)
        if unknown:
            raise ValueError(f"unknown checks {sorted(unknown)}; known: {', '.join(SEGMENT_CHECKS)}")
        self.source = source
        self.targets = tuple(targets)
        self.skip = frozenset(skip)
        self.language_id_margin = language_id_margin
        self._bounds = {k: _as_bounds(v, f"length_ratio_bounds.{k}")
                        for k, v in (length_ratio_bounds or {}).items()}
        self.detector = detector or LanguageDetector([source.code, *(t.code for t in self.targets)])
        self._source_format = NumberFormat.of(source) or LENIENT_FORMATS[0]
        self._formats: dict[str, tuple[NumberFormat, ...]] = {}
        for pack in self.targets:  # validate every pack's number format before any translation
            self._target_formats(pack)

    def _target_formats(self, pack: LanguagePack) -> tuple[NumberFormat, ...]:
        if pack.code not in self._formats:
            fmt = NumberFormat.of(pack)
            self._formats[pack.code] = (fmt,) if fmt else LENIENT_FORMATS
        return self._formats[pack.code]

    def length_ratio_bounds(self, target: LanguagePack) -> tuple[float, float]:
        """The bounds that apply to ``target``, most specific first."""
        for key in (f"{self.source.code}-{target.code}", target.code):
            if key in self._bounds:
                return self._bounds[key]
        if "length_ratio" in target.extra:
            return _as_bounds(target.extra["length_ratio"], "length_ratio")
        return self._bounds.get("default", DEFAULT_LENGTH_RATIO)

    def check(self, source_masked: str, target_masked: str, *, target: LanguagePack,
              source_plain: str, target_plain: str) -> list[CheckResult]:
        """Every failed check on one translated segment (empty list = passed)."""
        if not source_masked.strip():
            return []
        if "empty" not in self.skip and (empty := check_empty(source_masked, target_masked)):
            return [empty]  # nothing else can be judged on an empty output
        runs: list[tuple[str, Callable[[], CheckResult | None]]] = [
            ("placeholders", lambda: check_placeholders(source_masked, target_masked)),
            ("runaway", lambda: check_runaway(source_masked, target_masked)),
            ("numbers", lambda: check_numbers(source_plain, target_plain, self._source_format,
                                              self._target_formats(target))),
            ("code", lambda: check_code(source_plain, target_plain)),
            ("untranslated", lambda: check_untranslated(source_masked, target_masked)),
            ("language_id", lambda: check_language_id(target_masked, target.code, self.detector,
                                                      self.language_id_margin)),
            ("length_ratio", lambda: check_length_ratio(source_masked, target_masked,
                                                        self.length_ratio_bounds(target))),
        ]
        results: list[CheckResult] = []
        for name, run in runs:
            if name in self.skip:
                continue
            if name == "length_ratio" and any(r.check == "runaway" for r in results):
                continue  # a runaway is always too long; say it once
            if (result := run()) is not None:
                results.append(result)
        return results


# --- row level: options --------------------------------------------------------------------------

def _option_key(text: str) -> str:
    return " ".join(text.casefold().split()).strip(" .;:!?")


def check_options_distinct(source_options: Sequence[str], target_options: Sequence[str],
                           letters: Sequence[str] | None = None) -> list[CheckResult]:
    """Distinct source options must stay distinct: two options reading "chat" break the question.

    Absent options (None, NaN, "": :func:`babelvl.data.loading.is_absent`, as MMBench stores a missing
    C or D) are not options and are skipped, on either side.
    """
    if len(source_options) != len(target_options):
        raise ValueError(f"{len(source_options)} source options but {len(target_options)} translations")
    letters = list(letters) if letters is not None else [chr(ord("A") + i) for i in range(len(source_options))]
    groups: dict[str, list[int]] = {}
    for index, text in enumerate(target_options):
        if is_absent(source_options[index]) or is_absent(text):
            continue
        if _option_key(text):
            groups.setdefault(_option_key(text), []).append(index)
    results = []
    for indices in groups.values():
        if len(indices) > 1 and len({_option_key(source_options[i]) for i in indices}) > 1:
            named = [letters[i] for i in indices]
            results.append(_result(
                "options_distinct",
                f"options {', '.join(named[:-1])} and {named[-1]} translate to the same text "
                f"'{target_options[indices[0]].strip()}' but their sources differ",
                letters=named, target=target_options[indices[0]].strip()))
    return results


# --- back-translation ----------------------------------------------------------------------------

def back_translation_chrf(sources: Sequence[str], back_translations: Sequence[str]) -> list[float]:
    """Sentence-level chrF (0-100) of each back-translation against its source (sacrebleu)."""
    from sacrebleu.metrics import CHRF

    if len(sources) != len(back_translations):
        raise ValueError(f"{len(sources)} sources but {len(back_translations)} back-translations")
    metric = CHRF()
    return [metric.sentence_score(back, [source]).score
            for source, back in zip(sources, back_translations)]


@dataclass(frozen=True)
class BackTranslationCheck:
    """Warns on segments whose back-translation drifted from the source (meaning likely lost).

    A warning only: back-translation is itself a noisy translation, so a low score is a hint for a
    reviewer, not proof.
    """

    threshold: float = BACK_TRANSLATION_THRESHOLD

    def check(self, sources: Sequence[str], back_translations: Sequence[str]) -> list[list[CheckResult]]:
        """One result list per segment (empty = passed), in input order."""
        return [[] if score >= self.threshold else [_result(
            "back_translation", f"back-translation chrF {score:.1f} < {self.threshold:g}", "warning",
            chrf=round(score, 2), back_translation=back)]
            for score, back in zip(back_translation_chrf(sources, back_translations), back_translations)]
