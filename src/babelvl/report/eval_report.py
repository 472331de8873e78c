"""Write report.md, report.html and heatmap.png for an evaluation results dict."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from babelvl.io.files import write_atomic
from babelvl.report.columns import columns_for, fmt, headline, lookup


def with_interval(metrics: dict[str, Any], path: tuple[str, ...], kind: str) -> str:
    """A metric cell: its value, then its 95% interval when the metrics carry one ("84.0 [83.2, 84.9]")."""
    text = fmt(lookup(metrics, path), kind)
    u = lookup(metrics, ("uncertainty", "metrics")) or {}
    ci = (u.get(".".join(path)) or {}).get("ci95")
    if kind in ("frac", "pts") and ci and text != "–":
        text += f" [{fmt(ci[0], kind)}, {fmt(ci[1], kind)}]"
    return text


def benchmark_tables(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """One table per benchmark: header + one row per language; scores with their 95% intervals."""
    tables = {}
    for bench, by_lang in results["benchmarks"].items():
        cols = columns_for(bench)
        rows = [[lang] + [with_interval(m, path, kind) for _, path, kind in cols]
                for lang, m in by_lang.items()]
        tables[bench] = {"header": ["language"] + [c[0] for c in cols], "rows": rows}
    return tables


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def consistency_rows(results: dict[str, Any]) -> list[list[str]]:
    rows = []
    for bench, c in results.get("consistency", {}).items():
        for lang, m in c.get("per_language", {}).items():
            rows.append([bench, f"{c['reference']}→{lang}", str(m["n"]),
                         fmt(m["same_answer_as_reference"], "frac"),
                         fmt(m["right_in_reference_wrong_here"], "frac"),
                         fmt(m["wrong_in_reference_right_here"], "frac")])
    return rows


def timing_line(t: dict[str, Any]) -> str:
    """Load, generation (with its own rates) and wall time, never mixed into one rate."""
    rate = f"{t['items_per_second']:.1f} items/s" if t.get("items_per_second") else "no generation: all cached"
    if t.get("generated_tokens_per_second"):
        rate += f", {t['generated_tokens_per_second']:.1f} generated tokens/s"
    return (f"model load {t['load_seconds']:.1f}s, generation {t['generation_seconds']:.1f}s for "
            f"{t['generated_items']} items ({rate}), {t['cached_items']} from cache, wall {t['wall_seconds']:.1f}s")


PAIRED_HEADER = ["benchmark", "language vs reference", "metric", "difference [95% CI]", "units", "pairs",
                 "only ref right", "only this right", "McNemar p"]


def paired_rows(results: dict[str, Any]) -> list[list[str]]:
    """One row per (benchmark, language): the paired difference to the reference language."""
    rows = []
    for bench, block in results.get("paired_vs_reference", {}).items():
        for lang, d in block.get("per_language", {}).items():
            if "error" in d:
                rows.append([bench, f"{lang} − {block['reference']}", "–", d["error"], "–", "–", "–", "–", "–"])
                continue
            kind = "pts" if bench == "mme" else "frac"
            diff = "–" if d.get("value") is None else (
                f"{'+' if d['value'] >= 0 else ''}{fmt(d['value'], kind)}"
                + (f" [{fmt(d['ci95'][0], kind)}, {fmt(d['ci95'][1], kind)}]" if d.get("ci95") else ""))
            rows.append([bench, f"{lang} − {block['reference']}", d["metric"], diff, str(d["n_units"]),
                         str(d["n_pairs"]), str(d["only_ref_right"]), str(d["only_other_right"]),
                         f"{d['p_mcnemar']:.3g}"])
    return rows


CONSISTENCY_HEADER = ["benchmark", "pair", "items", "same answer %", "right in ref, wrong here %",
                      "wrong in ref, right here %"]


def draw_heatmap(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    benches = list(results["benchmarks"])
    languages = list(results["languages"])
    labels, grid = [], np.full((len(benches), len(languages)), np.nan)
    for i, bench in enumerate(benches):
        label = bench
        for j, lang in enumerate(languages):
            m = results["benchmarks"][bench].get(lang)
            if m is not None:
                label, value = headline(bench, m)
                if value is not None:
                    grid[i, j] = 100 * value
        labels.append(label)
    fig, ax = plt.subplots(figsize=(1.2 * len(languages) + 3, 0.6 * len(benches) + 1.5))
    image = ax.imshow(grid, cmap="viridis", vmin=0, vmax=100, aspect="auto")
    ax.set_xticks(range(len(languages)), languages)
    ax.set_yticks(range(len(benches)), labels)
    for i in range(len(benches)):
        for j in range(len(languages)):
            if not np.isnan(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.1f}", ha="center", va="center",
                        color="white" if grid[i, j] < 60 else "black", fontsize=9)
    fig.colorbar(image, ax=ax, label="score (%)")
    ax.set_title("benchmark × language")
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)


def write_eval_report(results: dict[str, Any], out_dir: Path) -> None:
    tables = benchmark_tables(results)
    model = results["model"]
    md = ["# babelvl evaluation report", "",
          f"- model: `{model.get('model')}` ({model.get('backend')})",
          f"- parser: `{results['parser']}`; settings: `{results['settings']}`",
          f"- babelvl {results['babelvl_version']}"]
    if results.get("timing"):
        md.append(f"- timing: {timing_line(results['timing'])}")
    elif results.get("run_log"):  # run figures stay out of the report, so a resumed run writes the same bytes
        md.append(f"- model load and generation time, items/s, tokens/s of each run: `{results['run_log']}`")
    md += ["", "![heatmap](heatmap.png)", ""]
    md += ["Scores with their 95% intervals in brackets (README, Metrics: the unit each metric resamples).", ""]
    for bench, table in tables.items():
        md += [f"## {bench}", "", markdown_table(table["header"], table["rows"]), ""]
    prow = paired_rows(results)
    if prow:
        md += ["## Languages compared with the reference (paired)", "",
               "Difference to the reference language on the same units (points for MME, percentage points "
               "otherwise), paired bootstrap 95% interval, and the exact McNemar p-value over the same items.",
               "", markdown_table(PAIRED_HEADER, prow), ""]
    crow = consistency_rows(results)
    if crow:
        md += ["## Cross-lingual consistency", "",
               "Same items (matched by id) in each language against the reference language.", "",
               markdown_table(CONSISTENCY_HEADER, crow), ""]
    write_atomic(out_dir / "report.md", "\n".join(md))
    draw_heatmap(results, out_dir / "heatmap.png")
    env = Environment(loader=PackageLoader("babelvl", "report/templates"),
                      autoescape=select_autoescape(["html", "j2"]))
    page = env.get_template("eval.html.j2").render(
        results=results, tables=tables, model=model, consistency=crow, paired=prow, paired_header=PAIRED_HEADER,
        timing=timing_line(results["timing"]) if results.get("timing") else None,
        consistency_header=CONSISTENCY_HEADER, escape=html.escape)
    write_atomic(out_dir / "report.html", page)
