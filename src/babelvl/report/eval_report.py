"""Write report.md, report.html and heatmap.png for an evaluation results dict."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from babelvl.io.files import write_atomic
from babelvl.report.columns import columns_for, fmt, headline, lookup


def benchmark_tables(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """One table per benchmark: header + one row per language."""
    tables = {}
    for bench, by_lang in results["benchmarks"].items():
        cols = columns_for(bench)
        rows = [[lang] + [fmt(lookup(m, path), kind) for _, path, kind in cols]
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
          f"- babelvl {results['babelvl_version']}", "", "![heatmap](heatmap.png)", ""]
    for bench, table in tables.items():
        md += [f"## {bench}", "", markdown_table(table["header"], table["rows"]), ""]
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
        results=results, tables=tables, model=model, consistency=crow,
        consistency_header=CONSISTENCY_HEADER, escape=html.escape)
    write_atomic(out_dir / "report.html", page)
