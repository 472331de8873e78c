"""Training mixtures at a matched budget: English-only and multilingual runs that differ only in language.

How a mixture is drawn (all deterministic for a seed):

1. Every source's share and, within a source, every language's share make one *cell* share:
   ``source.share * language_shares[lang] / sum(language_shares over the source's languages)``
   (each language shares equally when ``language_shares`` is None). Shares must sum to 1.
2. Examples whose image is an evaluation image (``eval_images``: same sha256, or perceptually the same,
   i.e. resized, re-encoded or slightly cropped; see :mod:`babelvl.train.leaks`) are handled by ``on_leak``:
   ``"drop"`` (default) removes them before drawing, reports the count per source/language in the
   manifest and lists each in ``leaks.jsonl`` (example, how it matched, evaluation image, distance), so
   budgets stay matched; ``"refuse"`` raises :class:`InputError` listing them.
3. ``validation_size`` examples are drawn first, spread over the cells like the budget; every example
   (any language, any source) showing one of their images is then removed from the training pool,
   so no image is in both splits. (Translations share images: a held-out image is held out in every
   language.)
4. The training budget is spread over the cells: ``examples`` by largest remainder, so counts sum to
   the budget exactly; ``tokens`` cell by cell with the shortfall carried over, so the total ends
   within one example of the budget. Tokens are an estimate, ``ceil(characters / 4)`` per message
   text (the convention of ``babelvl_tokens_est``), no tokenizer needed.

Before anything is written, every cell is checked to hold enough examples; a clear error names the
source and language otherwise. Output: ``train.jsonl`` (and ``validation.jsonl``) with one example a
line (``id, language, source, image, images, image_sha256, image_ref, messages``; ``image`` is the
path relative to the mixture folder, ``images`` the same as a one-item list, as ``babelvl.train.trainer``
reads it), ``images/<sha256>.<ext>`` written once per distinct image (original bytes, the
extension from the decoded format, ``<sha256>`` of those bytes), and ``manifest.json``.
"""

from __future__ import annotations

import io
import json
import math
import random
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from babelvl.errors import InputError
from babelvl.train.conversations import Example, image_folders, load_examples, sha256_bytes
from babelvl.train.leaks import PHASH_THRESHOLD, EvalImageIndex, Leak, eval_image_index

BUDGET_UNITS = ("examples", "tokens")
LEAK_POLICIES = ("drop", "refuse")
SHARE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class MixSource:
    """One dataset folder in a mixture."""

    path: str
    kind: str | None
    languages: tuple[str, ...]
    share: float
    image_dir: str | tuple[str, ...] | None = None
    """Folder(s) holding URL-based images; ``<path>/images`` (where ``build-pixmo --fetch-images`` puts
    them) is searched after these whenever it exists."""
    name: str | None = None
    """Key in the manifest and the examples' ``source``; defaults to the folder name."""
    user_field: str | None = None
    assistant_field: str | None = None

    @property
    def key(self) -> str:
        return self.name or Path(self.path).name

    @property
    def image_dirs(self) -> list[str]:
        return image_folders(self.path, self.image_dir)


def parse_source_shares(values: list[str]) -> list[tuple[str, float]]:
    """``FOLDER[:SHARE]`` values as (folder, share): sources without a share split what the others leave.

    ``a:0.3 b`` gives b 0.7, ``a:0.3 b c`` gives b and c 0.35 each; all shares given must sum to 1 when no
    source is left without one. A suffix counts as a share only when it is a number, so ``C:/data`` or a
    Hub id stay paths.
    """
    parsed: list[tuple[str, float | None]] = []
    for value in values:
        head, _, tail = value.rpartition(":")
        try:
            share = float(tail) if head else None
        except ValueError:
            share = None
        parsed.append((head, share) if share is not None else (value, None))
    given = sum(s for _, s in parsed if s is not None)
    rest = [p for p, s in parsed if s is None]
    if rest:
        if given >= 1.0 - SHARE_TOLERANCE:
            raise InputError(f"source shares given sum to {given:g}, leaving nothing for {', '.join(rest)}",
                             field="--data")
        left = (1.0 - given) / len(rest)
        return [(p, left if s is None else s) for p, s in parsed]
    return [(p, s) for p, s in parsed if s is not None]


