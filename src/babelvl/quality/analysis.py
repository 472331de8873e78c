"""From annotations to numbers: item scores, agreement per scale and language, span agreement,
means with intervals, z-scores and verdicts.

Rules a reviewer expects, and where they live here:

* **Items, not judgements, are the unit.** An overlap item judged by three annotators is one item: its
  judgements are averaged first (:func:`item_means`), then means and their bootstrap intervals are taken
  over items (:func:`summarise`). Intervals resample items (percentile bootstrap, ``draws``, ``seed``).
* **Agreement fits the scale.** Each scale's level of measurement follows its type
  (:func:`scale_level`: choices and short rating scales are ordinal, sliders such as ESA's 0-100 are
  interval; MQM penalties and HTER are interval) unless ``level`` overrides it, and only the measures
  of that level are reported (:data:`~babelvl.quality.agreement.MEASURES_FOR_LEVEL`). Agreement uses
  the items at least two annotators judged, pooled and per language, each with an interval.
* **No variation.** When every pairable judgement of a scale is the same value, kappa and alpha are
  0/0: the value is reported as undefined (``null``, "–" in the report) with the note "no variation:
  agreement undefined", beside the observed agreement (share of agreeing pairs, 1.0) where the level
  shows it. The verdict does not count an undefined alpha as agreement: that scale fails as
  "agreement could not be measured".
* **The verdict needs every scale.** A language is fit for release when its item-level mean meets the
  threshold and every scale's alpha (in that language; pooled over languages when the language has
  too few overlap items to measure it, which the verdict says) reaches ``min_alpha``; otherwise the
  verdict names each failing scale.
* **z-scores** (WMT's DA and ESA practice, e.g. Kocmi et al. 2024): for sliders, each judgement is
  standardised by its annotator's mean and standard deviation over all their judgements on that scale,
  removing harsh/lenient annotator offsets, then averaged per item and per language like raw scores.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from statistics import median
from typing import Any, Callable, Sequence

import numpy as np

from babelvl.errors import InputError
from babelvl.quality.agreement import LEVELS, MEASURES_FOR_LEVEL, agreement_table
from babelvl.quality.protocols import Protocol, Scale
from babelvl.quality.schema import Annotation, SampleItem

SLIDER_POINTS = 11
"""A scale with more points than this is treated as continuous (interval level, z-scores)."""
SCORE = "score"
"""Name of the protocol's item score in agreement tables when it is not a scale (MQM, HTER)."""


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


# --- what is measured ---------------------------------------------------------------------------

def is_continuous(scale: Scale) -> bool:
    return len(scale.values()) > SLIDER_POINTS


def scale_level(scale: Scale) -> str:
    """Ordinal for choices, ratings and short scales; interval for sliders (0-100)."""
    if scale.widget in ("choices", "rating") or not is_continuous(scale):
        return "ordinal"
    return "interval"


@dataclass(frozen=True)
class Measured:
    """One number per judgement that agreement is computed on: a scale, or the protocol's score."""

    name: str
    level: str
    value_of: Callable[[ScoredAnnotation], Any]
    labels: list[float] | None
    """The full scale, or None: the values that occur (scores without a fixed scale)."""


def measured(protocol: Protocol, level: str | None = None) -> list[Measured]:
    """What gets an agreement table: every scale; the item score too when it is not one (MQM, HTER)."""
    if level is not None and level not in LEVELS:
        raise InputError(f"unknown level {level!r} (one of {', '.join(LEVELS)})", field="level")
    out = [Measured(s.name, level or scale_level(s),
                    lambda x, name=s.name: x.annotation.values.get(name), [float(v) for v in s.values()])
           for s in protocol.scales]
    if protocol.kind in ("mqm", "postedit"):
        out.append(Measured(SCORE, level or "interval", lambda x: x.score, None))
    return out


# --- agreement ----------------------------------------------------------------------------------

def _matrix(scored: Sequence[ScoredAnnotation], value_of: Callable[[ScoredAnnotation], Any]
            ) -> tuple[np.ndarray, list[str]]:
    """(items judged by 2+ annotators, annotators) values, nan where missing."""
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
    return R, items


