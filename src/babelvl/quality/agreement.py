"""Inter-annotator agreement for the human quality assessment: kappas, Krippendorff's alpha, Gwet's AC1.

Why: a quality report is only as good as the judgements behind it, so every annotation round reports how far
the annotators agree beyond chance, with a bootstrap confidence interval.

Input everywhere: a ratings matrix ``R`` of shape (items, raters), float, ``np.nan`` where a rater did not
rate an item, plus ``labels``, the ordered scale of possible values (e.g. ``[1, 2, 3, 4, 5]``). Chance
agreement and the weights always use the FULL scale, so a label nobody used still counts.

Conventions for degenerate data (tested in tests/test_quality_agreement.py):

* Items nobody rated carry no information and are dropped.
* An item with a single rating has no pairable value: it adds nothing to observed agreement (Krippendorff
  drops it entirely; Fleiss' kappa and AC1 still count it in category prevalence, after Gwet 2014).
  ``agreement_table`` reports how many there were.
* No variation (every pairable rating is the same label): kappa and alpha are 0/0, so they are ``nan``
  and ``agreement_table`` notes "no variation: agreement undefined" (statsmodels' ``krippendorff_alpha``
  documents the same choice). AC1 and percent agreement are well defined there (both 1.0).
* Fewer than 2 raters, or a rating outside the declared scale: ``ValueError`` naming the problem.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import combinations
from typing import Any, Literal

import krippendorff
import numpy as np

Level = Literal["nominal", "ordinal", "interval", "ratio"]
KappaWeights = Literal["linear", "quadratic"] | None
LEVELS: tuple[str, ...] = ("nominal", "ordinal", "interval", "ratio")
NO_VARIATION = "no variation: agreement undefined"


# --------------------------------------------------------------------------------------------- input


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _as_matrix(R: Any) -> np.ndarray:
    """Check the shape and that at least 2 raters rated something."""
    R = np.asarray(R, dtype=float)
    if R.ndim != 2:
        raise ValueError(f"ratings must be a matrix of shape (items, raters); got shape {R.shape}")
    if R.shape[1] < 2:
        raise ValueError(f"agreement needs at least 2 raters; the ratings matrix has {R.shape[1]} rater column(s)")
    active = int((~np.isnan(R)).any(axis=0).sum())
    if active < 2:
        raise ValueError(f"agreement needs ratings from at least 2 raters; only {active} rater(s) rated any item")
    return R


def _scale(labels: Sequence[float]) -> np.ndarray:
    lab = np.asarray(labels, dtype=float).ravel()
    if lab.size < 2:
        raise ValueError(f"the label scale needs at least 2 labels; got {lab.tolist()}")
    if not np.isfinite(lab).all():
        raise ValueError(f"labels must be finite numbers; got {lab.tolist()}")
    if np.unique(lab).size != lab.size:
        raise ValueError(f"labels must be distinct; got {lab.tolist()}")
    return lab


def _encode(R: np.ndarray, lab: np.ndarray) -> np.ndarray:
    """Position of each rating on the scale (-1 where missing); ValueError naming a rating off the scale."""
    order = np.argsort(lab, kind="stable")
    ordered = lab[order]
    present = ~np.isnan(R)
    values = R[present]
    pos = np.searchsorted(ordered, values).clip(0, lab.size - 1)
    on_scale = ordered[pos] == values
    if not on_scale.all():
        bad = values[~on_scale][0]
        raise ValueError(f"rating {_fmt(bad)} is not on the declared label scale [{', '.join(map(_fmt, lab))}]")
    codes = np.full(R.shape, -1, dtype=np.int64)
    codes[present] = order[pos]
    return codes


@dataclass(frozen=True)
class _Data:
    codes: np.ndarray
    """(items, raters) positions on the scale, -1 = missing; items nobody rated removed."""
    labels: np.ndarray
    n_unrated: int


def _prepare(R: Any, labels: Sequence[float]) -> _Data:
    R = _as_matrix(R)
    lab = _scale(labels)
    codes = _encode(R, lab)
    rated = (codes >= 0).any(axis=1)
    return _Data(codes[rated], lab, int((~rated).sum()))


# ------------------------------------------------------------------------------- per-item contributions
# Every statistic below is a function of sums over items of per-item quantities. Computing those once and
# summing them with a (draws, items) weight matrix gives all bootstrap draws in a single matrix product.


def _category_counts(codes: np.ndarray, k: int) -> np.ndarray:
    """(items, K): how many raters put each item in each category."""
    counts = np.zeros((codes.shape[0], k))
    rows = np.arange(codes.shape[0])
    for col in codes.T:  # one rater per column: each item at most once, so plain fancy-index += is exact
        rated = col >= 0
        counts[rows[rated], col[rated]] += 1
    return counts


def _gwet_features(counts: np.ndarray) -> np.ndarray:
    """(items, K+2): [agreeing-pair share, is pairable, category shares] as in Gwet (2014)."""
    m = counts.sum(axis=1)
    pairable = m >= 2
    agree = np.zeros_like(m)
    agree[pairable] = (counts[pairable] * (counts[pairable] - 1)).sum(axis=1) / (m[pairable] * (m[pairable] - 1))
    return np.column_stack([agree, pairable.astype(float), counts / m[:, None]])


def _pair_cells(codes: np.ndarray, k: int) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """(items, pairs*K*K) one-hot confusion cell of every rater pair on every item both rated."""
    pairs = list(combinations(range(codes.shape[1]), 2))
    cells = np.zeros((codes.shape[0], len(pairs) * k * k))
    rows = np.arange(codes.shape[0])
    for p, (i, j) in enumerate(pairs):
        a, b = codes[:, i], codes[:, j]
        both = (a >= 0) & (b >= 0)
        cells[rows[both], p * k * k + a[both] * k + b[both]] = 1.0
    return cells, pairs


def _coincidence_features(counts: np.ndarray) -> np.ndarray:
    """(items, K*K): each item's share of Krippendorff's coincidence matrix (0 for unpairable items)."""
    n, k = counts.shape
    m = counts.sum(axis=1)
    pairable = m >= 2
    within = np.einsum("ik,il->ikl", counts, counts)
    within[:, np.arange(k), np.arange(k)] -= counts
    within /= np.where(pairable, m - 1, 1)[:, None, None]
    within[~pairable] = 0.0
    return within.reshape(n, k * k)


# ------------------------------------------------------------------ statistics from summed contributions


def _chance_corrected(pa: np.ndarray, pe: np.ndarray) -> np.ndarray:
    undefined = np.isnan(pa) | (np.abs(1.0 - pe) < 1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(undefined, np.nan, (pa - pe) / (1.0 - pe))


def _gwet_parts(sums: np.ndarray, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(divide="ignore", invalid="ignore"):
        pa = np.where(sums[:, 1] > 0, sums[:, 0] / sums[:, 1], np.nan)
    return pa, sums[:, 2:] / n_items


def _percent_from(sums: np.ndarray, n_items: int) -> np.ndarray:
    return _gwet_parts(sums, n_items)[0]


def _fleiss_from(sums: np.ndarray, n_items: int) -> np.ndarray:
    pa, pi = _gwet_parts(sums, n_items)
    return _chance_corrected(pa, (pi**2).sum(axis=1))


def _ac1_from(sums: np.ndarray, n_items: int) -> np.ndarray:
    pa, pi = _gwet_parts(sums, n_items)
    return _chance_corrected(pa, (pi * (1.0 - pi)).sum(axis=1) / (pi.shape[1] - 1))


def _kappa_disagreement(k: int, weights: KappaWeights) -> np.ndarray:
    """Cohen (1968) disagreement weights on label positions (equally spaced, as sklearn and R irr do)."""
    dist = np.abs(np.subtract.outer(np.arange(k), np.arange(k))) / (k - 1)
    if weights is None:
        return (dist > 0).astype(float)
    if weights == "linear":
        return dist
    if weights == "quadratic":
        return dist**2
    raise ValueError(f"weights must be None, 'linear' or 'quadratic'; got {weights!r}")


def _kappa_from_confusion(confusion: np.ndarray, disagreement: np.ndarray) -> np.ndarray:
    """Weighted kappa 1 - sum(w*O)/sum(w*E) for confusion matrices of shape (..., K, K)."""
    total = confusion.sum(axis=(-2, -1))
    rows, cols = confusion.sum(axis=-1), confusion.sum(axis=-2)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = rows[..., :, None] * cols[..., None, :] / total[..., None, None]
        observed_d = (confusion * disagreement).sum(axis=(-2, -1))
        expected_d = (expected * disagreement).sum(axis=(-2, -1))
        kappa = 1.0 - observed_d / expected_d
    undefined = (total == 0) | ~(expected_d > 1e-12 * np.maximum(total, 1))
    return np.where(undefined, np.nan, kappa)


def _row_nanmean(x: np.ndarray) -> np.ndarray:
    finite = np.isfinite(x)
    count = finite.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(count > 0, np.where(finite, x, 0.0).sum(axis=-1) / np.maximum(count, 1), np.nan)


def _alpha_distances(lab: np.ndarray, level: str, n_v: np.ndarray) -> np.ndarray:
    """Krippendorff's squared difference functions; (K, K), or (draws, K, K) for ordinal."""
    if level == "nominal":
        return 1.0 - np.eye(lab.size)
    if level == "ordinal":
        # sum_{g=c..k} n_g - (n_c + n_k)/2 equals the difference of the mid-ranks cum_n - n/2 (in scale order)
        mid = np.cumsum(n_v, axis=-1) - n_v / 2.0
        return (mid[..., None, :] - mid[..., :, None]) ** 2
    if level == "interval":
        return np.subtract.outer(lab, lab) ** 2
    if level == "ratio":
        total = np.add.outer(lab, lab)
        diff = np.subtract.outer(lab, lab)
        return np.divide(diff, total, out=np.zeros_like(diff), where=total != 0) ** 2
    raise ValueError(f"level must be one of {', '.join(LEVELS)}; got {level!r}")


