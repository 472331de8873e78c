"""``babelvl score`` on predictions made outside babelvl, against the sample suite data."""

from __future__ import annotations

import json

import pytest

from babelvl.benchmarks.base import Item
from babelvl.benchmarks.registry import get_benchmark
from babelvl.benchmarks.sample_suite import materialize_sample_suite
from babelvl.cli import main
from babelvl.data.loading import load_rows
from babelvl.errors import InputError
from babelvl.eval.score_predictions import score_predictions


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    return materialize_sample_suite(tmp_path_factory.mktemp("suite"))


def _items(bench: str, path, language: str) -> list[Item]:
    b = get_benchmark(bench)
    rows = load_rows(str(path), config=None, split=None)
    return [i for i in b.iter_items(rows, language, str(path)) if isinstance(i, Item)]


def _write(path, lines):
    path.write_text("".join(json.dumps(l, ensure_ascii=False) + "\n" for l in lines), encoding="utf-8")
    return path


def test_pope_all_yes_by_row_matches_hand_formula(suite, tmp_path):
    path = suite[("pope", "en")]
    items = _items("pope", path, "en")
    preds = _write(tmp_path / "p.jsonl", [{"row": i.row, "response": "Yes."} for i in items])
    out = tmp_path / "metrics.json"
    assert main(["score", "--benchmark", "pope", "--data", str(path), "--predictions", str(preds),
                 "--out", str(out)]) == 0
    metrics = json.loads(out.read_text())
    positives = sum(i.answer == "yes" for i in items)
    overall = metrics["overall"]
    assert overall["yes_ratio"] == 1.0 and overall["recall"] == 1.0
    assert overall["precision"] == pytest.approx(positives / len(items))
    assert overall["accuracy"] == pytest.approx(positives / len(items))
    assert metrics["parser"] == "babelvl" and metrics["language"] == "en" and "babelvl_version" in metrics


@pytest.mark.parametrize("lang,yes,no", [("fr", "Oui.", "Non."), ("de", "Ja", "Nein"),
                                         ("it", "Sì", "No."), ("es", "Sí.", "No")])
def test_yes_no_in_each_language_scores_perfectly_with_babelvl_parser(suite, tmp_path, lang, yes, no):
    path = suite[("mme", lang)]
    items = _items("mme", path, lang)
    preds = _write(tmp_path / "p.jsonl",
                   [{"id": i.id, "response": yes if i.answer == "yes" else no} for i in items])
    metrics = score_predictions(benchmark="mme", data=str(path), predictions=preds, language=lang)
    for cat in metrics["categories"].values():
        assert cat["acc"] == 1.0 and cat["acc_plus"] == 1.0 and cat["score"] == 200.0
    # lmms-eval's parser only knows English: "Oui"/"Ja" are not yes.
    compat = score_predictions(benchmark="mme", data=str(path), predictions=preds, language=lang,
                               parser="lmms-eval")
    if lang in ("fr", "de"):
        assert all(c["acc"] < 1.0 for c in compat["categories"].values())


def test_mmbench_rotated_ids_give_circular_accuracy(suite, tmp_path):
    path = suite[("mmbench", "en")]
    b = get_benchmark("mmbench")
    rows = load_rows(str(path), config=None, split=None)
    items = [i for i in b.iter_items(rows, "en", str(path)) if isinstance(i, Item)]
    assert any(int(i.id) >= 1_000_000 for i in items)  # rotations were built from originals
    originals = {i.id for i in items if int(i.id) < 1_000_000}
    wrong_group = sorted(originals)[0]
    lines = []
    for i in items:
        letter = i.answer
        if int(i.id) % 1_000_000 == int(wrong_group) and int(i.id) >= 1_000_000:
            letter = next(l for l in i.options if l != i.answer)  # one rotated pass wrong
        lines.append({"id": i.id, "response": f"({letter})"})
    metrics = score_predictions(benchmark="mmbench", data=str(path),
                                predictions=_write(tmp_path / "p.jsonl", lines))
    assert metrics["vanilla_accuracy"] == 1.0
    assert metrics["circular_accuracy"] == pytest.approx((len(originals) - 1) / len(originals))


def test_bad_prediction_files_name_file_line_and_field(suite, tmp_path):
    path = suite[("pope", "en")]
    items = _items("pope", path, "en")
    preds = _write(tmp_path / "bad.jsonl", [
        {"id": items[0].id, "response": "yes"},
        {"id": "no-such-id", "response": "yes"},
        {"id": items[0].id, "response": "no"},
        {"row": 1},
        {"response": "yes"},
    ])
    with pytest.raises(InputError) as err:
        score_predictions(benchmark="pope", data=str(path), predictions=preds)
    message = str(err.value)
    assert "bad.jsonl" in message and "4 problem" in message
    assert "line 2, field 'id': unknown item id 'no-such-id'" in message
    assert "line 3, field 'id'" in message and "already predicted on line 1" in message
    assert "line 4, field 'response'" in message and "line 5" in message


def test_cli_reports_errors_cleanly_and_lists_unscored_items(suite, tmp_path, capsys):
    path = suite[("ai2d", "es")]
    items = _items("ai2d", path, "es")
    preds = _write(tmp_path / "p.jsonl", [{"row": items[0].row, "response": "Respuesta: A"}])
    out = tmp_path / "m.json"
    assert main(["score", "--benchmark", "ai2d", "--data", str(path), "--language", "es",
                 "--predictions", str(preds), "--out", str(out)]) == 0
    metrics = json.loads(out.read_text())
    assert len(metrics["unscored"]) == len(items) - 1
    assert all(u["reason"] == "no prediction for this item" for u in metrics["unscored"])
    assert main(["score", "--benchmark", "ai2d", "--data", str(path), "--language", "xx",
                 "--predictions", str(preds)]) == 2
    assert "unknown language code 'xx'" in capsys.readouterr().err
