"""From annotations to numbers: item scores, agreement per scale, span agreement, verdicts.

Agreement uses the items that at least two annotators judged (the plan's overlap share). Each numeric
scale of the protocol gets the full agreement table over its label scale (Likert: ordinal; ESA's 0-100:
interval); scores without a fixed scale (MQM penalties, HTER) get Krippendorff's interval alpha.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from statistics import mean, median
from typing import Any, Sequence

import numpy as np

from babelvl.quality.protocols import Protocol
from babelvl.quality.schema import Annotation, SampleItem


@dataclass
class ScoredAnnotation:
    annotation: Annotation
    item: SampleItem
    score: float | None


def score_annotations(items: Sequence[SampleItem], annotations: Sequence[Annotation],
                      protocol: Protocol) -> list[ScoredAnnotation]:
    by_id = {item.item_id: item for item in items}
    out = []
    for a in annotations:
        item = by_id.get(a.item_id)
        if item is None:
            continue  # read_annotations(items=...) already refuses unknown ids; stay safe for raw lists
        out.append(ScoredAnnotation(a, item, protocol.score(a.values, source_text=item.source_text,
                                                            target_text=item.target_text)))
    return out


def _matrix(scored: Sequence[ScoredAnnotation], value_of: Any) -> tuple[np.ndarray, list[str], list[str]]:
    raters = sorted({s.annotation.annotator for s in scored})
    per_item: dict[str, dict[str, float]] = defaultdict(dict)
    for s in scored:
        value = value_of(s)
        if value is not None:
            per_item[s.item.item_id][s.annotation.annotator] = float(value)
    items = sorted(i for i, v in per_item.items() if len(v) >= 2)
    R = np.full((len(items), len(raters)), np.nan)
    for row, item in enumerate(items):
        for col, rater in enumerate(raters):
            if rater in per_item[item]:
                R[row, col] = per_item[item][rater]
    return R, items, raters


def agreement_report(scored: Sequence[ScoredAnnotation], protocol: Protocol, *, draws: int = 1000,
                     seed: int = 0) -> dict[str, Any]:
    from babelvl.quality.agreement import agreement_table, bootstrap_ci, krippendorff_alpha

    out: dict[str, Any] = {}
    for scale in protocol.scales:
        R, items, raters = _matrix(scored, lambda s, name=scale.name: s.annotation.values.get(name))
        if len(raters) < 2 or not items:
            out[scale.name] = {"note": "fewer than 2 annotators judged the same item: no agreement to report"}
            continue
        level = "ordinal" if protocol.kind == "likert" else "interval"
        table = agreement_table(R, labels=scale.values(), level=level, draws=draws, seed=seed)
        out[scale.name] = {**table, "level": level, "n_items": len(items)}
    if protocol.kind in ("mqm", "postedit"):
        R, items, raters = _matrix(scored, lambda s: s.score)
        if len(raters) >= 2 and items:
            value = krippendorff_alpha(R, level="interval")
            ci = bootstrap_ci(R, "krippendorff_alpha_interval", draws=draws, seed=seed) if draws else None
            out["score"] = {"measures": {"krippendorff_alpha_interval": {"value": value, "ci": list(ci) if ci else None}},
                            "n_items": len(items), "level": "interval"}
    if protocol.spans is not None:
        out["spans"] = _span_agreement(scored, protocol.spans.key)
    return out


def _span_agreement(scored: Sequence[ScoredAnnotation], key: str) -> dict[str, Any]:
    from babelvl.quality.spans import pairwise_span_f1

    by_rater: dict[str, dict[str, list[Any]]] = defaultdict(dict)
    counts: dict[str, int] = defaultdict(int)
    for s in scored:
        spans = [sp for sp in (s.annotation.values.get(key) or []) if "start" in sp and "end" in sp]
        by_rater[s.annotation.annotator][s.item.item_id] = spans
        counts[s.item.item_id] += 1
    shared = {i for i, n in counts.items() if n >= 2}
    if len(by_rater) < 2 or not shared:
        return {"note": "no item with spans from 2 annotators"}
    lengths = {s.item.item_id: len(s.item.target_text) for s in scored}
    result = pairwise_span_f1({r: {i: v for i, v in d.items() if i in shared} for r, d in by_rater.items()},
                              lengths=lengths)
    return {"char_f1": result.mean, "n_comparisons": result.n_comparisons}


def score_summary(scored: Sequence[ScoredAnnotation], *, by: str) -> dict[str, dict[str, Any]]:
    """Distribution of item scores per language or field: n, mean, median, min, max, values."""
    groups: dict[str, list[float]] = defaultdict(list)
    for s in scored:
        if s.score is not None:
            groups[getattr(s.item, by)].append(s.score)
    return {k: {"n": len(v), "mean": mean(v), "median": median(v), "min": min(v), "max": max(v), "values": v}
            for k, v in sorted(groups.items())}


def error_categories(scored: Sequence[ScoredAnnotation], protocol: Protocol) -> dict[str, dict[str, int]]:
    """Span counts per language: "category/severity" -> n."""
    if protocol.spans is None:
        return {}
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for s in scored:
        for span in s.annotation.values.get(protocol.spans.key) or []:
            key = "/".join(str(span[k]) for k in ("category", "severity") if span.get(k))
            out[s.item.language][key or "unspecified"] += 1
    return {lang: dict(v) for lang, v in out.items()}


@dataclass(frozen=True)
class Thresholds:
    """When a language is fit for release: mean score at least ``min_score`` (higher is better, or at
    most ``max_score`` for lower-is-better scores such as HTER) and agreement at least ``min_alpha``."""

    min_score: float | None = None
    max_score: float | None = None
    min_alpha: float = 0.667
    """Krippendorff's own lowest acceptable reliability for tentative conclusions."""


DEFAULT_THRESHOLDS = {"esa": Thresholds(min_score=70), "likert": Thresholds(min_score=4.0),
                      "mqm": Thresholds(min_score=-5.0), "postedit": Thresholds(max_score=0.3)}


def verdicts(summary: dict[str, dict[str, Any]], alpha: float | None, protocol: Protocol,
             thresholds: Thresholds | None = None) -> dict[str, str]:
    """A short plain-language verdict per language."""
    t = thresholds or DEFAULT_THRESHOLDS.get(protocol.kind, Thresholds())
    out = {}
    for language, s in summary.items():
        score_ok = ((t.min_score is None or s["mean"] >= t.min_score) and
                    (t.max_score is None or s["mean"] <= t.max_score))
        bound = f">= {t.min_score}" if t.min_score is not None else f"<= {t.max_score}"
        if alpha is None or np.isnan(alpha):
            reliability = "agreement could not be measured (no overlap items), so the scores are unconfirmed"
        elif alpha < t.min_alpha:
            reliability = f"annotators agree too little (alpha {alpha:.2f} < {t.min_alpha}) to trust the scores"
        else:
            reliability = f"annotators agree (alpha {alpha:.2f} >= {t.min_alpha})"
        verdict = "fit for release" if score_ok and alpha is not None and not np.isnan(alpha) and alpha >= t.min_alpha \
            else "not yet fit for release"
        out[language] = (f"{verdict}: mean score {s['mean']:.2f} over {s['n']} judgements "
                         f"({'meets' if score_ok else 'misses'} {bound}); {reliability}.")
    return out
