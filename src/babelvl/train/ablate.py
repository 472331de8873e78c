"""``babelvl ablate``: train each model on each mixture, evaluate with the harness, compare.

A cell is one (model, mixture). Each finished cell leaves ``cells/<cell>/cell.json``; a re-run skips
finished cells and resumes an interrupted one from its last training checkpoint (the trainer resumes)
and its evaluation records (the harness resumes). The comparison table has one row per model x mixture,
one column per benchmark x language, and the delta of every mixture over the baseline (English-only)
with an exact McNemar test over the paired items.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from babelvl import ui
from babelvl import __version__
from babelvl.io.files import read_jsonl_tolerant, write_atomic, write_json_atomic
from babelvl.report.columns import headline
from babelvl.report.eval_report import markdown_table


@dataclass
class AblationSpec:
    models: list[str]
    mixtures: dict[str, str]
    """name -> mixture folder (``babelvl mix`` output)."""
    eval_data: dict[str, str]
    """benchmark -> data (a folder with one subfolder per language, a Hub id...)."""
    languages: list[str]
    out_dir: Path
    baseline: str = "english"
    method: str = "full"
    max_steps: int = 20
    lr: float = 1e-3
    batch_size: int = 4
    seed: int = 0
    max_new_tokens: int = 8
    eval_limit: int | None = None
    train_options: dict[str, Any] = field(default_factory=dict)


def _cell_name(model: str, mixture: str) -> str:
    return f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', Path(model).name or model)}__{mixture}"


def run_cell(spec: AblationSpec, model: str, mixture: str, console: Console) -> dict[str, Any]:
    from babelvl.eval.runner import EvalSpec, run_eval
    from babelvl.models import GenerationSettings, load_backend
    from babelvl.train.trainer import TrainSpec, merge_lora, train

    cell = spec.out_dir / "cells" / _cell_name(model, mixture)
    done = cell / "cell.json"
    if done.exists():
        return json.loads(done.read_text(encoding="utf-8"))
    console.print(f"[bold]cell[/bold] {model} x {mixture}: training")
    result = train(TrainSpec(model=model, mixture_dir=spec.mixtures[mixture], out_dir=cell / "train",
                             method=spec.method, max_steps=spec.max_steps, lr=spec.lr, batch_size=spec.batch_size,
                             seed=spec.seed, save_steps=max(1, spec.max_steps // 2), **spec.train_options))
    trained = result.checkpoint_dir
    if (Path(trained) / "adapter_config.json").exists():
        trained = merge_lora(trained, cell / "merged")
    console.print(f"[bold]cell[/bold] {model} x {mixture}: evaluating")
    summary = run_eval(EvalSpec(benchmarks=list(spec.eval_data), languages=spec.languages, out_dir=cell / "eval",
                                data=spec.eval_data, settings=GenerationSettings(max_new_tokens=spec.max_new_tokens),
                                limit=spec.eval_limit), load_backend(str(trained), batch_size=8), console=console)
    record = {"model": model, "mixture": mixture, "checkpoint": str(trained),
              "train": {"steps": result.steps, "final_loss": result.final_loss,
                        "samples_per_second": result.samples_per_second},
              "metrics": summary["benchmarks"], "eval_dir": str(cell / "eval")}
    write_json_atomic(done, record)
    return record


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pairs (b: only A right, c: only B right).

    Written out (a binomial tail) rather than adding a statistics dependency for one formula.
    """
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def _correct(cell: dict[str, Any], bench: str, lang: str) -> dict[str, bool]:
    path = Path(cell["eval_dir"]) / "records" / bench / f"{lang}.jsonl"
    return {r["id"]: bool(r["correct"]) for r in read_jsonl_tolerant(path)}


def compare(spec: AblationSpec, cells: list[dict[str, Any]]) -> dict[str, Any]:
    columns = [(b, l) for b in spec.eval_data for l in spec.languages]
    rows, deltas = [], []
    by_key = {(c["model"], c["mixture"]): c for c in cells}
    for c in cells:
        values = {f"{b}/{l}": headline(b, c["metrics"][b][l])[1] for b, l in columns}
        rows.append({"model": c["model"], "mixture": c["mixture"], "values": values, "train": c["train"]})
    for model in spec.models:
        base = by_key.get((model, spec.baseline))
        for mixture in spec.mixtures:
            other = by_key.get((model, mixture))
            if base is None or other is None or mixture == spec.baseline:
                continue
            for b, l in columns:
                a, o = _correct(base, b, l), _correct(other, b, l)
                shared = sorted(set(a) & set(o))
                only_base = sum(1 for i in shared if a[i] and not o[i])
                only_other = sum(1 for i in shared if o[i] and not a[i])
                va = headline(b, base["metrics"][b][l])[1]
                vo = headline(b, other["metrics"][b][l])[1]
                deltas.append({"model": model, "mixture": mixture, "column": f"{b}/{l}",
                               "delta": None if va is None or vo is None else vo - va,
                               "n_items": len(shared), "p_mcnemar": mcnemar_exact(only_base, only_other)})
    return {"babelvl_version": __version__, "baseline": spec.baseline, "columns": [f"{b}/{l}" for b, l in columns],
            "rows": rows, "deltas": deltas}