def _table(scored: Sequence[ScoredAnnotation], m: Measured, draws: int, seed: int) -> dict[str, Any]:
    R, items = _matrix(scored, m.value_of)
    if not items or int((~np.isnan(R)).any(axis=0).sum()) < 2:
        return {"note": "no item judged by 2 or more annotators: no agreement to report",
                "level": m.level, "n_items": 0}
    labels = m.labels if m.labels is not None else sorted(set(R[~np.isnan(R)].tolist()))
    if len(labels) < 2:
        labels = [labels[0], labels[0] + 1.0]  # one value only: alpha is undefined, reported as such
    if m.level == "ratio" and min(labels) < 0:
        raise InputError(f"'{m.name}' has negative values ({min(labels):g}); the ratio level needs values "
                         ">= 0: choose --level interval", field="level")
    measures = MEASURES_FOR_LEVEL[m.level]
    if m.labels is None and m.level in ("interval", "ratio"):
        # weighted kappa spaces the observed values evenly (-25, -5, -1, -0.1 would be 1 apart): alpha only
        measures = (f"krippendorff_alpha_{m.level}",)
    table = agreement_table(R, labels=labels, level=m.level, draws=draws, seed=seed, measures=measures)
    table.pop("labels", None)  # the scale is the protocol's; 101 labels of a slider are noise here
    return {**table, "level": m.level}


def headline(table: dict[str, Any]) -> float | None:
    """The table's Krippendorff alpha (at its level), or None when undefined or absent."""
    measure = (table.get("measures") or {}).get(f"krippendorff_alpha_{table.get('level')}")
    value = measure["value"] if measure else None
    return None if value is None or value != value else float(value)


def agreement_report(scored: Sequence[ScoredAnnotation], protocol: Protocol, *, draws: int = 1000,
                     seed: int = 0, level: str | None = None) -> dict[str, Any]:
    """Per measured scale: the pooled table plus ``by_language`` tables; ``spans``: span F1."""
    languages = sorted({s.item.language for s in scored})
    out: dict[str, Any] = {}
    for m in measured(protocol, level):
        pooled = _table(scored, m, draws, seed)
        pooled["by_language"] = {lang: _table([s for s in scored if s.item.language == lang], m, draws, seed)
                                 for lang in languages}
        out[m.name] = pooled
    if protocol.spans is not None:
        out["spans"] = span_agreement(scored, protocol.spans.key, draws=draws, seed=seed)
    return out


# --- span agreement -------------------------------------------------------------------------------

def _bootstrap_mean(values: Sequence[float], draws: int, seed: int) -> list[float] | None:
    """Percentile 95% interval of the mean, resampling the values (items)."""
    arr = np.asarray(values, dtype=float)
    if draws <= 0 or arr.size < 2:
        return None
    idx = np.random.default_rng(seed).integers(0, arr.size, size=(draws, arr.size))
    means = arr[idx].mean(axis=1)
    lo, hi = np.quantile(means, [0.025, 0.975])
    return [float(lo), float(hi)]


def span_agreement(scored: Sequence[ScoredAnnotation], key: str, *, draws: int = 1000,
                   seed: int = 0) -> dict[str, Any]:
    """Character-level span F1 between annotators, per language and pooled, with intervals.

    Per item, F1 is averaged over the annotator pairs who both judged it; means and intervals are taken
    over items. ``by_severity`` counts a character as matched only under the same severity. Spans on
    the missing token (no position) are counted in ``n_missing`` but have no characters to compare.
    """
    from babelvl.quality.spans import span_f1

    per_item: dict[str, list[ScoredAnnotation]] = defaultdict(list)
    for s in scored:
        per_item[s.item.item_id].append(s)
    rows: dict[str, list[tuple[float, float, int]]] = defaultdict(list)
    for judged in per_item.values():
        if len(judged) < 2:
            continue
        length = len(judged[0].item.target_text)
        positioned = [[sp for sp in (j.annotation.values.get(key) or []) if sp.get("start") is not None]
                      for j in judged]
        pairs = [(a, b) for i, a in enumerate(positioned) for b in positioned[i + 1:]]
        plain = float(np.mean([span_f1(a, b, length=length) for a, b in pairs]))
        severe = float(np.mean([span_f1(a, b, length=length, by_severity=True) for a, b in pairs]))
        rows[judged[0].item.language].append((plain, severe, len(pairs)))
    missing = defaultdict(int)
    for s in scored:
        missing[s.item.language] += sum(1 for sp in (s.annotation.values.get(key) or []) if sp.get("start") is None)

    def block(entries: list[tuple[float, float, int]], languages: list[str]) -> dict[str, Any]:
        if not entries:
            return {"note": "no item with spans from 2 annotators", "n_items": 0}
        f1, severe = [e[0] for e in entries], [e[1] for e in entries]
        return {"n_items": len(entries), "n_comparisons": sum(e[2] for e in entries),
                "char_f1": float(np.mean(f1)), "ci": _bootstrap_mean(f1, draws, seed),
                "char_f1_by_severity": float(np.mean(severe)), "ci_by_severity": _bootstrap_mean(severe, draws, seed),
                "n_missing": sum(missing[lang] for lang in languages)}

    languages = sorted({s.item.language for s in scored})
    return {"all": block([e for lang in languages for e in rows[lang]], languages),
            "by_language": {lang: block(rows[lang], [lang]) for lang in languages}}


