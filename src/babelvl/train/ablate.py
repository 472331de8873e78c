"""``babelvl ablate``: train each model on each mixture, evaluate with the harness, compare.

A cell is one (model, mixture). Before any cell trains, every input is checked (:func:`validate`): the
baseline is one of the mixtures, every mixture folder holds a ``train.jsonl``, every local model exists,
and every ``--data`` benchmark loads in every language with at least one item, so a typo in the last
argument does not cost hours of training. Each finished cell leaves ``cells/<cell>/cell.json``; a re-run
skips finished cells and resumes an interrupted one from its last training checkpoint (the trainer
resumes) and its evaluation records (the harness resumes).

The comparison is the paper's table: one row per model x mixture, one column per benchmark x language
(each benchmark's headline score), then per benchmark the mean over the non-English languages, the English
delta and the non-English-mean delta against the baseline mixture of the same model. Every delta is
computed on the benchmark's own independent unit (:mod:`babelvl.eval.uncertainty`: a CircularEval question
with all its passes, an MME image with its two questions, otherwise an item), paired between the two
mixtures, with a seeded percentile bootstrap interval over those units (the non-English mean resamples the
same units in every language together, since they are translations of one question) and an exact McNemar
test over the units (a unit counts as right when the whole unit is: all circular passes, both MME
questions). p-values are also given Holm-adjusted over all the per-language tests of the run.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from babelvl import __version__, ui
from babelvl.errors import InputError
from babelvl.eval.uncertainty import (
    DRAWS,
    bootstrap_ci,
    headline_metric,
    paired_difference,
    paired_units,
)
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
                             seed=spec.seed, save_steps=max(1, spec.max_steps // 2), quiet=True,
                             **spec.train_options))
    trained = result.checkpoint_dir
    if (Path(trained) / "adapter_config.json").exists():
        trained = merge_lora(trained, cell / "merged")
    console.print(f"[bold]cell[/bold] {model} x {mixture}: evaluating")
    summary = run_eval(EvalSpec(benchmarks=list(spec.eval_data), languages=spec.languages, out_dir=cell / "eval",
                                data=spec.eval_data, settings=GenerationSettings(max_new_tokens=spec.max_new_tokens),
                                limit=spec.eval_limit), load_backend(str(trained), batch_size=16), console=console)
    record = {"model": model, "mixture": mixture, "checkpoint": str(trained),
              "train": {"steps": result.steps, "final_loss": result.final_loss,
                        "samples_per_second": result.samples_per_second},
              "metrics": summary["benchmarks"], "eval_dir": str(cell / "eval")}
    write_json_atomic(done, record)
    return record


def validate(spec: AblationSpec) -> None:
    """Every input of the ablation, checked before anything trains (module docstring)."""
    from babelvl.benchmarks.base import Rejected
    from babelvl.benchmarks.registry import get_benchmark
    from babelvl.data.loading import load_rows
    from babelvl.eval.sources import source_for
    from babelvl.train.mixture import read_mixture

    if spec.baseline not in spec.mixtures:
        raise InputError(f"the baseline mixture '{spec.baseline}' is not among the mixtures "
                         f"({', '.join(spec.mixtures)})", field="--baseline")
    for name, folder in spec.mixtures.items():
        if not read_mixture(folder):
            raise InputError(f"mixture '{name}' has no training examples", file=str(folder))
    for model in spec.models:
        looks_local = Path(model).is_absolute() or model.startswith(".") or model.count("/") != 1
        if looks_local and not Path(model).exists():
            raise InputError("model folder does not exist (and it is not a Hub id)", file=model, field="--model")
    for bench_name, data in spec.eval_data.items():
        bench = get_benchmark(bench_name)
        for language in spec.languages:
            source = source_for(bench, language, data=data, suite=None)
            rows = load_rows(source.source, config=source.config, split=source.split, language=language)
            if not any(not isinstance(i, Rejected) for i in bench.iter_items(rows, language, source.source)):
                raise InputError(f"no usable {bench_name} item in '{language}'", file=str(source.source),
                                 field="--data")


def _records(cell: dict[str, Any], bench: str, lang: str) -> list[dict[str, Any]]:
    return read_jsonl_tolerant(Path(cell["eval_dir"]) / "records" / bench / f"{lang}.jsonl")


def _scale(bench: str, units: Any) -> float:
    """Factor from the paired metric to the table's headline value (``report.columns.headline``):
    MME's paired metric is the total of category scores, the table shows their mean / 200."""
    if bench == "mme":
        return 1.0 / (200 * max(1, len(set(units.strata))))
    return 1.0


