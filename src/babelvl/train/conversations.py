"""Rows of a babelvl dataset folder (``<folder>/<lang>/shard-*.parquet``) as chat training examples.

One converter per known layout, picked from the columns (or named with ``kind``):

- ``ama`` (``question``, ``answer``): one user turn, one assistant turn.
- ``cap`` (``caption``): the user turn is the language pack's caption instruction,
  ``pack.extra["train"]["caption_instruction"]``; packs without it (and languages without a pack) use
  the English :data:`DEFAULT_CAPTION_INSTRUCTION`, so adding the key to a pack YAML is all it takes.
- ``cosyn`` (``qa_pairs``): each question/answer pair is one user/assistant turn (the answer only; the
  explanation is not trained on).
- ``generic``: any two columns, ``user_field`` and ``assistant_field``.

Images: CoSyn rows embed their bytes (``image.bytes``). URL-based sets (AMA, Cap) are found in a local
``image_dir`` under, in order, ``<sha256>``, ``<sha256>.*``, ``<sha[:2]>/<sha256>.img`` (the
``build-pixmo --fetch-images`` cache) or the basename of the URL's path. Every row's image is looked up
when the folder is loaded, and missing ones raise one :class:`InputError` listing the first of them,
so a training run never starts on a set with holes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from babelvl.errors import BabelvlError, InputError

DEFAULT_CAPTION_INSTRUCTION = "Describe the image in detail."
KINDS = ("ama", "cap", "cosyn", "generic")
SHOW_MISSING = 5

Message = dict[str, str]


@dataclass
class Example:
    """One training conversation about one image; ``messages`` alternate user/assistant, user first."""

    id: str
    language: str
    source: str
    """The layout (``ama``, ``cap``, ``cosyn``, ``generic``)."""
    image_ref: str
    """Where the image came from: its URL, or ``<file>#<row>`` for embedded images."""
    image_sha256: str | None
    messages: list[Message]
    image_bytes: bytes | None = None
    """Embedded image bytes (CoSyn); None when the image is a file (``image_file``)."""
    image_file: str | None = None
    """The local file holding the image, for URL-based sets."""
    origin: tuple[str, int] = field(default=("", -1))
    """(parquet file, row) the example was read from, for error messages."""

    def read_image(self) -> bytes:
        """The image bytes, embedded or read from ``image_file``."""
        if self.image_bytes is not None:
            return self.image_bytes
        if self.image_file is None:
            raise InputError("example has no image bytes and no image file (pass image_dir)",
                             file=self.origin[0], row=self.origin[1])
        return Path(self.image_file).read_bytes()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- one converter per layout ---------------------------------------------------------------------------

def _text(row: dict[str, Any], name: str, where: tuple[str, int]) -> str:
    value = row.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InputError("empty or missing text", file=where[0], row=where[1], field=name)
    return value.strip()


def ama_messages(row: dict[str, Any], where: tuple[str, int], **_: Any) -> list[Message]:
    return [{"role": "user", "content": _text(row, "question", where)},
            {"role": "assistant", "content": _text(row, "answer", where)}]


def cap_messages(row: dict[str, Any], where: tuple[str, int], *, language: str, **_: Any) -> list[Message]:
    return [{"role": "user", "content": caption_instruction(language)},
            {"role": "assistant", "content": _text(row, "caption", where)}]


def cosyn_messages(row: dict[str, Any], where: tuple[str, int], **_: Any) -> list[Message]:
    pairs = row.get("qa_pairs") or []
    if not pairs:
        raise InputError("no question/answer pairs", file=where[0], row=where[1], field="qa_pairs")
    messages: list[Message] = []
    for pair in pairs:
        messages.append({"role": "user", "content": _text(pair, "question", where)})
        messages.append({"role": "assistant", "content": _text(pair, "answer", where)})
    return messages


def generic_messages(row: dict[str, Any], where: tuple[str, int], *, user_field: str,
                     assistant_field: str, **_: Any) -> list[Message]:
    return [{"role": "user", "content": _text(row, user_field, where)},
            {"role": "assistant", "content": _text(row, assistant_field, where)}]


CONVERTERS: dict[str, Callable[..., list[Message]]] = {
    "ama": ama_messages, "cap": cap_messages, "cosyn": cosyn_messages, "generic": generic_messages}


def caption_instruction(language: str) -> str:
    """The pack's ``extra.train.caption_instruction``, else the English default (see module docstring)."""
    from babelvl.languages import load_language

    try:
        pack = load_language(language)
    except BabelvlError:
        return DEFAULT_CAPTION_INSTRUCTION
    return (pack.extra.get("train") or {}).get("caption_instruction") or DEFAULT_CAPTION_INSTRUCTION


def detect_kind(columns: Iterable[str]) -> str | None:
    """The layout whose columns a table has; None when none fits."""
    cols = set(columns)
    if "qa_pairs" in cols:
        return "cosyn"
    if "caption" in cols:
        return "cap"
    if {"question", "answer"} <= cols:
        return "ama"
    return None


