"""End-to-end runs of ``babelvl eval`` on the sample suite with a real (tiny, random-weight) VLM."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from babelvl.cli import main
from babelvl.eval.runner import EvalSpec, run_eval
from babelvl.models import GenerationSettings, load_backend

BENCHES = ["mmbench", "scienceqa", "mme", "pope", "ai2d"]


def _metrics_only(results: dict) -> dict:
    """Results minus run-specific bits, for comparing two runs."""
    return {"benchmarks": results["benchmarks"], "consistency": results["consistency"]}


def test_cli_eval_writes_records_results_and_report(tiny_llava, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["eval", "--model", str(tiny_llava), "--suite", "sample", "--benchmarks", "all",
                 "--languages", "en,fr", "--out", str(out), "--max-new-tokens", "4"])
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert set(results["benchmarks"]) == set(BENCHES)
    for bench in BENCHES:
        for lang in ("en", "fr"):
            metrics = results["benchmarks"][bench][lang]
            assert metrics["parser"] == "babelvl" and metrics["language"] == lang
            records = [json.loads(l) for l in (out / "records" / bench / f"{lang}.jsonl").read_text().splitlines()]
            assert records, (bench, lang)
            for r in records:
                assert {"id", "prompt", "response", "prediction", "status", "correct"} <= set(r)
                assert r["correct"] == (r["prediction"] == r["answer"])
    # French prompts come from the French pack, English from the English one.
    fr_prompt = json.loads((out / "records" / "pope" / "fr.jsonl").read_text().splitlines()[0])["prompt"]
    en_prompt = json.loads((out / "records" / "pope" / "en.jsonl").read_text().splitlines()[0])["prompt"]
    assert fr_prompt != en_prompt
    assert results["consistency"]["pope"]["per_language"]["fr"]["n"] > 0
    report = (out / "report.md").read_text()
    for bench in BENCHES:
        assert f"## {bench}" in report
    assert (out / "heatmap.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<table>" in (out / "report.html").read_text()
    assert "## mme" in capsys.readouterr().out
    # honest figures: load and generation apart, rates over generation only; they are this run's, so they are
    # in the run log that results.json names (results.json itself is the same after a kill and a resume)
    from babelvl.io.runlog import read_run_log

    assert "timing" not in results and results["run_log"] == "run-log.jsonl"
    timing = list(read_run_log(out))[-1]["timing"]
    assert timing["load_seconds"] > 0 and timing["generation_seconds"] > 0
    assert timing["generated_items"] == sum(len((out / "records" / b / f"{l}.jsonl").read_text().splitlines())
                                            for b in BENCHES for l in ("en", "fr"))
    assert timing["items_per_second"] == pytest.approx(timing["generated_items"] / timing["generation_seconds"], rel=1e-3)
    assert 0 < timing["generated_tokens"] <= 4 * timing["generated_items"]
    assert timing["wall_seconds"] >= timing["load_seconds"] + timing["generation_seconds"]
    # every score carries its interval; French is compared with English on the same items
    u = results["benchmarks"]["pope"]["en"]["uncertainty"]
    assert u["unit"].startswith("POPE item") and u["metrics"]["overall.f1"]["method"] == "bootstrap"
    paired = results["paired_vs_reference"]["scienceqa"]
    assert paired["reference"] == "en" and paired["per_language"]["fr"]["n_pairs"] > 0
    assert 0 <= paired["per_language"]["fr"]["p_mcnemar"] <= 1
    assert "Languages compared with the reference (paired)" in report and "McNemar" in report
    assert "generation" in report


def test_rerun_is_fully_cached_and_identical(tiny_llava, tmp_path):
    backend = load_backend(str(tiny_llava), batch_size=4)
    settings = GenerationSettings(max_new_tokens=4)
    cache = tmp_path / "cache.sqlite"
    first = run_eval(EvalSpec(benchmarks=["pope", "mme"], languages=["en", "de"], out_dir=tmp_path / "a",
                              suite="sample", settings=settings, cache_path=cache), backend)
    second = run_eval(EvalSpec(benchmarks=["pope", "mme"], languages=["en", "de"], out_dir=tmp_path / "b",
                               suite="sample", settings=settings, cache_path=cache), backend)
    assert first["stats"]["model_calls"] == first["stats"]["items"] > 0
    assert second["stats"]["model_calls"] == 0 and second["stats"]["cache_hits"] == first["stats"]["items"]
    assert _metrics_only(first) == _metrics_only(second)


def test_an_output_folder_refuses_a_different_model_setting(tiny_llava, tmp_path):
    from babelvl.errors import InputError

    backend = load_backend(str(tiny_llava))
    spec = EvalSpec(benchmarks=["pope"], languages=["en"], out_dir=tmp_path, suite="sample",
                    settings=GenerationSettings(max_new_tokens=2))
    run_eval(spec, backend)
    spec.settings = GenerationSettings(max_new_tokens=3)
    with pytest.raises(InputError, match="another model, settings or parser"):
        run_eval(spec, backend)


KILLER = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from babelvl.eval.runner import EvalSpec, run_eval
    from babelvl.models import GenerationSettings, load_backend

    model, out, kill_after = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])

    def after_batch(done):
        if kill_after and done >= kill_after:
            os.kill(os.getpid(), signal.SIGKILL)   # a real, unclean kill

    backend = load_backend(model, batch_size=3)
    spec = EvalSpec(benchmarks=["mmbench", "pope"], languages=["en", "it"], out_dir=out, suite="sample",
                    settings=GenerationSettings(max_new_tokens=4))
    summary = run_eval(spec, backend, after_batch=after_batch)
    print("MODEL_CALLS", summary["stats"]["model_calls"], "ITEMS", summary["stats"]["items"])
""")


