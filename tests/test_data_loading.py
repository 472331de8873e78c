"""Loading rows from Parquet files, folders, per-language subfolders and save_to_disk; image bytes."""

from __future__ import annotations

import io

import datasets
import pytest
from PIL import Image

from babelvl.benchmarks.registry import get_benchmark
from babelvl.data import image_bytes, load_rows, resolve_source
from babelvl.data.loading import iter_rows
from babelvl.errors import InputError
from babelvl.testing import fixtures as fx


def _questions(rows) -> list[str]:
    return [r["question"] for _, r in iter_rows(rows)]


def test_parquet_file_keeps_images_encoded_and_on_disk(tmp_path):
    path = fx.write_pope(tmp_path / "pope.parquet")
    rows = load_rows(str(path), config=None, split=None)
    assert len(rows) == 6 and rows.features["image"] == datasets.Image(decode=False)
    first = rows[0]["image"]
    assert set(first) == {"bytes", "path"} and first["bytes"] == fx.draw_image(0)
    assert rows.cache_files  # Arrow files on disk, memory-mapped: memory does not grow with items
    assert rows.features["id"] == datasets.Value("string")


def test_folder_of_parquet_files_is_concatenated_in_name_order(tmp_path):
    rows = fx.ai2d_rows()
    fx.write_ai2d(tmp_path / "d" / "part-0.parquet", rows[:1])
    fx.write_ai2d(tmp_path / "d" / "part-1.parquet", rows[1:])
    assert _questions(load_rows(str(tmp_path / "d"))) == [r["question"] for r in rows]


def test_per_language_subfolders_are_picked_by_language_then_config(tmp_path):
    for lang in ("en", "fr"):
        rows = [{**r, "question": f"{lang}: {r['question']}"} for r in fx.ai2d_rows()]
        fx.write_ai2d(tmp_path / "src" / lang / "test-00000-of-00001.parquet", rows)
    assert _questions(load_rows(str(tmp_path / "src"), language="fr"))[0].startswith("fr: ")
    assert _questions(load_rows(str(tmp_path / "src"), config="en", split="test"))[0].startswith("en: ")
    with pytest.raises(InputError) as err:
        load_rows(str(tmp_path / "src"), language="de")
    message = str(err.value)
    assert str(tmp_path / "src") in message and "en, fr" in message and "'de'" in message


def test_files_named_by_split_and_hub_snapshot_layout(tmp_path):
    snap = tmp_path / "snapshot"
    fx.write_scienceqa(snap / "ScienceQA-IMG" / "test-00000-of-00001.parquet", fx.scienceqa_rows()[:2])
    fx.write_scienceqa(snap / "ScienceQA-IMG" / "validation-00000-of-00001.parquet",
                       fx.scienceqa_rows()[2:])
    assert len(load_rows(str(snap), config="ScienceQA-IMG", split="test")) == 2
    assert len(load_rows(str(snap), config="ScienceQA-IMG", split="validation")) == 1
    with pytest.raises(InputError, match="several splits"):
        load_rows(str(snap), config="ScienceQA-IMG", split=None)
    with pytest.raises(InputError, match="no Parquet files of split 'train'"):
        load_rows(str(snap), config="ScienceQA-IMG", split="train")
    fx.write_mme(tmp_path / "mme" / "data" / "test-00000-of-00004.parquet")
    assert len(load_rows(str(tmp_path / "mme"), split="test")) == 4


def test_save_to_disk_dataset_and_datasetdict(tmp_path):
    path = fx.write_mme(tmp_path / "mme.parquet")
    ds = load_rows(str(path)).cast_column("image", datasets.Image())  # decoded, as users would have it
    ds.save_to_disk(str(tmp_path / "saved"))
    rows = load_rows(str(tmp_path / "saved"))
    assert len(rows) == 4 and isinstance(rows[0]["image"], dict)
    datasets.DatasetDict({"test": ds, "train": ds.select([0])}).save_to_disk(str(tmp_path / "dd"))
    assert len(load_rows(str(tmp_path / "dd"), split="train")) == 1
    with pytest.raises(InputError, match="several splits \\(test, train\\)"):
        load_rows(str(tmp_path / "dd"))
    with pytest.raises(InputError, match="no split 'dev'; available splits: test, train"):
        load_rows(str(tmp_path / "dd"), split="dev")


def test_bad_paths_name_the_path(tmp_path):
    missing = tmp_path / "nope" / "pope.parquet"
    with pytest.raises(InputError) as err:
        load_rows(str(missing))
    assert str(missing) in str(err.value) and err.value.file == str(missing)
    (tmp_path / "data.csv").write_text("a,b\n")
    with pytest.raises(InputError, match="expected .parquet"):
        load_rows(str(tmp_path / "data.csv"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no Parquet files or save_to_disk dataset found"):
        load_rows(str(tmp_path / "empty"))
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    with pytest.raises(InputError, match="cannot read Parquet"):
        load_rows(str(tmp_path / "broken.parquet"))


def test_resolve_source_for_hub_translated_and_local_sets(tmp_path):
    ai2d, mme = get_benchmark("ai2d"), get_benchmark("mme")
    assert resolve_source(ai2d, None, "en") == ("lmms-lab/ai2d", None, "test")
    assert resolve_source(ai2d, None, "fr") == ("VillanovaAI/multi-ai2d", "fr", "test")
    assert resolve_source(get_benchmark("mmbench"), None, "en") == ("lmms-lab/MMBench", "en", "dev")
    with pytest.raises(InputError, match="no published mme data in 'de'"):
        resolve_source(mme, None, "de")
    assert resolve_source(mme, "someone/mme-translated", "it") == ("someone/mme-translated", "it", "test")
    assert resolve_source(mme, "lmms-lab/MME", "en") == ("lmms-lab/MME", None, "test")
    local = str(tmp_path / "mme_{lang}.parquet")
    assert resolve_source(mme, local, "de") == (str(tmp_path / "mme_de.parquet"), None, None)


def _png(color=(1, 2, 3)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), color).save(buffer, format="PNG")
    return buffer.getvalue()


def test_image_bytes_accepts_every_form_and_names_bad_ones(tmp_path):
    png = _png()
    assert image_bytes({"bytes": png, "path": None}) == png
    assert image_bytes(png) == png and image_bytes(bytearray(png)) == png
    assert Image.open(io.BytesIO(image_bytes(Image.new("RGB", (3, 3))))).size == (3, 3)
    (tmp_path / "x.png").write_bytes(png)
    assert image_bytes({"bytes": None, "path": str(tmp_path / "x.png")}) == png
    for bad, reason in ((b"garbage", "cannot be decoded"), (None, "no image"), (png[:20], "decoded"),
                        ({"bytes": None, "path": None}, "neither bytes nor a path"), (42, "unsupported")):
        with pytest.raises(InputError, match=reason) as err:
            image_bytes(bad, file="f.parquet", row=7, field="image")
        assert (err.value.file, err.value.row, err.value.field) == ("f.parquet", 7, "image")