def paired_delta(bench: str, ref: list[dict[str, Any]], other: list[dict[str, Any]], *, draws: int = DRAWS,
                 seed: int = 0) -> dict[str, Any]:
    """other - ref on the table's scale, with a paired bootstrap 95% interval and McNemar over whole units."""
    a, _ = paired_units(bench, ref, other)
    diff = paired_difference(bench, ref, other, draws=draws, seed=seed)  # McNemar over whole units
    k = _scale(bench, a)
    return {"delta": None if diff.get("value") is None else diff["value"] * k,
            "ci95": None if diff.get("ci95") is None else [v * k for v in diff["ci95"]],
            "unit": a.unit, "n_units": len(a.keys), "only_baseline_right": diff["only_ref_right"],
            "only_other_right": diff["only_other_right"], "p_mcnemar": diff["p_mcnemar"], "metric": diff["metric"]}


def mean_delta(bench: str, pairs: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]], *,
               draws: int = DRAWS, seed: int = 0) -> dict[str, Any]:
    """Mean over languages of other - ref, bootstrapped over the units common to every language
    (resampled together: a unit is the same question in every language)."""
    from babelvl.eval.uncertainty import benchmark_units

    firsts = {lang: paired_units(bench, ref, other) for lang, (ref, other) in pairs.items()}
    common = set.intersection(*(set(a.keys) for a, _ in firsts.values())) if firsts else set()
    order = [key for key in next(iter(firsts.values()))[0].keys if key in common] if firsts else []
    if not order:
        return {"delta": None, "ci95": None, "n_units": 0}
    blocks, stats_fns, metric, strata = [], [], None, None
    for lang, (ref, other) in pairs.items():
        for records in (ref, other):
            units = benchmark_units(bench, records, keep=common)
            position = {key: i for i, key in enumerate(units.keys)}
            blocks.append(units.stats[[position[key] for key in order]])
            stats_fns.append(units.statistic)
            if metric is None:
                metric = headline_metric(bench, units)
                strata = [units.strata[position[key]] for key in order]
                scale = _scale(bench, units)
    widths = [b.shape[1] for b in blocks]
    bounds = np.cumsum([0] + widths)

    def statistic(sums: np.ndarray) -> dict[str, np.ndarray]:
        values = [stats_fns[i](sums[:, bounds[i]:bounds[i + 1]])[metric] for i in range(len(blocks))]
        deltas = [values[i + 1] - values[i] for i in range(0, len(values), 2)]
        return {"delta": scale * sum(deltas) / len(deltas)}

    summary = bootstrap_ci(np.hstack(blocks), statistic, strata=strata, draws=draws, seed=seed)["delta"]
    return {"delta": summary["value"], "ci95": summary["ci95"], "n_units": len(order), "languages": list(pairs)}


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment (controls the family-wise error over all tests of one ablation)."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted, running = [0.0] * len(p_values), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def compare(spec: AblationSpec, cells: list[dict[str, Any]], *, draws: int = DRAWS) -> dict[str, Any]:
    benches = list(spec.eval_data)
    others = [l for l in spec.languages if l != "en"]
    columns = [f"{b}/{l}" for b in benches for l in spec.languages]
    rows, deltas, summary = [], [], []
    by_key = {(c["model"], c["mixture"]): c for c in cells}
    for c in cells:
        values = {f"{b}/{l}": headline(b, c["metrics"][b][l])[1] for b in benches for l in spec.languages}
        means = {b: _mean([values[f"{b}/{l}"] for l in others]) for b in benches}
        rows.append({"model": c["model"], "mixture": c["mixture"], "values": values, "non_english_mean": means,
                     "train": c["train"]})
    for model in spec.models:
        base = by_key.get((model, spec.baseline))
        for mixture in spec.mixtures:
            other = by_key.get((model, mixture))
            if base is None or other is None or mixture == spec.baseline:
                continue
            for b in benches:
                for l in spec.languages:
                    try:
                        d = paired_delta(b, _records(base, b, l), _records(other, b, l), draws=draws,
                                         seed=spec.seed)
                    except ValueError as exc:  # the two cells saw different data (e.g. other categories)
                        d = {"delta": None, "ci95": None, "unit": "", "n_units": 0, "only_baseline_right": 0,
                             "only_other_right": 0, "p_mcnemar": 1.0, "error": str(exc)}
                    deltas.append({"model": model, "mixture": mixture, "column": f"{b}/{l}", **d})
                if others:
                    m = mean_delta(b, {l: (_records(base, b, l), _records(other, b, l)) for l in others},
                                   draws=draws, seed=spec.seed)
                    summary.append({"model": model, "mixture": mixture, "benchmark": b, "what": "non-English mean",
                                    **m})
    for d, adjusted in zip(deltas, holm([d["p_mcnemar"] for d in deltas])):
        d["p_holm"] = adjusted
    return {"babelvl_version": __version__, "baseline": spec.baseline, "columns": columns,
            "benchmarks": benches, "languages": spec.languages, "rows": rows, "deltas": deltas,
            "mean_deltas": summary, "draws": draws, "seed": spec.seed}


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _fmt(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f}"


