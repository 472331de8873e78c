"""A mixture (``build_mixture``'s folder) in the formats training frameworks read, and readers back.

- ``messages`` (transformers / TRL chat format): ``<split>.jsonl``, one
  ``{"id", "language", "source", "messages": [{"role", "content": [{"type": "image"}, {"type": "text", "text": ...}]}],
  "images": [path]}`` a line; the image part opens the first user turn. With ``images="embed"`` it is
  ``<split>.parquet`` instead, written by ``datasets`` with ``images`` a ``Sequence(Image())`` feature holding the
  bytes: ``datasets.load_dataset("parquet", ...)`` gives PIL images, wherever the file is moved.
- ``llava`` (LLaVA instruction JSON): ``<split>.json``, a list of
  ``{"id", "language", "source", "image": path, "conversations": [{"from": "human", "value": "<image>\\n..."},
  {"from": "gpt", "value": ...}]}``.
- ``sharegpt`` (LLaMA-Factory's multimodal ShareGPT): ``<split>.json``, a list of
  ``{"id", "language", "source", "conversations": [{"from", "value"}], "images": [path]}`` with ``<image>``
  opening the first human value, and ``dataset_info.json`` next to it registering ``babelvl_<split>`` the way
  LLaMA-Factory's data/README.md documents it (formatting ``sharegpt``, columns ``messages``/``images``, tags
  ``from``/``value``/``human``/``gpt``; checked against hiyouga/LLaMA-Factory ff6d4d1, v0.9.6.dev0). Pass the
  export folder as ``dataset_dir`` and ``dataset: babelvl_train``.

Images are copied once to ``<out>/images/``. Paths in the data files are ABSOLUTE by default
(``images="absolute"``), so TRL, LLaVA and LLaMA-Factory find them from any working directory;
``images="relative"`` writes them relative to the export folder (relocatable, but the trainer must run
there or be told the folder). Every record keeps the example's ``language`` and ``source``.
Texts holding a literal ``<image>`` are refused for llava/sharegpt (the token would count as an image).
Each reader returns the mixture's own shape, ``{"id", "image", "messages": [{"role", "content": str}]}``
with ``image`` relative to the export folder, so an export reads back to exactly what was exported.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from babelvl.errors import InputError
from babelvl.train.mixture import read_mixture

IMAGE_TOKEN = "<image>"
IMAGE_MODES = ("absolute", "relative", "embed")
DATASET_INFO = "dataset_info.json"
ROLE_TO_FROM = {"user": "human", "assistant": "gpt"}
FROM_TO_ROLE = {v: k for k, v in ROLE_TO_FROM.items()}

Record = dict[str, Any]


def _check(records: list[Record], fmt: str, where: str) -> None:
    """Roles alternate user/assistant, user first; no literal image token where it would be misread."""
    for row, r in enumerate(records):
        roles = [m["role"] for m in r["messages"]]
        if not roles or roles != ["user", "assistant"] * (len(roles) // 2) or len(roles) % 2:
            raise InputError("messages must alternate user/assistant, user first", file=where, row=row, field="messages")
        if fmt != "messages" and any(IMAGE_TOKEN in m["content"] for m in r["messages"]):
            raise InputError(f"text holds a literal {IMAGE_TOKEN}, which {fmt} would read as an image",
                             file=where, row=row, field="messages")


def _meta(r: Record) -> Record:
    return {"id": r["id"], "language": r.get("language"), "source": r.get("source")}


def _messages_record(r: Record) -> Record:
    messages = []
    for i, m in enumerate(r["messages"]):
        parts: list[dict[str, str]] = [{"type": "image"}] if i == 0 else []
        parts.append({"type": "text", "text": m["content"]})
        messages.append({"role": m["role"], "content": parts})
    return {**_meta(r), "messages": messages, "images": [r["image"]]}


def _conversations(r: Record) -> list[dict[str, str]]:
    return [{"from": ROLE_TO_FROM[m["role"]], "value": f"{IMAGE_TOKEN}\n{m['content']}" if i == 0 else m["content"]}
            for i, m in enumerate(r["messages"])]


def _llava_record(r: Record) -> Record:
    return {**_meta(r), "image": r["image"], "conversations": _conversations(r)}


def _sharegpt_record(r: Record) -> Record:
    return {**_meta(r), "conversations": _conversations(r), "images": [r["image"]]}


FORMATS: dict[str, tuple[str, Callable[[Record], Record]]] = {
    "messages": ("jsonl", _messages_record), "llava": ("json", _llava_record), "sharegpt": ("json", _sharegpt_record)}


def export_mixture(mixture_dir: str | Path, out_dir: str | Path, fmt: str, *, split: str = "train",
                   images: str = "absolute") -> Path:
    """Write ``split`` of a mixture in ``fmt`` (module docstring); returns the data file written."""
    if fmt not in FORMATS:
        raise InputError(f"unknown export format '{fmt}' (known: {', '.join(FORMATS)})")
    if images not in IMAGE_MODES or (images == "embed" and fmt != "messages"):
        raise InputError(f"images must be one of {', '.join(IMAGE_MODES)} ('embed' is for the messages format), "
                         f"got '{images}'")
    records = read_mixture(mixture_dir, split)
    _check(records, fmt, str(Path(mixture_dir) / f"{split}.jsonl"))
    out = Path(out_dir).resolve()
    (out / "images").mkdir(parents=True, exist_ok=True)
    for image in sorted({r["image"] for r in records}):
        target = out / image
        if not target.exists():
            shutil.copyfile(Path(mixture_dir) / image, target)
    ext, convert = FORMATS[fmt]
    if images == "embed":
        return _write_embedded(out / f"{split}.parquet", [convert(r) for r in records], out)
    if images == "absolute":
        records = [{**r, "image": str(out / r["image"])} for r in records]
    path = out / f"{split}.{ext}"
    converted = [convert(r) for r in records]
    if ext == "jsonl":
        text = "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in converted)
    else:
        text = json.dumps(converted, ensure_ascii=False, indent=1) + "\n"
    path.write_text(text, encoding="utf-8")
    if fmt == "sharegpt":
        _write_dataset_info(out, split, path.name)
    return path


def _write_embedded(path: Path, records: list[Record], out: Path) -> Path:
    """``datasets`` Parquet with the image bytes inside (``Sequence(Image())``); the path keeps the file name."""
    import datasets

    rows = [{**r, "images": [{"bytes": (out / p).read_bytes(), "path": p} for p in r["images"]]} for r in records]
    features = datasets.Features({
        "id": datasets.Value("string"), "language": datasets.Value("string"), "source": datasets.Value("string"),
        "messages": [{"role": datasets.Value("string"),
                      "content": [{"type": datasets.Value("string"), "text": datasets.Value("string")}]}],
        "images": datasets.Sequence(datasets.Image())})
    datasets.Dataset.from_list(rows, features=features).to_parquet(str(path))
    return path


def _write_dataset_info(out: Path, split: str, file_name: str) -> None:
    """Register the export in ``dataset_info.json`` (LLaMA-Factory, data/README.md), keeping other entries."""
    info_path = out / DATASET_INFO
    info = json.loads(info_path.read_text(encoding="utf-8")) if info_path.is_file() else {}
    info[f"babelvl_{split}"] = {
        "file_name": file_name, "formatting": "sharegpt",
        "columns": {"messages": "conversations", "images": "images"},
        "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt"}}
    info_path.write_text(json.dumps(info, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


# --- readers ------------------------------------------------------------------------------------------------

def _bad(path: Path, row: int, why: str, field: str | None = None) -> InputError:
    return InputError(why, file=str(path), row=row, field=field)


def _from_conversations(path: Path, row: int, turns: list[dict[str, str]]) -> list[dict[str, str]]:
    messages = []
    for i, turn in enumerate(turns):
        value = turn["value"]
        if i == 0:
            if not value.startswith(IMAGE_TOKEN):
                raise _bad(path, row, f"first human turn does not start with {IMAGE_TOKEN}", "conversations")
            value = value[len(IMAGE_TOKEN):].removeprefix("\n")
        if turn["from"] not in FROM_TO_ROLE:
            raise _bad(path, row, f"unknown speaker '{turn['from']}'", "conversations")
        messages.append({"role": FROM_TO_ROLE[turn["from"]], "content": value})
    return messages


def _relative(path: Path, image: str) -> str:
    """An image path as the mixture writes it: relative to the export folder (absolute ones made so)."""
    p = Path(image)
    if p.is_absolute():
        try:
            return p.relative_to(path.parent.resolve()).as_posix()
        except ValueError:
            return image
    return image


def read_messages(path: str | Path) -> list[Record]:
    path = Path(path)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        rows = pq.read_table(path).to_pylist()
        images = [r["images"][0]["path"] for r in rows]
    else:
        rows = [json.loads(l) for l in path.read_text(encoding="utf-8").splitlines() if l.strip()]
        images = [_relative(path, r["images"][0]) for r in rows]
    out = []
    for r, image in zip(rows, images):
        messages = [{"role": m["role"], "content": "".join(p["text"] or "" for p in m["content"] if p["type"] == "text")}
                    for m in r["messages"]]
        out.append({"id": r["id"], "image": image, "messages": messages})
    return out


def read_llava(path: str | Path) -> list[Record]:
    path = Path(path)
    return [{"id": r["id"], "image": _relative(path, r["image"]),
             "messages": _from_conversations(path, row, r["conversations"])}
            for row, r in enumerate(json.loads(path.read_text(encoding="utf-8")))]


def read_sharegpt(path: str | Path) -> list[Record]:
    path = Path(path)
    return [{"id": r["id"], "image": _relative(path, r["images"][0]),
             "messages": _from_conversations(path, row, r["conversations"])}
            for row, r in enumerate(json.loads(path.read_text(encoding="utf-8")))]


READERS: dict[str, Callable[[str | Path], list[Record]]] = {
    "messages": read_messages, "llava": read_llava, "sharegpt": read_sharegpt}
