"""Error-span agreement between annotators, as character-level F1.

Why: in ESA/MQM-style protocols annotators mark the erroneous parts of a translation; agreement on WHERE
the errors are is the number that tells whether the spans can be trusted. Kappa does not fit spans, so we
use micro F1 over characters: F1 = 2 |A & B| / (|A| + |B|) where A and B are the sets of characters each
annotator marked. It is symmetric, so neither annotator has to be the reference.

Spans are half-open character offsets ``(start, end)`` (also ``[start, end]`` from JSON) or dicts with
``start``, ``end`` and optionally ``severity``. Overlapping spans of one annotator count each character
once. Convention: when neither annotator marked anything, F1 = 1.0 (they agree there is no error); when only
one did, F1 = 0.0.

Hand-written: span F1 libraries (e.g. seqeval) score token BIO tags against a gold standard, not character
offsets between peers; interval arithmetic keeps this exact and O(spans log spans).
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

Span = Sequence[int] | Mapping[str, Any]
Intervals = list[tuple[int, int]]


def _bounds(span: Span, length: int | None) -> tuple[int, int, Any]:
    if isinstance(span, Mapping):
        try:
            raw_start, raw_end, severity = span["start"], span["end"], span.get("severity")
        except KeyError as exc:
            raise ValueError(f"span {span!r} has no {exc.args[0]!r}") from None
    else:
        if len(span) != 2:
            raise ValueError(f"span {span!r} must be (start, end)")
        (raw_start, raw_end), severity = span, None
    try:
        start, end = operator.index(raw_start), operator.index(raw_end)
    except TypeError:
        raise ValueError(f"span {span!r}: start and end must be integers") from None
    if not 0 <= start <= end:
        raise ValueError(f"span {span!r}: need 0 <= start <= end")
    if length is not None and end > length:
        raise ValueError(f"span {span!r} ends past the text length {length}")
    return start, end, severity


def _merge(intervals: Iterable[tuple[int, int]]) -> Intervals:
    """Sorted, disjoint, non-empty intervals covering the same characters."""
    merged: Intervals = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _marked(spans: Iterable[Span], length: int | None, by_severity: bool) -> dict[Any, Intervals]:
    """Characters marked, grouped by severity (one group, key None, unless ``by_severity``)."""
    groups: dict[Any, list[tuple[int, int]]] = {}
    for span in spans:
        start, end, severity = _bounds(span, length)
        groups.setdefault(severity if by_severity else None, []).append((start, end))
    return {key: _merge(intervals) for key, intervals in groups.items()}


def _size(intervals: Intervals) -> int:
    return sum(end - start for start, end in intervals)


def _overlap(a: Intervals, b: Intervals) -> int:
    """Characters in both sorted disjoint interval lists (two-pointer sweep)."""
    i = j = total = 0
    while i < len(a) and j < len(b):
        total += max(0, min(a[i][1], b[j][1]) - max(a[i][0], b[j][0]))
        if a[i][1] <= b[j][1]:
            i += 1
        else:
            j += 1
    return total


def span_f1(spans_a: Iterable[Span], spans_b: Iterable[Span], *, length: int | None = None,
            by_severity: bool = False) -> float:
    """Character-level micro F1 between two annotators' error spans on one text.

    ``length`` (the text length) makes spans that run past the text an error. With ``by_severity`` a
    character only matches when both gave it the same severity (F1 over (character, severity) pairs; spans
    without a severity share the severity None).
    """
    a, b = _marked(spans_a, length, by_severity), _marked(spans_b, length, by_severity)
    marked = sum(map(_size, a.values())) + sum(map(_size, b.values()))
    if marked == 0:
        return 1.0
    both = sum(_overlap(a[key], b[key]) for key in a.keys() & b.keys())
    return 2.0 * both / marked


@dataclass(frozen=True)
class PairwiseSpanF1:
    """Span agreement over every rater pair and every item both raters annotated."""

    mean: float
    """Mean F1 over all (pair, item) comparisons; nan when no two raters annotated a common item."""
    by_pair: dict[tuple[str, str], float] = field(default_factory=dict)
    """Mean F1 per rater pair (pairs with no common item are absent)."""
    n_comparisons: int = 0


def pairwise_span_f1(annotations_by_rater: Mapping[str, Mapping[str, Iterable[Span]]], *,
                     lengths: Mapping[str, int] | None = None, by_severity: bool = False) -> PairwiseSpanF1:
    """``span_f1`` averaged over rater pairs and items, from ``{rater: {item_id: spans}}``.

    An item missing from a rater's dict was not annotated by that rater and is skipped for that pair; an
    empty span list means "annotated, no error found" and counts (two empty lists agree: F1 = 1.0).
    """
    if len(annotations_by_rater) < 2:
        raise ValueError(f"span agreement needs at least 2 raters; got {len(annotations_by_rater)}")
    lengths = lengths or {}
    by_pair: dict[tuple[str, str], float] = {}
    total, count = 0.0, 0
    for ra, rb in combinations(annotations_by_rater, 2):
        items_a, items_b = annotations_by_rater[ra], annotations_by_rater[rb]
        scores = [span_f1(items_a[item], items_b[item], length=lengths.get(item), by_severity=by_severity)
                  for item in items_a if item in items_b]
        if scores:
            by_pair[(ra, rb)] = sum(scores) / len(scores)
            total, count = total + sum(scores), count + len(scores)
    return PairwiseSpanF1(total / count if count else float("nan"), by_pair, count)
