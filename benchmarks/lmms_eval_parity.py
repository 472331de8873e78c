"""Published answers replayed through real lmms-eval on babelvl-exported tasks: the same numbers three ways.

For each predictions file of a folder laid out like ``../shared/realdata`` (``<benchmark>/<data>.parquet`` and
``<benchmark>/predictions/*.jsonl``), this exports the data as an lmms-eval task (``babelvl export --to
lmms-eval``), feeds the answers to lmms-eval's ``from_log`` model (its replay of logged responses, keyed by
``doc_id``), runs the real lmms-eval CLI with ``--log_samples``, and prints, per metric, lmms-eval's number,
``babelvl score`` on lmms-eval's samples file, and ``babelvl score`` on the original predictions. All three must
agree. lmms-eval is installed from PyPI into its own cached venv on first use (a few minutes).

    python benchmarks/lmms_eval_parity.py ../shared/realdata [--out /tmp/lmms-parity]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path

import pyarrow.parquet as pq

import babelvl
from babelvl.eval.score_predictions import score_predictions
from babelvl.interop.export import export
from babelvl.interop.lmms_eval import TASK_METRICS, metric_value
from babelvl.interop.peer_specs import lmms_eval_python


def cases(root: Path) -> list[tuple[str, Path, Path]]:
    found = []
    for bench in sorted(TASK_METRICS):
        folder = root / bench
        data = sorted(folder.glob("*.parquet"))
        for pred in sorted((folder / "predictions").glob("*.jsonl")) if data else []:
            # the data file with one row per prediction (POPE has two question sets of different sizes)
            lines = sum(1 for line in pred.open(encoding="utf-8") if line.strip())
            sized = [d for d in data if pq.ParquetFile(d).metadata.num_rows == lines]
            found.append((bench, (sized or data)[0], pred))
    return found


def replay_log(items: list[dict], pred: Path, task: str, folder: Path) -> None:
    """lmms-eval's ``from_log`` input: one JSON with ``logs`` of ``{doc_id, resps: [[text]]}``."""
    answers = {}
    for line in pred.open(encoding="utf-8"):
        obj = json.loads(line)
        answers[("id", str(obj["id"])) if "id" in obj else ("row", obj["row"])] = obj["response"]
    logs = [{"doc_id": n, "resps": [[answers.get(("id", it["id"]), answers.get(("row", it["row"]), ""))]]}
            for n, it in enumerate(items)]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "log.json").write_text(json.dumps({
        "args": {"model": "replay", "model_args": "", "limit": None}, "model_configs": {"task": task},
        "time": "0101_0000", "logs": logs}), encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", type=Path)
    ap.add_argument("--out", type=Path, default=Path("/tmp/lmms-parity"))
    args = ap.parse_args()
    python = lmms_eval_python()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "PYTHONPATH": str(Path(babelvl.__file__).resolve().parents[1])}
    print("| benchmark | predictions | metric | lmms-eval | babelvl score (samples) | babelvl score (jsonl) |")
    print("|---|---|---|---|---|---|")
    for n, (bench, data, pred) in enumerate(cases(args.root)):
        out = args.out / f"{n}-{bench}-{pred.stem}"
        manifest = export(data, out / "tasks", to="lmms-eval", benchmark=bench, languages=["en"])
        entry = manifest["exports"][0]
        items = [json.loads(c) for c in pq.read_table(entry["data_file"], columns=["babelvl_item"])
                 .column(0).to_pylist()]
        replay_log(items, pred, entry["task"], out / "replay")
        started = time.perf_counter()
        done = subprocess.run([str(python), "-m", "lmms_eval", "eval", "--model", "from_log", "--model_args",
                               f"logs={out / 'replay'}", "--tasks", entry["task"], "--include_path",
                               str(out / "tasks"), "--batch_size", "1", "--log_samples", "--output_path",
                               str(out / "lmms")], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"lmms-eval failed on {pred}:\n{done.stderr[-3000:]}")
        seconds = time.perf_counter() - started
        results = json.loads(next((out / "lmms").rglob("*_results.json")).read_text())["results"][entry["task"]]
        samples = next((out / "lmms").rglob(f"*_samples_{entry['task']}.jsonl"))
        on_samples = score_predictions(benchmark=bench, data=str(data), predictions=samples)
        on_jsonl = score_predictions(benchmark=bench, data=str(data), predictions=pred)
        for name, path in TASK_METRICS[bench].items():
            print(f"| {bench} | {pred.stem} | {name} | {results[f'{name},none']:.4f} | "
                  f"{metric_value(on_samples, path):.4f} | {metric_value(on_jsonl, path):.4f} |")
        print(f"<!-- {bench} {pred.stem}: {len(items)} docs, lmms-eval {seconds:.0f} s -->")


if __name__ == "__main__":
    main()
