"""Standard errors, intervals and paired tests (babelvl.eval.uncertainty), checked against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from babelvl.benchmarks.base import Scored
from babelvl.eval.uncertainty import (benchmark_units, bootstrap_ci, mcnemar_exact, metric_uncertainty,
                                      paired_difference, paired_units, wilson_interval)


def sc(id_: str, correct: bool, **kw) -> Scored:
    answer = kw.pop("answer", "A")
    return Scored(id=id_, row=0, language=kw.pop("language", "en"), answer=answer,
                  prediction=answer if correct else kw.pop("prediction", None), status="ok",
                  correct=correct, **kw)


def test_mcnemar_exact_matches_binomial_tail():
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(0, 5) == pytest.approx(2 / 32)
    assert mcnemar_exact(3, 3) == 1.0
    # b=1, c=9: 2 * (1 + 10) / 1024
    assert mcnemar_exact(1, 9) == pytest.approx(22 / 1024)


def test_wilson_interval_known_values():
    lo, hi = wilson_interval(50, 100)
    assert (lo, hi) == pytest.approx((0.4038, 0.5962), abs=1e-4)
    lo, hi = wilson_interval(0, 20)
    assert lo == 0.0 and hi == pytest.approx(0.1611, abs=1e-4)


def test_bootstrap_se_of_a_mean_matches_the_analytic_one():
    rng = np.random.default_rng(1)
    x = (rng.random(2000) < 0.3).astype(float)
    stats = np.column_stack([np.ones_like(x), x])
    out = bootstrap_ci(stats, lambda s: {"mean": s[:, 1] / s[:, 0]}, draws=3000, seed=7)["mean"]
    analytic = math.sqrt(x.mean() * (1 - x.mean()) / x.size)
    assert out["value"] == pytest.approx(x.mean())
    assert out["se"] == pytest.approx(analytic, rel=0.08)
    assert out["ci95"][0] < x.mean() < out["ci95"][1]
    again = bootstrap_ci(stats, lambda s: {"mean": s[:, 1] / s[:, 0]}, draws=3000, seed=7)["mean"]
    assert again == out  # seeded: identical


def test_stratified_bootstrap_keeps_stratum_sizes():
    stats = np.column_stack([np.ones(10), np.r_[np.ones(4), np.zeros(6)]])
    strata = ["a"] * 4 + ["b"] * 6  # every "a" unit is 1, every "b" unit is 0: the mean never varies
    out = bootstrap_ci(stats, lambda s: {"m": s[:, 1] / s[:, 0]}, strata=strata, draws=200)["m"]
    assert out["se"] == pytest.approx(0.0) and out["ci95"] == pytest.approx([0.4, 0.4])


def test_mme_resamples_image_pairs_and_mmbench_whole_questions():
    mme = [Scored(f"existence/{i}.png#{k}", i, "en", "yes", "yes", "ok", True, category="existence",
                  meta={"image_id": f"existence/{i}.png"}) for i in range(5) for k in range(2)]
    units = benchmark_units("mme", mme)
    assert len(units.keys) == 5 and units.unit.startswith("MME image")
    mmb = [Scored(str(q + p * 1_000_000), q, "en", "A", "A", "ok", p != 2, meta={"group": q, "pass": p})
           for q in range(3) for p in range(4)]
    units = benchmark_units("mmbench", mmb)
    assert len(units.keys) == 3
    u = metric_uncertainty("mmbench", mmb)["metrics"]
    assert u["circular_accuracy"]["value"] == 0.0 and u["vanilla_accuracy"]["value"] == 1.0
    assert u["circular_accuracy"]["method"] == "wilson"


def test_paired_difference_uses_shared_units_and_mcnemar():
    en = [sc(f"sqa-{i}", i < 80) for i in range(100)]
    fr = [sc(f"sqa-{i}", i < 60 or i >= 95, language="fr") for i in range(100)] + [sc("sqa-extra", True)]
    a, b = paired_units("scienceqa", en, fr)
    assert a.keys == b.keys and len(a.keys) == 100  # the unpaired item is left out
    out = paired_difference("scienceqa", en, fr, draws=1000)
    # fr - en = 0.65 - 0.80; discordant: 20 only-en-right (60..79), 5 only-fr-right (95..99)
    assert out["value"] == pytest.approx(-0.15)
    assert (out["only_ref_right"], out["only_other_right"]) == (20, 5)
    assert out["p_mcnemar"] == pytest.approx(mcnemar_exact(20, 5))
    assert out["ci95"][0] < -0.15 < out["ci95"][1] < 0
    # the paired interval is narrower than two independent ones would suggest
    unpaired_se = math.sqrt(0.8 * 0.2 / 100 + 0.65 * 0.35 / 100)
    assert out["se"] < unpaired_se
