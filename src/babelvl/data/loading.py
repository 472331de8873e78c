"""Load benchmark rows from wherever users keep them, with images left encoded and memory-mapped.

Accepted sources: a Hub dataset id, a Parquet file, a folder of Parquet files (a Hub snapshot layout
with ``data/`` or ``<config>/`` subfolders works too), a folder with one subfolder per language or config
(what babelvl's translation pipeline writes), and a ``save_to_disk`` Dataset or DatasetDict folder.
Rows come back as a ``datasets.Dataset`` backed by Arrow files on disk, with every ``Image`` feature cast
to ``Image(decode=False)``: a row gives ``{"bytes": ..., "path": ...}``, and nothing is decoded until a
benchmark asks for it, so memory does not grow with the number of items.
"""

from __future__ import annotations

import math
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, NamedTuple, Sequence

from babelvl.errors import InputError

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
SPLIT_NAMES = ("train", "validation", "valid", "val", "dev", "test")
ROW_BATCH = 64


class ResolvedSource(NamedTuple):
    """Arguments for :func:`load_rows`: where the rows are, and which config/split to take."""

    source: str
    config: str | None
    split: str | None


# --- resolving which data a benchmark and language use ------------------------------------------------

def resolve_source(benchmark: Any, source: str | None, language: str) -> ResolvedSource:
    """Pick source, config and split for one benchmark and language.

    Without ``source``: English uses the benchmark's Hub set; other languages its translated Hub set
    (``benchmark.translated_hub_id``, one config per language code) or fail with a hint. A local path is
    passed through (``{lang}`` replaced; per-language subfolders are picked by :func:`load_rows`). A Hub
    id other than the benchmark's own is taken to be a translated set with one config per language.
    """
    translated = getattr(benchmark, "translated_hub_id", None)
    if source is None:
        if language == "en":
            return ResolvedSource(benchmark.hub_id, benchmark.config, benchmark.split)
        if translated:
            return ResolvedSource(translated, language, benchmark.split)
        raise InputError(f"no published {benchmark.name} data in '{language}' is known; pass a local "
                         f"path (a folder with one subfolder per language, or a path containing {{lang}})")
    source = source.replace("{lang}", language)
    if Path(source).expanduser().exists() or not HUB_ID.match(source):
        return ResolvedSource(source, None, None)
    if source == benchmark.hub_id:
        return ResolvedSource(source, benchmark.config, benchmark.split)
    return ResolvedSource(source, language, benchmark.split)


# --- loading ----------------------------------------------------------------------------------------

def load_rows(source: str, *, config: str | None = None, split: str | None = None,
              language: str | None = None) -> Any:
    """Rows of ``source`` as a ``datasets.Dataset`` with undecoded images (see module docstring).

    ``language`` (then ``config``) picks a subfolder of a local folder; ``split`` picks a split of a
    DatasetDict or the ``<split>-*.parquet`` files of a folder. Raises :class:`InputError` naming the path
    and listing what is available when nothing loadable is found.
    """
    path = Path(source).expanduser()
    if path.exists():
        dataset = _load_local(path, config=config, split=split, language=language)
    elif HUB_ID.match(source) and not source.endswith(".parquet"):
        dataset = _load_hub(source, config=config, split=split)
    else:
        raise InputError("no such file or folder (and not a Hub dataset id like 'owner/name')",
                         file=source)
    return undecoded_images(dataset)


def _load_hub(source: str, *, config: str | None, split: str | None) -> Any:
    import datasets

    try:
        loaded = datasets.load_dataset(source, config, split=split)
    except Exception as exc:  # network, unknown config/split, auth: all reported the same way
        raise InputError(f"no local file or folder by that name, and it cannot be loaded as a Hub "
                         f"dataset (config={config!r}, split={split!r}): {exc}", file=source) from None
    return _pick_split(loaded, split, where=source)


def _load_local(path: Path, *, config: str | None, split: str | None, language: str | None) -> Any:
    if path.is_file():
        if path.suffix != ".parquet":
            raise InputError("unsupported data file (expected .parquet, a folder of Parquet files, or a "
                             "save_to_disk folder)", file=str(path))
        return _read_parquet([path])
    if (path / "dataset_dict.json").is_file() or (path / "state.json").is_file():
        import datasets

        try:
            with quiet_progress():
                loaded = datasets.load_from_disk(str(path))
        except Exception as exc:
            raise InputError(f"cannot read save_to_disk dataset: {exc}", file=str(path)) from None
        return _pick_split(loaded, split, where=str(path))
    for name in (language, config):
        if name and (path / name).is_dir():
            return _load_local(path / name, config=None, split=split, language=None)
    files = _parquet_files(path, split)
    if files:
        return _read_parquet(files)
    if (path / "data").is_dir():
        return _load_local(path / "data", config=None, split=split, language=None)
    subfolders = sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    wanted = " or ".join(repr(n) for n in (language, config) if n)
    message = "no Parquet files or save_to_disk dataset found"
    if wanted:
        message += f" (and no subfolder named {wanted})"
    if subfolders:
        message += f"; available subfolders: {', '.join(subfolders)} (choose one by language or config)"
    raise InputError(message, file=str(path))


