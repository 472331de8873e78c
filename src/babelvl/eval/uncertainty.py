"""Uncertainty of benchmark scores: standard errors, 95% intervals and paired tests between runs.

Every headline metric is resampled over the benchmark's INDEPENDENT UNIT, never over rows that share
an image or a question:

| benchmark | unit resampled | strata (resampled separately, sizes fixed by design) |
|---|---|---|
| POPE | one item (question about one image/object) | split: adversarial / popular / random |
| MME | one image with its two questions (acc+ needs both) | category |
| MMBench | one question with all its circular passes | none |
| ScienceQA-IMG, AI2D, others | one item | none |

Methods. A metric that is a plain proportion of independent units (ScienceQA/AI2D accuracy, MMBench
circular and vanilla accuracy, POPE accuracy) gets the analytic standard error sqrt(p(1-p)/n) and the
Wilson score interval (exact enough at these sizes, no resampling noise). Every other metric (POPE
precision/recall/F1, MME category sums) gets a seeded percentile bootstrap: ``DRAWS`` resamples of the
units with replacement, stratified as above, computed as one (draws x units) count matrix times the
per-unit sufficient statistics (vectorised numpy; the statistic is a formula of column sums).

Paired comparisons (two languages, two models, two training mixtures) use the same units in both runs:
:func:`paired_units` keeps the units present in both, :func:`paired_difference` resamples them with the
SAME weights for both sides (the interval of the difference accounts for the pairing), and
:func:`mcnemar_exact` tests the discordant pairs exactly (a binomial tail written out: scipy is not a
dependency and the formula is two lines).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import numpy as np

DRAWS = 2000
SEED = 0
LEVEL = 0.95
_CHUNK_CELLS = 4_000_000
"""Largest (draws x units) weight block built at once: bounds memory to ~32 MB whatever the data size."""

Statistic = Callable[[np.ndarray], dict[str, np.ndarray]]
"""Column sums, shape (draws, k) -> {metric name: values, shape (draws,)}."""


# --- generic tools ---------------------------------------------------------------------------------

def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pairs (b: only A right, c: only B right).

    min(1, 2 * P(X <= min(b, c))) with X ~ Binomial(b + c, 1/2).
    """
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def wilson_interval(successes: float, n: float, level: float = LEVEL) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion; (nan, nan) when n is 0."""
    if n <= 0:
        return float("nan"), float("nan")
    z = _z(level)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = 0.0 if successes <= 0 else max(0.0, centre - half)  # exact ends: no rounding residue
    hi = 1.0 if successes >= n else min(1.0, centre + half)
    return float(lo), float(hi)


def _z(level: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + level / 2)


def resample_weights(strata: np.ndarray, draws: int = DRAWS, seed: int = SEED) -> Iterator[np.ndarray]:
    """Blocks of bootstrap count weights, shape (chunk, units): unit i drawn w[b, i] times in draw b.

    Units are resampled with replacement within their stratum, so every stratum keeps its size. The
    same ``seed`` gives the same blocks, which is what makes paired resampling possible.
    """
    strata = np.asarray(strata)
    n = strata.size
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(strata == s) for s in np.unique(strata)] if n else []
    chunk = max(1, min(draws, _CHUNK_CELLS // max(n, 1)))
    done = 0
    while done < draws:
        c = min(chunk, draws - done)
        w = np.zeros((c, n), dtype=np.float64)
        for members in groups:
            m = members.size
            picks = rng.integers(0, m, size=(c, m))
            counts = np.bincount((picks + (np.arange(c) * m)[:, None]).ravel(), minlength=c * m)
            w[:, members] = counts.reshape(c, m)
        done += c
        yield w


def bootstrap_draws(stats: np.ndarray, statistic: Statistic, *, strata: Sequence[Any] | None = None,
                    draws: int = DRAWS, seed: int = SEED) -> dict[str, np.ndarray]:
    """The statistic on ``draws`` stratified resamples of the units (rows of ``stats``)."""
    stats = np.asarray(stats, dtype=np.float64)
    strata_arr = np.zeros(stats.shape[0], dtype=int) if strata is None else _codes(strata)
    parts: dict[str, list[np.ndarray]] = {}
    for w in resample_weights(strata_arr, draws, seed):
        for name, values in statistic(w @ stats).items():
            parts.setdefault(name, []).append(np.asarray(values, dtype=np.float64))
    return {name: np.concatenate(v) for name, v in parts.items()}


def bootstrap_ci(stats: np.ndarray, statistic: Statistic, *, strata: Sequence[Any] | None = None,
                 draws: int = DRAWS, seed: int = SEED, level: float = LEVEL) -> dict[str, dict[str, Any]]:
    """Value, bootstrap standard error and percentile interval of every metric ``statistic`` returns.

    ``stats`` holds one row of additive sufficient statistics per independent unit (counts of items,
    of correct answers...); ``statistic`` turns column sums into metrics and must accept a (draws, k)
    array. Draws where a metric is undefined (nan) are left out of its interval.
    """
    stats = np.asarray(stats, dtype=np.float64)
    observed = {k: float(v[0]) for k, v in statistic(stats.sum(axis=0, keepdims=True)).items()}
    reps = bootstrap_draws(stats, statistic, strata=strata, draws=draws, seed=seed)
    return {name: _summary(observed[name], reps[name], level, draws) for name in observed}


def _summary(value: float, reps: np.ndarray, level: float, draws: int) -> dict[str, Any]:
    finite = reps[np.isfinite(reps)]
    if finite.size < 2:
        return {"value": value, "se": None, "ci95": None, "method": "bootstrap", "draws": draws}
    lo, hi = np.quantile(finite, [(1 - level) / 2, (1 + level) / 2])
    return {"value": value, "se": float(finite.std(ddof=1)), "ci95": [float(lo), float(hi)],
            "method": "bootstrap", "draws": draws}


def _codes(values: Sequence[Any]) -> np.ndarray:
    lookup: dict[Any, int] = {}
    return np.array([lookup.setdefault(v, len(lookup)) for v in values], dtype=int)


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a / b with 0 where b is 0 (sklearn's zero_division=0, as the benchmarks' metrics)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), 0.0)


# --- benchmark units --------------------------------------------------------------------------------

@dataclass
class Units:
    """A benchmark's scored items grouped into independent units, with what the statistics need."""

    unit: str
    """What one unit is, in words (recorded in every output)."""
    keys: list[str]
    strata: list[str]
    stats: np.ndarray
    statistic: Statistic
    proportions: dict[str, tuple[list[int], list[int]]]
    """Metrics that are proportions of independent units: name -> (columns of successes, columns of n)."""
    outcome: dict[str, bool]
    """The per-pair outcome McNemar compares: item id (unit id for MMBench) -> correct."""