def _fmt_delta(d: dict[str, Any] | None) -> str:
    if d is None or d.get("delta") is None:
        return "–"
    ci = d.get("ci95")
    return f"{100 * d['delta']:+.1f}" + (f" [{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]" if ci else "")


def _fmt_p(p: float) -> str:
    return f"{p:.2g}" if p < 0.001 else f"{p:.3f}"


def report_markdown(result: dict[str, Any]) -> str:
    """The paper's table, then every delta with its interval and tests."""
    benches, base = result["benchmarks"], result["baseline"]
    delta_of = {(d["model"], d["mixture"], d["column"]): d for d in result["deltas"]}
    mean_of = {(m["model"], m["mixture"], m["benchmark"]): m for m in result["mean_deltas"]}
    header = ["model", "mixture"] + result["columns"]
    for b in benches:
        header += [f"{b} non-en mean", f"Δ {b}/en", f"Δ {b} non-en mean"]
    lines = []
    for r in result["rows"]:
        cells = [Path(r["model"]).name, r["mixture"]] + [_fmt(r["values"][c]) for c in result["columns"]]
        for b in benches:
            key = (r["model"], r["mixture"])
            cells += [_fmt(r["non_english_mean"][b]), _fmt_delta(delta_of.get((*key, f"{b}/en"))),
                      _fmt_delta(mean_of.get((*key, b)))]
        lines.append(cells)
    table = markdown_table(header, lines)
    detail = markdown_table(
        ["model", f"mixture vs {base}", "column", "delta (points) [95% CI]", "units", "unit", "b / c", "McNemar p",
         "Holm p"],
        [[Path(d["model"]).name, d["mixture"], d["column"], _fmt_delta(d), str(d["n_units"]), d["unit"],
          f"{d['only_baseline_right']} / {d['only_other_right']}", _fmt_p(d["p_mcnemar"]), _fmt_p(d["p_holm"])]
         for d in result["deltas"]])
    return "\n".join([
        "# Ablation: training mixtures compared", "",
        "Scores in % (each benchmark's headline: MMBench CircularEval accuracy, MME mean category score / 200, "
        "POPE F1, accuracy otherwise). Δ columns: the mixture minus the "
        f"`{base}` mixture of the same model, in points, with a paired bootstrap 95% interval over the "
        f"benchmark's units ({result['draws']} draws, seed {result['seed']}).", "",
        "![ablation](ablation.png)", "", table, "", "## Every delta", "",
        "b / c: units right only with the baseline / only with the mixture; McNemar: exact test on those "
        "discordant units; Holm: adjusted over all the tests in this table.", "", detail, ""])


def write_comparison(result: dict[str, Any], out_dir: Path) -> None:
    import markdown

    write_json_atomic(out_dir / "ablation.json", result)
    text = report_markdown(result)
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


def run_ablation(spec: AblationSpec, *, console: Console | None = None, draws: int = DRAWS) -> dict[str, Any]:
    console = console or ui.console()
    validate(spec)
    spec.out_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(spec.out_dir / "ablation_spec.json", {**asdict(spec), "out_dir": str(spec.out_dir)})
    cells = [run_cell(spec, model, mixture, console) for model in spec.models for mixture in spec.mixtures]
    result = compare(spec, cells, draws=draws)
    write_comparison(result, spec.out_dir)
    return result


def smoke_experiment(out_dir: Path, *, families: tuple[str, ...] = ("llava", "idefics3", "paligemma"),
                     languages: tuple[str, ...] = ("en", "fr", "de", "it", "es"), per_language: int = 400,
                     budget: int = 400, max_steps: int = 200, batch_size: int = 8, eval_items: int = 40,
                     seed: int = 0, lr: float = 1e-2, threads: int | None = 1,
                     draws: int = DRAWS) -> dict[str, Any]:
    """The whole loop at CPU smoke scale, as a POSITIVE CONTROL (``synthetic_task``): synthetic data ->
    English-only and multilingual mixtures at one budget -> train tiny random-weight models -> evaluate
    (MME schema: an image with a yes and a no question) -> the table with paired tests.

    The answer depends only on a colour word of the question's language, so the English-only models should
    be right in English and at chance elsewhere, the multilingual ones right everywhere: a check that the
    machinery can see an effect, NOT the paper's result. ``threads`` (torch intra-op threads, restored
    afterwards) defaults to 1: on a small shared CPU, two threads fighting other processes for two cores ran
    this training about 10x slower than one thread (``benchmarks/train_speed.py --threads 1,2``: 100.5 vs 10.4
    samples/s on the 2-core build machine at load average 10.4).
    """
    import torch

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
    spec = AblationSpec(models=models, mixtures=mixtures, eval_data={"mme": str(evals)},
                        languages=list(languages), out_dir=out_dir, max_steps=max_steps, seed=seed, lr=lr,
                        batch_size=batch_size, max_new_tokens=4)
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        return run_ablation(spec, draws=draws)
    finally:
        torch.set_num_threads(before)