def _run_child(script: Path, model: Path, out: Path, kill_after: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, str(script), str(model), str(out), str(kill_after)],
                          capture_output=True, text=True, env=env, timeout=600)


def _calls(proc: subprocess.CompletedProcess) -> tuple[int, int]:
    words = proc.stdout.split()
    return int(words[words.index("MODEL_CALLS") + 1]), int(words[words.index("ITEMS") + 1])


@pytest.mark.slow
def test_kill_and_resume_matches_an_uninterrupted_run(tiny_llava, tmp_path):
    script = tmp_path / "child.py"
    script.write_text(KILLER)
    clean = _run_child(script, tiny_llava, tmp_path / "clean", 0)
    assert clean.returncode == 0, clean.stderr
    total_calls, total_items = _calls(clean)

    out = tmp_path / "killed"
    for kill_after in (4, 10, 15):  # killed three times at different points, each resume goes further
        killed = _run_child(script, tiny_llava, out, kill_after)
        assert killed.returncode == -9, killed.stderr
    # Tear the last record as a kill in the middle of a write would.
    some_records = next(p for p in sorted((out / "records").rglob("*.jsonl")) if p.stat().st_size)
    with open(some_records, "a") as fh:
        fh.write('{"id": "torn')
    finished_before = sum(len(p.read_text().splitlines()) for p in (out / "records").rglob("*.jsonl")) - 1
    answered_before = _cache_rows(out / "cache.sqlite")
    assert 0 < finished_before <= answered_before < total_calls

    resumed = _run_child(script, tiny_llava, out, 0)
    assert resumed.returncode == 0, resumed.stderr
    calls_after_resume, items_after_resume = _calls(resumed)
    # Finished items are skipped; items whose answer was cached (record lost to the kill) cost no call.
    assert items_after_resume == total_items - finished_before
    assert calls_after_resume == total_calls - answered_before
    assert _cache_rows(out / "cache.sqlite") == total_calls
    clean_results = json.loads((tmp_path / "clean" / "results.json").read_text())
    resumed_results = json.loads((out / "results.json").read_text())
    assert _metrics_only(clean_results) == _metrics_only(resumed_results)
    for path in (tmp_path / "clean" / "records").rglob("*.jsonl"):
        rel = path.relative_to(tmp_path / "clean")
        ids_clean = [json.loads(l)["id"] for l in path.read_text().splitlines()]
        ids_resumed = [json.loads(l)["id"] for l in (out / rel).read_text().splitlines()]
        assert sorted(ids_clean) == sorted(ids_resumed) and len(set(ids_resumed)) == len(ids_resumed)


def _cache_rows(path: Path) -> int:
    import sqlite3

    with sqlite3.connect(path) as con:
        table = con.execute("select name from sqlite_master where type='table'").fetchone()[0]
        return con.execute(f"select count(*) from {table}").fetchone()[0]