# --- loading a folder ------------------------------------------------------------------------------------

def language_files(folder: str | Path, language: str) -> list[Path]:
    """The shards of one language; InputError listing the languages present when there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("not a folder (a dataset folder holds <language>/shard-*.parquet)" if folder.exists()
                         else "no such folder", file=str(folder))
    files = sorted((folder / language).glob("shard-*.parquet"))
    if not files:
        present = sorted(p.name for p in folder.iterdir() if p.is_dir() and any(p.glob("shard-*.parquet")))
        raise InputError(f"no data for language '{language}' (no {language}/shard-*.parquet); languages "
                         f"with data: {', '.join(present) or 'none'}", file=str(folder))
    return files


def load_examples(folder: str | Path, *, languages: Iterable[str], kind: str | None = None,
                  image_dir: str | Path | None = None, user_field: str | None = None,
                  assistant_field: str | None = None, require_images: bool = True) -> list[Example]:
    """Every row of ``languages`` in ``folder`` as an :class:`Example`, images located (module docstring).

    ``kind`` None detects the layout from the columns; ``generic`` needs ``user_field`` and
    ``assistant_field``. With ``require_images`` (default) every example must have its image: embedded,
    or found in ``image_dir``; otherwise one InputError lists the first missing ones.
    """
    import pyarrow.parquet as pq

    if kind is not None and kind not in KINDS:
        raise InputError(f"unknown kind '{kind}' (known: {', '.join(KINDS)})")
    if kind == "generic" and not (user_field and assistant_field):
        raise InputError("the generic layout needs user_field and assistant_field")
    if image_dir is not None and not Path(image_dir).is_dir():
        raise InputError("image folder does not exist", file=str(image_dir))
    finder = _ImageFinder(Path(image_dir)) if image_dir is not None else None
    examples: list[Example] = []
    missing: list[str] = []
    for language in languages:
        for path in language_files(folder, language):
            table = pq.read_table(path)
            file_kind = kind or detect_kind(table.column_names)
            if file_kind is None:
                raise InputError(f"cannot tell the layout from the columns ({', '.join(table.column_names)}); "
                                 f"pass kind (one of {', '.join(KINDS)})", file=str(path))
            needed = {"generic": [user_field, assistant_field], "ama": ["question", "answer"],
                      "cap": ["caption"], "cosyn": ["qa_pairs", "image"]}[file_kind]
            for name in needed:
                if name not in table.column_names:
                    raise InputError(f"column missing for the {file_kind} layout", file=str(path), field=name)
            for row_number, row in enumerate(table.to_pylist()):
                example = _example(row, file_kind, language, (str(path), row_number), finder,
                                   user_field=user_field, assistant_field=assistant_field)
                if example.image_bytes is None and example.image_file is None:
                    missing.append(f"{path.name} row {row_number}: {example.image_ref}")
                examples.append(example)
    if require_images and missing:
        where = f"in {image_dir}" if image_dir is not None else "(no image_dir given)"
        raise InputError(f"{len(missing)} image(s) not found {where}; first: " + "; ".join(missing[:SHOW_MISSING]),
                         file=str(folder))
    return examples


def _example(row: dict[str, Any], kind: str, language: str, where: tuple[str, int],
             finder: _ImageFinder | None, **fields: Any) -> Example:
    messages = CONVERTERS[kind](row, where, language=language, **fields)
    row_id = row.get("source_id") if row.get("source_id") is not None else row.get("id")
    ident = f"{kind}-{language}-{row_id if row_id is not None else f'{Path(where[0]).stem}-{where[1]}'}"
    image = row.get("image")
    if isinstance(image, dict) and image.get("bytes"):
        data = image["bytes"]
        return Example(ident, language, kind, f"{Path(where[0]).name}#{where[1]}", sha256_bytes(data), messages,
                       image_bytes=data, origin=where)
    url = row.get("image_url") or (image.get("path") if isinstance(image, dict) else None) or ""
    if not url:
        raise InputError("no image (neither image bytes nor image_url)", file=where[0], row=where[1], field="image_url")
    sha = row.get("image_sha256") or None
    found = finder.find(url, sha) if finder else None
    if found is not None and sha is None:
        sha = sha256_bytes(found.read_bytes())
    return Example(ident, language, kind, url, sha, messages, image_file=str(found) if found else None, origin=where)


class _ImageFinder:
    """Looks images up in a local cache or mirror folder by sha256 or URL basename."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._names = {p.name: p for p in folder.iterdir() if p.is_file()}
        self._stems = {p.stem: p for p in self._names.values()}

    def find(self, url: str, sha: str | None) -> Path | None:
        if sha:
            for hit in (self._names.get(sha), self._stems.get(sha), self.folder / sha[:2] / f"{sha}.img"):
                if hit is not None and hit.is_file():
                    return hit
        return self._names.get(Path(urlparse(url).path).name)
