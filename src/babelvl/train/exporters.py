"""A mixture (``build_mixture``'s folder) in the formats training frameworks read, and readers back.

- ``messages`` (transformers / TRL chat format): ``<split>.jsonl``, one
  ``{"id", "messages": [{"role", "content": [{"type": "image"}, {"type": "text", "text": ...}]}], "images": [path]}``
  a line; the image part opens the first user turn.
- ``llava`` (LLaVA instruction JSON): ``<split>.json``, a list of
  ``{"id", "image": path, "conversations": [{"from": "human", "value": "<image>\\n..."}, {"from": "gpt", "value": ...}]}``;
  pass the export folder as LLaVA's ``--image_folder``.
- ``sharegpt`` (LLaMA-Factory's multimodal ShareGPT): ``<split>.json``, a list of
  ``{"id", "conversations": [{"from", "value"}], "images": [path]}`` with ``<image>`` opening the first
  human value.

Images are copied once to ``<out>/images/`` and referenced by paths relative to the export folder.
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


def _messages_record(r: Record) -> Record:
    messages = []
    for i, m in enumerate(r["messages"]):
        parts: list[dict[str, str]] = [{"type": "image"}] if i == 0 else []
        parts.append({"type": "text", "text": m["content"]})
        messages.append({"role": m["role"], "content": parts})
    return {"id": r["id"], "messages": messages, "images": [r["image"]]}


def _conversations(r: Record) -> list[dict[str, str]]:
    return [{"from": ROLE_TO_FROM[m["role"]], "value": f"{IMAGE_TOKEN}\n{m['content']}" if i == 0 else m["content"]}
            for i, m in enumerate(r["messages"])]


def _llava_record(r: Record) -> Record:
    return {"id": r["id"], "image": r["image"], "conversations": _conversations(r)}


def _sharegpt_record(r: Record) -> Record:
    return {"id": r["id"], "conversations": _conversations(r), "images": [r["image"]]}


FORMATS: dict[str, tuple[str, Callable[[Record], Record]]] = {
    "messages": ("jsonl", _messages_record), "llava": ("json", _llava_record), "sharegpt": ("json", _sharegpt_record)}


def export_mixture(mixture_dir: str | Path, out_dir: str | Path, fmt: str, *, split: str = "train") -> Path:
    """Write ``split`` of a mixture in ``fmt`` (module docstring); returns the data file written."""
    if fmt not in FORMATS:
        raise InputError(f"unknown export format '{fmt}' (known: {', '.join(FORMATS)})")
    records = read_mixture(mixture_dir, split)
    _check(records, fmt, str(Path(mixture_dir) / f"{split}.jsonl"))
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    for image in sorted({r["image"] for r in records}):
        target = out / image
        if not target.exists():
            shutil.copyfile(Path(mixture_dir) / image, target)
    ext, convert = FORMATS[fmt]
    path = out / f"{split}.{ext}"
    converted = [convert(r) for r in records]
    if ext == "jsonl":
        text = "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in converted)
    else:
        text = json.dumps(converted, ensure_ascii=False, indent=1) + "\n"
    path.write_text(text, encoding="utf-8")
    return path


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


def read_messages(path: str | Path) -> list[Record]:
    path = Path(path)
    out = []
    for row, line in enumerate(l for l in path.read_text(encoding="utf-8").splitlines() if l.strip()):
        r = json.loads(line)
        messages = [{"role": m["role"], "content": "".join(p["text"] for p in m["content"] if p["type"] == "text")}
                    for m in r["messages"]]
        out.append({"id": r["id"], "image": r["images"][0], "messages": messages})
    return out


def read_llava(path: str | Path) -> list[Record]:
    path = Path(path)
    return [{"id": r["id"], "image": r["image"], "messages": _from_conversations(path, row, r["conversations"])}
            for row, r in enumerate(json.loads(path.read_text(encoding="utf-8")))]


def read_sharegpt(path: str | Path) -> list[Record]:
    path = Path(path)
    return [{"id": r["id"], "image": r["images"][0], "messages": _from_conversations(path, row, r["conversations"])}
            for row, r in enumerate(json.loads(path.read_text(encoding="utf-8")))]


READERS: dict[str, Callable[[str | Path], list[Record]]] = {
    "messages": read_messages, "llava": read_llava, "sharegpt": read_sharegpt}
