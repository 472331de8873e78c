"""Rows of a babelvl dataset folder (``<folder>/<lang>/shard-*.parquet``) as chat training examples.

One converter per known layout, picked from the columns (or named with ``kind``):

- ``ama`` (``question``, ``answer``): one user turn, one assistant turn.
- ``cap`` (``caption``): the user turn is the language pack's caption instruction,
  ``pack.extra["train"]["caption_instruction"]``; packs without it (and languages without a pack) use
  the English :data:`DEFAULT_CAPTION_INSTRUCTION`, so adding the key to a pack YAML is all it takes.
- ``cosyn`` (``qa_pairs``): each question/answer pair is one user/assistant turn (the answer only; the
  explanation is not trained on).
- ``generic``: any two columns, ``user_field`` and ``assistant_field``.

Images: CoSyn rows embed their bytes (``image.bytes``). URL-based sets (AMA, Cap) are found in local
image folders (``image_dir``: one folder or several, searched in order) under ``<sha256>``,
``<sha256>.*``, ``<sha[:2]>/<sha256>.img`` (the ``build-pixmo --fetch-images`` cache), the sha256 the
cache's ``index.sqlite`` records for the URL (Cap publishes no sha256, so this is how its fetched images
are found), or the basename of the URL's path. Every row's image is looked up
when the folder is loaded, and missing ones raise one :class:`InputError` listing the first of them,
so a training run never starts on a set with holes.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterable, Sequence
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


def image_folders(folder: str | Path, image_dir: str | Path | Sequence[str | Path] | None) -> list[str]:
    """The folders searched for a dataset's images: those given, then ``<folder>/images`` when it exists
    (where ``build-pixmo --fetch-images`` puts them)."""
    given = [] if image_dir is None else [image_dir] if isinstance(image_dir, (str, Path)) else list(image_dir)
    dirs = [str(d) for d in given]
    own = Path(folder) / "images"
    return dirs + ([str(own)] if own.is_dir() and str(own) not in dirs else [])


def load_examples(folder: str | Path, *, languages: Iterable[str], kind: str | None = None,
                  image_dir: str | Path | Sequence[str | Path] | None = None, user_field: str | None = None,
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
    dirs = image_folders(folder, image_dir)
    for d in dirs:
        if not Path(d).is_dir():
            raise InputError("image folder does not exist", file=str(d))
    finder = _ImageFinder([Path(d) for d in dirs]) if dirs else None
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
        where = f"in {', '.join(map(str, dirs))}" if dirs else \
            "(no image folder given: pass image_dir / --image-dir, or fetch them: build-pixmo --fetch-images)"
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
    """Looks images up in local cache or mirror folders by sha256, the fetch index, or URL basename."""

    def __init__(self, folders: list[Path]) -> None:
        self.folders = folders
        self._names: dict[str, Path] = {}
        self._stems: dict[str, Path] = {}
        self._url_sha: dict[str, str] = {}
        for folder in reversed(folders):  # earlier folders win
            files = [p for p in folder.iterdir() if p.is_file()]
            self._names.update({p.name: p for p in files})
            self._stems.update({p.stem: p for p in files})
            index = folder / "index.sqlite"
            if index.is_file():  # babelvl.pixmo.fetch's url -> sha256 table
                db = sqlite3.connect(f"file:{index}?mode=ro", uri=True)
                try:
                    self._url_sha.update((u, h) for u, h in db.execute("SELECT url, sha256 FROM urls") if h)
                finally:
                    db.close()

    def find(self, url: str, sha: str | None) -> Path | None:
        for key in (sha, self._url_sha.get(url)):
            if not key:
                continue
            for hit in (self._names.get(key), self._stems.get(key),
                        *(folder / key[:2] / f"{key}.img" for folder in self.folders)):
                if hit is not None and hit.is_file():
                    return hit
        return self._names.get(Path(urlparse(url).path).name)