def _split_of(file: Path) -> str | None:
    match = re.match(r"^([A-Za-z]+)(?:[-_.]|$)", file.stem)
    name = match.group(1).lower() if match else None
    return name if name in SPLIT_NAMES else None


def _parquet_files(folder: Path, split: str | None) -> list[Path]:
    """Parquet files directly in ``folder``; only ``split``'s when files are named by split."""
    files = sorted(folder.glob("*.parquet"))
    if not files:
        return []
    splits = {_split_of(f) for f in files} - {None}
    if split is not None:
        chosen = [f for f in files if _split_of(f) == split.lower()]
        if not chosen and splits:
            raise InputError(f"no Parquet files of split '{split}'; files hold splits: "
                             f"{', '.join(sorted(splits))}", file=str(folder))
        return chosen or files
    if len(splits) > 1:
        raise InputError(f"Parquet files of several splits ({', '.join(sorted(splits))}); pass a split",
                         file=str(folder))
    return files


@contextmanager
def quiet_progress() -> Iterator[None]:
    """Silence datasets' progress bars for local work that takes a blink (they clutter eval output)."""
    from datasets import utils

    was_disabled = utils.are_progress_bars_disabled()
    utils.disable_progress_bars()
    try:
        yield
    finally:
        if not was_disabled:
            utils.enable_progress_bars()


def _read_parquet(files: Sequence[Path]) -> Any:
    import datasets
    import pyarrow.parquet as pq

    rows, first_columns = 0, None
    for file in files:  # checked here so the error names the bad file (datasets logs and names none)
        try:
            metadata = pq.read_metadata(file)
        except Exception as exc:  # pyarrow raises ArrowInvalid, OSError...: all mean "not readable"
            raise InputError(f"cannot read Parquet data: {exc}", file=str(file)) from None
        rows += metadata.num_rows
        columns = metadata.schema.to_arrow_schema().names
        if first_columns is None:
            first_columns = columns
        elif set(columns) != set(first_columns):
            missing, extra = sorted(set(first_columns) - set(columns)), sorted(set(columns) - set(first_columns))
            raise InputError(f"its columns differ from those of {files[0].name} (missing: {', '.join(missing) or '-'}; "
                             f"extra: {', '.join(extra) or '-'}); one dataset's files must share a schema",
                             file=str(file))
    if rows == 0:
        raise InputError("no rows: the Parquet data is empty" + (f" ({len(files)} files)" if len(files) > 1 else ""),
                         file=str(files[0]) if len(files) == 1 else str(files[0].parent))
    try:
        with quiet_progress():
            return datasets.load_dataset("parquet", data_files=[str(f) for f in files], split="train")
    except Exception as exc:
        raise InputError(f"cannot read Parquet data: {exc}", file=str(files[0])) from None


def _pick_split(loaded: Any, split: str | None, *, where: str) -> Any:
    import datasets

    if not isinstance(loaded, datasets.DatasetDict):
        return loaded
    names = list(loaded)
    if split is not None:
        if split not in loaded:
            raise InputError(f"no split '{split}'; available splits: {', '.join(names)}", file=where)
        return loaded[split]
    if len(names) == 1:
        return loaded[names[0]]
    raise InputError(f"several splits ({', '.join(names)}); pass one", file=where)


def undecoded_images(dataset: Any) -> Any:
    """Cast every Image feature (also inside lists) to ``Image(decode=False)``; other columns untouched."""
    import datasets

    def undecode(feature: Any) -> Any:
        if isinstance(feature, datasets.Image):
            return datasets.Image(decode=False)
        if isinstance(feature, dict):
            return {k: undecode(v) for k, v in feature.items()}
        if isinstance(feature, list):
            return [undecode(v) for v in feature]
        inner = getattr(feature, "feature", None)  # List / Sequence of images
        if inner is not None:
            new_inner = undecode(inner)
            if new_inner != inner:
                length = getattr(feature, "length", -1)
                return type(feature)(new_inner, length=length)
        return feature

    for name, feature in dataset.features.items():
        new = undecode(feature)
        if new != feature:
            dataset = dataset.cast_column(name, new)
    return dataset


# --- reading rows, shared by every benchmark ----------------------------------------------------------

