"""Real lmms-eval (from PyPI, in its own venv) runs babelvl-exported French tasks; its numbers equal babelvl's.

Two runs of the real ``lmms-eval eval`` CLI on tasks written by ``babelvl export --to lmms-eval``:
- a tiny random-weight LLaVA through lmms-eval's own ``llava_hf`` model (``--log_samples``): lmms-eval's numbers
  equal ``babelvl score`` on the samples file it wrote;
- lmms-eval's ``openai`` model and ``babelvl eval --model openai:`` against one loopback server (a test double for
  a model server: a true external boundary) that answers in French, chattily ("Oui.", "Il n'y a aucun chien.",
  "La bonne réponse est B) ..."): both tools get the same answers, and lmms-eval's numbers equal ``babelvl eval``'s
  and ``babelvl score``'s, with "Oui"/"Non" read as yes/no (lmms-eval's own MME scorer reads them as "other").

The venv is built once per machine (``~/.cache/babelvl/peers``): about 3 minutes on the 2-core dev machine.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import babelvl
from babelvl.benchmarks.sample_suite import materialize_sample_suite
from babelvl.cli import main
from babelvl.eval.score_predictions import score_predictions
from babelvl.interop.lmms_eval import TASK_METRICS, metric_value
from babelvl.testing.openai_server import FakeVLMServer

pytestmark = pytest.mark.slow

BENCHMARKS = ("mme", "pope", "mmbench")


@pytest.fixture(scope="module")
def lmms_python():
    from babelvl.interop.peer_specs import lmms_eval_python

    return lmms_eval_python()


@pytest.fixture(scope="module")
def translated(tmp_path_factory):
    """A translated set per benchmark, laid out as ``babelvl translate`` writes it (with provenance columns)."""
    suite = materialize_sample_suite(tmp_path_factory.mktemp("suite"))
    root = tmp_path_factory.mktemp("translated")
    for bench in BENCHMARKS:
        for lang in ("en", "fr"):
            table = pq.read_table(suite[(bench, lang)])
            table = table.append_column("babelvl_provenance", pa.array(["{}"] * table.num_rows))
            (root / bench / lang).mkdir(parents=True)
            pq.write_table(table, root / bench / lang / "test-00000-of-00001.parquet")
        (root / bench / "translate.json").write_text(json.dumps({"benchmark": bench}))
    return root


@pytest.fixture(scope="module")
def tasks(translated, tmp_path_factory):
    out = tmp_path_factory.mktemp("tasks")
    for bench in BENCHMARKS:
        assert main(["export", "--to", "lmms-eval", "--data", str(translated / bench), "--languages", "fr",
                     "--out", str(out)]) == 0
    return out


def _lmms_eval(python: Path, tasks: Path, out: Path, names: list[str], model: str, model_args: str,
               *extra: str) -> tuple[dict, dict[str, Path]]:
    """Run the real lmms-eval CLI; return its results and each task's samples file."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           # the exported utils.py imports babelvl: make this checkout importable in lmms-eval's venv
           "PYTHONPATH": str(Path(babelvl.__file__).resolve().parents[1])}
    cmd = [str(python), "-m", "lmms_eval", "eval", "--model", model, "--model_args", model_args,
           "--tasks", ",".join(names), "--include_path", str(tasks), "--batch_size", "1",
           "--log_samples", "--output_path", str(out), *extra]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, cwd=out.parent)
    assert done.returncode == 0, f"lmms-eval failed:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
    results = json.loads(Path(glob.glob(str(out / "*" / "*_results.json"))[0]).read_text())["results"]
    samples = {name: Path(glob.glob(str(out / "*" / f"*_samples_{name}.jsonl"))[0]) for name in names}
    return results, samples


def _assert_same(lmms: dict, metrics: dict, bench: str) -> None:
    for name, path in TASK_METRICS[bench].items():
        assert lmms[f"{name},none"] == pytest.approx(metric_value(metrics, path), abs=1e-9), (bench, name)


