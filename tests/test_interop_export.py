"""``babelvl export``: lmms-eval task folders and VLMEvalKit custom-dataset TSVs from a translated set.

The exported ``utils.py`` is imported and called here as lmms-eval calls it (``doc_to_text(doc)``,
``process_results(doc, [response])``, then each metric's aggregation over all documents); the real lmms-eval run
is in test_interop_lmms_eval.py. The TSV is read back the way VLMEvalKit's ``load`` reads it (pandas).
"""

from __future__ import annotations

import base64
import importlib.util
import io
import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from PIL import Image

from babelvl.benchmarks.base import Item
from babelvl.benchmarks.registry import get_benchmark
from babelvl.benchmarks.sample_suite import materialize_sample_suite
from babelvl.cli import main
from babelvl.data.loading import load_rows
from babelvl.errors import InputError
from babelvl.eval.score_predictions import score_predictions
from babelvl.interop.export import export
from babelvl.interop.lmms_eval import TASK_METRICS, metric_value
from babelvl.languages import load_language


@pytest.fixture(scope="module")
def translated(tmp_path_factory):
    """Sample-suite data laid out as ``babelvl translate`` writes it, with a provenance column to drop."""
    suite = materialize_sample_suite(tmp_path_factory.mktemp("suite"))
    root = tmp_path_factory.mktemp("translated")
    for bench in ("mme", "mmbench", "scienceqa", "pope", "ai2d"):
        for lang in ("en", "fr", "de"):
            table = pq.read_table(suite[(bench, lang)])
            table = table.append_column("babelvl_provenance", pa.array(["{}"] * table.num_rows))
            (root / bench / lang).mkdir(parents=True)
            pq.write_table(table, root / bench / lang / "test-00000-of-00001.parquet")
        (root / bench / "translate.json").write_text(json.dumps({"benchmark": bench}))
    return root


def _items(bench: str, source, language: str) -> list[Item]:
    b = get_benchmark(bench)
    return [i for i in b.iter_items(load_rows(str(source)), language, str(source)) if isinstance(i, Item)]


class _LmmsYaml(yaml.SafeLoader):
    """Reads lmms-eval task YAML: ``!function module.name`` is lmms-eval's tag."""


_LmmsYaml.add_constructor("!function", lambda loader, node: ("function", loader.construct_scalar(node)))


