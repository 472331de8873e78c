"""``babelvl annotate report``: Markdown + HTML (+ plots) of a human assessment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from babelvl import __version__
from babelvl.io.files import write_atomic, write_json_atomic
from babelvl.quality.analysis import (Thresholds, agreement_report, error_categories, score_annotations,
                                      score_summary, verdicts)
from babelvl.quality.protocols import Protocol
from babelvl.quality.schema import Annotation, SampleItem
from babelvl.report.eval_report import markdown_table


def _headline_alpha(agreement: dict[str, Any]) -> float | None:
    """The alpha the verdict rests on: the first scale's (or the score's) Krippendorff alpha."""
    for block in agreement.values():
        for name, measure in (block.get("measures") or {}).items():
            if name.startswith("krippendorff_alpha"):
                return measure["value"]
    return None


def _plot(summary_by: dict[str, dict[str, Any]], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(summary_by)
    fig, ax = plt.subplots(figsize=(max(4, 1.2 * len(names) + 2), 3.2))
    if names:
        ax.boxplot([summary_by[n]["values"] for n in names], tick_labels=names)
    ax.set_title(title)
    ax.set_ylabel("item score")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def build_report(items: Sequence[SampleItem], annotations: Sequence[Annotation], protocol: Protocol, *,
                 draws: int = 1000, seed: int = 0, thresholds: Thresholds | None = None,
                 worst: int = 10) -> dict[str, Any]:
    scored = score_annotations(items, annotations, protocol)
    by_language = score_summary(scored, by="language")
    by_field = score_summary(scored, by="field")
    agreement = agreement_report(scored, protocol, draws=draws, seed=seed)
    alpha = _headline_alpha(agreement)
    lower_is_better = protocol.kind == "postedit"
    ranked = sorted((s for s in scored if s.score is not None), key=lambda s: s.score, reverse=lower_is_better)
    report = {
        "babelvl_version": __version__, "protocol": protocol.name, "kind": protocol.kind,
        "n_items": len({s.item.item_id for s in scored}), "n_annotations": len(scored),
        "annotators": sorted({s.annotation.annotator for s in scored}),
        "scores_by_language": {k: {kk: vv for kk, vv in v.items() if kk != "values"} for k, v in by_language.items()},
        "scores_by_field": {k: {kk: vv for kk, vv in v.items() if kk != "values"} for k, v in by_field.items()},
        "agreement": agreement, "error_categories": error_categories(scored, protocol),
        "verdicts": verdicts(by_language, alpha, protocol, thresholds),
        "seconds_per_item": _seconds(scored),
        "worst_items": [{"item_id": s.item.item_id, "language": s.item.language, "field": s.item.field,
                         "score": s.score, "annotator": s.annotation.annotator, "source": s.item.source_text,
                         "target": s.item.target_text, "values": s.annotation.values} for s in ranked[:worst]],
    }
    if protocol.kind == "postedit":
        report["post_edit_rate"] = {lang: sum(1 for s in scored if s.item.language == lang and (s.score or 0) > 0)
                                    / max(1, sum(1 for s in scored if s.item.language == lang))
                                    for lang in by_language}
    report["_plots"] = {"language": by_language, "field": by_field}
    return report


def _seconds(scored: Sequence[Any]) -> dict[str, float] | None:
    times = [s.annotation.seconds for s in scored if s.annotation.seconds]
    return {"mean": sum(times) / len(times), "n": len(times)} if times else None


def write_report(report: dict[str, Any], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = report.pop("_plots")
    _plot(plots["language"], "score by language", out_dir / "scores_by_language.png")
    _plot(plots["field"], "score by field", out_dir / "scores_by_field.png")
    write_json_atomic(out_dir / "quality_assessment.json", report)
    md = [f"# Human quality assessment ({report['protocol']})", "",
          f"{report['n_annotations']} judgements of {report['n_items']} items by {len(report['annotators'])} "
          f"annotators; babelvl {report['babelvl_version']}.", "", "## Verdicts", ""]
    md += [f"- **{lang}**: {text}" for lang, text in report["verdicts"].items()]
    md += ["", "## Scores by language", "", "![scores by language](scores_by_language.png)", "",
           markdown_table(["language", "n", "mean", "median", "min", "max"],
                          [[k, str(v["n"]), f"{v['mean']:.2f}", f"{v['median']:.2f}", f"{v['min']:.2f}", f"{v['max']:.2f}"]
                           for k, v in report["scores_by_language"].items()]), "",
           "## Scores by field", "", "![scores by field](scores_by_field.png)", "",
           markdown_table(["field", "n", "mean", "median"],
                          [[k, str(v["n"]), f"{v['mean']:.2f}", f"{v['median']:.2f}"]
                           for k, v in report["scores_by_field"].items()]), "", "## Agreement", ""]
    for scale, block in report["agreement"].items():
        if "measures" not in block:
            md += [f"- {scale}: {block.get('note') or json.dumps(block)}"]
            continue
        rows = [[name, "–" if m["value"] is None or m["value"] != m["value"] else f"{m['value']:.3f}",
                 "–" if not m.get("ci") else f"[{m['ci'][0]:.3f}, {m['ci'][1]:.3f}]"]
                for name, m in block["measures"].items()]
        md += [f"### {scale} ({block.get('level')}, {block.get('n_items')} items)", "",
               markdown_table(["measure", "value", "95% CI"], rows), ""]
        md += [f"- note: {n}" for n in block.get("notes", [])]
    if report["error_categories"]:
        md += ["", "## Error categories", ""]
        for lang, counts in report["error_categories"].items():
            md += [f"- {lang}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))]
    if "post_edit_rate" in report:
        md += ["", "## Post-edit rate", ""] + [f"- {k}: {v:.0%} of items edited" for k, v in report["post_edit_rate"].items()]
    md += ["", "## Worst items", "",
           markdown_table(["item", "score", "annotator", "translation"],
                          [[w["item_id"], f"{w['score']:.2f}", w["annotator"], w["target"][:120].replace("|", "\\|")]
                           for w in report["worst_items"]])]
    text = "\n".join(md) + "\n"
    write_atomic(out_dir / "quality_assessment.md", text)
    import markdown  # a well-kept renderer: tables and images as the Markdown report has them

    body = markdown.markdown(text, extensions=["tables"])
    write_atomic(out_dir / "quality_assessment.html",
                 "<!doctype html><meta charset='utf-8'><title>quality assessment</title>"
                 "<style>table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem}</style>"
                 f"<body style='font-family:system-ui;max-width:70rem;margin:2rem auto'>{body}</body>")
