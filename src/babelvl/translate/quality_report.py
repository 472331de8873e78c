"""The quality report of a translation run: what the checks found, per language, field and reason.

A translated benchmark is only as trustworthy as its checks say, so every run writes
``quality_report.json`` (for tools) and ``quality_report.md`` (for the person deciding whether to
publish). The report is built from the final :class:`SegmentTranslation` records alone, so a
resumed run reports exactly what a straight run would.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from babelvl import __version__
from babelvl.io.files import write_atomic, write_json_atomic
from babelvl.translate.base import SegmentTranslation
from babelvl.translate.checks import MIN_RATIO_SOURCE_CHARS, PLACEHOLDER_RE
from babelvl.translate.langid import is_supported, too_short

#: examples kept per check reason
MAX_EXAMPLES = 5
#: longest text shown in a Markdown cell (the JSON keeps the full text)
MAX_CELL_CHARS = 160
#: most row problems listed in the Markdown file (the JSON keeps all)
MAX_MARKDOWN_ROWS = 200
NO_FIELD = "(none)"


def _engines(translations: Sequence[SegmentTranslation], run_info: Mapping[str, Any]) -> list[dict]:
    """Engines used, with their licenses; ``run_info["engines"]`` may be a list or a name->info map."""
    given = run_info.get("engines") or []
    if isinstance(given, Mapping):
        given = [{"name": name, **dict(info)} for name, info in given.items()]
    info = {str(e.get("name")): dict(e) for e in given}
    counts = Counter(t.engine for t in translations)
    names = list(dict.fromkeys([*info, *counts]))
    return [{**info.get(name, {}), "name": name, "segments": counts.get(name, 0),
             "license": info.get(name, {}).get("license", "unknown"),
             "low_quality": bool(info.get(name, {}).get("low_quality", False))} for name in names]


def _percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile of sorted ``values`` (q in 0..1)."""
    position = q * (len(values) - 1)
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


def _ratio_summary(ratios: list[float]) -> dict[str, Any]:
    if not ratios:
        return {"count": 0}
    ratios = sorted(ratios)
    return {"count": len(ratios), "min": round(ratios[0], 3),
            **{name: round(_percentile(ratios, q), 3) for name, q in
               (("p10", 0.1), ("median", 0.5), ("p90", 0.9))},
            "max": round(ratios[-1], 3)}


def _new_language() -> dict[str, Any]:
    return {"segments": 0, "passed": 0, "failed": 0, "with_warnings": 0, "retried": 0, "edited": 0,
            "language_id_skipped": 0, "checks": {}, "hter": None, "requests": {}}


def _unit_summary(translations: Sequence[SegmentTranslation]) -> dict[str, dict[str, int]]:
    """Per language: units, units sent whole, units that fell back to one request per segment, and units
    the engine translated while seeing the item's image (grounded) or not."""
    units: dict[str, dict[str, list[SegmentTranslation]]] = defaultdict(lambda: defaultdict(list))
    for t in translations:
        units[t.language][t.unit_id or t.segment_id].append(t)
    out = {}
    for language, by_unit in units.items():
        fallback = sum(any(t.request == "segment" for t in ts) for ts in by_unit.values())
        whole = sum(all(t.request == "unit" for t in ts) for ts in by_unit.values())
        grounded = sum(all(t.grounded for t in ts) for ts in by_unit.values())
        out[language] = {"units": len(by_unit), "sent_whole": whole, "segment_fallbacks": fallback,
                         "grounded": grounded, "ungrounded": len(by_unit) - grounded}
    return out


def _language_id_skipped(t: SegmentTranslation) -> bool:
    """Mirrors the check: a non-empty output too short to judge, or a language lingua lacks."""
    text = PLACEHOLDER_RE.sub(" ", t.target)
    return bool(text.strip()) and (too_short(text) or not is_supported(t.language))


def _interleave(groups: Iterable[list[dict]], limit: int) -> list[dict]:
    """Up to ``limit`` items taken round-robin from each group, so every language shows up."""
    queues = [list(g) for g in groups]
    picked: list[dict] = []
    while len(picked) < limit and any(queues):
        for queue in queues:
            if queue and len(picked) < limit:
                picked.append(queue.pop(0))
    return picked