def _check_ratio(lab: np.ndarray) -> None:
    if (lab < 0).any():
        raise ValueError(f"ratio level needs non-negative labels; got {lab.tolist()}")


def _alpha_from_coincidences(o: np.ndarray, lab: np.ndarray, level: str) -> np.ndarray:
    """alpha = 1 - (n - 1) sum(o_ck d_ck) / sum(n_c n_k d_ck) for coincidence matrices (draws, K, K)."""
    n_v = o.sum(axis=1)
    total = n_v.sum(axis=1)
    d = _alpha_distances(lab, level, n_v)
    observed = (o * d).sum(axis=(1, 2))
    expected = (n_v[:, :, None] * n_v[:, None, :] * d).sum(axis=(1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = 1.0 - (total - 1.0) * observed / expected
    undefined = (total < 2) | ~(expected > 1e-12 * np.maximum(total, 1) ** 2)
    return np.where(undefined, np.nan, alpha)


# ------------------------------------------------------------------------------------ public measures


def percent_agreement(R: Any, *, labels: Sequence[float]) -> float:
    """Share of agreeing rater pairs per item, averaged over items with 2+ ratings (no chance correction)."""
    data = _prepare(R, labels)
    sums = _gwet_features(_category_counts(data.codes, data.labels.size)).sum(axis=0)[None]
    return float(_percent_from(sums, data.codes.shape[0])[0])


def cohen_kappa(a: Any, b: Any, *, labels: Sequence[float], weights: KappaWeights = None) -> float:
    """Cohen's kappa (1960) or weighted kappa (1968) of two raters over the items both rated.

    ``weights`` is None (nominal), "linear" or "quadratic"; weights use positions on the full ``labels``
    scale, so an unused label still widens the scale (as ``sklearn.metrics.cohen_kappa_score(labels=...)``).
    """
    a, b = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    if a.shape != b.shape:
        raise ValueError(f"the two raters must rate the same items; got {a.size} and {b.size} ratings")
    data = _prepare(np.column_stack([a, b]), labels)
    k = data.labels.size
    confusion = _pair_cells(data.codes, k)[0].sum(axis=0).reshape(k, k)
    return float(_kappa_from_confusion(confusion, _kappa_disagreement(k, weights)))


def light_kappa(R: Any, *, labels: Sequence[float], weights: KappaWeights = None) -> float:
    """Cohen's kappa averaged over rater pairs (Light 1971); pairs that share no item are left out."""
    data = _prepare(R, labels)
    k = data.labels.size
    cells, pairs = _pair_cells(data.codes, k)
    confusion = cells.sum(axis=0).reshape(1, len(pairs), k, k)
    return float(_row_nanmean(_kappa_from_confusion(confusion, _kappa_disagreement(k, weights)))[0])


def fleiss_kappa(R: Any, *, labels: Sequence[float]) -> float:
    """Fleiss' kappa (1971) for any number of raters.

    Unequal numbers of ratings per item (missing ratings) are allowed, with Gwet's (2014, Handbook of
    Inter-Rater Reliability, 4th ed.) generalisation, as in R irrCAC's ``fleiss.kappa.raw``: observed
    agreement averages items with 2+ ratings; category prevalence pi_k averages r_ik / r_i over all rated
    items. With the same number of raters on every item this is exactly Fleiss (1971).
    """
    data = _prepare(R, labels)
    sums = _gwet_features(_category_counts(data.codes, data.labels.size)).sum(axis=0)[None]
    return float(_fleiss_from(sums, data.codes.shape[0])[0])


def gwet_ac1(R: Any, *, labels: Sequence[float]) -> float:
    """Gwet's AC1 for any number of raters, nominal (Gwet 2008, Br J Math Stat Psychol 61:29-48).

    AC1 = (pa - pe) / (1 - pe), pa as in ``fleiss_kappa``, and chance agreement
    pe = sum_k pi_k (1 - pi_k) / (K - 1) over the full scale of K labels. Missing ratings as in
    ``fleiss_kappa`` (Gwet 2014; R irrCAC ``gwet.ac1.raw``). Unlike kappa it stays defined (1.0) when
    every rating is the same label.
    """
    data = _prepare(R, labels)
    sums = _gwet_features(_category_counts(data.codes, data.labels.size)).sum(axis=0)[None]
    return float(_ac1_from(sums, data.codes.shape[0])[0])


def krippendorff_alpha(R: Any, *, level: Level = "nominal", labels: Sequence[float] | None = None) -> float:
    """Krippendorff's alpha with missing data, computed by the ``krippendorff`` package.

    ``labels`` defaults to the values that occur; pass the full scale so that interval and ratio distances
    and the value domain are the declared ones. Returns nan when no item has 2 ratings or when every
    pairable rating is the same value (alpha is 0/0 there).
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}; got {level!r}")
    R = _as_matrix(R)
    if labels is None:
        labels = np.unique(R[~np.isnan(R)])
        if labels.size < 2:
            return float("nan")
    data = _prepare(R, labels)
    if level == "ratio":
        _check_ratio(data.labels)
    counts = _category_counts(data.codes, data.labels.size)
    pairable = counts[counts.sum(axis=1) >= 2]
    if (pairable.sum(axis=0) > 0).sum() < 2:
        return float("nan")
    return float(krippendorff.alpha(value_counts=counts.astype(np.int64), value_domain=data.labels,
                                    level_of_measurement=level))


MEASURES: dict[str, Callable[..., float]] = {
    "percent_agreement": percent_agreement,
    "cohen_kappa": light_kappa,
    "cohen_kappa_linear": partial(light_kappa, weights="linear"),
    "cohen_kappa_quadratic": partial(light_kappa, weights="quadratic"),
    "fleiss_kappa": fleiss_kappa,
    "gwet_ac1": gwet_ac1,
    "krippendorff_alpha": krippendorff_alpha,
    **{f"krippendorff_alpha_{lv}": partial(krippendorff_alpha, level=lv) for lv in LEVELS},
}
"""Measures by name, each ``f(R, **kw) -> float``; the ``cohen_kappa*`` ones average over rater pairs."""


def _resolve(measure: str | Callable[..., float]) -> Callable[..., float]:
    if callable(measure):
        return measure
    if measure not in MEASURES:
        raise ValueError(f"unknown measure {measure!r}; known: {', '.join(MEASURES)}")
    return MEASURES[measure]


def pairwise(R: Any, measure: str | Callable[..., float], **kw: Any) -> np.ndarray:
    """(raters, raters) symmetric matrix of ``measure`` on each rater pair; nan on the diagonal and for
    pairs that share no item. ``measure`` is a name from ``MEASURES`` or ``f(R_pair, **kw) -> float``."""
    R = _as_matrix(R)
    fn = _resolve(measure)
    out = np.full((R.shape[1], R.shape[1]), np.nan)
    for i, j in combinations(range(R.shape[1]), 2):
        sub = R[:, [i, j]]
        if (~np.isnan(sub)).all(axis=1).any():
            out[i, j] = out[j, i] = fn(sub, **kw)
    return out


def overall(R: Any, measure: str | Callable[..., float], **kw: Any) -> float:
    """Mean of ``pairwise`` over rater pairs with a defined value (for Cohen's kappa: Light's kappa)."""
    matrix = pairwise(R, measure, **kw)
    upper = matrix[np.triu_indices_from(matrix, k=1)]
    upper = upper[np.isfinite(upper)]
    return float(upper.mean()) if upper.size else float("nan")


# ------------------------------------------------------------------------------------------ bootstrap

FAST_STATISTICS: tuple[str, ...] = (
    "percent_agreement", "cohen_kappa", "cohen_kappa_linear", "cohen_kappa_quadratic", "fleiss_kappa",
    "gwet_ac1", *(f"krippendorff_alpha_{lv}" for lv in LEVELS),
)
"""Names with a vectorised bootstrap; anything else (or ``fast=False``) takes the generic loop."""

_KAPPA_WEIGHTS: dict[str, KappaWeights] = {
    "cohen_kappa": None, "cohen_kappa_linear": "linear", "cohen_kappa_quadratic": "quadratic"}
_GWET: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "percent_agreement": _percent_from, "fleiss_kappa": _fleiss_from, "gwet_ac1": _ac1_from}


def _resample_indices(n_items: int, draws: int, seed: int) -> np.ndarray:
    """(draws, items) item indices drawn with replacement; shared by the fast and the generic path."""
    return np.random.default_rng(seed).integers(0, n_items, size=(draws, n_items))


def _resample_weights(idx: np.ndarray) -> np.ndarray:
    """(draws, items): how often each item appears in each draw, from the index matrix."""
    draws, n = idx.shape
    flat = (idx + (np.arange(draws) * n)[:, None]).ravel()
    return np.bincount(flat, minlength=draws * n).reshape(draws, n).astype(float)


def _fast_replicates(data: _Data, names: Sequence[str], weights: np.ndarray) -> dict[str, np.ndarray]:
    """Every named statistic for every draw; each family costs one (draws, items) @ (items, F) product."""
    k, n = data.labels.size, data.codes.shape[0]
    counts = _category_counts(data.codes, k)
    out: dict[str, np.ndarray] = {}
    if any(name in _GWET for name in names):
        sums = weights @ _gwet_features(counts)
        out.update({name: fn(sums, n) for name, fn in _GWET.items() if name in names})
    if any(name in _KAPPA_WEIGHTS for name in names):
        cells, pairs = _pair_cells(data.codes, k)
        confusion = (weights @ cells).reshape(len(weights), len(pairs), k, k)
        for name, w in _KAPPA_WEIGHTS.items():
            if name in names:
                out[name] = _row_nanmean(_kappa_from_confusion(confusion, _kappa_disagreement(k, w)))
    alpha_levels = [lv for lv in LEVELS if f"krippendorff_alpha_{lv}" in names]
    if alpha_levels:
        if "ratio" in alpha_levels:
            _check_ratio(data.labels)
        o = (weights @ _coincidence_features(counts)).reshape(len(weights), k, k)
        for lv in alpha_levels:
            out[f"krippendorff_alpha_{lv}"] = _alpha_from_coincidences(o, data.labels, lv)
    return out


def bootstrap_draws(R: Any, statistic: str | Callable[..., float], *, draws: int = 1000, seed: int = 0,
                    fast: bool = True, **kw: Any) -> np.ndarray:
    """The statistic on ``draws`` resamples of the ITEMS (with replacement); shape (draws,), nan = undefined.

    Named statistics in ``FAST_STATISTICS`` are vectorised (per-item contributions summed with a
    (draws, items) count matrix); ``fast=False`` or a callable ``f(R, **kw) -> float`` loops over draws.
    Both use the same index matrix, so a given seed gives the same resamples on either path.
    """
    R = _as_matrix(R)
    R = R[(~np.isnan(R)).any(axis=1)]  # items nobody rated carry no information
    idx = _resample_indices(R.shape[0], draws, seed)
    if fast and isinstance(statistic, str) and statistic in FAST_STATISTICS:
        labels = kw.pop("labels", None)
        if kw:
            raise TypeError(f"unexpected arguments for {statistic!r}: {', '.join(kw)}")
        if labels is None:
            if not statistic.startswith("krippendorff_alpha"):
                raise TypeError(f"{statistic!r} needs labels=")
            labels = np.unique(R[~np.isnan(R)])
            if labels.size < 2:  # a single observed value: alpha is undefined on every resample
                return np.full(draws, np.nan)
        return _fast_replicates(_prepare(R, labels), [statistic], _resample_weights(idx))[statistic]
    fn = _resolve(statistic)
    fn(R, **kw)  # bad input fails loudly here, not as a column of nans
    out = np.empty(draws)
    for b in range(draws):
        try:
            out[b] = fn(R[idx[b]], **kw)
        except ValueError:  # e.g. a resample where only one rater rated anything: undefined, like the fast path
            out[b] = np.nan
    return out


def _percentile_ci(replicates: np.ndarray, level: float) -> tuple[float, float]:
    if not 0.0 < level < 1.0:
        raise ValueError(f"confidence level must be in (0, 1); got {level}")
    finite = replicates[np.isfinite(replicates)]
    if finite.size == 0:
        return float("nan"), float("nan")
    lo, hi = np.quantile(finite, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return float(lo), float(hi)


def bootstrap_ci(R: Any, statistic: str | Callable[..., float], *, draws: int = 1000, level: float = 0.95,
                 seed: int = 0, **kw: Any) -> tuple[float, float]:
    """Percentile bootstrap interval over resampled items; undefined draws are left out.

    ``level`` is the confidence level; pick an alpha level through the name
    (``"krippendorff_alpha_ordinal"``), since ``level`` here is taken.
    """
    return _percentile_ci(bootstrap_draws(R, statistic, draws=draws, seed=seed, **kw), level)


# ------------------------------------------------------------------------------------------- the table


def _notes(data: _Data, counts: np.ndarray, n_pairs_apart: int) -> list[str]:
    notes = []
    m = counts.sum(axis=1)
    if data.n_unrated:
        notes.append(f"{data.n_unrated} item(s) nobody rated were dropped")
    single = int((m == 1).sum())
    if single:
        notes.append(f"{single} item(s) with a single rating: excluded from pairable values (they still count "
                     "toward category prevalence in Fleiss' kappa and AC1, after Gwet 2014)")
    pairable = counts[m >= 2]
    if pairable.size == 0:
        notes.append("no item has 2 or more ratings: agreement undefined")
    elif (pairable.sum(axis=0) > 0).sum() < 2:
        notes.append(f"{NO_VARIATION} (kappa and alpha are 0/0, so nan; AC1 and percent agreement are 1)")
    if m.size and m.min() != m.max():
        notes.append(f"unequal numbers of ratings per item ({int(m.min())} to {int(m.max())}): Fleiss' kappa and "
                     "AC1 use Gwet's (2014) generalisation for missing ratings")
    unused = data.labels[counts.sum(axis=0) == 0]
    if unused.size:
        notes.append(f"label(s) never used: {', '.join(map(_fmt, unused))}; chance agreement and weights still "
                     "use the full scale")
    if data.codes.shape[1] > 2:
        notes.append("cohen_kappa* are means over rater pairs (Light's kappa)")
    if n_pairs_apart:
        notes.append(f"{n_pairs_apart} rater pair(s) share no item and are left out of the Cohen's kappa means")
    return notes


MEASURES_FOR_LEVEL: dict[str, tuple[str, ...]] = {
    "nominal": ("percent_agreement", "cohen_kappa", "fleiss_kappa", "gwet_ac1", "krippendorff_alpha_nominal"),
    "ordinal": ("percent_agreement", "cohen_kappa_linear", "cohen_kappa_quadratic", "krippendorff_alpha_ordinal"),
    "interval": ("cohen_kappa_quadratic", "krippendorff_alpha_interval"),
    "ratio": ("krippendorff_alpha_ratio",),
}
"""The measures that fit each level of measurement. Nominal kappa, AC1 and percent agreement count a
1-point difference on a 0-100 scale as a full disagreement, so they are not shown for interval or ratio
data; quadratic-weighted kappa equals an intraclass correlation there (Fleiss and Cohen 1973)."""


def agreement_table(R: Any, *, labels: Sequence[float], level: Level | Sequence[Level] = "ordinal",
                    draws: int = 1000, seed: int = 0, ci_level: float = 0.95,
                    measures: Sequence[str] | None = None) -> dict[str, Any]:
    """Every measure with its value and bootstrap CI, plus counts and notes on what was left out.

    ``level`` picks the Krippendorff alpha level(s) reported. All measures share the same item resamples
    (same ``seed`` as ``bootstrap_ci``). ``draws=0`` skips the intervals (``ci`` is None). ``measures``
    names the measures to report (e.g. ``MEASURES_FOR_LEVEL[level]``); default: all of them.
    """
    levels = (level,) if isinstance(level, str) else tuple(level)
    for lv in levels:
        if lv not in LEVELS:
            raise ValueError(f"level must be one of {', '.join(LEVELS)}; got {lv!r}")
    R = _as_matrix(R)
    data = _prepare(R, labels)
    names = list(measures) if measures is not None else [
        "percent_agreement", "cohen_kappa", "cohen_kappa_linear", "cohen_kappa_quadratic", "fleiss_kappa",
        "gwet_ac1", *(f"krippendorff_alpha_{lv}" for lv in levels)]
    unknown = [n for n in names if n not in FAST_STATISTICS]
    if unknown:
        raise ValueError(f"unknown measure(s) {', '.join(unknown)}; known: {', '.join(FAST_STATISTICS)}")
    values = {name: MEASURES[name](R, labels=labels) for name in names}
    replicates = {}
    if draws > 0:
        weights = _resample_weights(_resample_indices(data.codes.shape[0], draws, seed))
        replicates = _fast_replicates(data, names, weights)
    counts = _category_counts(data.codes, data.labels.size)
    cells, pairs = _pair_cells(data.codes, data.labels.size)
    shared = cells.sum(axis=0).reshape(len(pairs), -1).sum(axis=1)
    notes = _notes(data, counts, int((shared == 0).sum()))
    measures = {}
    for name in names:
        ci = None
        if draws > 0:
            ci = list(_percentile_ci(replicates[name], ci_level))
            undefined = int((~np.isfinite(replicates[name])).sum())
            if undefined:
                notes.append(f"{name}: {undefined} of {draws} bootstrap draws undefined, left out of its interval")
        measures[name] = {"value": values[name], "ci": ci}
    m = counts.sum(axis=1)
    return {
        "measures": measures,
        "n_items": int(data.codes.shape[0]),
        "n_raters": int((data.codes >= 0).any(axis=0).sum()),
        "n_ratings": int((data.codes >= 0).sum()),
        "n_pairable_items": int((m >= 2).sum()),
        "labels": data.labels.tolist(),
        "ci_level": ci_level,
        "draws": draws,
        "seed": seed,
        "notes": notes,
    }