@dataclass
class Manifest:
    """What a mixture holds and how it was made; ``manifest.json`` is this as JSON."""

    babelvl_version: str
    seed: int
    budget: int
    budget_unit: str
    language_shares: dict[str, float] | None
    sources: list[dict[str, Any]]
    counts: dict[str, dict[str, int]]
    """Training examples per source, then language."""
    tokens: dict[str, dict[str, int]]
    validation_counts: dict[str, dict[str, int]]
    leaked: dict[str, dict[str, int]]
    """Examples dropped because their image is an evaluation image (``on_leak="drop"``)."""
    held_for_validation: dict[str, dict[str, int]]
    """Training candidates removed because their image went to validation."""
    total_examples: int
    total_tokens: int
    images: int
    eval_images: int
    on_leak: str
    files: dict[str, str] = field(default_factory=dict)
    leaked_by: dict[str, int] = field(default_factory=dict)
    """Evaluation-image matches by kind: ``sha256`` (same bytes), ``phash`` (re-encoded, resized, cropped)."""
    leak_threshold: int | None = None
    """Largest pHash distance (of 64 bits) counted as the same image."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def estimate_tokens(messages: Iterable[dict[str, str]]) -> int:
    """Text tokens of a conversation: ``ceil(chars / 4)`` per message (see module docstring)."""
    return sum(math.ceil(len(m["content"]) / 4) for m in messages)


def eval_image_hashes(benchmark_sources: Iterable[Any], *, threshold: int = PHASH_THRESHOLD) -> EvalImageIndex:
    """The images of the given benchmarks (paths/Hub ids, or ``ResolvedSource`` tuples), by sha256 and pHash."""
    return eval_image_index(benchmark_sources, threshold=threshold)


# --- drawing ---------------------------------------------------------------------------------------------

def _check_inputs(sources: list[MixSource], budget: int, budget_unit: str,
                  language_shares: dict[str, float] | None, on_leak: str, validation_size: int) -> None:
    if not sources:
        raise InputError("no sources given")
    if budget_unit not in BUDGET_UNITS:
        raise InputError(f"unknown budget unit '{budget_unit}' (known: {', '.join(BUDGET_UNITS)})")
    if on_leak not in LEAK_POLICIES:
        raise InputError(f"unknown on_leak '{on_leak}' (known: {', '.join(LEAK_POLICIES)})")
    if budget <= 0 or validation_size < 0:
        raise InputError(f"budget must be positive and validation_size not negative (got {budget}, {validation_size})")
    keys = [s.key for s in sources]
    if len(set(keys)) != len(keys):
        raise InputError(f"two sources have the same name ({', '.join(keys)}); set MixSource.name")
    _check_sum({s.key: s.share for s in sources}, "source shares")
    for s in sources:
        if not s.languages:
            raise InputError(f"source '{s.key}' lists no languages", file=s.path)
    if language_shares is not None:
        _check_sum(language_shares, "language shares")
        used = {lang for s in sources for lang in s.languages}
        for s in sources:
            for lang in s.languages:
                if lang not in language_shares:
                    raise InputError(f"source '{s.key}' has language '{lang}' but language_shares gives it no share",
                                     field="language_shares")
            if sum(language_shares[lang] for lang in s.languages) <= 0:
                raise InputError(f"the languages of source '{s.key}' all have share 0", field="language_shares")
        unused = sorted(set(language_shares) - used)
        if unused:
            raise InputError(f"language_shares names language(s) no source has: {', '.join(unused)}",
                             field="language_shares")


def _check_sum(shares: dict[str, float], what: str) -> None:
    bad = [k for k, v in shares.items() if v < 0]
    if bad:
        raise InputError(f"{what} must not be negative: {', '.join(bad)}")
    total = sum(shares.values())
    if abs(total - 1.0) > SHARE_TOLERANCE:
        raise InputError(f"{what} sum to {total:g}, not 1 ({', '.join(f'{k}={v:g}' for k, v in shares.items())})")


def cell_shares(sources: list[MixSource], language_shares: dict[str, float] | None) -> dict[tuple[str, str], float]:
    """Share of the budget for each (source, language), in source then language order."""
    cells: dict[tuple[str, str], float] = {}
    for s in sources:
        weights = {lang: (language_shares[lang] if language_shares else 1.0) for lang in s.languages}
        total = sum(weights.values())
        for lang in s.languages:
            cells[(s.key, lang)] = s.share * weights[lang] / total
    return cells


def largest_remainder(total: int, shares: dict[Any, float]) -> dict[Any, int]:
    """Integer counts proportional to ``shares`` summing to ``total`` (ties go to the earlier key)."""
    exact = {k: total * v for k, v in shares.items()}
    counts = {k: math.floor(x) for k, x in exact.items()}
    order = sorted(shares, key=lambda k: (-(exact[k] - counts[k]), list(shares).index(k)))
    for k in order[: total - sum(counts.values())]:
        counts[k] += 1
    return counts


def _shuffled(pool: list[Example], seed: int, key: tuple[str, str], split: str) -> list[Example]:
    order = list(pool)
    random.Random(f"{seed}:{split}:{key[0]}:{key[1]}").shuffle(order)  # str seeds are hashed stably
    return order


def _need_error(key: tuple[str, str], have: int, need: str, notes: dict[str, int]) -> InputError:
    why = ", ".join(f"{n} {what}" for what, n in notes.items() if n)
    return InputError(f"source '{key[0]}' language '{key[1]}' has {have} usable example(s)"
                      f"{f' ({why})' if why else ''} but the mixture needs {need}")


def _take_tokens(pool: list[Example], target: int) -> tuple[list[Example], int]:
    """Examples in order while each one brings the token total closer to ``target``."""
    taken, total = [], 0
    for example in pool:
        t = estimate_tokens(example.messages)
        if abs(total + t - target) >= abs(total - target):
            break
        taken.append(example)
        total += t
    return taken, total


def build_mixture(sources: list[MixSource], *, budget: int, budget_unit: str = "examples",
                  language_shares: dict[str, float] | None = None, seed: int = 0,
                  eval_images: EvalImageIndex | set[str] | None = None, out_dir: str | Path,
                  on_leak: str = "drop", validation_size: int = 0) -> Manifest:
    """Draw, check and write a mixture (module docstring); returns its manifest."""
    from babelvl import __version__

    _check_inputs(sources, budget, budget_unit, language_shares, on_leak, validation_size)
    if not isinstance(eval_images, EvalImageIndex):  # a plain set of sha256: exact matches only
        eval_images = EvalImageIndex(sha256=set(eval_images or ()))
    shares = cell_shares(sources, language_shares)
    pools: dict[tuple[str, str], list[Example]] = {}
    for s in sources:
        examples = load_examples(s.path, languages=s.languages, kind=s.kind, image_dir=s.image_dir,
                                 user_field=s.user_field, assistant_field=s.assistant_field)
        for lang in s.languages:
            pools[(s.key, lang)] = [e for e in examples if e.language == lang]
        for e in examples:
            e.source = s.key
    _fill_hashes(pools)

    matches = _find_leaks(pools, eval_images)
    leaked = {k: [e for e in pool if e.image_sha256 in matches] for k, pool in pools.items()}
    if on_leak == "refuse" and any(leaked.values()):
        first = [f"{k[0]}/{k[1]}: {e.id} ({e.image_sha256[:12]}, {matches[e.image_sha256].how})"
                 for k, es in leaked.items() for e in es][:5]
        raise InputError(f"{sum(map(len, leaked.values()))} training example(s) show an evaluation image; first: "
                         + "; ".join(first))
    pools = {k: [e for e in pool if e.image_sha256 not in matches] for k, pool in pools.items()}

    validation: dict[tuple[str, str], list[Example]] = {}
    if validation_size:
        for key, n in largest_remainder(validation_size, shares).items():
            if n > len(pools[key]):
                raise _need_error(key, len(pools[key]), f"{n} for validation", {"evaluation images dropped": len(leaked[key])})
            validation[key] = _shuffled(pools[key], seed, key, "validation")[:n]
    held_images = {e.image_sha256 for es in validation.values() for e in es}
    held = {k: sum(e.image_sha256 in held_images for e in pool) for k, pool in pools.items()}
    pools = {k: [e for e in pool if e.image_sha256 not in held_images] for k, pool in pools.items()}

    train = _draw_train(pools, shares, budget, budget_unit, seed, leaked, held)

    out = Path(out_dir)
    files = {"train": "train.jsonl", "manifest": "manifest.json"}
    out.mkdir(parents=True, exist_ok=True)
    if any(leaked.values()):
        files["leaks"] = "leaks.jsonl"
        with (out / "leaks.jsonl").open("w", encoding="utf-8") as fh:
            for (src, _), es in leaked.items():
                for e in es:
                    fh.write(json.dumps({"id": f"{src}/{e.id}", "image_ref": e.image_ref,
                                         "image_sha256": e.image_sha256, **asdict(matches[e.image_sha256])}) + "\n")
    image_names = _write_images(out, [e for es in list(train.values()) + list(validation.values()) for e in es])
    _write_jsonl(out / "train.jsonl", train, image_names)
    if validation:
        files["validation"] = "validation.jsonl"
        _write_jsonl(out / "validation.jsonl", validation, image_names)

    def per_cell(values: dict[tuple[str, str], int]) -> dict[str, dict[str, int]]:
        nested: dict[str, dict[str, int]] = {}
        for (src, lang), v in values.items():
            nested.setdefault(src, {})[lang] = v
        return nested

    tokens = {k: sum(estimate_tokens(e.messages) for e in es) for k, es in train.items()}
    manifest = Manifest(
        babelvl_version=__version__, seed=seed, budget=budget, budget_unit=budget_unit,
        language_shares=language_shares,
        sources=[{"path": str(s.path), "kind": s.kind, "languages": list(s.languages), "share": s.share,
                  "image_dirs": s.image_dirs, "name": s.key} for s in sources],
        counts=per_cell({k: len(es) for k, es in train.items()}), tokens=per_cell(tokens),
        validation_counts=per_cell({k: len(validation.get(k, [])) for k in train}),
        leaked=per_cell({k: len(v) for k, v in leaked.items()}), held_for_validation=per_cell(held),
        total_examples=sum(len(es) for es in train.values()), total_tokens=sum(tokens.values()),
        images=len(image_names), eval_images=len(eval_images), on_leak=on_leak, files=files,
        leaked_by={how: sum(1 for es in leaked.values() for e in es if matches[e.image_sha256].how == how)
                   for how in ("sha256", "phash")},
        leak_threshold=eval_images.threshold if eval_images.perceptual else None)
    (out / "manifest.json").write_text(json.dumps(manifest.to_dict(), ensure_ascii=False, indent=2) + "\n",
                                       encoding="utf-8")
    return manifest


def _find_leaks(pools: dict[tuple[str, str], list[Example]], index: EvalImageIndex) -> dict[str, Leak]:
    """Training image sha256 -> its match among the evaluation images (each distinct image checked once)."""
    if not len(index):
        return {}
    found: dict[str, Leak] = {}
    seen: set[str] = set()
    for pool in pools.values():
        for e in pool:
            if e.image_sha256 in seen:
                continue
            seen.add(e.image_sha256)
            leak = index.match(e.read_image(), e.image_sha256)
            if leak is not None:
                found[e.image_sha256] = leak
    return found


def _fill_hashes(pools: dict[tuple[str, str], list[Example]]) -> None:
    for pool in pools.values():
        for e in pool:
            if e.image_sha256 is None:
                e.image_sha256 = sha256_bytes(e.read_image())


def _draw_train(pools: dict[tuple[str, str], list[Example]], shares: dict[tuple[str, str], float], budget: int,
                unit: str, seed: int, leaked: dict[tuple[str, str], list[Example]],
                held: dict[tuple[str, str], int]) -> dict[tuple[str, str], list[Example]]:
    """Every cell's training examples; raises before anything is written when a cell is short."""
    train: dict[tuple[str, str], list[Example]] = {}

    def notes(key: tuple[str, str]) -> dict[str, int]:
        return {"evaluation images dropped": len(leaked[key]), "held out for validation": held[key]}

    if unit == "examples":
        for key, n in largest_remainder(budget, shares).items():
            if n > len(pools[key]):
                raise _need_error(key, len(pools[key]), str(n), notes(key))
            train[key] = _shuffled(pools[key], seed, key, "train")[:n]
        return train
    cumulative_share, spent = 0.0, 0
    for key, share in shares.items():
        cumulative_share += share
        target = round(budget * cumulative_share) - spent  # carry the previous cells' shortfall
        order = _shuffled(pools[key], seed, key, "train")
        taken, got = _take_tokens(order, target)
        if len(taken) == len(order) and order and target - got > max(estimate_tokens(e.messages) for e in order):
            raise _need_error(key, len(order), f"about {target} tokens (it holds {got})", notes(key))
        if not order and target > 0:
            raise _need_error(key, 0, f"about {target} tokens", notes(key))
        train[key] = taken
        spent += got
    return train


