"""``babelvl score`` on the files users have: lmms-eval samples, VLMEvalKit sheets, babelvl records.

Fixture files are written in each tool's exact format (lmms-eval 0.7.3 ``save_results_samples``: a bare string or
nested lists in ``filtered_resps``/``resps``; VLMEvalKit ``dump``: pandas with the xlsxwriter engine), on the
sample suite's data. The real-tool runs are in test_interop_lmms_eval.py.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from babelvl.benchmarks.base import Item
from babelvl.benchmarks.registry import get_benchmark
from babelvl.benchmarks.sample_suite import materialize_sample_suite
from babelvl.cli import main
from babelvl.data.loading import load_rows
from babelvl.errors import InputError
from babelvl.eval.score_predictions import score_predictions
from babelvl.interop.predictions import detect_format


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    return materialize_sample_suite(tmp_path_factory.mktemp("suite"))


def _items(bench: str, path, language: str, **options) -> list[Item]:
    b = get_benchmark(bench, **options)
    rows = load_rows(str(path))
    return [i for i in b.iter_items(rows, language, str(path)) if isinstance(i, Item)]


def _jsonl(path, lines):
    path.write_text("".join(json.dumps(l, ensure_ascii=False) + "\n" for l in lines), encoding="utf-8")
    return path


def _yes_no(item: Item, flip: bool) -> str:
    right = item.answer == "yes"
    return "Oui." if right != flip else "Non, il n'y en a pas."


def test_lmms_eval_samples_in_every_response_shape_score_like_babelvl_jsonl(suite, tmp_path):
    path = suite[("mme", "fr")]
    items = _items("mme", path, "fr")
    samples, plain = [], []
    for n, item in enumerate(items):
        text = _yes_no(item, flip=n % 3 == 0)
        shape = n % 3  # 0.7.3 writes a bare string; older versions nested lists; resps-only when equal
        sample = {"doc_id": item.row, "target": "Oui" if item.answer == "yes" else "Non", "doc_hash": "x",
                  "mme_perception_score": {"question_id": item.meta["image_id"], "score": 0.0}}
        if shape == 0:
            sample["filtered_resps"] = text
        elif shape == 1:
            sample.update(resps=[[text + " (raw)"]], filtered_resps=[text])
        else:
            sample["resps"] = [[text]]
        samples.append(sample)
        plain.append({"id": item.id, "response": text})
    got = score_predictions(benchmark="mme", data=str(path), language="fr",
                            predictions=_jsonl(tmp_path / "20260101_samples_mme.jsonl", samples))
    want = score_predictions(benchmark="mme", data=str(path), language="fr",
                             predictions=_jsonl(tmp_path / "p.jsonl", plain))
    assert got["predictions_format"] == "lmms-eval" and want["predictions_format"] == "jsonl"
    assert got["categories"] == want["categories"] and got["total"] == want["total"]
    assert 0 < got["total"] < want["n"] * 200  # some right, some wrong: a real comparison
    # The older single-JSON log ({"logs": [...]}) reads the same.
    old = tmp_path / "mme.json"
    old.write_text(json.dumps({"args": {}, "logs": samples}), encoding="utf-8")
    assert score_predictions(benchmark="mme", data=str(path), language="fr", predictions=old)["total"] == got["total"]


def test_lmms_eval_samples_against_other_data_fail_naming_line_and_field(suite, tmp_path):
    path = suite[("pope", "en")]
    items = _items("pope", path, "en")
    samples = [{"doc_id": i.row, "target": "no" if i.answer == "yes" else "yes", "filtered_resps": "yes"}
               for i in items[:2]]
    samples.append({"doc_id": "x", "filtered_resps": "yes"})
    samples.append({"doc_id": len(items) + 5, "filtered_resps": "yes"})
    samples.append({"doc_id": 3, "filtered_resps": [[]]})
    with pytest.raises(InputError) as err:
        score_predictions(benchmark="pope", data=str(path), predictions=_jsonl(tmp_path / "s.jsonl", samples))
    message = str(err.value)
    assert "5 problem(s)" in message
    assert "line 1, field 'target': the file's gold answer 'no' is not the data's ('yes'" in message \
        or "line 1, field 'target': the file's gold answer 'yes' is not the data's ('no'" in message
    assert "line 3, field 'doc_id': expected a non-negative integer, got 'x'" in message
    assert f"line 4, field 'doc_id': no scorable item at row {len(items) + 5}" in message
    assert "line 5, field 'filtered_resps': no text response" in message


def _vlmevalkit_sheet(path, frame: pd.DataFrame) -> None:
    """As VLMEvalKit's ``dump`` writes xlsx."""
    with pd.ExcelWriter(path, engine="xlsxwriter",
                        engine_kwargs={"options": {"strings_to_formulas": False}}) as writer:
        frame.to_excel(writer, index=False)