def test_tiny_llava_through_lmms_eval_equals_babelvl_score(lmms_python, tasks, translated, tiny_llava, tmp_path):
    names = ["babelvl_mme_fr", "babelvl_pope_fr"]
    results, samples = _lmms_eval(lmms_python, tasks, tmp_path / "lmms", names, "llava_hf",
                                  f"pretrained={tiny_llava},device_map=cpu", "--device", "cpu",
                                  "--gen_kwargs", "max_new_tokens=8")
    for name in names:
        bench = name.split("_")[1]
        records = tmp_path / f"{bench}.jsonl"
        metrics = score_predictions(benchmark=bench, data=str(translated / bench), language="fr",
                                    predictions=samples[name], records=records)
        assert metrics["predictions_format"] == "lmms-eval"
        lines = [json.loads(l) for l in records.read_text().splitlines()]
        assert len(lines) == sum(1 for _ in samples[name].open()) and all(r["status"] != "missing" for r in lines)
        _assert_same(results[name], metrics, bench)


def _french_answer(prompt: str, gold: dict[str, str]) -> str:
    """A chatty French model: right on most items, in several styles, wrong on some (picked by a hash)."""
    answer = gold[prompt]
    pick = int(hashlib.sha256(prompt.encode()).hexdigest(), 16) % 5
    if answer in ("yes", "no"):
        if pick == 4:  # wrong
            answer = "no" if answer == "yes" else "yes"
        styles = {"yes": ["Oui.", "Oui, c'est bien le cas.", "Oui"], "no": ["Non.", "Non, pas du tout.", "Non"]}
        return styles[answer][pick % 3]
    letters = sorted(json.loads(gold["__options__" + prompt]))
    if pick == 4:
        answer = next(l for l in letters if l != answer)
    text = json.loads(gold["__options__" + prompt])[answer]
    return [f"La bonne réponse est {answer}) {text}", f"Réponse : {answer}", f"({answer})", f"{answer}."][pick % 4]


def test_french_answers_score_the_same_in_lmms_eval_and_babelvl_eval(lmms_python, tasks, translated, tmp_path):
    gold: dict[str, str] = {}
    for bench in BENCHMARKS:
        table = pq.read_table(tasks / f"babelvl_{bench}_fr" / "test.parquet", columns=["babelvl_item"])
        for cell in table.column("babelvl_item").to_pylist():
            item = json.loads(cell)
            gold[item["prompt"]] = item["answer"]
            gold["__options__" + item["prompt"]] = json.dumps(item["options"])

    def respond(prompt: str, images: list[bytes]) -> str:
        assert len(images) == 1
        return _french_answer(prompt.strip(), gold)

    names = [f"babelvl_{bench}_fr" for bench in BENCHMARKS]
    with FakeVLMServer(respond) as server:
        results, samples = _lmms_eval(
            lmms_python, tasks, tmp_path / "lmms", names, "openai",
            f"model_version=fake-vlm,base_url={server.base_url},api_key=none,num_concurrent=4")
        run = tmp_path / "run"
        data = [f"--data={bench}={translated / bench}" for bench in BENCHMARKS]
        assert main(["eval", "--model", "openai:fake-vlm", "--api-base", server.base_url, "--benchmarks",
                     ",".join(BENCHMARKS), "--languages", "fr", *data, "--out", str(run)]) == 0
    ours = json.loads((run / "results.json").read_text())["benchmarks"]
    for bench, name in zip(BENCHMARKS, names):
        _assert_same(results[name], ours[bench]["fr"], bench)
        scored = score_predictions(benchmark=bench, data=str(translated / bench), language="fr",
                                   predictions=samples[name])
        _assert_same(results[name], scored, bench)
    # "Oui"/"Non" are read as yes/no: MME is far above what lmms-eval's own scorer gives them (0 right).
    assert results["babelvl_mme_fr"]["total,none"] > 100
    assert ours["mme"]["fr"]["n_unparseable"] == 0