def _row_problem(problem: Mapping[str, Any]) -> dict[str, Any]:
    row = {key: problem.get(key) for key in ("language", "row", "field", "check", "reason")}
    row["check"] = row["check"] or "row"
    return {**dict(problem), **row}


def build_quality_report(translations: Sequence[SegmentTranslation], *,
                         row_problems: Sequence[dict] = (), hter: dict[str, float] | None = None,
                         run_info: dict, max_examples: int = MAX_EXAMPLES) -> dict:
    """Summarise a run's final segment translations into a JSON-ready report.

    ``run_info`` supplies the header: ``engines`` (list of ``{name, license, low_quality}`` or a
    name->info map), ``warnings`` (extra lines) and any other keys (dataset, languages...), which
    are copied as they are. A segment *passed* when no error-severity check failed (warnings allowed).
    """
    languages: dict[str, dict[str, Any]] = {}
    check_counts: Counter[tuple[str, str, str, str]] = Counter()
    ratios: dict[str, list[float]] = defaultdict(list)
    examples: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))

    for t in translations:
        lang = languages.setdefault(t.language, _new_language())
        errors = [f for f in t.failures if f.severity == "error"]
        lang["segments"] += 1
        lang["failed" if errors else "passed"] += 1
        lang["with_warnings"] += bool(t.failures) and not errors
        lang["retried"] += t.tries > 1 or t.attempt > 0  # asked again, whichever answer was kept
        lang["requests"][t.request] = lang["requests"].get(t.request, 0) + 1
        lang["edited"] += bool(t.edited)
        lang["language_id_skipped"] += _language_id_skipped(t)
        for failure in t.failures:
            lang["checks"][failure.check] = lang["checks"].get(failure.check, 0) + 1
            for field in t.fields or [NO_FIELD]:
                check_counts[(failure.check, t.language, field, failure.severity)] += 1
            examples[failure.check][t.language].append({
                "language": t.language, "segment_id": t.segment_id, "fields": list(t.fields),
                "source": t.source, "target": t.target, "reason": failure.reason,
                "severity": failure.severity})
        if len(t.source.strip()) >= MIN_RATIO_SOURCE_CHARS:
            ratios[t.language].append(len(t.target.strip()) / len(t.source.strip()))

    checks = []
    for check, language, field in dict.fromkeys(k[:3] for k in check_counts):
        checks.append({"check": check, "language": language, "field": field,
                       "errors": check_counts[(check, language, field, "error")],
                       "warnings": check_counts[(check, language, field, "warning")]})
    checks.sort(key=lambda c: (c["check"], c["language"], c["field"]))

    for code, summary in _unit_summary(translations).items():
        languages[code].update(summary)
    problems = [_row_problem(p) for p in row_problems]
    for code, value in (hter or {}).items():
        languages.setdefault(code, _new_language())["hter"] = value
    row_counts = Counter((p["check"], p["language"]) for p in problems)

    engines = _engines(translations, run_info)
    warnings = [f"Engine '{e['name']}' is marked low quality: fit for demos and tests only, not for "
                "publishing." for e in engines if e["low_quality"]]
    warnings += [str(w) for w in run_info.get("warnings", [])]
    header = {"babelvl_version": __version__, "engines": engines, "warnings": warnings,
              "run": {k: v for k, v in run_info.items() if k not in ("engines", "warnings")}}
    return {
        "header": header,
        "languages": languages,
        "checks": checks,
        "length_ratio": {code: _ratio_summary(ratios.get(code, [])) for code in languages},
        "examples": {check: _interleave(by_lang.values(), max_examples)
                     for check, by_lang in sorted(examples.items())},
        "row_problems": problems,
        "row_problem_counts": [{"check": c, "language": l, "count": n}
                               for (c, l), n in sorted(row_counts.items(), key=lambda i: (i[0][0], str(i[0][1])))],
        "hter": dict(hter) if hter else None,
    }


# --- Markdown ------------------------------------------------------------------------------------

def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3g}"
    text = " ".join(str(value).split())
    if len(text) > MAX_CELL_CHARS:
        text = text[:MAX_CELL_CHARS - 1] + "…"
    return text.replace("|", "\\|") or "–"


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return [*lines, ""]


