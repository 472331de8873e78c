"""Agreement statistics against published reference values, bootstrap behaviour, degenerate cases, span F1."""

from __future__ import annotations

import math

import numpy as np
import pytest

from babelvl.quality.agreement import (
    FAST_STATISTICS,
    LEVELS,
    MEASURES,
    NO_VARIATION,
    agreement_table,
    bootstrap_ci,
    bootstrap_draws,
    cohen_kappa,
    fleiss_kappa,
    gwet_ac1,
    krippendorff_alpha,
    light_kappa,
    overall,
    pairwise,
    percent_agreement,
)
from babelvl.quality.spans import pairwise_span_f1, span_f1

nan = np.nan
SCALE5 = [1, 2, 3, 4, 5]

# Krippendorff (2011) "Computing Krippendorff's Alpha-Reliability", section C: 4 observers x 12 units with
# missing values (transposed here to items x raters). The same data is irrCAC's cac.raw4raters
# (Gwet 2014, Handbook of Inter-Rater Reliability, 4th ed., p. 120).
KRIPPENDORFF_2011 = np.array([
    [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
    [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
]).T

# Fleiss (1971) Table 1: psychiatric diagnoses of 30 patients by 6 raters, 5 categories (1 depression,
# 2 personality disorder, 3 schizophrenia, 4 neurosis, 5 other); raw form as in R irr's `diagnoses`.
FLEISS_1971 = np.array([
    [4, 4, 4, 4, 4, 4], [2, 2, 2, 5, 5, 5], [2, 3, 3, 3, 3, 5], [5, 5, 5, 5, 5, 5], [2, 2, 2, 4, 4, 4],
    [1, 1, 3, 3, 3, 3], [3, 3, 3, 3, 5, 5], [1, 1, 3, 3, 3, 4], [1, 1, 4, 4, 4, 4], [5, 5, 5, 5, 5, 5],
    [1, 4, 4, 4, 4, 4], [1, 2, 4, 4, 4, 4], [2, 2, 2, 3, 3, 3], [1, 4, 4, 4, 4, 4], [2, 2, 4, 4, 4, 5],
    [3, 3, 3, 3, 3, 5], [1, 1, 1, 4, 5, 5], [1, 1, 1, 1, 1, 2], [2, 2, 4, 4, 4, 4], [1, 3, 3, 5, 5, 5],
    [5, 5, 5, 5, 5, 5], [2, 4, 4, 4, 4, 4], [2, 2, 4, 5, 5, 5], [1, 1, 4, 4, 4, 4], [1, 4, 4, 4, 4, 5],
    [2, 2, 2, 2, 2, 4], [1, 1, 1, 1, 5, 5], [2, 2, 4, 4, 4, 4], [1, 3, 3, 3, 3, 3], [5, 5, 5, 5, 5, 5],
], dtype=float)

# Wikipedia "Fleiss' kappa" worked example: 10 items, 14 raters, counts per category 1..5; kappa = 0.210.
WIKIPEDIA_FLEISS = [
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
]

# R irr's `anxiety` data (20 subjects x 3 raters, scale 1..6); raters 2 and 3 never use 5.
ANXIETY = np.array([
    3, 3, 3, 4, 5, 5, 2, 3, 5, 2, 2, 6, 1, 5, 2, 2, 1, 2, 4, 3, 3, 6, 4, 6, 2, 4, 2, 4, 3, 3, 2, 3, 3, 3, 2, 2,
    1, 3, 3, 4, 2, 1, 4, 4, 3, 2, 1, 6, 1, 1, 1, 2, 3, 3, 1, 1, 3, 3, 2, 2,
], dtype=float).reshape(20, 3, order="F")


def from_counts(table: list[list[int]]) -> np.ndarray:
    """Items x raters ratings (1-based categories) from an items x categories count table."""
    return np.array([[c + 1 for c, k in enumerate(row) for _ in range(k)] for row in table], dtype=float)


def from_confusion(table: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Two raters' ratings (1-based) from a confusion table (rows: rater a, columns: rater b)."""
    pairs = [(i + 1, j + 1) for i, row in enumerate(table) for j, k in enumerate(row) for _ in range(k)]
    a, b = np.array(pairs, dtype=float).T
    return a, b


def noisy_ratings(items: int, raters: int, seed: int, missing: float = 0.15) -> np.ndarray:
    rng = np.random.default_rng(seed)
    latent = rng.integers(1, 6, size=(items, 1))
    ratings = np.clip(latent + rng.integers(-1, 2, size=(items, raters)), 1, 5).astype(float)
    ratings[rng.random(ratings.shape) < missing] = nan
    return ratings


# ------------------------------------------------------------------------------- Krippendorff's alpha


@pytest.mark.parametrize(("level", "published"), [
    ("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)])
def test_alpha_on_krippendorff_2011_example(level, published):
    # Krippendorff (2011): nominal .743 and interval .849; ordinal .815 and ratio .797 as in the
    # `krippendorff` package's tests (fast-krippendorff, same data).
    assert round(krippendorff_alpha(KRIPPENDORFF_2011, level=level, labels=SCALE5), 3) == published
    assert round(krippendorff_alpha(KRIPPENDORFF_2011, level=level), 3) == published  # observed values only


def test_alpha_nominal_matches_irrcac_to_five_decimals():
    # irrCAC README: krippen.alpha.raw(cac.raw4raters) -> 0.74342
    assert krippendorff_alpha(KRIPPENDORFF_2011, labels=SCALE5) == pytest.approx(0.74342, abs=5e-6)


def test_alpha_ignores_unpairable_item_and_unused_label():
    # Unit 12 has a single rating: dropping it leaves alpha unchanged; an unused label (6) too.
    for level in LEVELS:
        base = krippendorff_alpha(KRIPPENDORFF_2011, level=level, labels=SCALE5)
        assert krippendorff_alpha(KRIPPENDORFF_2011[:11], level=level, labels=SCALE5) == pytest.approx(base)
        assert krippendorff_alpha(KRIPPENDORFF_2011, level=level, labels=[*SCALE5, 6]) == pytest.approx(base)


def test_alpha_on_fleiss_first_15_patients():
    # irrCAC README, distrib.6raters (= the first 15 patients of Fleiss 1971): alpha = 0.4204384
    assert krippendorff_alpha(FLEISS_1971[:15], labels=SCALE5) == pytest.approx(0.4204384, abs=1e-7)


# -------------------------------------------------------------------------------------- Fleiss' kappa


def test_fleiss_kappa_fleiss_1971():
    # Fleiss (1971): kappa = .430 (P-bar .5556, P_e .2201); R irr kappam.fleiss(diagnoses) = 0.4302445
    assert round(fleiss_kappa(FLEISS_1971, labels=SCALE5), 3) == 0.430
    assert fleiss_kappa(FLEISS_1971, labels=SCALE5) == pytest.approx(0.4302445, abs=1e-7)
    assert percent_agreement(FLEISS_1971, labels=SCALE5) == pytest.approx(0.5556, abs=1e-4)


def test_fleiss_kappa_wikipedia_example():
    assert round(fleiss_kappa(from_counts(WIKIPEDIA_FLEISS), labels=SCALE5), 3) == 0.210


def test_fleiss_kappa_with_missing_ratings_matches_irrcac():
    # irrCAC README: fleiss.kappa.raw(cac.raw4raters) -> pa 0.8181818, pe 0.2387153, kappa 0.76117
    assert percent_agreement(KRIPPENDORFF_2011, labels=SCALE5) == pytest.approx(0.8181818, abs=1e-7)
    assert fleiss_kappa(KRIPPENDORFF_2011, labels=SCALE5) == pytest.approx(0.76117, abs=5e-6)
    # irrCAC README, distrib.6raters: Fleiss' kappa 0.4139265
    assert fleiss_kappa(FLEISS_1971[:15], labels=SCALE5) == pytest.approx(0.4139265, abs=1e-7)


# ------------------------------------------------------------------------------------------ Gwet's AC1


def test_gwet_ac1_published_values():
    # irrCAC README (Gwet): gwet.ac1.raw(cac.raw4raters) = 0.77544 (pa 0.8181818, pe 0.1903212)
    assert gwet_ac1(KRIPPENDORFF_2011, labels=SCALE5) == pytest.approx(0.77544, abs=5e-6)
    # gwet.ac1.dist(distrib.6raters) = 0.4448007
    assert gwet_ac1(FLEISS_1971[:15], labels=SCALE5) == pytest.approx(0.4448007, abs=1e-7)
    # gwet.ac1.table(cont3x3abstractors) = 0.8493305 (two raters, 100 pregnant women, 3 categories)
    a, b = from_confusion([[13, 0, 0], [0, 20, 7], [0, 4, 56]])
    assert gwet_ac1(np.column_stack([a, b]), labels=[1, 2, 3]) == pytest.approx(0.8493305, abs=1e-7)


def test_gwet_ac1_hand_worked_2x2():
    # 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no: pa = .70, pi_yes = (25+30)/200 = .55,
    # pe = 2 * .55 * .45 / (2 - 1) = .495, AC1 = (.70 - .495) / .505
    a, b = from_confusion([[20, 5], [10, 15]])
    assert gwet_ac1(np.column_stack([a, b]), labels=[1, 2]) == pytest.approx(0.205 / 0.505)


# ---------------------------------------------------------------------------------------- Cohen's kappa


def test_cohen_kappa_hand_worked_2x2():
    # Wikipedia "Cohen's kappa" example: po = .7, pe = .5*.6 + .5*.4 = .5, kappa = .4
    a, b = from_confusion([[20, 5], [10, 15]])
    assert cohen_kappa(a, b, labels=[1, 2]) == pytest.approx(0.4)


def test_cohen_kappa_3x3_sas_example():
    # SAS PROC FREQ example (statsmodels test_inter_rater): simple kappa 0.4842, weighted (linear,
    # Cicchetti-Allison) kappa 0.4701
    a, b = from_confusion([[0, 4, 1], [0, 8, 0], [0, 1, 5]])
    assert cohen_kappa(a, b, labels=[1, 2, 3]) == pytest.approx(0.4842, abs=5e-5)
    assert cohen_kappa(a, b, labels=[1, 2, 3], weights="linear") == pytest.approx(0.4701, abs=5e-5)


def test_cohen_kappa_irrcac_abstractors():
    # irrCAC README: kappa2.table(cont3x3abstractors) = 0.7964094, Krippendorff 0.7972585, pa 0.89
    a, b = from_confusion([[13, 0, 0], [0, 20, 7], [0, 4, 56]])
    assert cohen_kappa(a, b, labels=[1, 2, 3]) == pytest.approx(0.7964094, abs=1e-7)
    R = np.column_stack([a, b])
    assert krippendorff_alpha(R, labels=[1, 2, 3]) == pytest.approx(0.7972585, abs=1e-7)
    assert percent_agreement(R, labels=[1, 2, 3]) == pytest.approx(0.89)


def test_weighted_kappa_full_scale_matters():
    a, b = ANXIETY[:, 1], ANXIETY[:, 2]
    # R irr kappa2(anxiety[, 2:3]) drops the unused level 5, i.e. scale [1, 2, 3, 4, 6]:
    # unweighted -0.006289308, "equal" (linear) 0.1459075, "squared" 0.2520325 (statsmodels test_inter_rater)
    observed = [1, 2, 3, 4, 6]
    assert cohen_kappa(a, b, labels=observed) == pytest.approx(-0.006289308, abs=1e-9)
    assert cohen_kappa(a, b, labels=observed, weights="linear") == pytest.approx(0.1459075, abs=1e-7)
    assert cohen_kappa(a, b, labels=observed, weights="quadratic") == pytest.approx(0.2520325, abs=1e-7)
    # On the declared 1..6 scale the unused 5 widens the distances: different weighted kappas.
    full = [1, 2, 3, 4, 5, 6]
    assert cohen_kappa(a, b, labels=full) == pytest.approx(-0.006289308, abs=1e-9)  # unweighted: no change
    assert cohen_kappa(a, b, labels=full, weights="linear") == pytest.approx(0.1262136, abs=1e-7)
    assert cohen_kappa(a, b, labels=full, weights="quadratic") == pytest.approx(0.2297980, abs=1e-7)


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_cohen_kappa_matches_sklearn(weights):
    metrics = pytest.importorskip("sklearn.metrics")
    a, b = ANXIETY[:, 1], ANXIETY[:, 2]
    full = [1, 2, 3, 4, 5, 6]
    expected = metrics.cohen_kappa_score(a, b, labels=full, weights=weights)
    assert cohen_kappa(a, b, labels=full, weights=weights) == pytest.approx(expected, abs=1e-12)
    # missing data: pairwise-complete items only
    R = noisy_ratings(200, 2, seed=4, missing=0.2)
    both = ~np.isnan(R).any(axis=1)
    expected = metrics.cohen_kappa_score(R[both, 0], R[both, 1], labels=SCALE5, weights=weights)
    assert cohen_kappa(R[:, 0], R[:, 1], labels=SCALE5, weights=weights) == pytest.approx(expected, abs=1e-12)


def test_pairwise_and_overall():
    R = ANXIETY
    matrix = pairwise(R, "cohen_kappa", labels=[1, 2, 3, 4, 5, 6])
    assert matrix.shape == (3, 3) and np.isnan(np.diag(matrix)).all()
    assert np.allclose(matrix, matrix.T, equal_nan=True)
    assert matrix[1, 2] == pytest.approx(cohen_kappa(R[:, 1], R[:, 2], labels=[1, 2, 3, 4, 5, 6]))
    upper = matrix[np.triu_indices(3, 1)]
    assert overall(R, "cohen_kappa", labels=[1, 2, 3, 4, 5, 6]) == pytest.approx(upper.mean())
    assert light_kappa(R, labels=[1, 2, 3, 4, 5, 6]) == pytest.approx(upper.mean())
    # a callable works too; a pair that shares no item stays nan
    R2 = np.array([[1, 1, nan], [2, 2, nan], [nan, 1, 1], [nan, 2, 2], [1, nan, 2]])
    custom = pairwise(R2, lambda sub: float(np.nanmean(sub)))
    assert not np.isnan(custom[0, 1]) and not np.isnan(custom[1, 2])
    assert np.isnan(pairwise(np.array([[1, nan], [nan, 2.0]]), "cohen_kappa", labels=[1, 2]))[0, 1]


# -------------------------------------------------------------------------------------------- bootstrap


def test_bootstrap_fast_path_equals_generic_loop():
    R = noisy_ratings(30, 4, seed=1, missing=0.2)
    labels = [1, 2, 3, 4, 5, 6]  # 6 never occurs
    for name in FAST_STATISTICS:
        fast = bootstrap_draws(R, name, labels=labels, draws=40, seed=7)
        slow = bootstrap_draws(R, name, labels=labels, draws=40, seed=7, fast=False)
        np.testing.assert_allclose(fast, slow, rtol=1e-10, atol=1e-12, equal_nan=True, err_msg=name)
    # a plain callable takes the generic path and sees the same resamples
    generic = bootstrap_draws(R, lambda r, labels: fleiss_kappa(r, labels=labels), labels=labels, draws=40, seed=7)
    np.testing.assert_allclose(generic, bootstrap_draws(R, "fleiss_kappa", labels=labels, draws=40, seed=7))


def test_bootstrap_ci_contains_point_is_deterministic_and_narrows():
    R = noisy_ratings(300, 4, seed=2)
    for name in FAST_STATISTICS:
        point = MEASURES[name](R, labels=SCALE5)
        lo, hi = bootstrap_ci(R, name, labels=SCALE5, draws=500, seed=3)
        assert lo <= point <= hi, name
        assert bootstrap_ci(R, name, labels=SCALE5, draws=500, seed=3) == (lo, hi)
    assert bootstrap_ci(R, "fleiss_kappa", labels=SCALE5, draws=500, seed=4) != \
        bootstrap_ci(R, "fleiss_kappa", labels=SCALE5, draws=500, seed=3)
    big = noisy_ratings(3000, 4, seed=2)
    for name in ("fleiss_kappa", "cohen_kappa_quadratic", "krippendorff_alpha_interval", "gwet_ac1"):
        small_lo, small_hi = bootstrap_ci(R, name, labels=SCALE5, draws=500)
        big_lo, big_hi = bootstrap_ci(big, name, labels=SCALE5, draws=500)
        assert big_hi - big_lo < 0.5 * (small_hi - small_lo), name


def test_agreement_table():
    table = agreement_table(KRIPPENDORFF_2011, labels=[*SCALE5, 6], level=LEVELS, draws=300, seed=5)
    assert table["n_items"] == 12 and table["n_raters"] == 4 and table["n_pairable_items"] == 11
    assert table["measures"]["krippendorff_alpha_nominal"]["value"] == pytest.approx(0.743, abs=5e-4)
    assert set(table["measures"]) == set(FAST_STATISTICS)
    for name, entry in table["measures"].items():
        lo, hi = entry["ci"]
        assert lo <= hi
        # the table's intervals are the ones bootstrap_ci gives with the same seed
        assert (lo, hi) == pytest.approx(bootstrap_ci(KRIPPENDORFF_2011, name, labels=[*SCALE5, 6], draws=300,
                                                      seed=5)), name
    notes = " | ".join(table["notes"])
    assert "1 item(s) with a single rating" in notes
    assert "never used: 6" in notes
    assert "unequal numbers of ratings" in notes
    assert agreement_table(KRIPPENDORFF_2011, labels=SCALE5, draws=0)["measures"]["fleiss_kappa"]["ci"] is None


# ------------------------------------------------------------------------------------ degenerate cases


def test_no_variation_is_undefined_except_ac1():
    R = np.array([[3, 3, 3], [3, 3, nan], [3, nan, 3], [3, 3, 3]], dtype=float)
    assert math.isnan(cohen_kappa(R[:, 0], R[:, 1], labels=SCALE5))
    assert math.isnan(fleiss_kappa(R, labels=SCALE5))
    assert math.isnan(light_kappa(R, labels=SCALE5, weights="quadratic"))
    for level in LEVELS:
        assert math.isnan(krippendorff_alpha(R, level=level, labels=SCALE5))
    assert math.isnan(krippendorff_alpha(R))  # only one observed value
    assert gwet_ac1(R, labels=SCALE5) == 1.0 and percent_agreement(R, labels=SCALE5) == 1.0
    table = agreement_table(R, labels=SCALE5, draws=50)
    assert any(NO_VARIATION in note for note in table["notes"])
    assert math.isnan(table["measures"]["fleiss_kappa"]["value"])
    assert all(math.isnan(x) for x in table["measures"]["fleiss_kappa"]["ci"])


def test_single_rating_items_and_unrated_items():
    R = np.vstack([FLEISS_1971[:10, :3], [[2, nan, nan], [nan, nan, nan]]])
    table = agreement_table(R, labels=SCALE5, draws=20)
    assert table["n_items"] == 11 and table["n_pairable_items"] == 10
    notes = " | ".join(table["notes"])
    assert "1 item(s) nobody rated were dropped" in notes
    assert "1 item(s) with a single rating" in notes
    # the single rating is not pairable: alpha and kappa-pairs ignore it
    assert krippendorff_alpha(R, labels=SCALE5) == pytest.approx(krippendorff_alpha(R[:10], labels=SCALE5))
    assert light_kappa(R, labels=SCALE5) == pytest.approx(light_kappa(R[:10], labels=SCALE5))
    # no item with 2 ratings at all: everything undefined, not an error
    apart = np.array([[1, nan], [nan, 2.0]])
    assert math.isnan(fleiss_kappa(apart, labels=[1, 2])) and math.isnan(krippendorff_alpha(apart, labels=[1, 2]))


def test_fewer_than_two_raters_is_an_error():
    with pytest.raises(ValueError, match="at least 2 raters"):
        fleiss_kappa(np.array([[1.0], [2.0]]), labels=[1, 2])
    with pytest.raises(ValueError, match="only 1 rater"):
        krippendorff_alpha(np.array([[1, nan], [2, nan]]), labels=[1, 2])
    with pytest.raises(ValueError, match="at least 2 raters"):
        agreement_table(np.array([[1.0, nan], [2.0, nan]]), labels=[1, 2])


def test_rating_outside_scale_is_named():
    R = np.array([[1, 2], [7, 1], [2, 2]], dtype=float)
    for fn in (fleiss_kappa, gwet_ac1, krippendorff_alpha, percent_agreement):
        with pytest.raises(ValueError, match=r"rating 7 is not on the declared label scale \[1, 2, 3\]"):
            fn(R, labels=[1, 2, 3])
    with pytest.raises(ValueError, match="rating 2.5"):
        cohen_kappa([1, 2.5], [1, 2], labels=[1, 2, 3])
    with pytest.raises(ValueError, match="at least 2 labels"):
        fleiss_kappa(R, labels=[7])


# -------------------------------------------------------------------------------------------- span F1


def test_span_f1_hand_worked():
    assert span_f1([(0, 10)], [(5, 15)]) == pytest.approx(0.5)  # 5 shared chars, 10 + 10 marked
    assert span_f1([(0, 5), (3, 8)], [(0, 8)]) == 1.0  # overlapping spans count each character once
    assert span_f1([(0, 4)], [(0, 2), (6, 8)]) == pytest.approx(2 * 2 / (4 + 4))
    assert span_f1([], []) == 1.0  # both found no error: agreement
    assert span_f1([(0, 3)], []) == 0.0
    assert span_f1([(2, 2)], []) == 1.0  # an empty span marks nothing
    assert span_f1([[0, 4]], [{"start": 2, "end": 6}]) == pytest.approx(0.5)  # JSON-style spans


def test_span_f1_by_severity():
    a = [{"start": 0, "end": 10, "severity": "major"}, {"start": 20, "end": 24, "severity": "minor"}]
    b = [{"start": 0, "end": 10, "severity": "minor"}, {"start": 20, "end": 24, "severity": "minor"}]
    assert span_f1(a, b) == 1.0
    assert span_f1(a, b, by_severity=True) == pytest.approx(2 * 4 / (14 + 14))


def test_span_f1_validates_spans():
    with pytest.raises(ValueError, match="past the text length 5"):
        span_f1([(0, 6)], [], length=5)
    with pytest.raises(ValueError, match="start <= end"):
        span_f1([(4, 2)], [])
    with pytest.raises(ValueError, match="integers"):
        span_f1([(0.5, 2)], [])


def test_pairwise_span_f1():
    annotations = {
        "ann1": {"s1": [(0, 10)], "s2": [], "s3": [(0, 4)]},
        "ann2": {"s1": [(5, 15)], "s2": []},
        "ann3": {"s1": [(0, 10)], "s2": [(0, 2)]},
    }
    result = pairwise_span_f1(annotations, lengths={"s1": 20, "s2": 20, "s3": 10})
    assert result.by_pair[("ann1", "ann2")] == pytest.approx((0.5 + 1.0) / 2)
    assert result.by_pair[("ann1", "ann3")] == pytest.approx((1.0 + 0.0) / 2)
    assert result.by_pair[("ann2", "ann3")] == pytest.approx((0.5 + 0.0) / 2)
    assert result.n_comparisons == 6
    assert result.mean == pytest.approx((0.5 + 1.0 + 1.0 + 0.0 + 0.5 + 0.0) / 6)
    with pytest.raises(ValueError, match="at least 2 raters"):
        pairwise_span_f1({"ann1": {}})
    assert math.isnan(pairwise_span_f1({"a": {"x": []}, "b": {"y": []}}).mean)
