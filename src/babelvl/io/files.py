"""Atomic writes and crash-tolerant JSONL: a killed job leaves either the old file or the new one."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over the target."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_stale_temporaries(folder: str | Path) -> int:
    """Delete the temporary files of :func:`write_atomic` that a killed run left under ``folder``.

    A run resumed in its own output folder calls this first, so that the folder ends as an uninterrupted run's
    would (no ``.name.xxxx.tmp`` beside the finished files). Returns how many were removed.
    """
    removed = 0
    for path in Path(folder).rglob(".*.tmp"):
        if path.is_file():
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def write_json_atomic(path: str | Path, obj: Any) -> None:
    write_atomic(path, json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False) + "\n")


def read_jsonl_tolerant(path: str | Path) -> list[dict[str, Any]]:
    """Read a JSONL file written by :class:`JsonlAppender`, dropping a torn last line from a crash.

    Only the *last* line may be torn (appends are line-at-a-time); a bad line elsewhere is real
    corruption and raises, naming the file and line.
    """
    path = Path(path)
    if not path.exists():
        return []
    lines = path.read_bytes().split(b"\n")
    records: list[dict[str, Any]] = []
    good_bytes = 0
    for number, raw in enumerate(lines):
        if not raw.strip():
            good_bytes += len(raw) + 1
            continue
        try:
            records.append(json.loads(raw))
        except json.JSONDecodeError:
            is_last = all(not rest.strip() for rest in lines[number + 1:])
            if not is_last:
                raise ValueError(f"{path}: line {number + 1} is not valid JSON") from None
            # Torn write at the end: cut it so the next append starts on a clean line.
            with open(path, "r+b") as fh:
                fh.truncate(good_bytes)
            break
        good_bytes += len(raw) + 1
    return records


class JsonlAppender:
    """Appends whole lines and fsyncs after each batch, so finished work survives a kill."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "a", encoding="utf-8")

    def write_many(self, records: Iterable[dict[str, Any]]) -> None:
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        if text:
            self._fh.write(text)
            self._fh.flush()
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> "JsonlAppender":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, Any]]:
    """Yield (1-based line number, parsed value) and raise with the line number on bad JSON."""
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"line {number}: not valid JSON ({exc.msg})") from None


#: the first 16 bytes of every SQLite 3 database file (https://www.sqlite.org/fileformat.html, 1.3.1)
SQLITE_HEADER = b"SQLite format 3\x00"


def check_sqlite_path(path: str | Path, *, flag: str = "") -> None:
    """Raise InputError unless ``path`` is missing (it will be created), empty, or an SQLite database.

    sqlite3 only notices a wrong file at the first query ("file is not a database"), without naming it; a
    cache or database option pointing at a folder or at some other file is a user's slip worth one clear line.
    """
    from babelvl.errors import InputError

    path = Path(path)
    what = f"{flag} " if flag else ""
    if path.is_dir():
        raise InputError(f"{what}is a folder; expected an SQLite database file", file=str(path))
    if path.is_file() and path.stat().st_size:
        with open(path, "rb") as fh:
            head = fh.read(len(SQLITE_HEADER))
        if head != SQLITE_HEADER:
            raise InputError(f"{what}is not an SQLite database (another file by that name?); pass a new path "
                             "or move the file away", file=str(path))


def run_file_path(path: str | Path, run_dir: str | Path) -> str:
    """How a run file (``translate.json``, ``build_spec.json``) stores a path: relative to the run folder when
    inside it, else absolute. Never relative to where the command ran, so a copied or moved run folder refers
    to itself and a command started from another folder finds the same files."""
    path, run_dir = Path(path).expanduser().resolve(), Path(run_dir).expanduser().resolve()
    try:
        return str(path.relative_to(run_dir))
    except ValueError:
        return str(path)


def local_path_or_none(text: str | None) -> str | None:
    """The absolute form of ``text`` when it names an existing local file or folder (a Hub id gives None)."""
    if not text:
        return None
    path = Path(text).expanduser()
    return str(path.resolve()) if path.exists() else None