def _family(benchmark: str) -> str:
    key = benchmark.lower()
    for family in ("pope", "mme", "mmbench"):
        if key == family or key.startswith(family + "_"):
            return family
    return "accuracy"


def benchmark_units(benchmark: str, scored: Sequence[Any], profile: str = "babelvl",
                    keep: set[str] | None = None) -> Units:
    """Group ``scored`` (``Scored`` objects or records) into ``benchmark``'s units; ``keep`` filters unit keys."""
    family = _family(benchmark)
    return {"pope": _pope_units, "mme": _mme_units, "mmbench": _mmbench_units,
            "accuracy": _accuracy_units}[family](scored, profile, keep)


def _get(s: Any, name: str, default: Any = None) -> Any:
    return s.get(name, default) if isinstance(s, dict) else getattr(s, name, default)


POPE_COLUMNS = ("n", "correct", "tp", "fp", "fn", "fn_no", "pred_yes", "gold_yes")


def _pope_units(scored: Sequence[Any], profile: str, keep: set[str] | None) -> Units:
    items = [s for s in scored if keep is None or str(_get(s, "id")) in keep]
    splits = sorted({_get(s, "category") or "uncategorized" for s in items})
    k = len(POPE_COLUMNS)
    stats = np.zeros((len(items), k * len(splits)))
    for i, s in enumerate(items):
        gold, pred = _get(s, "answer"), _get(s, "prediction")
        row = (1, bool(_get(s, "correct")), gold == "yes" and pred == "yes", gold == "no" and pred == "yes",
               gold == "yes" and pred != "yes", gold == "yes" and pred == "no", pred == "yes", gold == "yes")
        j = splits.index(_get(s, "category") or "uncategorized")
        stats[i, j * k:(j + 1) * k] = row
    lmms = profile == "lmms-eval"

    def statistic(sums: np.ndarray) -> dict[str, np.ndarray]:
        blocks = {split: sums[:, j * k:(j + 1) * k] for j, split in enumerate(splits)}
        blocks["overall"] = sum(blocks.values()) if blocks else np.zeros((sums.shape[0], k))
        out = {}
        for name, b in blocks.items():
            n, correct, tp, fp, fn, fn_no, pred_yes, gold_yes = (b[:, c] for c in range(k))
            precision = _div(tp, tp + fp)
            recall = _div(tp, tp + (fn_no if lmms else fn))
            out[f"{name}.accuracy"] = _div(correct, n)
            out[f"{name}.precision"] = precision
            out[f"{name}.recall"] = recall
            out[f"{name}.f1"] = _div(2 * precision * recall, precision + recall)
            out[f"{name}.yes_ratio"] = _div(gold_yes if lmms else pred_yes, n)
        return out

    proportions = {f"{split}.accuracy": ([j * k + 1], [j * k]) for j, split in enumerate(splits)}
    proportions["overall.accuracy"] = ([j * k + 1 for j in range(len(splits))], [j * k for j in range(len(splits))])
    return Units("POPE item, stratified by split", [str(_get(s, "id")) for s in items],
                 [_get(s, "category") or "uncategorized" for s in items], stats, statistic, proportions,
                 {str(_get(s, "id")): bool(_get(s, "correct")) for s in items})