def column_names(rows: Any) -> list[str]:
    """Columns of a Dataset, or the keys of the first row of a list of dicts."""
    if hasattr(rows, "column_names"):
        return list(rows.column_names)
    for row in rows:
        return list(row)
    return []


def column_values(rows: Any, name: str) -> list[Any]:
    """All values of one column, without touching the others (images stay on disk)."""
    if hasattr(rows, "select_columns"):
        return list(rows.select_columns([name])[name])
    return [row.get(name) for row in rows]


def iter_rows(rows: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, row dict) in order, reading a Dataset in small batches."""
    if hasattr(rows, "iter") and hasattr(rows, "column_names"):
        number = 0
        for batch in rows.iter(batch_size=ROW_BATCH):
            names = list(batch)
            for values in zip(*(batch[n] for n in names)):
                yield number, dict(zip(names, values))
                number += 1
        return
    yield from enumerate(rows)


def require_columns(rows: Any, required: Sequence[str], *, file: str, benchmark: str,
                    text: Sequence[str] = ("question",),
                    text_lists: Sequence[str] = ("choices", "options")) -> list[str]:
    """Return the columns; raise InputError naming the file and the first missing column, or the first
    row of a ``text`` column (every benchmark's question) that holds numbers instead of text, or of a
    ``text_lists`` column (ScienceQA's choices, AI2D's options) that is not a list of texts."""
    present = column_names(rows)
    for name in required:
        if name not in present:
            raise InputError(f"missing required column for {benchmark} (columns present: "
                             f"{', '.join(present) or 'none'})", file=file, field=name)
    require_text_columns(rows, [c for c in (*text, *text_lists) if c in present], file=file,
                         lists=[c for c in text_lists if c in present])
    return present


def require_named_columns(rows: Any, names: Sequence[str], *, file: str, flag: str) -> None:
    """Raise InputError for the first of ``names`` (columns a user named with ``flag``) not in the data."""
    present = column_names(rows)
    for name in names:
        if name not in present:
            raise InputError(f"{flag} names a column that is not in the data (columns: {', '.join(present)})",
                             file=file, field=name)


def is_absent(value: Any) -> bool:
    """True for a cell that holds no value: None, NaN (pandas writes absent options so), "", "nan".

    The one definition of "absent" for every reader: benchmarks (eval, score) and the translation
    pipeline treat the same cells as missing, so a file one accepts the other accepts too.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return True
    return isinstance(value, str) and value.strip().lower() in ("", "nan")


def _is_list_type(arrow_type: Any) -> bool:
    import pyarrow as pa

    return pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type) or pa.types.is_null(arrow_type)


def _is_text_type(arrow_type: Any) -> bool:
    import pyarrow as pa

    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or pa.types.is_null(arrow_type):
        return True
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return _is_text_type(arrow_type.value_type)
    return False


def require_text_columns(rows: Any, names: Sequence[str], *, file: str, lists: Sequence[str] = ()) -> None:
    """Raise InputError when a column that must hold text holds numbers, dates or bytes, or when one of
    ``lists`` (option lists) holds single values instead of lists of texts.

    A column whose cells are all absent (:func:`is_absent`; pandas stores an all-NaN column as
    float64) is fine: it just has no values. The error names the first row holding a non-text value,
    so the user can see what went wrong (a shifted CSV column, an id column under the wrong name).
    """
    table = getattr(getattr(rows, "data", None), "table", None)
    if table is None:  # a list of dicts (tests, in-memory rows): check the values themselves
        for name in names:
            for row, record in enumerate(rows):
                value = record.get(name)
                if name in lists and not is_absent(value) and not isinstance(value, (list, tuple)):
                    raise InputError(f"holds {type(value).__name__} values where a list of options is expected "
                                     f"(first: {value!r})", file=file, row=row, field=name)
                if not is_absent(value) and not isinstance(value, (str, list, tuple)):
                    raise InputError(f"holds {type(value).__name__} values where text is expected "
                                     f"(first: {value!r})", file=file, row=row, field=name)
        return
    for name in names:
        if name not in table.column_names:
            continue
        column = table.column(name)
        if name in lists and _is_text_type(column.type) and not _is_list_type(column.type):
            first = next(((row, v) for row, v in enumerate(column.to_pylist()) if not is_absent(v)), None)
            if first is not None:
                raise InputError(f"the column holds {column.type} values where a list of options is expected "
                                 f"(first: {first[1]!r}); store one list of option texts per row",
                                 file=file, row=first[0], field=name)
            continue
        if _is_text_type(column.type):
            continue
        for row, value in enumerate(column.to_pylist()):
            if not is_absent(value):
                raise InputError(f"the column holds {column.type} values where text is expected (first: "
                                 f"{value!r}); convert it to strings, or drop it if it is not this field",
                                 file=file, row=row, field=name)