def write_comparison(result: dict[str, Any], out_dir: Path) -> None:
    import markdown

    write_json_atomic(out_dir / "ablation.json", result)
    fmt = lambda v: "–" if v is None else f"{100 * v:.1f}"  # noqa: E731
    table = markdown_table(["model", "mixture"] + result["columns"],
                           [[Path(r["model"]).name, r["mixture"]] + [fmt(r["values"][c]) for c in result["columns"]]
                            for r in result["rows"]])
    delta_table = markdown_table(["model", "mixture vs " + result["baseline"], "column", "delta (points)", "items",
                                  "McNemar p"],
                                 [[Path(d["model"]).name, d["mixture"], d["column"],
                                   "–" if d["delta"] is None else f"{100 * d['delta']:+.1f}", str(d["n_items"]),
                                   f"{d['p_mcnemar']:.3f}"] for d in result["deltas"]])
    text = "\n".join(["# Ablation: training mixtures compared", "",
                      "Scores in % (each benchmark's headline metric). Deltas are each mixture minus the "
                      f"`{result['baseline']}` baseline for the same model; p: exact McNemar test over paired items.",
                      "", "![ablation](ablation.png)", "", table, "", "## Deltas", "", delta_table, ""])
    write_atomic(out_dir / "ablation.md", text)
    write_atomic(out_dir / "ablation.html", "<!doctype html><meta charset='utf-8'><title>ablation</title>"
                 "<style>table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem}</style>"
                 + markdown.markdown(text, extensions=["tables"]))
    _plot(result, out_dir / "ablation.png")


def _plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    cols, rows = result["columns"], result["rows"]
    x = np.arange(len(cols))
    width = 0.8 / max(1, len(rows))
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(cols) + 2), 3.5))
    for i, r in enumerate(rows):
        ax.bar(x + i * width, [100 * (r["values"][c] or 0) for c in cols], width,
               label=f"{Path(r['model']).name} / {r['mixture']}")
    ax.set_xticks(x + 0.4 - width / 2, cols, rotation=30, ha="right")
    ax.set_ylabel("score (%)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run_ablation(spec: AblationSpec, *, console: Console | None = None) -> dict[str, Any]:
    console = console or ui.console()
    spec.out_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(spec.out_dir / "ablation_spec.json", {**asdict(spec), "out_dir": str(spec.out_dir)})
    cells = [run_cell(spec, model, mixture, console) for model in spec.models for mixture in spec.mixtures]
    result = compare(spec, cells)
    write_comparison(result, spec.out_dir)
    return result


def smoke_experiment(out_dir: Path, *, families: tuple[str, ...] = ("llava", "idefics3", "paligemma"),
                     languages: tuple[str, ...] = ("en", "fr", "de", "it", "es"), per_language: int = 48,
                     budget: int = 48, max_steps: int = 30, eval_items: int = 20, seed: int = 0,
                     lr: float = 1e-2) -> dict[str, Any]:
    """The whole loop at CPU smoke scale: synthetic data -> mixtures -> train -> evaluate -> table.

    A check of the machinery on tiny random-weight models, NOT the paper's result.
    """
    from babelvl.testing.tiny_models import build_tiny_vlm
    from babelvl.train.mixture import MixSource, build_mixture
    from babelvl.train.synthetic_task import write_eval_set, write_training_set

    data = write_training_set(out_dir / "data" / "train", list(languages), per_language=per_language, seed=seed)
    evals = write_eval_set(out_dir / "data" / "eval", list(languages), n=eval_items)
    mixtures = {}
    for name, langs in (("english", ("en",)), ("multilingual", languages)):
        mix_dir = out_dir / "mixtures" / name
        if not (mix_dir / "manifest.json").exists():
            build_mixture([MixSource(path=str(data), kind="ama", languages=tuple(langs), share=1.0,
                                     image_dir=str(data / "images"))], budget=budget, seed=seed, out_dir=mix_dir)
        mixtures[name] = str(mix_dir)
    models = [str(build_tiny_vlm(f, out_dir / "models" / f)) for f in families]
    spec = AblationSpec(models=models, mixtures=mixtures, eval_data={"mmbench": str(evals)},
                        languages=list(languages), out_dir=out_dir, max_steps=max_steps, seed=seed, lr=lr)
    return run_ablation(spec)
