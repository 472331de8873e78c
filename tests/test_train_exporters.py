"""Mixtures exported to the messages (TRL), LLaVA and ShareGPT formats read back exactly."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from babelvl.errors import InputError
from babelvl.train import (
    READERS,
    MixSource,
    build_mixture,
    export_mixture,
    load_examples,
    read_mixture,
)


def png(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (3, 3), (seed * 11 % 256, seed * 5 % 256, 200)).save(buf, "PNG")
    return buf.getvalue()


def write_shard(folder: Path, lang: str, rows: list[dict]) -> None:
    (folder / lang).mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), folder / lang / "shard-00000.parquet")


@pytest.fixture(scope="module")
def mixture(tmp_path_factory) -> Path:
    """An AMA source (image files, one image asked about twice) and a CoSyn source (embedded, multi-turn)."""
    root = tmp_path_factory.mktemp("export")
    images = root / "images"
    images.mkdir()
    for lang in ("en", "fr"):
        rows = []
        for i in range(4):
            data = png(i // 2)  # rows 0,1 and 2,3 share an image: written once
            (images / f"{i // 2}.png").write_bytes(data)
            rows.append({"image_url": f"https://img.example/{i // 2}.png",
                         "image_sha256": hashlib.sha256(data).hexdigest(),
                         "question": f"Qu'y a-t-il ? « {i} »" if lang == "fr" else f"What is\nshown? {i}",
                         "answer": f"réponse {i}" if lang == "fr" else f"answer {i}", "source_id": str(i)})
        write_shard(root / "ama", lang, rows)
        write_shard(root / "cosyn", lang, [
            {"id": f"c{i}", "image": {"bytes": png(10 + i), "path": None},
             "qa_pairs": [{"question": f"{lang} q{i}.{k}", "explanation": "because", "answer": f"{lang} a{i}.{k}"}
                          for k in range(2)]}
            for i in range(3)])
    out = root / "mix"
    build_mixture([MixSource(str(root / "ama"), None, ("en", "fr"), 0.5, str(images)),
                   MixSource(str(root / "cosyn"), None, ("en", "fr"), 0.5)],
                  budget=12, seed=0, out_dir=out, validation_size=0)
    return out


def test_cosyn_pairs_become_turns(mixture):
    cosyn = load_examples(mixture.parent / "cosyn", languages=["fr"])
    assert [m["role"] for m in cosyn[0].messages] == ["user", "assistant", "user", "assistant"]
    assert cosyn[0].messages[3]["content"] == "fr a0.1" and cosyn[0].image_bytes == png(10)


@pytest.mark.parametrize("fmt,images", [("messages", "absolute"), ("messages", "relative"), ("messages", "embed"),
                                        ("llava", "absolute"), ("sharegpt", "absolute"), ("sharegpt", "relative")])
def test_round_trip(mixture, tmp_path, fmt, images):
    original = read_mixture(mixture)
    assert len(original) == 12 and any(len(r["messages"]) == 4 for r in original)
    path = export_mixture(mixture, tmp_path, fmt, images=images)
    back = READERS[fmt](path)
    assert back == [{"id": r["id"], "image": r["image"], "messages": r["messages"]} for r in original]
    for r in back:  # images copied once, referenced relative to the export folder
        assert (tmp_path / r["image"]).read_bytes() == (mixture / r["image"]).read_bytes()
    assert len(list((tmp_path / "images").iterdir())) == len({r["image"] for r in original})


def test_format_shapes(mixture, tmp_path):
    first = read_mixture(mixture)[0]
    msgs = json.loads(export_mixture(mixture, tmp_path / "m", "messages").read_text().splitlines()[0])
    assert msgs["messages"][0]["content"] == [{"type": "image"}, {"type": "text", "text": first["messages"][0]["content"]}]
    assert msgs["messages"][1] == {"role": "assistant", "content": [{"type": "text", "text": first["messages"][1]["content"]}]}
    # absolute paths: trainers find the images from any working directory; language and source kept
    assert msgs["images"] == [str((tmp_path / "m" / first["image"]).resolve())]
    assert (msgs["language"], msgs["source"]) == (first["language"], first["source"])
    llava = json.loads(export_mixture(mixture, tmp_path / "l", "llava").read_text())[0]
    assert llava["image"] == str((tmp_path / "l" / first["image"]).resolve()) and llava["language"] == first["language"]
    assert llava["conversations"][0] == {"from": "human", "value": "<image>\n" + first["messages"][0]["content"]}
    assert llava["conversations"][1] == {"from": "gpt", "value": first["messages"][1]["content"]}
    share = json.loads(export_mixture(mixture, tmp_path / "s", "sharegpt", images="relative").read_text())[0]
    assert share["images"] == [first["image"]] and share["conversations"] == llava["conversations"]
    assert share["language"] == first["language"]
    languages = [json.loads(l)["language"] for l in (tmp_path / "m" / "train.jsonl").read_text().splitlines()]
    assert languages == [r["language"] for r in read_mixture(mixture)] and set(languages) == {"en", "fr"}


def test_sharegpt_export_is_registered_for_llama_factory(mixture, tmp_path):
    """dataset_info.json as LLaMA-Factory's data/README.md documents it (hiyouga/LLaMA-Factory ff6d4d1)."""
    export_mixture(mixture, tmp_path, "sharegpt")
    (tmp_path / "train.json").rename(tmp_path / "validation.json")  # a second split adds an entry
    info_before = json.loads((tmp_path / "dataset_info.json").read_text())
    export_mixture(mixture, tmp_path, "sharegpt")
    info = json.loads((tmp_path / "dataset_info.json").read_text())
    assert info["babelvl_train"] == info_before["babelvl_train"] == {
        "file_name": "train.json", "formatting": "sharegpt", "columns": {"messages": "conversations", "images": "images"},
        "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt"}}
    data = json.loads((tmp_path / info["babelvl_train"]["file_name"]).read_text())
    for record in data:  # the documented rule: as many <image> tokens as images, human turns odd, gpt even
        turns = record[info["babelvl_train"]["columns"]["messages"]]
        assert sum(t["value"].count("<image>") for t in turns) == len(record["images"]) == 1
        assert [t["from"] for t in turns] == ["human", "gpt"] * (len(turns) // 2)
        assert all(Path(p).is_file() for p in record["images"])


def test_embedded_export_loads_images_with_datasets(mixture, tmp_path):
    import datasets

    path = export_mixture(mixture, tmp_path / "e", "messages", images="embed")
    moved = tmp_path / "elsewhere.parquet"
    path.rename(moved)
    import shutil
    shutil.rmtree(tmp_path / "e")  # the file alone holds everything
    ds = datasets.load_dataset("parquet", data_files=str(moved), split="train")
    assert isinstance(ds.features["images"], datasets.Sequence) or isinstance(ds.features["images"], list)
    first, original = ds[0], read_mixture(mixture)[0]
    assert first["images"][0].size == (3, 3) and first["language"] == original["language"]


def test_literal_image_token_and_unknown_format_refused(mixture, tmp_path):
    copy = tmp_path / "mix"
    copy.mkdir()
    lines = (mixture / "train.jsonl").read_text().splitlines()
    record = json.loads(lines[0])
    record["messages"][1]["content"] = "see <image> here"
    (copy / "train.jsonl").write_text(json.dumps(record) + "\n")
    with pytest.raises(InputError, match=r"row 0, field 'messages': text holds a literal <image>"):
        export_mixture(copy, tmp_path / "out", "llava")
    with pytest.raises(InputError, match="unknown export format 'alpaca'"):
        export_mixture(mixture, tmp_path / "out", "alpaca")
