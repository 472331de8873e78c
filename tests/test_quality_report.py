"""From a translated benchmark to a human-assessment report: plan -> annotations -> agreement -> report."""

from __future__ import annotations

import json

import numpy as np
import pytest

from babelvl.cli import main
from babelvl.quality.agreement import krippendorff_alpha
from babelvl.quality.sampling import load_plan
from babelvl.testing.fixtures import write_pope
from babelvl.testing.openai_server import FakeVLMServer
from babelvl.testing.toy_translator import toy_translate
from babelvl.translate.pipeline import TranslateSpec, run_translate


@pytest.fixture(scope="module")
def translated(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tr")
    rows = [{"id": str(i), "question_id": str(i), "question": f"Is there a {w} in the image?", "answer": "yes",
             "image_source": "x", "category": "random"} for i, w in enumerate(["cat", "dog", "car", "thing"] * 5)]
    data = write_pope(tmp / "pope.parquet", rows)
    with FakeVLMServer(toy_translate) as server:
        run_translate(TranslateSpec(data=str(data), languages=["fr", "de"], out_dir=tmp / "pope", benchmark="pope",
                                    engine="llm:openai:toy", engine_options={"base_url": server.base_url}))
    return tmp / "pope"


def _simulate(items, assignments, path):
    """Two annotators who mostly agree; German translations (word salad) get low adequacy."""
    lines = []
    for a in assignments:
        item = next(i for i in items if i.item_id == a.item_id)
        base = 4 if item.language == "fr" else 2
        bump = 1 if (a.annotator == "bo" and hash(item.item_id) % 5 == 0) else 0
        lines.append({"item_id": a.item_id, "annotator": a.annotator, "protocol": "likert",
                      "values": {"adequacy": min(5, base + bump), "fluency": base}, "seconds": 12.5,
                      "created": "2026-11-24T00:00:00Z"})
    path.write_text("".join(json.dumps(l) + "\n" for l in lines))
    return lines


def test_plan_agreement_and_report(translated, tmp_path, capsys):
    plan = tmp_path / "plan"
    assert main(["annotate", "plan", "--data", str(translated), "--annotators", "ana,bo", "--size", "12",
                 "--overlap", "0.5", "--seed", "3", "--out", str(plan)]) == 0
    items, assignments = load_plan(plan)
    assert len(items) == 12 and {i.language for i in items} == {"fr", "de"}
    overlap = [i for i in items if i.overlap]
    assert len(overlap) == 6 and all(sum(a.item_id == i.item_id for a in assignments) == 2 for i in overlap)
    annotations = tmp_path / "annotations.jsonl"
    lines = _simulate(items, assignments, annotations)

    capsys.readouterr()
    assert main(["annotate", "agreement", "--plan", str(plan), "--annotations", str(annotations),
                 "--protocol", "likert", "--draws", "200"]) == 0
    result = json.loads(capsys.readouterr().out)
    # The alpha babelvl reports equals Krippendorff's ordinal alpha computed here from the raw lines.
    ids = sorted(i.item_id for i in overlap)
    R = np.array([[next(l["values"]["adequacy"] for l in lines if l["item_id"] == i and l["annotator"] == r)
                   for r in ("ana", "bo")] for i in ids], dtype=float)
    expected = krippendorff_alpha(R, level="ordinal", labels=[1, 2, 3, 4, 5])
    got = result["adequacy"]["measures"]["krippendorff_alpha_ordinal"]
    assert got["value"] == pytest.approx(expected) and got["ci"][0] <= got["value"] <= got["ci"][1]

    out = tmp_path / "report"
    assert main(["annotate", "report", "--plan", str(plan), "--annotations", str(annotations),
                 "--protocol", "likert", "--draws", "200", "--out", str(out)]) == 0
    report = json.loads((out / "quality_assessment.json").read_text())
    assert report["scores_by_language"]["fr"]["mean"] > report["scores_by_language"]["de"]["mean"]
    assert report["verdicts"]["de"]["text"].startswith("not yet fit for release")
    assert "mean score" in report["verdicts"]["de"]["failing"]
    md = (out / "quality_assessment.md").read_text()
    assert "## Agreement" in md and "krippendorff_alpha_ordinal" in md and "## Worst items" in md
    assert "<table>" in (out / "quality_assessment.html").read_text()
    assert (out / "scores_by_language.png").read_bytes()[:4] == b"\x89PNG"


def test_bad_annotations_are_refused_with_file_and_line(translated, tmp_path, capsys):
    plan = tmp_path / "plan"
    main(["annotate", "plan", "--data", str(translated), "--annotators", "ana,bo", "--size", "6", "--overlap", "0.5",
          "--out", str(plan)])
    items, _ = load_plan(plan)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"item_id": items[0].item_id, "annotator": "ana", "protocol": "likert",
                               "values": {"adequacy": 9, "fluency": 3}}) + "\n")
    assert main(["annotate", "report", "--plan", str(plan), "--annotations", str(bad), "--protocol", "likert",
                 "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "bad.jsonl" in err and "line 1" in err and "adequacy" in err


def test_post_edits_from_the_assessment_flow_back_into_the_translation(translated, tmp_path):
    plan = tmp_path / "plan"
    main(["annotate", "plan", "--data", str(translated), "--annotators", "ana,bo", "--size", "4", "--overlap", "0",
          "--languages", "fr", "--out", str(plan)])
    items, assignments = load_plan(plan)
    item = items[0]
    annotations = tmp_path / "pe.jsonl"
    annotations.write_text(json.dumps({"item_id": item.item_id, "annotator": "ana", "protocol": "postedit",
                                       "values": {"post_edit": "Y a-t-il un chat sur l'image ?"}}) + "\n")
    work = tmp_path / "work.jsonl"
    assert main(["annotate", "to-postedit", "--plan", str(plan), "--annotations", str(annotations),
                 "--data", str(translated), "--out", str(work), "--protocol", "postedit"]) == 0
    assert main(["postedit", "import", "--data", str(translated), "--edits", str(work)]) == 0
    import pyarrow.parquet as pq

    rows = pq.read_table(next((translated / "fr").glob("*.parquet"))).to_pylist()
    edited = [r for r in rows if r["question"] == "Y a-t-il un chat sur l'image ?"]
    # the same segment is shared by every row with that source question: all of them get the edit
    source_question = item.source_text
    expected = sum(1 for r in pq.read_table(next((translated / "en").glob("*.parquet"))).to_pylist()
                   if r["question"] == source_question)
    assert len(edited) == expected > 0


# --- statistics on hand-made studies ---------------------------------------------------------------

from babelvl.quality.analysis import Thresholds  # noqa: E402
from babelvl.quality.protocols import load_protocol  # noqa: E402
from babelvl.quality.report import build_report, write_report  # noqa: E402
from babelvl.quality.schema import Annotation, SampleItem  # noqa: E402


def _items(n, language="de"):
    return [SampleItem(f"x:{language}:{i}:q", language, "x", "q", f"source {i}", f"Ziel Nummer {i} hier")
            for i in range(n)]


def _ann(item, annotator, protocol, **values):
    return Annotation(item.item_id, annotator, protocol, values)


def test_means_count_each_item_once_with_intervals():
    items = _items(3)
    # item 0 judged by three annotators (overlap), items 1 and 2 by one each
    anns = [_ann(items[0], a, "esa", score=s, spans=[]) for a, s in (("a", 10), ("b", 20), ("c", 30))]
    anns += [_ann(items[1], "a", "esa", score=80, spans=[]), _ann(items[2], "b", "esa", score=90, spans=[])]
    report = build_report(items, anns, load_protocol("esa"), draws=200)
    de = report["scores_by_language"]["de"]
    assert de["mean"] == pytest.approx((20 + 80 + 90) / 3)  # not (10+20+30+80+90)/5 = 46
    assert (de["n_items"], de["n_judgements"]) == (3, 5)
    assert de["ci"][0] <= de["mean"] <= de["ci"][1] and de["ci"][0] < de["ci"][1]


def test_verdict_needs_every_scale_and_names_the_failing_one(tmp_path):
    items = _items(12)
    anns = []
    for i, item in enumerate(items):
        adequacy = 1 + i % 5  # both annotators agree on adequacy
        anns += [_ann(item, "a", "likert", adequacy=adequacy, fluency=1 + i % 5),
                 _ann(item, "b", "likert", adequacy=adequacy, fluency=5 - i % 5)]  # and contradict on fluency
    report = build_report(items, anns, load_protocol("likert"), draws=200,
                          thresholds=Thresholds(min_score=1.0))
    verdict = report["verdicts"]["de"]
    assert report["agreement"]["adequacy"]["measures"]["krippendorff_alpha_ordinal"]["value"] == pytest.approx(1.0)
    assert not verdict["fit"] and verdict["failing"] == ["fluency"]
    assert "fluency (alpha" in verdict["text"] and "adequacy (alpha 1.00" in verdict["text"]
    by_language = report["agreement"]["fluency"]["by_language"]["de"]
    assert by_language["n_items"] == 12 and by_language["measures"]["krippendorff_alpha_ordinal"]["ci"]
    write_report(report, tmp_path)
    md = (tmp_path / "quality_assessment.md").read_text()
    assert "### fluency (ordinal level)" in md and "| de | 12 |" in md


def test_a_0_100_scale_gets_interval_measures_only_and_level_can_be_chosen(tmp_path, capsys):
    items = _items(8)
    anns = [_ann(it, a, "esa", score=min(100, 10 * i + (3 if a == "b" else 0)), spans=[])
            for i, it in enumerate(items) for a in ("a", "b")]
    protocol = load_protocol("esa")
    report = build_report(items, anns, protocol, draws=100)
    assert set(report["agreement"]["score"]["measures"]) == {"cohen_kappa_quadratic", "krippendorff_alpha_interval"}
    nominal = build_report(items, anns, protocol, draws=100, level="nominal")
    assert "krippendorff_alpha_nominal" in nominal["agreement"]["score"]["measures"]
    assert nominal["agreement"]["score"]["measures"]["krippendorff_alpha_nominal"]["value"] < \
        report["agreement"]["score"]["measures"]["krippendorff_alpha_interval"]["value"]
    # the CLI: --level, and a level that does not fit the data is refused naming the option
    plan = tmp_path / "plan"
    plan.mkdir()
    (plan / "items.jsonl").write_text("".join(json.dumps(i.to_json()) + "\n" for i in items))
    (plan / "assignments.jsonl").write_text("".join(json.dumps({"item_id": a.item_id, "annotator": a.annotator}) + "\n"
                                                    for a in anns))
    mqm_file = tmp_path / "mqm.jsonl"
    mqm_file.write_text("".join(json.dumps(_ann(it, a, "mqm", errors=[{"start": 0, "end": 4, "severity": "major",
                                                                      "category": "style"}] if i % 2 else []).to_json())
                                + "\n" for i, it in enumerate(items) for a in ("a", "b")))
    capsys.readouterr()
    assert main(["annotate", "agreement", "--plan", str(plan), "--annotations", str(mqm_file), "--protocol", "mqm",
                 "--draws", "50"]) == 0
    # MQM penalties have no fixed scale: weighted kappa would space -25, -5, -1 evenly, so alpha only
    assert set(json.loads(capsys.readouterr().out)["score"]["measures"]) == {"krippendorff_alpha_interval"}
    assert main(["annotate", "agreement", "--plan", str(plan), "--annotations", str(mqm_file), "--protocol", "mqm",
                 "--draws", "50", "--level", "ordinal"]) == 0
    assert "krippendorff_alpha_ordinal" in json.loads(capsys.readouterr().out)["score"]["measures"]
    assert main(["annotate", "agreement", "--plan", str(plan), "--annotations", str(mqm_file), "--protocol", "mqm",
                 "--draws", "50", "--level", "ratio"]) == 2
    assert "level" in capsys.readouterr().err


def test_z_scores_remove_annotator_offsets():
    items = _items(4) + _items(4, "fr")
    anns = []
    for i, it in enumerate(items):
        true = 20 + 15 * (i % 4) + (10 if it.language == "fr" else 0)
        anns += [_ann(it, "lenient", "esa", score=true + 10, spans=[]), _ann(it, "harsh", "esa", score=true - 10, spans=[])]
    report = build_report(items, anns, load_protocol("esa"), draws=100)
    z = report["scales"]["score"]["z"]
    values = np.array([20 + 15 * (i % 4) + (10 if i >= 4 else 0) for i in range(8)], dtype=float)
    expected = (values - values.mean()) / values.std()  # both annotators' z are the same after the offset
    assert z["de"]["mean"] == pytest.approx(expected[:4].mean()) and z["fr"]["mean"] == pytest.approx(expected[4:].mean())
    assert z["de"]["ci"] is not None


def test_no_variation_is_reported_as_undefined_and_fails_that_scale(tmp_path):
    items = _items(5)
    anns = [_ann(it, a, "likert", adequacy=4, fluency=2 + i % 3) for i, it in enumerate(items) for a in ("a", "b")]
    report = build_report(items, anns, load_protocol("likert"), draws=100, thresholds=Thresholds(min_score=1))
    adequacy = report["agreement"]["adequacy"]
    assert adequacy["measures"]["krippendorff_alpha_ordinal"]["value"] != adequacy["measures"]["krippendorff_alpha_ordinal"]["value"]  # nan
    assert adequacy["measures"]["percent_agreement"]["value"] == 1.0
    assert any("no variation" in n for n in adequacy["notes"])
    verdict = report["verdicts"]["de"]
    assert verdict["failing"] == ["adequacy"] and "no variation" in verdict["text"]


def test_span_agreement_is_a_table_per_language(tmp_path):
    items = _items(4)
    anns = []
    for it in items:
        anns += [_ann(it, "a", "esa", score=50, spans=[{"start": 0, "end": 4, "severity": "major"}]),
                 _ann(it, "b", "esa", score=55, spans=[{"start": 0, "end": 4, "severity": "minor"},
                                                        {"start": None, "end": None, "severity": "minor"}])]
    report = build_report(items, anns, load_protocol("esa"), draws=100)
    spans = report["agreement"]["spans"]
    assert spans["all"]["char_f1"] == pytest.approx(1.0) and spans["all"]["char_f1_by_severity"] == pytest.approx(0.0)
    assert spans["by_language"]["de"]["n_missing"] == 4
    write_report(report, tmp_path)
    md = (tmp_path / "quality_assessment.md").read_text()
    assert "| languages | items | pairs | F1 | 95% CI | F1, same severity |" in md and '"char_f1"' not in md
