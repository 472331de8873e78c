"""The quality report: hand-counted numbers on a constructed run, and both files written."""

from __future__ import annotations

import json

import pytest

from babelvl import __version__
from babelvl.translate.base import CheckResult, SegmentTranslation
from babelvl.translate.quality_report import build_quality_report, render_markdown, write_quality_report

SOURCE = "Which of the following animals lives in the ocean?"
ENGINE = "gguf:gemma3-270m"


def seg(sid, language, source, target, *, failures=(), fields=("question",), attempt=0, edited=False,
        engine=ENGINE):
    return SegmentTranslation(segment_id=sid, language=language, source=source, target=target,
                              engine=engine, prompt_id="default-v0", attempt=attempt,
                              failures=list(failures), fields=list(fields), edited=edited)


LANG_ID = CheckResult("language_id", "detected de, expected fr (confidence 0.94, fr 0.00)")
UNTRANSLATED = CheckResult("untranslated", "translation is identical to the source", "warning")
EMPTY = CheckResult("empty", "empty translation for a non-empty source")
PLACEHOLDERS = CheckResult("placeholders", "missing ⟦1⟧")
RATIO = CheckResult("length_ratio", "length ratio 0.20 outside [0.5, 2.5]")

TRANSLATIONS = [
    seg("a", "fr", SOURCE, "Lequel des animaux suivants vit dans l'océan ?"),
    seg("b", "fr", "Bird", "Bird", failures=[UNTRANSLATED], fields=["options"]),
    seg("c", "fr", SOURCE, "Welches der folgenden Tiere lebt im Ozean?", failures=[LANG_ID],
        fields=["question", "hint"], attempt=1),
    seg("d", "fr", "⟦0⟧ cats", "⟦0⟧ chats", fields=["options"], edited=True),
    seg("a", "de", SOURCE, "Welches der folgenden Tiere lebt im Ozean?", engine="echo"),
    seg("e", "de", "It weighs 3.5 kg.", "", failures=[EMPTY], fields=["options"]),
    seg("f", "de", "Take ⟦0⟧ and ⟦1⟧ out of the box, please.", "Ein ⟦0⟧ | x",
        failures=[PLACEHOLDERS, RATIO], fields=[], attempt=2),
]
ROW_PROBLEMS = [
    {"row": 3, "field": "options", "language": "fr", "check": "options_distinct",
     "reason": "options A and B translate to the same text 'chat' but their sources differ"},
    {"row": 7, "language": "de", "check": "row_rejected", "reason": "2 segments failed checks"},
]
RUN_INFO = {"engines": [{"name": ENGINE, "license": "Gemma Terms of Use", "low_quality": True}],
            "dataset": "mmbench", "source_language": "en"}


@pytest.fixture(scope="module")
def report():
    return build_quality_report(TRANSLATIONS, row_problems=ROW_PROBLEMS, hter={"fr": 0.25},
                                run_info=RUN_INFO, max_examples=1)


def test_per_language_counts(report):
    fr, de = report["languages"]["fr"], report["languages"]["de"]
    assert {k: fr[k] for k in ("segments", "passed", "failed", "with_warnings", "retried", "edited",
                               "language_id_skipped")} == {
        "segments": 4, "passed": 3, "failed": 1, "with_warnings": 1, "retried": 1, "edited": 1,
        "language_id_skipped": 2}  # "Bird" and "⟦0⟧ chats" are too short to judge
    assert {k: de[k] for k in ("segments", "passed", "failed", "with_warnings", "retried", "edited",
                               "language_id_skipped")} == {
        "segments": 3, "passed": 1, "failed": 2, "with_warnings": 0, "retried": 1, "edited": 0,
        "language_id_skipped": 1}  # the empty output is the empty check's, not language ID's
    assert fr["checks"] == {"untranslated": 1, "language_id": 1}
    assert de["checks"] == {"empty": 1, "placeholders": 1, "length_ratio": 1}
    assert fr["hter"] == 0.25 and de["hter"] is None and report["hter"] == {"fr": 0.25}