def render_markdown(report: dict) -> str:
    """The report as Markdown tables a person can read before publishing a dataset."""
    header = report["header"]
    out = ["# Translation quality report", "",
           f"babelvl {header['babelvl_version']}", ""]
    out += [f"> **Warning:** {w}" for w in header["warnings"]]
    if header["warnings"]:
        out.append("")
    out += [f"- {key}: {_cell(value)}" for key, value in header["run"].items()]
    if header["run"]:
        out.append("")

    out += ["## Engines", ""]
    out += _table(["Engine", "Segments", "License", "Low quality"],
                  ([e["name"], e["segments"], e["license"], "yes" if e["low_quality"] else "no"]
                   for e in header["engines"]))

    out += ["## Summary by language", "",
            "A segment passed when no error-level check failed; warnings are reported only. "
            "Language ID skips outputs too short to judge.", ""]
    out += _table(["Language", "Segments", "Passed", "Failed", "With warnings", "Retried", "Edited",
                   "Language ID skipped", "HTER"],
                  ([code, s.get("segments", 0), s.get("passed", 0), s.get("failed", 0),
                    s.get("with_warnings", 0), s.get("retried", 0), s.get("edited", 0),
                    s.get("language_id_skipped", 0), s.get("hter")]
                   for code, s in report["languages"].items()))

    out += ["## Requests by language", "",
            "A unit is what one request carries: an item's question, options and short hint together, or one "
            "sentence of a long hint with the question as context. A unit falls back to one request per "
            "segment (question as context) when its structured answer stays malformed after retries. "
            "Grounded: the engine saw the item's image.", ""]
    out += _table(["Language", "Units", "Sent whole", "Segment fallbacks", "Grounded", "Ungrounded",
                   "Segments by request"],
                  ([code, s.get("units", 0), s.get("sent_whole", 0), s.get("segment_fallbacks", 0),
                    s.get("grounded", 0), s.get("ungrounded", 0),
                    ", ".join(f"{k} {v}" for k, v in sorted(s.get("requests", {}).items()))]
                   for code, s in report["languages"].items()))

    out += ["## Failed checks by language and field", "",
            "A segment used by several fields counts once in each.", ""]
    if report["checks"]:
        out += _table(["Check", "Language", "Field", "Errors", "Warnings"],
                      ([c["check"], c["language"], c["field"], c["errors"], c["warnings"]]
                       for c in report["checks"]))
    else:
        out += ["No check failed.", ""]

    out += ["## Length ratio (target/source characters)", "",
            f"Sources of at least {MIN_RATIO_SOURCE_CHARS} characters.", ""]
    out += _table(["Language", "Segments", "Min", "P10", "Median", "P90", "Max"],
                  ([code, s["count"], s.get("min"), s.get("p10"), s.get("median"), s.get("p90"),
                    s.get("max")] for code, s in report["length_ratio"].items()))

    out += ["## Row-level problems", ""]
    problems = report["row_problems"]
    if problems:
        out += _table(["Language", "Row", "Field", "Check", "Reason"],
                      ([p.get("language"), p.get("row"), p.get("field"), p.get("check"), p.get("reason")]
                       for p in problems[:MAX_MARKDOWN_ROWS]))
        if len(problems) > MAX_MARKDOWN_ROWS:
            out += [f"{len(problems) - MAX_MARKDOWN_ROWS} more in quality_report.json.", ""]
    else:
        out += ["None.", ""]

    if report["examples"]:
        out += ["## Examples", ""]
        for check, items in report["examples"].items():
            out += [f"### {check}", ""]
            out += _table(["Language", "Severity", "Source", "Target", "Reason"],
                          ([e["language"], e["severity"], e["source"], e["target"] or "(empty)",
                            e["reason"]]
                           for e in items))
    return "\n".join(out).rstrip() + "\n"


def write_quality_report(report: dict, out_dir: Path) -> tuple[Path, Path]:
    """Write ``quality_report.json`` and ``quality_report.md`` atomically; returns both paths."""
    out_dir = Path(out_dir)
    json_path, md_path = out_dir / "quality_report.json", out_dir / "quality_report.md"
    write_json_atomic(json_path, report)
    write_atomic(md_path, render_markdown(report))
    return json_path, md_path
