"""Compatibility profiles: each reproduces its tool's reading AND aggregation (fixtures in the real answer styles)."""

from __future__ import annotations

import pytest

from babelvl.benchmarks.base import Item
from babelvl.benchmarks.registry import get_benchmark
from babelvl.eval.scoring import score_responses
from babelvl.languages import load_language
from babelvl.parsing import parse_answer


def yesno(text: str, mode: str, benchmark: str):
    return parse_answer(text, kind="yesno", options={}, pack=load_language("en"), mode=mode,
                        benchmark=benchmark)


@pytest.mark.parametrize("text, expected", [
    ("Yes", "yes"), ("No", "no"), ("No, there is no dog.", "no"),
    ("There is not a dog in the image.", "no"),
    ("Yes, there is a dog. It is not small.", "yes"),    # only the first sentence is read
    ("no. But maybe", "no"),
    ("NO", "yes"),                                        # only "No", "no", "not" are words for no
    ("I cannot tell", "yes"),                             # everything else is yes
    ("", "yes"),
])
def test_pope_official_reads_like_evaluate_py(text, expected):
    assert yesno(text, "pope-official", "pope").prediction == expected


@pytest.mark.parametrize("text, expected", [
    ("Yes", "yes"), ("yes, there is a train", "yes"), ("No.", "no"), ("none of them", "no"),
    ("y", None),          # lmms-eval's port reads "y"; the eval tool does not
    ("There is a dog", None), (" yes", "yes"),
])
def test_mme_official_reads_like_eval_tool(text, expected):
    assert yesno(text, "mme-official", "mme").prediction == expected


def test_official_profiles_refuse_other_benchmarks():
    with pytest.raises(ValueError, match="pope"):
        yesno("Yes", "pope-official", "mme")
    with pytest.raises(ValueError, match="mme"):
        yesno("Yes", "mme-official", "pope")


def _pope_items() -> list[Item]:
    golds = ["yes", "yes", "yes", "yes", "no", "no", "no", "no"]
    return [Item("pope", "en", f"random-{i}", i, "Is there a dog in the image?", g, category="random",
                 meta={"question_id": str(i)}) for i, g in enumerate(golds)]


def test_lmms_eval_pope_aggregation_differs_on_non_yes_no_answers():
    items = _pope_items()
    # gold yes: yes, yes, "There is a dog." (neither), no ; gold no: no, no, yes, no
    responses = dict(zip([i.id for i in items], ["Yes", "yes", "There is a dog.", "No", "No", "no", "Yes", "no"]))
    bench = get_benchmark("pope")
    lmms = score_responses(bench, items, responses, "en", "lmms-eval").metrics["overall"]
    ours = score_responses(bench, items, responses, "en", "vlmevalkit").metrics["overall"]
    # lmms-eval: TP=2, FP=1, FN counts only the exact "no" -> recall 2/3; yes_ratio from gold = 4/8
    assert lmms["precision"] == pytest.approx(2 / 3)
    assert lmms["recall"] == pytest.approx(2 / 3)
    assert lmms["yes_ratio"] == pytest.approx(0.5)
    # the official POPE aggregation (VLMEvalKit too): unread answers are "not yes" -> recall 2/4,
    # yes_ratio = share of yes predictions = 3/8
    assert ours["recall"] == pytest.approx(0.5)
    assert ours["yes_ratio"] == pytest.approx(3 / 8)
    assert lmms["accuracy"] == ours["accuracy"] == pytest.approx(5 / 8)


def test_score_responses_returns_judgments_and_intervals():
    items = _pope_items()
    responses = {items[0].id: "Oui", items[1].id: "", items[4].id: "Non."}
    result = score_responses(get_benchmark("pope"), items, responses, "fr")
    by_id = {s.id: s for s in result.scored}
    assert by_id[items[0].id].prediction == "yes" and by_id[items[0].id].correct
    assert by_id[items[1].id].status == "empty"
    assert by_id[items[2].id].status == "missing"
    u = result.metrics["uncertainty"]
    assert u["unit"].startswith("POPE item")
    acc = u["metrics"]["overall.accuracy"]
    assert acc["method"] == "wilson" and acc["ci95"][0] < acc["value"] < acc["ci95"][1]
    assert result.metrics["parser"] == "babelvl" and result.metrics["language"] == "fr"


def test_score_responses_takes_rows_or_ids():
    items = _pope_items()
    by_row = score_responses(get_benchmark("pope"), items, {0: "Yes", 4: "No"}, "en")
    by_id = score_responses(get_benchmark("pope"), items, {items[0].id: "Yes", items[4].id: "No"}, "en")
    assert [s.prediction for s in by_row.scored] == [s.prediction for s in by_id.scored]
    assert by_row.metrics["n_missing"] == 6