def _mme_units(scored: Sequence[Any], profile: str, keep: set[str] | None) -> Units:
    from babelvl.benchmarks.mme import COGNITION, PERCEPTION

    images: dict[tuple[str, str], list[Any]] = {}
    for s in scored:
        meta = _get(s, "meta") or {}
        image = str(meta.get("image_id") or str(_get(s, "id")).rsplit("#", 1)[0])
        if keep is None or image in keep:
            images.setdefault((_get(s, "category") or "uncategorized", image), []).append(s)
    categories = sorted({c for c, _ in images})
    stats = np.zeros((len(images), 4 * len(categories)))
    for i, ((category, _), qs) in enumerate(images.items()):
        j = categories.index(category)
        stats[i, 4 * j:4 * j + 4] = (len(qs), sum(bool(_get(q, "correct")) for q in qs), 1,
                                     len(qs) >= 2 and all(bool(_get(q, "correct")) for q in qs))
    perception = {c.casefold() for c in PERCEPTION}
    cognition = {c.casefold() for c in COGNITION}

    def statistic(sums: np.ndarray) -> dict[str, np.ndarray]:
        zero = np.zeros(sums.shape[0])
        totals = {"perception": zero.copy(), "cognition": zero.copy()}
        for j, category in enumerate(categories):
            score = 100 * (_div(sums[:, 4 * j + 1], sums[:, 4 * j]) + _div(sums[:, 4 * j + 3], sums[:, 4 * j + 2]))
            if category.casefold() in perception:
                totals["perception"] = totals["perception"] + score
            elif category.casefold() in cognition:
                totals["cognition"] = totals["cognition"] + score
        totals["total"] = totals["perception"] + totals["cognition"]
        return totals

    # The paired test's outcome is the image's (both questions right: MME's acc+), the benchmark's own unit.
    return Units("MME image (its two questions together), stratified by category",
                 [image for _, image in images], [c for c, _ in images], stats, statistic, {},
                 {image: bool(stats[i, 3::4].sum() > 0) for i, (_, image) in enumerate(images)})


