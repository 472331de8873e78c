"""Context-aware translation units, code protection and grounding, end to end through a loopback server."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from babelvl.errors import InputError
from babelvl.languages import load_language
from babelvl.testing.fixtures import draw_image, write_mmbench, write_pope, write_scienceqa
from babelvl.testing.openai_server import FakeVLMServer
from babelvl.testing.toy_translator import toy_translate
from babelvl.translate.checks import check_code
from babelvl.translate.engines.prompts import parse_unit_answer, unit_prompt
from babelvl.translate.placeholders import join_lines, split_lines, unmask
from babelvl.translate.pipeline import TranslateSpec, run_translate

BASE = {"category": "spatial_relationship", "source": "fixture", "L2-category": "relation", "comment": None,
        "split": "dev", "hint": None, "C": None, "D": None}
CODE_OPTIONS = {"A": 'for x in range(6):\\n  print(x)\\nelse:\\n  print("Finally finished!")\\n',
                "B": "list = [] \nlist.append('Google') \nprint list", "C": "(a+b)*(a-b)",
                "D": "a^2 – 2*a*b + b^2"}
LONG_HINT = ("Read the text about the red car. The red car is in the image. " * 6).strip() + \
    "\nWhat is the color of the dog? The dog is blue."


def _rows() -> list[dict]:
    return [
        # one question and its circular copy (options rotated): one unit
        {**BASE, "index": 5, "question": "Which thing is the cat on?", "A": "left", "B": "right", "answer": "A"},
        {**BASE, "index": 1_000_005, "question": "Which thing is the cat on?", "A": "right", "B": "left",
         "answer": "B"},
        # the same option word under another question: another unit, another segment
        {**BASE, "index": 6, "question": "Where is the dog?", "A": "left", "B": "in the car", "answer": "A"},
        {**BASE, "index": 7, "question": "Which Python code can generate the content of the image?",
         **CODE_OPTIONS, "answer": "C"},
        {**BASE, "index": 8, "question": "What color is the car?", "hint": LONG_HINT, "A": "red",
         "B": "blue", "answer": "A"},
    ]


@pytest.fixture(scope="module")
def server():
    with FakeVLMServer(toy_translate) as srv:
        yield srv


def _run(server, data, out, engine="llm:openai:toy-translator", **kw):
    spec = TranslateSpec(data=str(data), languages=kw.pop("languages", ["fr"]), out_dir=out,
                         engine=engine, engine_options={"base_url": server.base_url, "license": "Apache-2.0"},
                         **kw)
    return run_translate(spec)


def _segments(out: Path, lang: str = "fr") -> list[dict]:
    return [json.loads(line) for line in (out / "segments" / f"{lang}.jsonl").read_text().splitlines()]


def _table(out: Path, lang: str) -> list[dict]:
    return pq.read_table(next((out / lang).glob("*.parquet"))).to_pylist()


def test_options_travel_with_their_question_and_copies_cost_one_request(server, tmp_path):
    data = write_mmbench(tmp_path / "mmbench.parquet", _rows())
    start = len(server.received)
    _run(server, data, tmp_path / "out", benchmark="mmbench")
    prompts = [r.prompt for r in server.received[start:]]
    cat = [p for p in prompts if "Which thing is the cat on?" in p and "Context" not in p]
    assert len(cat) == 1  # the circular copy is the same unit
    sent = json.loads(cat[0].split("English: ", 1)[1].rsplit("\nFrench:", 1)[0])
    assert sorted(sent.values()) == ["Which thing is the cat on?", "left", "right"]

    segments = _segments(tmp_path / "out")
    by_text: dict[str, list[dict]] = {}
    for s in segments:
        by_text.setdefault(s["source"], []).append(s)
    question = by_text["Which thing is the cat on?"][0]
    options = [s for s in segments if s["unit_id"] == question["unit_id"] and s["label"].startswith("option")]
    assert {s["source"] for s in options} == {"left", "right"}
    assert {s["request"] for s in options + [question]} == {"unit"}
    assert len({s["segment_id"] for s in by_text["left"]}) == 2  # "left" under two questions: two segments
    fr = _table(tmp_path / "out", "fr")
    assert fr[0]["A"] == fr[1]["B"] and fr[0]["B"] == fr[1]["A"]  # same unit, same translation


def test_code_and_formulas_come_back_unchanged_and_never_reach_the_engine(server, tmp_path):
    data = write_mmbench(tmp_path / "mmbench.parquet", _rows())
    start = len(server.received)
    _run(server, data, tmp_path / "out", benchmark="mmbench", languages=["fr", "de"])
    for lang in ("fr", "de"):
        row = _table(tmp_path / "out", lang)[3]
        assert {k: row[k] for k in "ABCD"} == CODE_OPTIONS
        assert row["question"] != _rows()[3]["question"]  # the question itself is translated
    assert not [r for r in server.received[start:] if "print" in r.prompt.split("Rules:")[0]
                or "(a+b)" in r.prompt or "append" in r.prompt]


def test_long_hint_goes_sentence_by_sentence_with_the_question_as_context(server, tmp_path):
    data = write_mmbench(tmp_path / "mmbench.parquet", _rows())
    start = len(server.received)
    _run(server, data, tmp_path / "out", benchmark="mmbench")
    hinted = [r.prompt for r in server.received[start:] if "The dog is blue." in r.prompt]
    assert len(hinted) == 1 and "Context" in hinted[0] and "What color is the car?" in hinted[0]
    sentences = [s for s in _segments(tmp_path / "out") if s["request"] == "sentence"]
    assert {s["source"] for s in sentences} == {"Read the text about the red car.", "The red car is in the image.",
                                                "What is the color of the dog?", "The dog is blue."}
    hint = _table(tmp_path / "out", "fr")[4]["hint"]
    assert hint.count("\n") == 1 and hint.count(".") + hint.count("?") == LONG_HINT.count(".") + LONG_HINT.count("?")
    assert "Le rouge voiture est dans le image." in hint


def test_malformed_answers_are_retried_then_translated_field_by_field(server, tmp_path):
    rows = [{**BASE, "index": 1, "question": "Is the MALFORMED cat red?", "A": "yes", "B": "no", "answer": "A"},
            {**BASE, "index": 2, "question": "Is the BROKENJSON dog blue?", "A": "the dog", "B": "a cat",
             "answer": "B"}]
    data = write_mmbench(tmp_path / "mmbench.parquet", rows)
    start = len(server.received)
    _run(server, data, tmp_path / "out", benchmark="mmbench", retries=1)
    segments = {s["source"]: s for s in _segments(tmp_path / "out")}
    fixed = segments["Is the MALFORMED cat red?"]
    assert fixed["request"] == "unit" and fixed["attempt"] == 1 and fixed["tries"] == 2
    broken = [segments[t] for t in ("Is the BROKENJSON dog blue?", "the dog", "a cat")]
    assert {s["request"] for s in broken} == {"segment"}
    option_prompt = next(r.prompt for r in server.received[start:] if r.prompt.endswith("English: the dog\nFrench:"))
    assert "Context" in option_prompt and "Is the BROKENJSON dog blue?" in option_prompt
    assert _table(tmp_path / "out", "fr")[1]["A"] == "le chien"
    report = json.loads((tmp_path / "out" / "quality_report.json").read_text())
    fr = report["languages"]["fr"]
    assert fr["retried"] >= 3  # the retried unit's segments (both passes answered them)
    assert fr["units"] == 2 and fr["segment_fallbacks"] == 1 and fr["sent_whole"] == 1
    assert "Segment fallbacks" in (tmp_path / "out" / "quality_report.md").read_text()


def test_scienceqa_choices_are_one_request_with_the_question(server, tmp_path):
    data = write_scienceqa(tmp_path / "sqa.parquet")
    start = len(server.received)
    _run(server, data, tmp_path / "out", benchmark="scienceqa")
    prompts = [r.prompt for r in server.received[start:]]
    east = [p for p in prompts if "Which direction is east?" in p]
    assert len(east) == 1 and all(w in east[0] for w in ("north", "south", "west"))
    assert len([p for p in prompts if "<source>" not in p]) == 3  # one request per item (then retries)
    for src, row in zip(pq.read_table(data).to_pylist(), _table(tmp_path / "out", "fr")):
        assert len(row["choices"]) == len(src["choices"]) and row["answer"] == src["answer"]


def _pope(tmp_path):
    rows = [{"id": str(i), "question_id": str(i), "question": "Is there a cat in the image?", "answer": "yes",
             "image_source": f"img{i}", "category": "random", "image": draw_image(i)} for i in range(2)]
    rows.append({**rows[0], "id": "2", "question_id": "2"})  # same question, same image as row 0
    return write_pope(tmp_path / "pope.parquet", rows)


def test_grounded_units_see_their_image_and_key_on_it(server, tmp_path):
    data = _pope(tmp_path)
    start = len(server.received)
    _run(server, data, tmp_path / "out", engine="vlm:openai:toy-translator", benchmark="pope",
         ground_images=True)
    received = server.received[start:]
    assert len(received) == 2  # one question over two images: two units; the repeated image: none more
    assert sorted(r.images[0] for r in received) == sorted([draw_image(0), draw_image(1)])
    provenance = [json.loads(r["babelvl_provenance"]) for r in _table(tmp_path / "out", "fr")]
    assert [p["grounded"] for p in provenance] == [True, True, True]
    assert len({p["units"][0] for p in provenance}) == 2
    report = json.loads((tmp_path / "out" / "quality_report.json").read_text())
    assert report["languages"]["fr"]["grounded"] == 2 and report["languages"]["fr"]["ungrounded"] == 0

    start = len(server.received)
    _run(server, data, tmp_path / "plain", engine="vlm:openai:toy-translator", benchmark="pope")
    assert len(server.received) - start == 1 and not server.received[-1].images  # ungrounded: one unit
    provenance = json.loads(_table(tmp_path / "plain", "fr")[0]["babelvl_provenance"])
    assert provenance["grounded"] is False


def test_grounding_needs_an_engine_that_sees_images(server, tmp_path, capsys):
    with pytest.raises(InputError, match="ground-images"):
        _run(server, _pope(tmp_path), tmp_path / "out", benchmark="pope", ground_images=True)
    from babelvl.cli import main

    code = main(["translate", "--benchmark", "pope", "--data", str(_pope(tmp_path)), "--languages", "fr",
                 "--engine", "openai:toy-translator", "--api-base", server.base_url, "--ground-images",
                 "--out", str(tmp_path / "cli")])
    assert code == 2 and "vlm:" in capsys.readouterr().err


def test_rerun_reuses_answers_and_checks(server, tmp_path):
    data = write_mmbench(tmp_path / "mmbench.parquet", _rows())
    _run(server, data, tmp_path / "out", benchmark="mmbench")
    first = (tmp_path / "out" / "fr").glob("*.parquet").__next__().read_bytes()
    calls = server.request_count
    _run(server, data, tmp_path / "out", benchmark="mmbench")
    assert server.request_count == calls
    assert next((tmp_path / "out" / "fr").glob("*.parquet")).read_bytes() == first
    assert all(s["checked"] for s in _segments(tmp_path / "out"))


# --- code detection and the code check, without a server --------------------------------------------

@pytest.mark.parametrize("text", [
    'for x in range(6):\\n  print(x)\\nelse:\\n  print("Finally finished!")\\n',
    'fruits = ["apple", "banana"]\nfor x in fruits:\nif x == "banana":\ncontinue\nprint(x)',
    '<!DOCTYPE html>\n<html>\n<body>\n\n<h1>JavaScript Functions</h1>\n</body>',
    "(a+b)*(a-b)", "a^2 – 2*a*b + b^2", 'print "My name is %s" % (\'Zara\', 21)',
])
def test_code_values_are_one_verbatim_line(text):
    lines = split_lines(text)
    assert [line.body for line in lines] == [None] and join_lines(lines, [None]) == text


def test_code_inside_prose_fenced_blocks_and_tables():
    text = "Run this code:\n```python\nprint(list[0])\n```\nThen answer.\nName | Age | City"
    lines = split_lines(text)
    bodies = [line.body.text if line.body else None for line in lines]
    assert bodies == ["Run this code:", None, None, None, "Then answer.", "Name⟦0⟧Age⟦1⟧City"]
    translated = [unmask(b.replace("Name", "Nom"), line.body.values) if line.body else None
                  for b, line in zip(bodies, lines)]
    assert join_lines(lines, translated).endswith("```\nThen answer.\nNom | Age | City")


def test_comments_mode_translates_only_comments():
    text = "x = 1  # the answer\nprint(x)\n// shows it"
    lines = split_lines(text, code="comments")
    assert [line.body.text if line.body else None for line in lines] == ["the answer", None, "shows it"]
    assert join_lines(lines, ["la réponse", None, "le montre"]) == "x = 1  # la réponse\nprint(x)\n// le montre"
    assert [line.body for line in split_lines(text)] == [None]  # verbatim (the default)


def test_code_check_flags_rewritten_identifiers_and_formulas():
    assert check_code("Which is (a+b)*(a-b)?", "Lequel est (un+b)*(un-b) ?").check == "code"
    failure = check_code("Call re.match and my_func(x) here", "Appelez re.correspond et ma_fonc(x) ici")
    assert failure is not None and "re.match" in failure.reason and "my_func" in failure.reason
    assert check_code("Call re.match and my_func(x) here", "Appelez re.match et my_func(x) ici") is None
    assert check_code("Is there a cat in the image?", "Y a-t-il un chat ?") is None


def test_unit_prompt_and_answer_parsing():
    en, fr = load_language("en"), load_language("fr")
    prompt = unit_prompt([("question", "Which is ⟦0⟧?"), ("option_1", "left")], en, fr)
    assert '{"question": "Which is ⟦0⟧?", "option_1": "left"}' in prompt.user
    assert "same keys" in prompt.system
    labels = ["question", "option_1"]
    assert parse_unit_answer('```json\n{"question": "Lequel ?", "option_1": "gauche"}\n```', labels) == \
        {"question": "Lequel ?", "option_1": "gauche"}
    assert parse_unit_answer('{"question": "Lequel ?"}', labels) is None  # a key missing
    assert parse_unit_answer('{"question": "Lequel ?", "option_1": 3}', labels) is None
    assert parse_unit_answer("Lequel ? gauche", labels) is None


def test_edits_keyed_by_text_before_units_still_apply(server, tmp_path):
    """Post-edits imported by an older babelvl name a segment by its text alone; they are not lost."""
    from babelvl.translate.base import segment_id
    from babelvl.translate.edits import Edit, EditStore

    data = write_mmbench(tmp_path / "mmbench.parquet", _rows())
    out = tmp_path / "out"
    out.mkdir()
    with EditStore(out / "edits.sqlite") as store:
        store.apply([Edit(segment_id("Where is the dog?"), "fr", "Où est le chien ?", "Où est le chien?", "ana",
                          "2026-01-01T00:00:00Z")])
    _run(server, data, out, benchmark="mmbench")
    assert _table(out, "fr")[2]["question"] == "Où est le chien ?"
    edited = [s for s in _segments(out) if s["edited"]]
    assert [s["source"] for s in edited] == ["Where is the dog?"] and edited[0]["request"] == "unit"
