"""Annotation protocols as YAML: the shipped ones load, validate answers and score hand-computed
cases; a team's own protocol is a file on BABELVL_PROTOCOL_PATH; broken files name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from babelvl.errors import InputError
from babelvl.quality.protocols import list_protocols, load_protocol

SHIPPED = ("esa", "mqm", "likert", "postedit")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_protocols_load(name):
    protocol = load_protocol(name)
    assert protocol.name == protocol.kind == name
    assert protocol.description and protocol.reference and protocol.title
    assert Path(protocol.source).name == f"{name}.yaml"
    assert name in list_protocols()


def test_esa_validates_and_scores():
    esa = load_protocol("esa")
    assert esa.severities == ("minor", "major") and esa.categories == ()
    assert esa.anchors["score"][0].startswith("No meaning preserved")
    assert set(esa.anchors["score"]) == {0, 33, 66, 100}
    good = {"score": 72, "spans": [{"start": 0, "end": 3, "severity": "major"},
                                   {"start": None, "end": None, "severity": "minor"}]}
    assert esa.validate(good, target_text="Le chat") == []
    assert esa.score(good) == 72.0
    assert esa.validate({"score": 0, "spans": []}) == []
    assert esa.validate({"score": 100}) == []  # no spans: no errors marked

    problems = esa.validate({"score": 101, "spans": [{"start": 2, "end": 9, "severity": "huge"}]},
                            target_text="Le chat")
    assert any("outside the scale 0-100" in p for p in problems)
    assert any("unknown severity 'huge'" in p for p in problems)
    assert any("past the translation's 7 characters" in p for p in problems)
    assert esa.validate({"spans": []}) == ["'score' is required"]
    assert esa.validate({"score": 50.5}) == ["'score' is 50.5, not on the scale's steps of 1 from 0"]
    assert esa.validate({"score": True})[0].startswith("'score' must be a number")
    assert esa.validate({"score": 5, "sore": 5})[0].startswith("unknown answer 'sore'")
    assert esa.validate([1, 2]) == ["answers must be a JSON object, not list"]
    assert "start 4 and end 4" in esa.validate({"score": 5, "spans": [
        {"start": 4, "end": 4, "severity": "minor"}]})[0]
    assert "no categories" in esa.validate({"score": 5, "spans": [
        {"start": 0, "end": 1, "severity": "minor", "category": "style"}]})[0]
    assert esa.score({"spans": []}) is None


def test_mqm_weights_and_score():
    mqm = load_protocol("mqm")
    assert mqm.weights == {"minor": 1.0, "major": 5.0, "critical": 25.0}
    assert mqm.error_weight("minor", "fluency/punctuation") == 0.1
    assert mqm.error_weight("major", "fluency/punctuation") == 5.0
    assert mqm.error_weight("minor", "non-translation") == 25.0
    assert {"accuracy/mistranslation", "accuracy/omission", "accuracy/addition",
            "accuracy/untranslated", "fluency/grammar", "fluency/spelling", "fluency/punctuation",
            "terminology", "style", "locale convention"} <= set(mqm.categories)
    errors = [{"start": 0, "end": 2, "severity": "major", "category": "accuracy/mistranslation"},
              {"start": 3, "end": 4, "severity": "minor", "category": "fluency/grammar"},
              {"start": 5, "end": 6, "severity": "minor", "category": "fluency/punctuation"},
              {"severity": "critical", "category": "accuracy/omission"}]
    answer = {"errors": errors}
    assert mqm.validate(answer, target_text="ab cd ef") == []
    # 5 + 1 + 0.1 + 25
    assert mqm.score(answer) == pytest.approx(-31.1)
    assert mqm.score({"errors": []}) == 0.0
    problems = mqm.validate({"errors": [{"severity": "major"},
                                        {"severity": "minor", "category": "vibes", "sevrity": 1}]})
    assert any("errors[0]: unknown category None" in p for p in problems)
    assert any("errors[1]: unknown category 'vibes'" in p for p in problems)
    assert any("unknown key(s) sevrity" in p for p in problems)


def test_mqm_per_words_normalisation_from_a_custom_file(tmp_path, monkeypatch):
    text = (Path(load_protocol("mqm").source).read_text(encoding="utf-8")
            .replace("name: mqm", "name: mqm100").replace("per_words: null", "per_words: 100"))
    (tmp_path / "mqm100.yaml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("BABELVL_PROTOCOL_PATH", str(tmp_path))
    mqm = load_protocol("mqm100")
    answer = {"errors": [{"severity": "major", "category": "style"}]}
    # 5 points over 4 target words -> 125 per 100 words.
    assert mqm.score(answer, target_text="un deux trois quatre") == -125.0
    with pytest.raises(InputError, match="pass target_text"):
        mqm.score(answer)


def test_likert_validates_and_scores():
    likert = load_protocol("likert")
    assert [s.name for s in likert.scales] == ["adequacy", "fluency"]
    assert likert.anchors["adequacy"][5] == "All meaning"
    assert likert.anchors["fluency"][1] == "Incomprehensible"
    assert likert.validate({"adequacy": 4, "fluency": 5}) == []
    assert likert.score({"adequacy": 4, "fluency": 5}) == 4.5
    assert likert.score({"adequacy": 4, "fluency": 5}, scale="fluency") == 5.0
    assert likert.validate({"adequacy": 0, "fluency": 6}) == [
        "'adequacy' is 0, outside the scale 1-5", "'fluency' is 6, outside the scale 1-5"]
    assert likert.validate({"adequacy": 3}) == ["'fluency' is required"]
    assert likert.validate({"adequacy": "4", "fluency": 4})[0].startswith("'adequacy' must be a number")
    with pytest.raises(KeyError):
        likert.score({}, scale="beauty")


def test_postedit_hter():
    postedit = load_protocol("postedit")
    assert postedit.fields[0].name == "post_edit" and postedit.fields[0].prefill == "target"
    assert postedit.validate({"post_edit": "le chat est noir"}) == []
    assert postedit.validate({"post_edit": "  "}) == ["'post_edit' is required"]
    assert postedit.validate({"post_edit": 3}) == ["'post_edit' must be text"]
    # one inserted word over a 4-word post-edit
    assert postedit.score({"post_edit": "le chat est noir"}, target_text="le chat noir") == 0.25
    assert postedit.score({"post_edit": "le chat noir"}, target_text="le chat noir") == 0.0
    # case-sensitive, like babelvl's post-editing HTER
    assert postedit.score({"post_edit": "Le chat noir"}, target_text="le chat noir") == pytest.approx(1 / 3)
    with pytest.raises(InputError, match="pass target_text"):
        postedit.score({"post_edit": "x"})


CUSTOM = """
name: acceptability
kind: likert
title: Usable as a benchmark item?
description: One 0-3 judgement per item.
scales:
  - name: usable
    min: 0
    max: 3
    widget: choices
    anchors: {0: Unusable, 1: Needs major fixes, 2: Needs minor fixes, 3: Usable as is}
