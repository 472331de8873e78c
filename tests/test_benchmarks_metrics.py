"""Official metrics of every benchmark against hand-computed numbers, edge cases included."""

from __future__ import annotations

import pytest

from babelvl.benchmarks.base import Item, Scored
from babelvl.benchmarks.mmbench import CIRCULAR_OFFSET, rotate
from babelvl.benchmarks.pope import binary_metrics
from babelvl.benchmarks.registry import get_benchmark


def sc(item_id, answer, prediction, *, category=None, status=None, **meta) -> Scored:
    status = status or ("ok" if prediction is not None else "unparseable")
    return Scored(id=item_id, row=0, language="en", answer=answer, prediction=prediction, status=status,
                  correct=prediction is not None and prediction == answer, category=category, meta=meta)


# --- MMBench ------------------------------------------------------------------------------------------

def _mm(index: int, answer: str, prediction: str | None, category: str, l2: str, **kw) -> Scored:
    return sc(str(index), answer, prediction, category=category, group=index % CIRCULAR_OFFSET,
              **{"pass": index // CIRCULAR_OFFSET}, l2_category=l2, **kw)


def test_mmbench_circular_groups_with_one_pass_wrong():
    m = CIRCULAR_OFFSET
    scored = [
        # question 1, two options: both passes right -> counts
        _mm(1, "A", "A", "ocr", "FP-S"), _mm(1 + m, "B", "B", "ocr", "FP-S"),
        # question 2, three options: pass 1 wrong -> the question is wrong, pass 0 is right (vanilla)
        _mm(2, "C", "C", "ocr", "FP-S"), _mm(2 + m, "B", "A", "ocr", "FP-S"),
        _mm(2 + 2 * m, "A", "A", "ocr", "FP-S"),
        # question 3, four options: pass 0 unparseable, the rest right
        _mm(3, "D", None, "scene", "CP"), _mm(3 + m, "C", "C", "scene", "CP"),
        _mm(3 + 2 * m, "B", "B", "scene", "CP"), _mm(3 + 3 * m, "A", "A", "scene", "CP", status="ok"),
    ]
    scored[4].status = "refusal"  # a refusal that happens to have been parsed: counted, still scored
    metrics = get_benchmark("mmbench").metrics(scored)
    assert metrics["circular_accuracy"] == pytest.approx(1 / 3)
    assert metrics["vanilla_accuracy"] == pytest.approx(2 / 3)
    assert metrics["n_questions"] == 3 and metrics["n_items"] == 9
    assert metrics["categories"] == {
        "ocr": {"circular_accuracy": 0.5, "vanilla_accuracy": 1.0, "n": 2},
        "scene": {"circular_accuracy": 0.0, "vanilla_accuracy": 0.0, "n": 1}}
    assert metrics["l2_categories"]["FP-S"] == {"circular_accuracy": 0.5, "vanilla_accuracy": 1.0, "n": 2}
    assert (metrics["n_unparseable"], metrics["n_refusal"], metrics["n_missing"]) == (1, 1, 0)
    assert "circular_note" not in metrics


def test_mmbench_only_originals_gives_no_circular_accuracy_and_says_why():
    scored = [_mm(1, "A", "A", "ocr", "FP-S"), _mm(2, "B", "A", "ocr", "FP-S"),
              _mm(3, "C", "C", "scene", "CP")]
    metrics = get_benchmark("mmbench").metrics(scored)
    assert metrics["circular_accuracy"] is None and "circular_note" in metrics
    assert metrics["vanilla_accuracy"] == pytest.approx(2 / 3)
    assert metrics["categories"]["ocr"] == {"circular_accuracy": None, "vanilla_accuracy": 0.5, "n": 2}


def test_mmbench_groups_fall_back_to_the_id_when_meta_is_absent():
    scored = [sc("4", "A", "A"), sc(str(4 + CIRCULAR_OFFSET), "B", "A")]
    metrics = get_benchmark("mmbench").metrics(scored)
    assert metrics["circular_accuracy"] == 0.0 and metrics["vanilla_accuracy"] == 1.0
    assert metrics["categories"] == {"uncategorized": {"circular_accuracy": 0.0,
                                                       "vanilla_accuracy": 1.0, "n": 1}}


@pytest.mark.parametrize("options,answer,expected", [
    # pass k shows at letter i the text of original option (i + k) mod N; the answer moves to (a - k) mod N
    ({"A": "x", "B": "y"}, "A", [({"A": "x", "B": "y"}, "A"), ({"A": "y", "B": "x"}, "B")]),
    ({"A": "x", "B": "y", "C": "z"}, "B",
     [({"A": "x", "B": "y", "C": "z"}, "B"), ({"A": "y", "B": "z", "C": "x"}, "A"),
      ({"A": "z", "B": "x", "C": "y"}, "C")]),
    ({"A": "p", "B": "q", "C": "r", "D": "s"}, "D",
     [({"A": "p", "B": "q", "C": "r", "D": "s"}, "D"), ({"A": "q", "B": "r", "C": "s", "D": "p"}, "C"),
      ({"A": "r", "B": "s", "C": "p", "D": "q"}, "B"), ({"A": "s", "B": "p", "C": "q", "D": "r"}, "A")]),
])
def test_rotation_moves_the_answer_with_its_text(options, answer, expected):
    for k, (want_options, want_answer) in enumerate(expected):
        got_options, got_answer = rotate(options, answer, k)
        assert got_options == want_options and got_answer == want_answer
        assert got_options[got_answer] == options[answer]  # the gold text never changes


def test_circular_expansion_from_originals_rotates_answers(tmp_path):
    from babelvl.data.loading import load_rows
    from babelvl.testing.fixtures import mmbench_rows, write_mmbench

    path = write_mmbench(tmp_path / "mmb.parquet", mmbench_rows())
    items = [i for i in get_benchmark("mmbench").iter_items(load_rows(str(path)), "en", str(path))
             if isinstance(i, Item)]
    by_id = {i.id: i for i in items}
    assert [i.id for i in items] == ["0", "1000000", "2000000", "3000000", "1", "1000001",
                                     "2", "1000002", "2000002"]
    assert by_id["1000000"].options == {"A": "green", "B": "blue", "C": "yellow", "D": "red"}
    assert by_id["1000000"].answer == "B" and by_id["3000000"].answer == "D"
    assert by_id["1000001"].options == {"A": "no", "B": "yes"} and by_id["1000001"].answer == "B"
    assert by_id["2000002"].options == {"A": "EXIT", "B": "CLOSED", "C": "OPEN"}
    assert by_id["2000002"].answer == "C"
    for item in items:
        assert item.options[item.answer] == by_id[str(item.meta["group"])].options[
            by_id[str(item.meta["group"])].answer]
        assert item.meta["pass"] == int(item.id) // CIRCULAR_OFFSET and item.row == item.meta["group"]
    # All right except one rotated pass: CircularEval drops that question, vanilla does not.
    scored = [sc(i.id, i.answer, i.answer if i.id != "2000002" else "A", category=i.category, **i.meta)
              for i in items]
    metrics = get_benchmark("mmbench").metrics(scored)
    assert metrics["circular_accuracy"] == pytest.approx(2 / 3) and metrics["vanilla_accuracy"] == 1.0


# --- MME ----------------------------------------------------------------------------------------------

def _mme(image: str, k: int, answer: str, prediction: str | None, category: str) -> Scored:
    return sc(f"{image}#{k}", answer, prediction, category=category, image_id=image)


def test_mme_acc_acc_plus_and_totals_hand_computed():
    scored = [
        _mme("existence/1.png", 0, "yes", "yes", "existence"),
        _mme("existence/1.png", 1, "no", "no", "existence"),
        # second image: one question wrong -> acc 3/4, acc_plus 1/2 -> score 125
        _mme("existence/2.png", 0, "yes", "yes", "existence"),
        _mme("existence/2.png", 1, "no", "yes", "existence"),
        _mme("code/1.png", 0, "yes", "yes", "code_reasoning"),
        _mme("code/1.png", 1, "no", "no", "code_reasoning"),
        # OCR: both wrong (one unparseable) -> 0
        _mme("OCR/1.png", 0, "yes", None, "OCR"), _mme("OCR/1.png", 1, "no", "yes", "OCR"),
    ]
    metrics = get_benchmark("mme").metrics(scored)
    existence = metrics["categories"]["existence"]
    assert existence["acc"] == 0.75 and existence["acc_plus"] == 0.5 and existence["score"] == 125.0
    assert existence["n"] == 4 and existence["n_images"] == 2 and existence["n_unpaired_images"] == 0
    assert metrics["categories"]["OCR"]["score"] == 0.0
    assert metrics["perception"] == 125.0 and metrics["cognition"] == 200.0 and metrics["total"] == 325.0
    assert metrics["n_unparseable"] == 1 and metrics["n"] == 8


def test_mme_image_with_one_question_counts_in_acc_but_never_in_acc_plus():
    scored = [_mme("count/1.png", 0, "yes", "yes", "count"),                          # pair partner missing
              _mme("count/2.png", 0, "no", "no", "count"), _mme("count/2.png", 1, "yes", "yes", "count")]
    count = get_benchmark("mme").metrics(scored)["categories"]["count"]
    assert count["acc"] == 1.0 and count["acc_plus"] == pytest.approx(1 / 2)
    assert count["score"] == pytest.approx(150.0) and count["n_unpaired_images"] == 1


def test_mme_unknown_categories_are_listed_but_not_summed_and_image_comes_from_id():
    scored = [sc("x/1.png#0", "yes", "yes", category="my_category"),
              sc("x/1.png#1", "no", "no", category="my_category")]
    metrics = get_benchmark("mme").metrics(scored)
    assert metrics["categories"]["my_category"]["score"] == 200.0 and metrics["total"] == 0.0


# --- POPE ---------------------------------------------------------------------------------------------

def test_pope_split_without_yes_predictions_and_overall():
    gold = ["yes", "yes", "no", "no"]
    random_preds = ["no", None, "no", "no"]        # never "yes"; one unparseable counts as not yes
    popular_preds = ["yes", "no", "yes", "no"]
    scored = [sc(f"random-{i}", g, p, category="random")
              for i, (g, p) in enumerate(zip(gold, random_preds))]
    scored += [sc(f"popular-{i}", g, p, category="popular")
               for i, (g, p) in enumerate(zip(gold, popular_preds))]
    metrics = get_benchmark("pope").metrics(scored)
    assert set(metrics) >= {"overall", "random", "popular"} and "adversarial" not in metrics
    assert metrics["random"] == {"accuracy": 0.5, "precision": 0.0, "recall": 0.0, "f1": 0.0,
                                 "yes_ratio": 0.0, "n": 4}
    assert metrics["popular"] == {"accuracy": 0.5, "precision": 0.5, "recall": 0.5, "f1": 0.5,
                                  "yes_ratio": 0.5, "n": 4}
    overall = metrics["overall"]
    assert overall["accuracy"] == 0.5 and overall["precision"] == 0.5 and overall["recall"] == 0.25
    assert overall["f1"] == pytest.approx(1 / 3) and overall["yes_ratio"] == 0.25 and overall["n"] == 8
    assert metrics["n_unparseable"] == 1


def test_pope_all_yes_and_empty():
    scored = [sc("a", "yes", "yes"), sc("b", "no", "yes"), sc("c", "no", "yes")]
    m = binary_metrics(scored)
    assert m["precision"] == pytest.approx(1 / 3) and m["recall"] == 1.0 and m["yes_ratio"] == 1.0
    assert m["f1"] == pytest.approx(0.5)
    assert binary_metrics([])["accuracy"] is None


# --- ScienceQA and AI2D -------------------------------------------------------------------------------

def test_scienceqa_accuracy_overall_and_per_field():
    scored = [sc("sqa-0", "A", "A", category="Magnets", subject="natural science", grade="grade3"),
              sc("sqa-1", "C", "B", category="Geography", subject="social science", grade="grade2"),
              sc("sqa-2", "B", "B", category="Magnets", subject="natural science", grade="grade2"),
              sc("sqa-3", "A", None, status="missing", category="Magnets", subject="natural science",
                 grade="grade3")]
    metrics = get_benchmark("scienceqa").metrics(scored)
    assert metrics["accuracy"] == 0.5 and metrics["n"] == 4 and metrics["n_missing"] == 1
    assert metrics["subjects"] == {"natural science": {"accuracy": pytest.approx(2 / 3), "n": 3},
                                   "social science": {"accuracy": 0.0, "n": 1}}
    assert metrics["grades"] == {"grade2": {"accuracy": 0.5, "n": 2}, "grade3": {"accuracy": 0.5, "n": 2}}
    assert metrics["categories"]["Magnets"] == {"accuracy": pytest.approx(2 / 3), "n": 3}


def test_scienceqa_without_grade_or_category_fields_omits_them():
    metrics = get_benchmark("scienceqa").metrics([sc("sqa-0", "A", "A")])
    assert metrics["accuracy"] == 1.0 and metrics["subjects"] == {}
    assert "grades" not in metrics and "categories" not in metrics


def test_ai2d_accuracy_and_status_counts():
    scored = [sc("ai2d-0", "A", "A"), sc("ai2d-1", "B", "C"), sc("ai2d-2", "D", None),
              sc("ai2d-3", "A", None, status="refusal")]
    metrics = get_benchmark("ai2d").metrics(scored)
    assert metrics == {"accuracy": 0.25, "n": 4, "n_unparseable": 1, "n_refusal": 1, "n_unsure": 0,
                       "n_empty": 0, "n_missing": 0}
    assert get_benchmark("ai2d").metrics([])["accuracy"] is None
