"""``babelvl annotate report``: Markdown + HTML (+ plots) of a human assessment.

Every number a reader may compare carries its 95% interval (bootstrap over items); what the
statistics mean and what is reported when there is no variation is in :mod:`babelvl.quality.analysis`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from babelvl import __version__
from babelvl.io.files import write_atomic, write_json_atomic
from babelvl.quality.analysis import (Thresholds, agreement_report, error_categories, scale_summaries,
                                      score_annotations, score_summary, verdicts)
from babelvl.quality.protocols import Protocol
from babelvl.quality.schema import Annotation, SampleItem
from babelvl.report.eval_report import markdown_table


def _plot(summary_by: dict[str, dict[str, Any]], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(summary_by)
    fig, ax = plt.subplots(figsize=(max(4, 1.2 * len(names) + 2), 3.2))
    if names:
        ax.boxplot([summary_by[n]["values"] for n in names], tick_labels=names)
    ax.set_title(title)
    ax.set_ylabel("item score (mean of its judgements)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _strip_values(summary: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {k: {kk: vv for kk, vv in v.items() if kk != "values"} for k, v in summary.items()}


def build_report(items: Sequence[SampleItem], annotations: Sequence[Annotation], protocol: Protocol, *,
                 draws: int = 1000, seed: int = 0, thresholds: Thresholds | None = None,
                 worst: int = 10, level: str | None = None) -> dict[str, Any]:
    scored = score_annotations(items, annotations, protocol)
    by_language = score_summary(scored, by="language", draws=draws, seed=seed)
    by_field = score_summary(scored, by="field", draws=draws, seed=seed)
    agreement = agreement_report(scored, protocol, draws=draws, seed=seed, level=level)
    scales = scale_summaries(scored, protocol, draws=draws, seed=seed)
    lower_is_better = protocol.kind == "postedit"
    ranked = sorted((s for s in scored if s.score is not None), key=lambda s: s.score, reverse=lower_is_better)
    report = {
        "babelvl_version": __version__, "protocol": protocol.name, "kind": protocol.kind,
        "n_items": len({s.item.item_id for s in scored}), "n_annotations": len(scored),
        "annotators": sorted({s.annotation.annotator for s in scored}),
        "scores_by_language": _strip_values(by_language),
        "scores_by_field": _strip_values(by_field),
        "scales": {name: {kind: (_strip_values(v) if kind in ("raw", "z") else v) for kind, v in entry.items()}
                   for name, entry in scales.items()},
        "agreement": agreement, "error_categories": error_categories(scored, protocol),
        "verdicts": verdicts(by_language, agreement, protocol, thresholds),
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


def _num(value: Any, digits: int = 2) -> str:
    return "–" if value is None or value != value else f"{value:.{digits}f}"


def _ci(ci: Any, digits: int = 2) -> str:
    return "–" if not ci or any(c is None or c != c for c in ci) else f"[{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def _means_table(label: str, summary: dict[str, dict[str, Any]]) -> str:
    return markdown_table([label, "items", "judgements", "mean", "95% CI", "median", "min", "max"],
                          [[k, str(v["n_items"]), str(v["n_judgements"]), _num(v["mean"]), _ci(v.get("ci")),
                            _num(v["median"]), _num(v["min"]), _num(v["max"])] for k, v in summary.items()])


def _agreement_md(name: str, block: dict[str, Any]) -> list[str]:
    md = [f"### {name} ({block.get('level')} level)", ""]
    rows = [("all", block)] + list((block.get("by_language") or {}).items())
    measures: list[str] = []
    for _, table in rows:
        for m in table.get("measures") or {}:
            if m not in measures:
                measures.append(m)
    header = ["languages", "items"] + [c for m in measures for c in (m, "95% CI")]
    body = []
    for where, table in rows:
        cells = [where, str(table.get("n_items", 0))]
        for m in measures:
            entry = (table.get("measures") or {}).get(m)
            cells += [_num(entry["value"], 3), _ci(entry.get("ci"), 3)] if entry else ["–", "–"]
        body.append(cells)
    md += [markdown_table(header, body), ""]
    where_of: dict[str, list[str]] = {}  # the same note for several rows is listed once
    for where, table in rows:
        for note in [*(table.get("notes") or []), *([table["note"]] if table.get("note") else [])]:
            if not note.startswith(tuple(f"{m}:" for m in measures)):
                where_of.setdefault(note, []).append(where)
    md += [f"- {', '.join(wheres)}: {note}" for note, wheres in where_of.items()]
    return md + ([""] if where_of else [])


def _spans_md(block: dict[str, Any]) -> list[str]:
    rows = [("all", block["all"])] + list(block["by_language"].items())
    return ["### Error spans (character-level F1 between annotators)", "",
            markdown_table(["languages", "items", "pairs", "F1", "95% CI", "F1, same severity", "95% CI",
                            "spans on the missing token"],
                           [[where, str(t.get("n_items", 0)), str(t.get("n_comparisons", 0)),
                             _num(t.get("char_f1"), 3), _ci(t.get("ci"), 3), _num(t.get("char_f1_by_severity"), 3),
                             _ci(t.get("ci_by_severity"), 3), str(t.get("n_missing", "–"))] for where, t in rows]),
            ""]


def write_report(report: dict[str, Any], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = report.pop("_plots")
    _plot(plots["language"], "score by language", out_dir / "scores_by_language.png")
    _plot(plots["field"], "score by field", out_dir / "scores_by_field.png")
    write_json_atomic(out_dir / "quality_assessment.json", report)
    md = [f"# Human quality assessment ({report['protocol']})", "",
          f"{report['n_annotations']} judgements of {report['n_items']} items by {len(report['annotators'])} "
          f"annotators; babelvl {report['babelvl_version']}. Means are over items (an item judged by several "
          "annotators counts once, with the mean of its judgements); intervals are 95% percentile bootstrap "
          "intervals over items.", "", "## Verdicts", ""]
    md += [f"- **{lang}**: {v['text']}" for lang, v in report["verdicts"].items()]
    md += ["", "## Scores by language", "", "![scores by language](scores_by_language.png)", "",
           _means_table("language", report["scores_by_language"]), ""]
    for name, entry in report["scales"].items():
        if not (report["kind"] == "esa" and len(report["scales"]) == 1):  # else the same as the score
            md += [f"### {name}", "", _means_table("language", entry["raw"]), ""]
        if "z" in entry:
            md += [f"### {name}, z-normalised per annotator", "",
                   "Each judgement minus its annotator's mean, divided by its annotator's standard deviation "
                   "(as WMT does for DA and ESA): 0 is an average judgement of that annotator.", "",
                   _means_table("language", entry["z"]), ""]
            md += [f"- {n}" for n in entry.get("z_notes", [])]
    md += ["## Scores by field", "", "![scores by field](scores_by_field.png)", "",
           _means_table("field", report["scores_by_field"]), "", "## Agreement", ""]
    for name, block in report["agreement"].items():
        md += _spans_md(block) if name == "spans" else _agreement_md(name, block)
    if report["error_categories"]:
        md += ["", "## Error categories", ""]
        for lang, counts in report["error_categories"].items():
            md += [f"- {lang}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))]
    if "post_edit_rate" in report:
        md += ["", "## Post-edit rate", ""] + [f"- {k}: {v:.0%} of judgements edited"
                                               for k, v in report["post_edit_rate"].items()]
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