score:
  scales: [usable]
"""


def test_a_team_adds_a_protocol_with_a_yaml_file(tmp_path, monkeypatch):
    (tmp_path / "acceptability.yaml").write_text(CUSTOM, encoding="utf-8")
    # a user file with a shipped name takes precedence over the shipped one
    (tmp_path / "esa.yaml").write_text(CUSTOM.replace("acceptability", "esa"), encoding="utf-8")
    monkeypatch.setenv("BABELVL_PROTOCOL_PATH", str(tmp_path))
    names = list_protocols()
    assert names[:2] == ["acceptability", "esa"] and {"mqm", "likert", "postedit"} <= set(names)
    protocol = load_protocol("acceptability")
    assert protocol.validate({"usable": 2}) == []
    assert protocol.validate({"usable": 4}) == ["'usable' is 4, outside the scale 0-3"]
    assert protocol.score({"usable": 2}) == 2.0
    assert load_protocol("esa").kind == "likert"
    assert load_protocol(tmp_path / "acceptability.yaml").name == "acceptability"
    monkeypatch.delenv("BABELVL_PROTOCOL_PATH")
    assert load_protocol("esa").kind == "esa"
    with pytest.raises(InputError, match="unknown protocol 'acceptability'"):
        load_protocol("acceptability")


@pytest.mark.parametrize("change, key, message", [
    (("kind: likert", "kind: vibes"), "kind", "unknown kind 'vibes'"),
    (("max: 3", "max: 0"), "scales[0].max", "must be above min"),
    (("widget: choices", "widget: slider"), "scales[0].widget", "unknown widget"),
    (("{0: Unusable,", "{7: Unusable,"), "scales[0].anchors", "anchor 7"),
    (("scales: [usable]", "scales: [beauty]"), "score.scales", "must list scales"),
    (("title:", "colour: red\ntitle:"), "colour", "unknown key"),
])
def test_broken_protocol_files_name_the_key(tmp_path, change, key, message):
    path = tmp_path / "acceptability.yaml"
    path.write_text(CUSTOM.replace(*change), encoding="utf-8")
    with pytest.raises(InputError, match=message) as info:
        load_protocol(path)
    assert info.value.file == str(path) and info.value.field == key


def test_file_name_must_match_protocol_name(tmp_path, monkeypatch):
    (tmp_path / "other.yaml").write_text(CUSTOM, encoding="utf-8")
    monkeypatch.setenv("BABELVL_PROTOCOL_PATH", str(tmp_path))
    with pytest.raises(InputError, match="declares name 'acceptability'"):
        load_protocol("other")
