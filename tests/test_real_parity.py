"""benchmarks/real_parity.py on a small folder laid out like the real-data folder, with answers in real styles."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from babelvl.testing.fixtures import mmbench_circular_rows, pope_rows, write_mmbench, write_pope, write_scienceqa

ROOT = Path(__file__).resolve().parents[1]
SAME = "neither; the samples have the same temperature"


def _script():
    spec = importlib.util.spec_from_file_location("real_parity", ROOT / "benchmarks" / "real_parity.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture
def realdata(tmp_path: Path) -> Path:
    base = {"task": "closed choice", "topic": "physics", "skill": "", "lecture": "", "solution": "", "hint": "",
            "grade": "", "subject": "", "category": ""}
    questions = [(["neither; the samples have the same temperature", "Solution B", "Solution A"], 2),
                 (["sample A", SAME, "sample B"], 2), (["-24°C", "24°C"], 0),
                 (["Boston", "Concord", "Washington, D.C.", "Columbus"], 2)]
    write_scienceqa(tmp_path / "scienceqa" / "test.parquet",
                    [{**base, "question": f"Q{i}?", "choices": c, "answer": a} for i, (c, a) in enumerate(questions)])
    _jsonl(tmp_path / "scienceqa" / "predictions" / "letters.jsonl",
           [{"row": i, "response": r} for i, r in enumerate(["C", "C", "A", "B"])])
    _jsonl(tmp_path / "scienceqa" / "predictions" / "cot.jsonl",
           [{"row": 0, "response": "Solution A is warmer. The answer is C."},
            {"row": 1, "response": "LECTURE: heat flows. The answer is C."},
            {"row": 2, "response": ""}, {"row": 3, "response": "The answer is D."}])
    write_pope(tmp_path / "pope" / "test.parquet", pope_rows())
    _jsonl(tmp_path / "pope" / "predictions" / "chatty.jsonl",
           [{"row": i, "response": r} for i, r in enumerate(
               ["Yes", "No", "There is a thing 2 in the image.", "No", "Yes", "Maybe."])])
    write_mmbench(tmp_path / "mmbench" / "dev.parquet", mmbench_circular_rows())
    _jsonl(tmp_path / "mmbench" / "predictions" / "letters.jsonl",
           [{"id": 5, "response": "A. left"}, {"id": 1_000_005, "response": "(B) left"}])
    return tmp_path


def test_every_profile_and_every_restyle(realdata, tmp_path, capsys):
    out = tmp_path / "parity.json"
    assert _script().main([str(realdata), "--json", str(out)]) == 0  # every restyled number is the same
    printed = capsys.readouterr().out
    assert "Paired comparisons" in printed and "McNemar" in printed
    rows = json.loads(out.read_text())
    got = {(r["benchmark"], r["predictions"], r["profile"]): r["metrics"] for r in rows if "metrics" in r}
    # option texts with capitals, units and initials read as their letter
    assert got["scienceqa", "letters.jsonl", "babelvl"]["accuracy"] == pytest.approx(0.75)
    assert got["scienceqa", "cot.jsonl", "babelvl"]["accuracy"] == pytest.approx(0.5)
    assert got["scienceqa", "cot.jsonl", "vlmevalkit"]["accuracy"] == pytest.approx(0.5)  # "The answer is X"
    assert got["scienceqa", "cot.jsonl", "lmms-eval"]["accuracy"] == 0.0                   # bare letters only
    pope = {p: got["pope", "chatty.jsonl", p] for p in ("babelvl", "pope-official", "lmms-eval", "vlmevalkit")}
    assert pope["babelvl"]["overall.f1"] == pytest.approx(1.0)          # presence sentence read, hedge not guessed
    assert pope["pope-official"]["overall.f1"] == pytest.approx(6 / 7)  # the hedge reads as yes: a false positive
    assert pope["lmms-eval"]["overall.f1"] == pytest.approx(1.0)        # the unread answer leaves recall's base
    assert pope["vlmevalkit"]["overall.f1"] == pytest.approx(0.8)       # ... or counts as a false negative
    assert got["mmbench", "letters.jsonl", "babelvl"]["circular_accuracy"] == 1.0
    restyles = [r for r in rows if "restyled" in r]
    assert {r["restyled"] for r in restyles} >= {"L) text", "fr: prefix L) text", "it: label: L) text",
                                                 "de: presence sentence", "es: yes/no word"}
    assert all(r["same"] for r in restyles)
