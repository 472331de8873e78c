"""Evaluation images kept out of training: exact (sha256) and perceptual (pHash) matches.

A benchmark image re-encoded, resized or slightly cropped on its way into a web-scraped training set has
other bytes, so an exact sha256 check lets it through. Every evaluation image is therefore also indexed by
its 64-bit perceptual hash (``imagehash.phash``: DCT of the 32x32 greyscale image, low frequencies against
their median; a well-kept library rather than our own DCT), computed on the image and on a few crops of it
(3% and 6% off every side, 5% off one side), so a training image that is a crop of an evaluation image lands
near one of them. A training image is a leak when its sha256 is an evaluation image's, or when the Hamming
distance from its pHash to any indexed hash is at most ``threshold`` (:data:`PHASH_THRESHOLD` = 10 of 64 bits).

How 10 was chosen (``tests/test_train_leaks.py`` keeps these checks, on matplotlib's bundled photographs and
on charts drawn in one style): resizing (x0.5, x1.5) and JPEG re-encoding at quality 70 move the hash by 0-2
bits, crops of 2-5% per side by at most 8, while different images, including bar charts of one style with
other data, stay 14 or more bits away. Larger crops (8% and more) can pass: lower the share cropped by
source sites, or the threshold, at your own risk of false matches.

Images too small or too flat to hash meaningfully (under 16 pixels a side, or a grey-level standard deviation
under 2: every flat image has the same pHash) are matched by sha256 only, so they never flag each other.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from babelvl.train.conversations import sha256_bytes

PHASH_THRESHOLD = 10
MIN_SIDE = 16
MIN_STD = 2.0
CROPS = ((0.03, 0.03, 0.97, 0.97), (0.06, 0.06, 0.94, 0.94), (0.05, 0, 1, 1), (0, 0.05, 1, 1), (0, 0, 0.95, 1),
         (0, 0, 1, 0.95))
"""Boxes (left, top, right, bottom as shares of the size) indexed besides the whole image."""


@dataclass(frozen=True)
class Leak:
    """Why a training image counts as an evaluation image."""

    how: str
    """``sha256`` (same bytes) or ``phash`` (perceptually the same)."""
    eval_sha256: str
    distance: int
    """Hamming distance of the pHashes (0 for a sha256 match)."""


def phash(image: Any) -> int | None:
    """The 64-bit pHash of a PIL image, or None when it is too small or flat to mean anything."""
    import imagehash

    grey = image.convert("L")
    if min(grey.size) < MIN_SIDE or float(np.asarray(grey, dtype=np.float32).std()) < MIN_STD:
        return None
    bits = imagehash.phash(image).hash.flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


def _open(data: bytes) -> Any | None:
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        image.load()
        return image.convert("RGB")
    except (UnidentifiedImageError, OSError):
        return None


@dataclass
class EvalImageIndex:
    """sha256 and pHashes (of each image and its crops) of every evaluation image."""

    threshold: int = PHASH_THRESHOLD
    sha256: set[str] = field(default_factory=set)
    _hashes: list[int] = field(default_factory=list)
    _owners: list[str] = field(default_factory=list)
    _array: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.sha256)

    @property
    def perceptual(self) -> int:
        """How many pHashes are indexed (0: exact matches only)."""
        return len(self._hashes)

    def __contains__(self, sha: object) -> bool:
        return sha in self.sha256

    def add(self, data: bytes) -> None:
        sha = sha256_bytes(data)
        if sha in self.sha256:
            return
        self.sha256.add(sha)
        image = _open(data)
        if image is None:
            return
        w, h = image.size
        for box in ((0, 0, 1, 1),) + CROPS:
            value = phash(image.crop((round(w * box[0]), round(h * box[1]), round(w * box[2]), round(h * box[3]))))
            if value is not None:
                self._hashes.append(value)
                self._owners.append(sha)
        self._array = None

    def match(self, data: bytes, sha: str | None = None) -> Leak | None:
        """The evaluation image ``data`` shows, if any (sha256 first, then the nearest pHash)."""
        sha = sha or sha256_bytes(data)
        if sha in self.sha256:
            return Leak("sha256", sha, 0)
        if not self._hashes:
            return None
        image = _open(data)
        value = phash(image) if image is not None else None
        if value is None:
            return None
        if self._array is None:
            self._array = np.array(self._hashes, dtype=np.uint64)
        xor = (self._array ^ np.uint64(value)).view(np.uint8).reshape(-1, 8)
        distances = np.unpackbits(xor, axis=1).sum(axis=1)  # popcount (np.bitwise_count needs numpy 2)
        best = int(distances.argmin())
        if int(distances[best]) <= self.threshold:
            return Leak("phash", self._owners[best], int(distances[best]))
        return None


def eval_image_index(benchmark_sources: Iterable[Any], *, threshold: int = PHASH_THRESHOLD) -> EvalImageIndex:
    """Every image in the given benchmarks (paths/Hub ids, or ``ResolvedSource`` tuples), indexed."""
    from babelvl.data.loading import load_rows

    index = EvalImageIndex(threshold=threshold)
    for source in benchmark_sources:
        tables = _tables(str(source)) if isinstance(source, (str, Path)) else \
            [load_rows(source[0], config=source[1], split=source[2])]
        for rows in tables:
            for row in rows:
                for value in row.values():
                    for image in value if isinstance(value, list) else [value]:
                        data = _image_data(image)
                        if data is not None:
                            index.add(data)
    return index


def _tables(source: str) -> list[Any]:
    """The rows of a benchmark path; a folder of language subfolders (``babelvl translate --out``) gives
    every language's rows, since a translated set may have dropped or replaced an image in one of them."""
    from babelvl.data.loading import load_rows
    from babelvl.errors import InputError

    try:
        return [load_rows(source)]
    except InputError:
        folder = Path(source)
        subfolders = [p for p in sorted(folder.iterdir()) if p.is_dir() and any(p.rglob("*.parquet"))] \
            if folder.is_dir() else []
        if not subfolders:
            raise
        return [load_rows(str(p)) for p in subfolders]


def _image_data(value: Any) -> bytes | None:
    if not isinstance(value, dict) or set(value) != {"bytes", "path"}:
        return None
    if value["bytes"]:
        return value["bytes"]
    if value["path"] and Path(value["path"]).is_file():
        return Path(value["path"]).read_bytes()
    return None