def _mmbench_units(scored: Sequence[Any], profile: str, keep: set[str] | None) -> Units:
    groups: dict[str, list[Any]] = {}
    for s in scored:
        meta = _get(s, "meta") or {}
        group = str(meta["group"]) if "group" in meta else str(int(_get(s, "id")) % 1_000_000)
        if keep is None or group in keep:
            groups.setdefault(group, []).append(s)
    stats = np.zeros((len(groups), 4))
    circular = any(len(g) > 1 for g in groups.values())
    outcome = {}
    for i, (key, g) in enumerate(groups.items()):
        firsts = [s for s in g if _pass(s) == 0]
        stats[i] = (1, all(bool(_get(s, "correct")) for s in g), len(firsts) > 0,
                    any(bool(_get(s, "correct")) for s in firsts))
        outcome[key] = bool(stats[i, 1])

    def statistic(sums: np.ndarray) -> dict[str, np.ndarray]:
        out = {"vanilla_accuracy": _div(sums[:, 3], sums[:, 2])}
        if circular:
            out["circular_accuracy"] = _div(sums[:, 1], sums[:, 0])
        return out

    proportions = {"vanilla_accuracy": ([3], [2])}
    if circular:
        proportions["circular_accuracy"] = ([1], [0])
    return Units("MMBench question with all its circular passes", list(groups), ["all"] * len(groups),
                 stats, statistic, proportions, outcome)


def _pass(s: Any) -> int:
    meta = _get(s, "meta") or {}
    return int(meta["pass"]) if "pass" in meta else int(_get(s, "id")) // 1_000_000


def _accuracy_units(scored: Sequence[Any], profile: str, keep: set[str] | None) -> Units:
    items = [s for s in scored if keep is None or str(_get(s, "id")) in keep]
    stats = np.array([(1, bool(_get(s, "correct"))) for s in items], dtype=np.float64).reshape(-1, 2)
    return Units("item", [str(_get(s, "id")) for s in items], ["all"] * len(items), stats,
                 lambda sums: {"accuracy": _div(sums[:, 1], sums[:, 0])}, {"accuracy": ([1], [0])},
                 {str(_get(s, "id")): bool(_get(s, "correct")) for s in items})


# --- what score and eval outputs carry -------------------------------------------------------------

def metric_uncertainty(benchmark: str, scored: Sequence[Any], profile: str = "babelvl", *,
                       draws: int = DRAWS, seed: int = SEED, level: float = LEVEL) -> dict[str, Any]:
    """The ``uncertainty`` block of a metrics dict: per headline metric (dotted path into the metrics)
    its value, standard error, 95% interval and method, plus the unit that was resampled."""
    units = benchmark_units(benchmark, scored, profile)
    if not units.keys:
        return {"unit": units.unit, "n_units": 0, "level": level, "metrics": {}}
    table = bootstrap_ci(units.stats, units.statistic, strata=units.strata, draws=draws, seed=seed, level=level)
    totals = units.stats.sum(axis=0)
    for name, (succ_cols, n_cols) in units.proportions.items():
        succ, count = float(totals[succ_cols].sum()), float(totals[n_cols].sum())
        if count > 0:
            p = succ / count
            table[name] = {"value": p, "se": math.sqrt(p * (1 - p) / count),
                           "ci95": list(wilson_interval(succ, count, level)), "method": "wilson"}
    return {"unit": units.unit, "n_units": len(units.keys), "level": level, "seed": seed, "draws": draws,
            "metrics": table}


HEADLINE = {"pope": "overall.f1", "mme": "total", "mmbench": "circular_accuracy", "accuracy": "accuracy"}


def headline_metric(benchmark: str, units: Units | None = None) -> str:
    """The metric paired comparisons report (MMBench falls back to vanilla without circular passes)."""
    name = HEADLINE[_family(benchmark)]
    if name == "circular_accuracy" and units is not None and "circular_accuracy" not in units.proportions:
        return "vanilla_accuracy"
    return name