def _write_images(out: Path, examples: list[Example]) -> dict[str, str]:
    """``images/<sha>.<ext>`` once per distinct image; returns sha -> path relative to ``out``."""
    from PIL import Image, UnidentifiedImageError

    names: dict[str, str] = {}
    folder = out / "images"
    folder.mkdir(parents=True, exist_ok=True)
    for e in examples:
        if e.image_sha256 in names:
            continue
        data = e.read_image()
        if sha256_bytes(data) != e.image_sha256:
            raise InputError(f"image bytes do not match image_sha256 {e.image_sha256}", file=e.origin[0],
                             row=e.origin[1], field="image_sha256")
        try:
            with Image.open(io.BytesIO(data)) as image:
                ext = (image.format or "img").lower().replace("jpeg", "jpg")
        except (UnidentifiedImageError, OSError) as exc:
            raise InputError(f"image cannot be decoded: {exc}", file=e.origin[0], row=e.origin[1]) from None
        rel = f"images/{e.image_sha256}.{ext}"
        if not (out / rel).exists():
            (out / rel).write_bytes(data)
        names[e.image_sha256] = rel
    return names


def _write_jsonl(path: Path, cells: dict[tuple[str, str], list[Example]], images: dict[str, str]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for (src, _), examples in cells.items():
            for e in examples:
                record = {"id": f"{src}/{e.id}", "language": e.language, "source": src,
                          "image": images[e.image_sha256], "images": [images[e.image_sha256]],
                          "image_sha256": e.image_sha256,
                          "image_ref": e.image_ref, "messages": e.messages}
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def read_mixture(folder: str | Path, split: str = "train") -> list[dict[str, Any]]:
    """The records of a mixture split (``train`` or ``validation``)."""
    path = Path(folder) / f"{split}.jsonl"
    if not path.is_file():
        raise InputError(f"no {split}.jsonl (is this a mixture folder written by build_mixture?)", file=str(path))
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"line {number}: not valid JSON ({exc.msg}); rebuild the mixture with babelvl mix",
                             file=str(path)) from None
        if not isinstance(record, dict):
            raise InputError(f"line {number}: not a JSON object", file=str(path))
        records.append(record)
    return records