def test_vlmevalkit_mmbench_xlsx_with_circular_indexes(suite, tmp_path):
    path = suite[("mmbench", "de")]
    items = _items("mmbench", path, "de")  # originals + rotated passes (index + k * 1e6)
    wrong_group = items[0].meta["group"]
    rows = []
    for item in items:
        letter = item.answer
        if item.meta["group"] == wrong_group and item.meta["pass"] == 1:
            letter = next(l for l in item.options if l != item.answer)
        rows.append({"index": int(item.id), "question": item.question, **item.options, "answer": item.answer,
                     "category": item.category, "prediction": f"Antwort: {letter}"})
    sheet = tmp_path / "tiny_MMBench_DEV_DE.xlsx"
    _vlmevalkit_sheet(sheet, pd.DataFrame(rows))
    metrics = score_predictions(benchmark="mmbench", data=str(path), language="de", predictions=sheet)
    groups = {i.meta["group"] for i in items}
    assert metrics["predictions_format"] == "vlmevalkit"
    assert metrics["vanilla_accuracy"] == 1.0
    assert metrics["circular_accuracy"] == pytest.approx((len(groups) - 1) / len(groups))


def test_vlmevalkit_yes_no_sheet_maps_index_to_row_and_checks_answers(suite, tmp_path):
    path = suite[("pope", "it")]
    items = _items("pope", path, "it")
    frame = pd.DataFrame([{"index": i.row, "question": i.question, "answer": "Yes" if i.answer == "yes" else "No",
                           "category": i.category, "prediction": "Sì" if i.answer == "yes" else "No."}
                          for i in items])
    for suffix in ("tsv", "csv"):
        sheet = tmp_path / f"m_POPE.{suffix}"
        frame.to_csv(sheet, sep="\t" if suffix == "tsv" else ",", index=False)
        metrics = score_predictions(benchmark="pope", data=str(path), language="it", predictions=sheet)
        assert metrics["overall"]["accuracy"] == 1.0 and metrics["n_predictions"] == len(items)
    # The same sheet against data in another order: the recorded answers disagree, and the error says where.
    shuffled = frame.assign(index=list(reversed(frame["index"])))
    bad = tmp_path / "shuffled.xlsx"
    _vlmevalkit_sheet(bad, shuffled)
    with pytest.raises(InputError) as err:
        score_predictions(benchmark="pope", data=str(path), language="it", predictions=bad)
    assert "shuffled.xlsx: sheet row 2, field 'answer': the file's gold answer" in str(err.value)
    missing = tmp_path / "noprediction.xlsx"
    _vlmevalkit_sheet(missing, frame.drop(columns=["prediction"]))
    with pytest.raises(InputError, match="needs columns index, prediction; missing prediction"):
        score_predictions(benchmark="pope", data=str(path), language="it", predictions=missing)