def paired_units(benchmark: str, scored_a: Sequence[Any], scored_b: Sequence[Any],
                 profile: str = "babelvl") -> tuple[Units, Units]:
    """Both runs' units restricted to the units present in both, in the same order.

    Units are matched by their key (POPE/ScienceQA/AI2D item id, MME image, MMBench question), which
    babelvl keeps identical across languages; units missing on either side are dropped.
    """
    a, b = benchmark_units(benchmark, scored_a, profile), benchmark_units(benchmark, scored_b, profile)
    shared = set(a.keys) & set(b.keys)
    a = benchmark_units(benchmark, scored_a, profile, keep=shared)
    b = benchmark_units(benchmark, scored_b, profile, keep=shared)
    order_b = {k: i for i, k in enumerate(b.keys)}
    perm = np.array([order_b[k] for k in a.keys], dtype=int)
    b.stats, b.keys, b.strata = b.stats[perm] if perm.size else b.stats, list(a.keys), list(a.strata)
    return a, b


def paired_difference(benchmark: str, scored_ref: Sequence[Any], scored_other: Sequence[Any],
                      profile: str = "babelvl", *, metric: str | None = None, draws: int = DRAWS,
                      seed: int = SEED, level: float = LEVEL) -> dict[str, Any]:
    """``metric``(other) - ``metric``(ref) on the shared units, with a paired bootstrap interval and the
    exact McNemar p-value on the per-unit outcomes (items; MME: an image with both questions right; MMBench: a
    question with every circular pass right)."""
    ref, other = paired_units(benchmark, scored_ref, scored_other, profile)
    metric = metric or headline_metric(benchmark, ref)
    k = ref.stats.shape[1]
    if k != other.stats.shape[1]:  # different category sets (e.g. a split absent on one side)
        raise ValueError(f"{benchmark}: the two runs have different strata; compare runs on the same data")

    def diff(sums: np.ndarray) -> dict[str, np.ndarray]:
        return {metric: other.statistic(sums[:, k:])[metric] - ref.statistic(sums[:, :k])[metric]}

    out: dict[str, Any] = {"metric": metric, "unit": ref.unit, "n_units": len(ref.keys)}
    if ref.keys:
        out.update(bootstrap_ci(np.hstack([ref.stats, other.stats]), diff, strata=ref.strata, draws=draws,
                                seed=seed, level=level)[metric])
    else:
        out.update(value=None, se=None, ci95=None, method="bootstrap")
    pairs = sorted(set(ref.outcome) & set(other.outcome))
    only_ref = sum(ref.outcome[p] and not other.outcome[p] for p in pairs)
    only_other = sum(other.outcome[p] and not ref.outcome[p] for p in pairs)
    out.update(n_pairs=len(pairs), only_ref_right=only_ref, only_other_right=only_other,
               p_mcnemar=mcnemar_exact(only_ref, only_other))
    return out


def paired_language_tests(records: dict[str, dict[str, Sequence[Any]]], profile: str = "babelvl", *,
                          reference: str = "en", draws: int = DRAWS, seed: int = SEED) -> dict[str, Any]:
    """For each benchmark, every language's paired difference to ``reference`` (English by default; the
    first language when English was not run) on the same units: ``{"reference", "per_language": {lang:
    paired_difference(...)}}``. ``records`` maps benchmark -> language -> scored items or records."""
    out: dict[str, Any] = {}
    for bench, by_lang in records.items():
        if len(by_lang) < 2:
            continue
        ref = reference if reference in by_lang else next(iter(by_lang))
        per: dict[str, Any] = {}
        for lang, scored in by_lang.items():
            if lang == ref:
                continue
            try:
                per[lang] = paired_difference(bench, by_lang[ref], scored, profile, draws=draws, seed=seed)
            except ValueError as exc:  # runs on different strata: say so rather than compare
                per[lang] = {"error": str(exc)}
        out[bench] = {"reference": ref, "per_language": per}
    return out