def test_counts_by_check_language_and_field(report):
    assert report["checks"] == [
        {"check": "empty", "language": "de", "field": "options", "errors": 1, "warnings": 0},
        {"check": "language_id", "language": "fr", "field": "hint", "errors": 1, "warnings": 0},
        {"check": "language_id", "language": "fr", "field": "question", "errors": 1, "warnings": 0},
        {"check": "length_ratio", "language": "de", "field": "(none)", "errors": 1, "warnings": 0},
        {"check": "placeholders", "language": "de", "field": "(none)", "errors": 1, "warnings": 0},
        {"check": "untranslated", "language": "fr", "field": "options", "errors": 0, "warnings": 1},
    ]


def test_length_ratio_summary_uses_sources_of_20_chars_or_more(report):
    fr = report["length_ratio"]["fr"]
    ratios = sorted([len(TRANSLATIONS[0].target) / len(SOURCE), len(TRANSLATIONS[2].target) / len(SOURCE)])
    assert fr["count"] == 2
    assert fr["min"] == round(ratios[0], 3) and fr["max"] == round(ratios[1], 3)
    assert fr["median"] == round(sum(ratios) / 2, 3)
    assert report["length_ratio"]["de"]["count"] == 2  # "It weighs 3.5 kg." is too short to count


def test_examples_rows_and_header(report):
    assert set(report["examples"]) == {"empty", "language_id", "length_ratio", "placeholders", "untranslated"}
    assert all(len(items) == 1 for items in report["examples"].values())
    example = report["examples"]["language_id"][0]
    assert (example["source"], example["language"], example["reason"]) == (SOURCE, "fr", LANG_ID.reason)
    assert [p["check"] for p in report["row_problems"]] == ["options_distinct", "row_rejected"]
    assert report["row_problems"][1]["field"] is None
    assert report["row_problem_counts"] == [{"check": "options_distinct", "language": "fr", "count": 1},
                                            {"check": "row_rejected", "language": "de", "count": 1}]
    header = report["header"]
    assert header["babelvl_version"] == __version__
    assert [(e["name"], e["segments"], e["license"], e["low_quality"]) for e in header["engines"]] == [
        (ENGINE, 6, "Gemma Terms of Use", True), ("echo", 1, "unknown", False)]
    assert len(header["warnings"]) == 1 and ENGINE in header["warnings"][0]
    assert header["run"] == {"dataset": "mmbench", "source_language": "en"}


def test_examples_are_spread_over_languages():
    failing = [seg(f"{lang}{i}", lang, SOURCE, "x", failures=[RATIO]) for lang in ("fr", "de") for i in range(4)]
    report = build_quality_report(failing, run_info={}, max_examples=3)
    assert [e["language"] for e in report["examples"]["length_ratio"]] == ["fr", "de", "fr"]


def test_both_files_are_written_with_readable_tables(report, tmp_path):
    json_path, md_path = write_quality_report(report, tmp_path / "out")
    assert json_path.name == "quality_report.json" and md_path.name == "quality_report.md"
    assert json.loads(json_path.read_text(encoding="utf-8")) == report
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["quality_report.json", "quality_report.md"]
    md = md_path.read_text(encoding="utf-8")
    assert md == render_markdown(report)
    for heading in ("# Translation quality report", "## Engines", "## Summary by language",
                    "## Failed checks by language and field", "## Length ratio", "## Row-level problems",
                    "## Examples", "### language_id"):
        assert heading in md
    assert "> **Warning:** Engine 'gguf:gemma3-270m' is marked low quality" in md
    assert "| Language | Segments | Passed | Failed | With warnings | Retried | Edited |" in md
    assert "| fr | 4 | 3 | 1 | 1 | 1 | 1 | 2 | 0.25 |" in md
    assert "| de | 3 | 1 | 2 | 0 | 1 | 0 | 1 | – |" in md
    assert "| language_id | fr | question | 1 | 0 |" in md
    assert "| fr | 3 | options | options_distinct |" in md
    assert "Ein ⟦0⟧ \\| x" in md  # a pipe inside a cell does not break the table


def test_empty_run_still_renders(tmp_path):
    report = build_quality_report([], run_info={"dataset": "pope"})
    _, md_path = write_quality_report(report, tmp_path)
    md = md_path.read_text(encoding="utf-8")
    assert "No check failed." in md and "None." in md and report["languages"] == {}