def test_records_round_trip_and_cli_says_which_format_it_read(suite, tmp_path, capsys):
    path = suite[("scienceqa", "es")]
    items = _items("scienceqa", path, "es")
    preds = _jsonl(tmp_path / "p.jsonl", [{"row": i.row, "response": f"La respuesta es {i.answer}) x"}
                                          for i in items[:-1]])
    records, out = tmp_path / "records.jsonl", tmp_path / "m.json"
    assert main(["score", "--benchmark", "scienceqa", "--data", str(path), "--language", "es",
                 "--predictions", str(preds), "--records", str(records), "--out", str(out)]) == 0
    assert "as jsonl" in capsys.readouterr().err
    lines = [json.loads(l) for l in records.read_text().splitlines()]
    assert [r["id"] for r in lines] == [i.id for i in items]
    assert {k for k in lines[0]} >= {"id", "response", "prediction", "answer", "correct", "status"}
    assert lines[-1]["status"] == "missing" and lines[-1]["response"] is None
    assert all(r["correct"] and r["prediction"] == r["answer"] for r in lines[:-1])
    assert detect_format(records)[0] == "records"
    again = tmp_path / "again.json"
    assert main(["score", "--benchmark", "scienceqa", "--data", str(path), "--language", "es",
                 "--predictions", str(records), "--out", str(again)]) == 0
    assert "as records" in capsys.readouterr().err
    first, second = json.loads(out.read_text()), json.loads(again.read_text())
    assert first["accuracy"] == second["accuracy"] == pytest.approx((len(items) - 1) / len(items))
    # --format forces a reader; the wrong one fails with the field it needs.
    assert main(["score", "--benchmark", "scienceqa", "--data", str(path), "--predictions", str(preds),
                 "--format", "lmms-eval"]) == 2
    assert "line 1: needs a 'filtered_resps' or 'resps' field" in capsys.readouterr().err


def test_lmms_eval_ai2d_targets_as_letters_or_option_text_are_both_checked(suite, tmp_path):
    path = suite[("ai2d", "en")]
    items = _items("ai2d", path, "en")
    # lmms-eval's AI2D "mcq" format logs the letter, its "qa" format the option text: both are the data's gold.
    samples = [{"doc_id": i.row, "target": i.answer if n % 2 else i.options[i.answer], "filtered_resps": i.answer}
               for n, i in enumerate(items)]
    metrics = score_predictions(benchmark="ai2d", data=str(path), predictions=_jsonl(tmp_path / "s.jsonl", samples))
    assert metrics["accuracy"] == 1.0
    wrong = next(l for l in items[0].options if l != items[0].answer)
    samples[0]["target"] = wrong
    with pytest.raises(InputError, match=f"line 1, field 'target': the file's gold answer '{wrong}'"):
        score_predictions(benchmark="ai2d", data=str(path), predictions=_jsonl(tmp_path / "s.jsonl", samples))


def test_partial_lmms_eval_run_scores_only_what_it_predicts_when_asked(suite, tmp_path):
    path = suite[("pope", "fr")]
    items = _items("pope", path, "fr")
    done = items[: len(items) // 2]  # lmms-eval --limit N: the first N documents
    samples = _jsonl(tmp_path / "s.jsonl", [{"doc_id": i.row, "filtered_resps": "Oui" if i.answer == "yes" else "Non"}
                                            for i in done])
    full = score_predictions(benchmark="pope", data=str(path), language="fr", predictions=samples)
    part = score_predictions(benchmark="pope", data=str(path), language="fr", predictions=samples,
                             only_predicted=True)
    assert part["overall"]["accuracy"] == 1.0 and part["overall"]["n"] == len(done)
    assert full["overall"]["accuracy"] == pytest.approx(len(done) / len(items))
    assert len(part["unscored"]) == len(full["unscored"]) == len(items) - len(done)
    assert main(["score", "--benchmark", "pope", "--data", str(path), "--language", "fr", "--predictions",
                 str(samples), "--only-predicted", "--out", str(tmp_path / "m.json")]) == 0
    assert json.loads((tmp_path / "m.json").read_text())["overall"]["accuracy"] == 1.0
