"""The ablation runner on the smallest setting: synthetic data -> mixtures -> train -> evaluate -> table."""

from __future__ import annotations

import json
import time

import pytest

from babelvl.train.ablate import mcnemar_exact, smoke_experiment


def test_mcnemar_exact_hand_values():
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(0, 5) == pytest.approx(2 / 32)  # all 5 discordant pairs one way
    assert mcnemar_exact(3, 3) == 1.0
    assert mcnemar_exact(1, 9) == pytest.approx(2 * (1 + 10) / 1024)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_smallest_ablation_runs_end_to_end_and_resumes(tmp_path):
    kwargs = dict(families=("llava",), languages=("en", "fr"), per_language=16, budget=16, max_steps=4, eval_items=4)
    result = smoke_experiment(tmp_path, **kwargs)
    assert result["columns"] == ["mmbench/en", "mmbench/fr"]
    assert [(r["mixture"]) for r in result["rows"]] == ["english", "multilingual"]
    assert {d["column"] for d in result["deltas"]} == {"mmbench/en", "mmbench/fr"}
    for d in result["deltas"]:
        assert d["n_items"] == 16 and 0.0 <= d["p_mcnemar"] <= 1.0  # 4 questions x 4 circular passes
    manifest = json.loads((tmp_path / "mixtures" / "multilingual" / "manifest.json").read_text())
    english = json.loads((tmp_path / "mixtures" / "english" / "manifest.json").read_text())
    assert manifest["budget"] == english["budget"] == 16
    assert "| llava | multilingual |" in (tmp_path / "ablation.md").read_text()
    assert (tmp_path / "ablation.png").read_bytes()[:4] == b"\x89PNG"
    started = time.perf_counter()
    again = smoke_experiment(tmp_path, **kwargs)  # finished cells are not redone
    assert again == result and time.perf_counter() - started < 15
