import pytest

from babelvl.languages import load_language
from babelvl.testing.fixtures import mme_rows, write_mme, write_pope
from babelvl.data.loading import load_rows
from babelvl.translate.placeholders import join_lines, mask, remask, split_lines, unmask
from babelvl.translate.plan import build_plan
from babelvl.translate.specs import SPECS, spec_for


@pytest.mark.parametrize("text,values", [
    ("Is 3 > 2?", ("3", "2")),
    ("What is $x^2$ at x = 3.5?", ("$x^2$", "3.5")),
    ("See https://example.org/a_b (A) first", ("https://example.org/a_b", "(A)")),
    ("Call `f(1)` then ```\nblock 2\n```", ("`f(1)`", "```\nblock 2\n```")),
    ("It rose 12% to 1,000.50 on \\frac{1}{2}", ("12%", "1,000.50", "\\frac{1}{2}")),
    ("Which option, A or B?", ()),
])
def test_mask_round_trip(text, values):
    masked = mask(text)
    assert masked.values == values
    assert "⟦" in masked.text or not values
    assert unmask(masked.text, masked.values) == text


def test_quoted_names_only_when_asked():
    assert mask('Who wrote "War and Peace"?').values == ()
    assert mask('Who wrote "War and Peace"?', quoted=True).values == ('"War and Peace"',)


def test_same_shape_questions_share_a_segment():
    assert mask("Is 3 > 2?").text == mask("Is 5 > 4?").text


def test_remask_accepts_reordered_spans_and_refuses_lost_ones():
    assert remask("Est-ce que 3 > 2 ?", ("3", "2")) == "Est-ce que ⟦0⟧ > ⟦1⟧ ?"
    assert remask("2 < 3", ("3", "2")) == "⟦1⟧ < ⟦0⟧"
    assert remask("sans nombre", ("3",)) is None


def test_lines_keep_layout_and_skip_untranslatable_lines():
    lines = split_lines("First line\n  42  \n\nSecond $x$ line")
    assert [line.body is not None for line in lines] == [True, False, False, True]
    assert join_lines(lines, ["Première", None, None, "Deuxième ⟦0⟧ ligne".replace("⟦0⟧", "$x$")]) == \
        "Première\n  42  \n\nDeuxième $x$ line".replace("line", "ligne")


def test_plan_deduplicates_pope_like_questions(tmp_path):
    rows = [{"id": str(i), "question_id": str(i), "question": f"Is there a {['cat', 'dog'][i % 2]} in the image?",
             "answer": "yes", "image_source": "x", "category": "random"} for i in range(40)]
    data = load_rows(str(write_pope(tmp_path / "p.parquet", rows)))
    plan = build_plan(data, SPECS["pope"], load_language("en"), file="p.parquet")
    assert plan.occurrences == 40 and len(plan.segments) == 2
    no_dedup = build_plan(data, SPECS["pope"], load_language("en"), file="p.parquet", dedup=False)
    assert len(no_dedup.segments) == 40


def test_plan_cuts_the_mme_suffix_and_reports_missing_fields(tmp_path):
    rows = mme_rows()
    rows[1] = {**rows[1], "question": None}
    data = load_rows(str(write_mme(tmp_path / "m.parquet", rows)))
    plan = build_plan(data, spec_for("mme"), load_language("en"), file="m.parquet")
    assert all("Please answer" not in text for text in plan.segments.values())
    assert plan.rows[0]["question"].had_suffix
    assert plan.problems == [{"row": 1, "field": "question", "reason": "missing value: kept as is"}]


def test_plan_names_a_missing_column(tmp_path):
    from babelvl.errors import InputError

    data = load_rows(str(write_mme(tmp_path / "m.parquet", drop=("question",))))
    with pytest.raises(InputError, match="m.parquet.*field 'question'"):
        build_plan(data, spec_for("mme"), load_language("en"), file="m.parquet")