def _utils(folder):
    spec = importlib.util.spec_from_file_location(f"utils_{folder.name}", folder / "utils.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_lmms_eval_task_scores_french_oui_non_with_babelvl_metrics(translated, tmp_path):
    out = tmp_path / "tasks"
    assert main(["export", "--to", "lmms-eval", "--data", str(translated / "mme"), "--languages", "fr,de",
                 "--out", str(out)]) == 0
    folder = out / "babelvl_mme_fr"
    config = yaml.load((folder / "babelvl_mme_fr.yaml").read_text(), Loader=_LmmsYaml)
    assert config["task"] == "babelvl_mme_fr" and config["dataset_path"] == "parquet"
    data_file = config["dataset_kwargs"]["data_files"]["test"]
    assert data_file == str((folder / "test.parquet").resolve())
    assert [m["metric"] for m in config["metric_list"]] == list(TASK_METRICS["mme"])
    assert config["process_results"] == ("function", "utils.process_results")

    docs = pq.read_table(data_file).to_pylist()
    source = translated / "mme" / "fr"
    items = _items("mme", source, "fr")
    assert len(docs) == len(items)
    assert "babelvl_provenance" not in docs[0] and {"question_id", "question", "answer", "category"} <= set(docs[0])
    utils = _utils(folder)
    pack, bench = load_language("fr"), get_benchmark("mme")
    responses = []
    for n, (doc, item) in enumerate(zip(docs, items)):
        assert utils.doc_to_text(doc) == bench.prompt(item, pack)
        assert utils.doc_to_visual(doc)[0].size == Image.open(io.BytesIO(item.images[0])).size
        right = (n % 4 != 0) == (item.answer == "yes")
        responses.append("Oui." if right else "Non.")
    results = [utils.process_results(doc, [r]) for doc, r in zip(docs, responses)]
    lmms = {m: getattr(utils, f"aggregate_{m}")([r[m] for r in results]) for m in TASK_METRICS["mme"]}
    preds = tmp_path / "p.jsonl"
    preds.write_text("".join(json.dumps({"id": i.id, "response": r}) + "\n" for i, r in zip(items, responses)))
    ours = score_predictions(benchmark="mme", data=str(source), language="fr", predictions=preds)
    for name, path in TASK_METRICS["mme"].items():
        assert lmms[name] == pytest.approx(metric_value(ours, path))
    assert ours["n_unparseable"] == 0 and 0 < lmms["total"] < 200 * len(ours["categories"])
    manifest = json.loads((out / "export.json").read_text())
    assert [(e["language"], e["items"]) for e in manifest["exports"]] == [("fr", len(items)), ("de", len(items))]


def test_lmms_eval_mmbench_export_materialises_circular_passes(translated, tmp_path):
    manifest = export(translated / "mmbench", tmp_path, to="lmms-eval", languages=["de"])
    items = _items("mmbench", translated / "mmbench" / "de", "de")
    docs = pq.read_table(manifest["exports"][0]["data_file"]).to_pylist()
    assert len(docs) == len(items) > len({i.row for i in items})  # rotated passes are rows of their own
    for doc, item in zip(docs, items):
        assert str(doc["index"]) == item.id and doc["answer"] == item.answer
        assert {l: doc[l] for l in item.options} == item.options


def test_vlmevalkit_tsv_round_trip_through_a_prediction_sheet(translated, tmp_path):
    assert main(["export", "--to", "vlmevalkit", "--data", str(translated / "scienceqa"), "--languages", "fr",
                 "--out", str(tmp_path)]) == 0
    tsv = tmp_path / "babelvl_scienceqa_fr.tsv"
    data = pd.read_csv(tsv, sep="\t")  # VLMEvalKit's load() for .tsv
    items = _items("scienceqa", translated / "scienceqa" / "fr", "fr")
    assert list(data.columns[:4]) == ["index", "image", "question", "hint"]
    assert {"A", "B", "answer", "category"} <= set(data.columns)  # A and B: loaded as CustomMCQDataset
    assert data["index"].is_unique and list(data["index"]) == [i.row for i in items]
    assert _vlmevalkit_images(data) == [i.images[0] for i in items]  # the data's own bytes
    for (_, line), item in zip(data.iterrows(), items):
        shown = {l: line[l] for l in "ABCDE" if l in line and not pd.isna(line[l])}
        assert shown == item.options and line["answer"] == item.answer
    # What VLMEvalKit's inference writes back: the TSV without images, plus a prediction column.
    sheet = data.drop(columns=["image"]).assign(
        prediction=[f"Réponse : {i.answer}" if n % 2 else "Je ne sais pas." for n, i in enumerate(items)])
    path = tmp_path / "model_babelvl_scienceqa_fr.xlsx"
    with pd.ExcelWriter(path, engine="xlsxwriter") as writer:
        sheet.to_excel(writer, index=False)
    metrics = score_predictions(benchmark="scienceqa", data=str(translated / "scienceqa" / "fr"), language="fr",
                                predictions=path)
    assert metrics["accuracy"] == pytest.approx(sum(n % 2 for n in range(len(items))) / len(items))


def _vlmevalkit_images(data: pd.DataFrame) -> list[bytes]:
    """Image bytes per row as VLMEvalKit resolves them (``ImageBaseDataset.__init__``, VLMEvalKit @e8e78f0): a
    cell of at most 64 characters is the index of the row that holds the base64 image."""
    cells = {str(i): str(c) for i, c in zip(data["index"], data["image"])}
    resolved = []
    for index in data["index"]:
        cell = cells[str(index)]
        if len(cell) <= 64:
            assert cell in cells and len(cells[cell]) > 64
            cell = cells[cell]
        resolved.append(base64.b64decode(cell))
    return resolved


def test_vlmevalkit_yes_no_tsv_has_the_required_columns_and_writes_each_image_once(translated, tmp_path):
    export(translated / "mme", tmp_path, to="vlmevalkit", languages=["de"])
    data = pd.read_csv(tmp_path / "babelvl_mme_de.tsv", sep="\t")
    items = _items("mme", translated / "mme" / "de", "de")
    assert {"index", "image", "question", "answer", "category"} <= set(data.columns)
    assert set(data["answer"]) == {"Yes", "No"} and "A" not in data.columns
    assert _vlmevalkit_images(data) == [i.images[0] for i in items]
    assert sum(len(str(c)) > 64 for c in data["image"]) == len({i.images[0] for i in items}) < len(items)


def test_vlmevalkit_mmbench_tsv_keeps_circular_indexes(translated, tmp_path):
    export(translated / "mmbench", tmp_path, to="vlmevalkit", languages=["fr"])
    data = pd.read_csv(tmp_path / "babelvl_mmbench_fr.tsv", sep="\t")
    items = _items("mmbench", translated / "mmbench" / "fr", "fr")
    assert [str(i) for i in data["index"]] == [i.id for i in items]
    assert _vlmevalkit_images(data) == [i.images[0] for i in items]
    assert "l2-category" in data.columns


def test_export_errors_name_what_is_wrong(translated, tmp_path):
    with pytest.raises(InputError, match="no it folder with Parquet files"):
        export(translated / "mme", tmp_path, to="lmms-eval", languages=["it"])
    lone = tmp_path / "lone.parquet"
    lone.write_bytes((translated / "mme" / "fr" / "test-00000-of-00001.parquet").read_bytes())
    with pytest.raises(InputError, match="pass --benchmark"):
        export(lone, tmp_path / "o", to="lmms-eval", languages=["fr"])
    assert export(lone, tmp_path / "o", to="lmms-eval", benchmark="mme", languages=["fr"])["exports"][0]["items"] > 0


@pytest.mark.parametrize("bench", ["mme", "mmbench", "scienceqa", "pope", "ai2d"])
def test_every_benchmark_exports_a_task_whose_perfect_answers_score_perfectly(translated, tmp_path, bench):
    manifest = export(translated / bench, tmp_path, to="lmms-eval", languages=["de"])
    folder = tmp_path / manifest["exports"][0]["task"]
    utils = _utils(folder)
    docs = pq.read_table(folder / "test.parquet").to_pylist()
    pack = load_language("de")
    answers = {"yes": pack.yes[0], "no": pack.no[0]}
    results = [utils.process_results(doc, [answers.get(utils.doc_to_target(doc), utils.doc_to_target(doc))])
               for doc in docs]
    lmms = {m: getattr(utils, f"aggregate_{m}")([r[m] for r in results]) for m in TASK_METRICS[bench]}
    for name, value in lmms.items():
        if bench == "mme":  # 200 points per category present
            assert value > 0 and value % 200 == pytest.approx(0)
        else:
            assert value == pytest.approx(1.0 if name != "yes_ratio" else
                                          sum(utils.doc_to_target(d) == "yes" for d in docs) / len(docs))
