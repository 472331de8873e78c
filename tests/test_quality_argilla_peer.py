"""Argilla's own SDK (PyPI ``argilla`` 2.8, in a peer venv) reads babelvl's dataset settings and records,
and the records it writes with responses read back into babelvl.

No Argilla server is needed: ``rg.Record`` (records, suggestions, responses) works without one, and the
settings are checked by the SDK's own pydantic models of fields and questions (``argilla._models``: what
``rg.Settings`` sends to a server; ``rg.Settings`` itself insists on connecting to one when built).
"""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest

from babelvl.quality.interchange import argilla_settings, export_argilla, import_argilla
from babelvl.quality.protocols import load_protocol
from babelvl.quality.schema import Assignment, SampleItem

ARGILLA = "argilla==2.8.0"
ITEMS = [SampleItem(f"mme:de:{i}:question", "de", "mme", "question", "What colour is the car?",
                    "Welche Farbe hat das Auto?", image_path=f"images/{i}.png") for i in range(2)]
ASSIGNED = [Assignment(it.item_id, "ana") for it in ITEMS]
USER = str(uuid.UUID(int=7))

PEER_SCRIPT = r'''
import json, sys, uuid
import argilla as rg
from argilla._models import (FieldModel, ImageFieldSettings, QuestionModel, RatingQuestionSettings,
                             SpanQuestionSettings, TextFieldSettings, TextQuestionSettings)

cases = json.load(open(sys.argv[1]))
results = {}
for case_name, case in cases.items():
  settings, records, answers = case['settings'], case['records'], case['answers']
  fields = [FieldModel(name=f["name"], required=f["required"], title=f.get("title") or f["name"],
                       settings=ImageFieldSettings() if f["type"] == "image" else TextFieldSettings())
            for f in settings["fields"]]
  options = {}
  for q in settings["questions"]:
      if q["type"] == "span":
          s = SpanQuestionSettings(field=q["field"], allow_overlapping=q["allow_overlapping"],
                                   options=[{"value": v, "text": t} for v, t in q["labels"].items()])
          options[q["name"]] = {o["value"] for o in s.options}
      elif q["type"] == "rating":
          s = RatingQuestionSettings(options=[{"value": v} for v in q["values"]])
          options[q["name"]] = {o["value"] for o in s.options}
      else:
          s = TextQuestionSettings()
      QuestionModel(name=q["name"], title=q["title"], description=q.get("description"), required=q["required"],
                    settings=s)
  field_names = {f.name for f in fields}
  out = []
  for raw in records:
      record = rg.Record.from_dict(raw)
      assert set(record.fields.to_dict()) <= field_names, record.fields.to_dict()
      back = record.to_dict()
      assert (back["id"], back["fields"], back["metadata"], back["suggestions"]) == \
          (raw["id"], raw["fields"], raw["metadata"], raw["suggestions"]), (back, raw)
      given = answers.get(raw["id"])
      if given:
          for name, value in given.items():
              if name in options and isinstance(value, list):
                  assert all(v["label"] in options[name] for v in value), (name, value)
              elif name in options:
                  assert value in options[name], (name, value)
          record = rg.Record(id=raw["id"], fields=raw["fields"], metadata=raw["metadata"],
                             responses=[rg.Response(n, v, user_id=uuid.UUID(sys.argv[3]), status="submitted")
                                        for n, v in given.items()])
      out.append(record.to_dict())
  results[case_name] = out
json.dump(results, open(sys.argv[2], "w"))
'''

ANSWERS = {
    "esa": ({"spans": [{"start": 0, "end": 6, "label": "major"}], "score": "72"},
            {"spans": [{"start": 0, "end": 6, "severity": "major", "text": "Welche"}], "score": 72}),
    "mqm": ({"errors": [{"start": 0, "end": 6, "label": "accuracy/mistranslation:major"},
                        {"start": 27, "end": 36, "label": "accuracy/omission:minor"}]},
            {"errors": [{"start": 0, "end": 6, "severity": "major", "category": "accuracy/mistranslation",
                         "text": "Welche"},
                        {"start": None, "end": None, "severity": "minor", "category": "accuracy/omission"}]}),
    "likert": ({"adequacy": 4, "fluency": 5}, {"adequacy": 4, "fluency": 5}),
    "postedit": ({"post_edit": "Welche Farbe hat dieses Auto?"}, {"post_edit": "Welche Farbe hat dieses Auto?"}),
}


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every protocol's settings and records through the SDK in one peer process (its import is slow)."""
    from babelvl.testing.peers import peer_python

    python = peer_python("argilla", [ARGILLA])
    tmp = tmp_path_factory.mktemp("argilla")
    cases = {}
    for name, (given, _) in ANSWERS.items():
        protocol = load_protocol(name)
        records = tmp / f"{name}.json"
        assert export_argilla(ITEMS, ASSIGNED, records, protocol=protocol) == 2
        cases[name] = {"settings": argilla_settings(protocol), "records": json.loads(records.read_text()),
                       "answers": {ITEMS[0].item_id: given}}
    (tmp / "cases.json").write_text(json.dumps(cases))
    (tmp / "peer.py").write_text(PEER_SCRIPT)
    run = subprocess.run([str(python), str(tmp / "peer.py"), str(tmp / "cases.json"), str(tmp / "out.json"), USER],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    out = {}
    for name, records in json.loads((tmp / "out.json").read_text()).items():
        out[name] = tmp / f"{name}-written.json"
        out[name].write_text(json.dumps(records))
    return out


@pytest.mark.parametrize("protocol_name", sorted(ANSWERS))
def test_argilla_sdk_reads_our_records_and_writes_responses_we_read(written: dict[str, Path],
                                                                    protocol_name: str) -> None:
    protocol = load_protocol(protocol_name)
    given, expected = ANSWERS[protocol_name]
    if protocol.spans and protocol.spans.missing_token:  # the span on [MISSING] really selects it
        shown = json.loads(written[protocol_name].read_text())[0]["fields"]["target"]
        assert all(shown[s["start"]:s["end"]] == protocol.spans.missing_token
                   for s in given.get(protocol.spans.key, []) if s["start"] >= len(ITEMS[0].target_text))
    (annotation,) = import_argilla(written[protocol_name], items=ITEMS, protocol=protocol, assignments=ASSIGNED,
                                   users={USER: "ana"})
    assert annotation.annotator == "ana" and annotation.item_id == ITEMS[0].item_id
    values = dict(annotation.values)
    if protocol.spans and protocol.spans.key not in given:
        assert values.pop(protocol.spans.key) == []
    assert values == expected