# --- means over items ----------------------------------------------------------------------------

def item_means(scored: Sequence[ScoredAnnotation], value_of: Callable[[ScoredAnnotation], Any]
               ) -> dict[str, float]:
    """Item id -> mean of its judgements (each item counts once however many annotators judged it)."""
    values: dict[str, list[float]] = defaultdict(list)
    for s in scored:
        value = value_of(s)
        if value is not None:
            values[s.item.item_id].append(float(value))
    return {item: float(np.mean(v)) for item, v in values.items()}


def summarise(scored: Sequence[ScoredAnnotation], value_of: Callable[[ScoredAnnotation], Any], *, by: str,
              draws: int = 1000, seed: int = 0) -> dict[str, dict[str, Any]]:
    """Per group (language or field): items, judgements, item-level mean with its 95% interval, median,
    min, max, and the item means themselves (``values``, for plots)."""
    group_of = {s.item.item_id: getattr(s.item, by) for s in scored}
    judgements: dict[str, int] = defaultdict(int)
    for s in scored:
        if value_of(s) is not None:
            judgements[group_of[s.item.item_id]] += 1
    grouped: dict[str, list[float]] = defaultdict(list)
    for item, value in item_means(scored, value_of).items():
        grouped[group_of[item]].append(value)
    return {k: {"n_items": len(v), "n_judgements": judgements[k], "mean": float(np.mean(v)),
                "ci": _bootstrap_mean(v, draws, seed), "median": median(v), "min": min(v), "max": max(v),
                "values": v}
            for k, v in sorted(grouped.items())}


def score_summary(scored: Sequence[ScoredAnnotation], *, by: str, draws: int = 1000,
                  seed: int = 0) -> dict[str, dict[str, Any]]:
    """:func:`summarise` of the protocol's item score."""
    return summarise(scored, lambda s: s.score, by=by, draws=draws, seed=seed)


def z_scores(scored: Sequence[ScoredAnnotation], scale: str) -> tuple[dict[int, float], list[str]]:
    """id(ScoredAnnotation) -> z of its ``scale`` value within its annotator, and notes.

    Standard deviation with ddof=0 over the annotator's judgements; an annotator who gave one value
    only (sd 0) cannot be standardised and is left out, with a note.
    """
    by_annotator: dict[str, list[ScoredAnnotation]] = defaultdict(list)
    for s in scored:
        if s.annotation.values.get(scale) is not None:
            by_annotator[s.annotation.annotator].append(s)
    z: dict[int, float] = {}
    notes = []
    for annotator, judged in sorted(by_annotator.items()):
        values = np.array([float(s.annotation.values[scale]) for s in judged])
        sd = values.std()
        if len(values) < 2 or sd == 0:
            notes.append(f"{annotator}: {len(values)} judgement(s) with no spread: left out of z-scores")
            continue
        for s, v in zip(judged, values):
            z[id(s)] = float((v - values.mean()) / sd)
    return z, notes


