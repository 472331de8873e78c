"""The ablation: statistics on the benchmark's own unit, inputs checked before training, and the smoke
experiment as a positive control (English-only training must lose to multilingual training on the other
languages, significantly, on question-level tests)."""

from __future__ import annotations

import json
import time

import pytest

from babelvl.errors import InputError
from babelvl.train.ablate import AblationSpec, holm, mean_delta, paired_delta, run_ablation, smoke_experiment


def mme(outcomes: list[tuple[bool, bool]]) -> list[dict]:
    """MME records: image i with its two questions right or wrong."""
    return [{"id": f"color/{i}.png#{k}", "correct": ok, "category": "color", "meta": {"image_id": f"color/{i}.png"},
             "answer": "yes" if k == 0 else "no", "prediction": "yes"}
            for i, pair in enumerate(outcomes) for k, ok in enumerate(pair)]


def mmbench(outcomes: list[list[bool]]) -> list[dict]:
    """MMBench records: question q with one record per circular pass (id = q + pass * 1e6)."""
    return [{"id": str(q + k * 1_000_000), "correct": ok, "category": "c", "meta": {}}
            for q, passes in enumerate(outcomes) for k, ok in enumerate(passes)]


def test_holm_by_hand():
    assert holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert holm([]) == []


def test_mme_delta_is_tested_on_image_pairs():
    # baseline: 10 images with one of two right (acc 0.5, acc+ 0); other: all right
    base, other = mme([(True, False)] * 10), mme([(True, True)] * 10)
    d = paired_delta("mme", base, other, draws=500)
    assert d["n_units"] == 10 and "MME image" in d["unit"]
    # McNemar over the 10 images (acc+), not the 20 questions: 10 discordant units, all one way
    assert (d["only_baseline_right"], d["only_other_right"]) == (0, 10)
    assert d["p_mcnemar"] == pytest.approx(2 / 2 ** 10)
    # on the table's scale: MME score (acc + acc+) goes 50 -> 200 of 200
    assert d["delta"] == pytest.approx(0.75) and d["ci95"] == pytest.approx([0.75, 0.75])


def test_mmbench_delta_counts_a_question_only_when_every_pass_is_right():
    base = mmbench([[True, True, True, False]] * 6 + [[True] * 4] * 2)
    other = mmbench([[True] * 4] * 8)
    d = paired_delta("mmbench", base, other, draws=500)
    assert d["n_units"] == 8 and (d["only_baseline_right"], d["only_other_right"]) == (0, 6)
    assert d["delta"] == pytest.approx(6 / 8) and d["p_mcnemar"] == pytest.approx(2 / 2 ** 6)
    lo, hi = d["ci95"]
    assert 0.3 < lo <= 0.75 <= hi <= 1.0


def test_non_english_mean_delta_resamples_units_together():
    same = [(True, True)] * 5 + [(True, False)] * 5
    # fr: score (acc + acc+) 75 + 50 = 125 -> 200, +75 of 200 = 0.375 on the table's scale; de: no change
    pairs = {"fr": (mme(same), mme([(True, True)] * 10)), "de": (mme(same), mme(same))}
    m = mean_delta("mme", pairs, draws=500)
    assert m["n_units"] == 10 and m["delta"] == pytest.approx(0.1875)
    assert m["ci95"][0] < 0.1875 < m["ci95"][1]


def test_inputs_are_checked_before_anything_trains(tmp_path):
    from babelvl.testing.tiny_models import build_tiny_vlm
    from babelvl.train import MixSource, build_mixture
    from babelvl.train.synthetic_task import write_eval_set, write_training_set

    data = write_training_set(tmp_path / "d", ["en"], per_language=4)
    mix = build_mixture([MixSource(str(data), "ama", ("en",), 1.0)], budget=4, out_dir=tmp_path / "mix")
    assert mix.total_examples == 4
    evals = write_eval_set(tmp_path / "e", ["en"], n=2)
    model = str(build_tiny_vlm("llava", tmp_path / "model"))
    spec = dict(models=[model], mixtures={"english": str(tmp_path / "mix"), "multilingual": str(tmp_path / "mix")},
                languages=["en", "fr"], out_dir=tmp_path / "out")
    started = time.perf_counter()
    with pytest.raises(InputError, match="fr"):  # the eval data has no French: refused before training
        run_ablation(AblationSpec(eval_data={"mme": str(evals)}, **spec))
    with pytest.raises(InputError):
        run_ablation(AblationSpec(eval_data={"mme": str(tmp_path / "missing")}, **{**spec, "languages": ["en"]}))
    with pytest.raises(InputError, match="baseline mixture 'english-only'"):
        run_ablation(AblationSpec(eval_data={"mme": str(evals)}, baseline="english-only",
                                  **{**spec, "languages": ["en"]}))
    with pytest.raises(InputError, match="model folder does not exist"):
        run_ablation(AblationSpec(eval_data={"mme": str(evals)}, **{**spec, "languages": ["en"],
                                                                     "models": [str(tmp_path / "nope")]}))
    assert not (tmp_path / "out" / "cells").exists() and time.perf_counter() - started < 60


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_smoke_ablation_is_a_positive_control(tmp_path):
    """English-only training answers English and not the others; multilingual answers all, significantly."""
    kwargs = dict(families=("llava",), languages=("en", "fr", "de"), per_language=240, budget=240, max_steps=150,
                  eval_items=30, draws=500)
    result = smoke_experiment(tmp_path, **kwargs)
    assert result["columns"] == ["mme/en", "mme/fr", "mme/de"]
    rows = {r["mixture"]: r["values"] for r in result["rows"]}
    assert rows["english"]["mme/en"] >= 0.9 and rows["multilingual"]["mme/en"] >= 0.9
    for lang in ("fr", "de"):
        assert rows["english"][f"mme/{lang}"] <= 0.5  # chance: one of each image's two questions right
        assert rows["multilingual"][f"mme/{lang}"] >= 0.9
        d = next(d for d in result["deltas"] if d["column"] == f"mme/{lang}")
        assert d["n_units"] == 30 and d["ci95"][0] > 0 and d["p_mcnemar"] < 0.001 and d["p_holm"] < 0.01
    mean = result["mean_deltas"][0]
    assert mean["what"] == "non-English mean" and mean["ci95"][0] > 0.2
    manifest = json.loads((tmp_path / "mixtures" / "multilingual" / "manifest.json").read_text())
    english = json.loads((tmp_path / "mixtures" / "english" / "manifest.json").read_text())
    assert manifest["budget"] == english["budget"] == 240
    text = (tmp_path / "ablation.md").read_text()
    assert "| llava | multilingual |" in text and "Δ mme non-en mean" in text and "McNemar" in text
    assert (tmp_path / "ablation.png").read_bytes()[:4] == b"\x89PNG"
    started = time.perf_counter()
    again = smoke_experiment(tmp_path, **kwargs)  # finished cells are not redone
    assert again == result and time.perf_counter() - started < 60