def scale_summaries(scored: Sequence[ScoredAnnotation], protocol: Protocol, *, draws: int = 1000,
                    seed: int = 0) -> dict[str, Any]:
    """Per scale and language: item-level means with intervals; sliders also get z-normalised means."""
    out: dict[str, Any] = {}
    for scale in protocol.scales:
        entry: dict[str, Any] = {"raw": summarise(scored, lambda s, n=scale.name: s.annotation.values.get(n),
                                                  by="language", draws=draws, seed=seed)}
        if is_continuous(scale):
            z, notes = z_scores(scored, scale.name)
            entry["z"] = summarise(scored, lambda s: z.get(id(s)), by="language", draws=draws, seed=seed)
            entry["z_notes"] = notes
        out[scale.name] = entry
    return out


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


# --- verdicts ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Thresholds:
    """When a language is fit for release: item-level mean score at least ``min_score`` (higher is
    better, or at most ``max_score`` for lower-is-better scores such as HTER) and every scale's
    agreement at least ``min_alpha``."""

    min_score: float | None = None
    max_score: float | None = None
    min_alpha: float = 0.667
    """Krippendorff's own lowest acceptable reliability for tentative conclusions."""


DEFAULT_THRESHOLDS = {"esa": Thresholds(min_score=70), "likert": Thresholds(min_score=4.0),
                      "mqm": Thresholds(min_score=-5.0), "postedit": Thresholds(max_score=0.3)}


def _scale_check(name: str, table: dict[str, Any], language: str, min_alpha: float) -> tuple[bool, str]:
    local = table.get("by_language", {}).get(language, {})
    alpha, where = headline(local), f"in {language}"
    if alpha is None and local.get("n_items", 0) < 2:
        alpha, where = headline(table), "pooled over languages: too few overlap items in " + language
    if alpha is None:
        reason = "no variation" if any("no variation" in n for n in (local.get("notes") or [])) else \
            "no items judged by 2 annotators"
        return False, f"{name} (agreement could not be measured: {reason})"
    ok = alpha >= min_alpha
    return ok, f"{name} (alpha {alpha:.2f} {'>=' if ok else '<'} {min_alpha}, {where})"


def verdicts(summary: dict[str, dict[str, Any]], agreement: dict[str, Any], protocol: Protocol,
             thresholds: Thresholds | None = None) -> dict[str, dict[str, Any]]:
    """Per language: ``fit`` (bool), ``failing`` ("mean score" when the item-level mean misses the
    threshold, then the names of the scales whose agreement fails) and ``text``, a plain-language
    sentence."""
    t = thresholds or DEFAULT_THRESHOLDS.get(protocol.kind, Thresholds())
    tables = {name: table for name, table in agreement.items() if name != "spans"}
    out: dict[str, dict[str, Any]] = {}
    for language, s in summary.items():
        score_ok = ((t.min_score is None or s["mean"] >= t.min_score) and
                    (t.max_score is None or s["mean"] <= t.max_score))
        bound = f">= {t.min_score:g}" if t.min_score is not None else f"<= {t.max_score:g}"
        ci = s.get("ci")
        ci_text = f" [95% CI {ci[0]:.2f}, {ci[1]:.2f}]" if ci else ""
        straddles = bool(ci) and ((t.min_score is not None and ci[0] < t.min_score <= ci[1]) or
                                  (t.max_score is not None and ci[0] <= t.max_score < ci[1]))
        checks = [(name, *_scale_check(name, table, language, t.min_alpha)) for name, table in tables.items()]
        failing = [name for name, ok, _ in checks if not ok]
        fit = score_ok and not failing
        parts = [f"mean score {s['mean']:.2f}{ci_text} over {s['n_items']} items "
                 f"({'meets' if score_ok else 'misses'} {bound}"
                 + ("; the interval includes the threshold" if straddles else "") + ")"]
        if failing:
            parts.append("agreement fails on " + ", ".join(text for _, ok, text in checks if not ok))
        passed = [text for _, ok, text in checks if ok]
        if passed:
            parts.append("agreement holds on " + ", ".join(passed))
        out[language] = {"fit": fit, "failing": (["mean score"] if not score_ok else []) + failing,
                         "text": f"{'fit for release' if fit else 'not yet fit for release'}: "
                                 + "; ".join(parts) + "."}
    return out
