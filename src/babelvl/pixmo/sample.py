"""Sample PixMo sources for trying the pipeline offline: a few rows of PixMo-Cap, PixMo-AskModelAnything and
CoSyn-400K (chart) in their real Hub schemas, and a mirror folder holding the images their URLs name.

``babelvl build-pixmo --data SAMPLE/pixmo/ama.parquet --fetch-images --mirror SAMPLE/pixmo/images`` then runs
exactly as on the real sets: URLs resolve through the mirror (the fetcher's offline stand-in for the web), sha256
checks apply. The rows are babelvl's test fixtures (``babelvl.testing.pixmo_fixtures``): one definition.
"""

from __future__ import annotations

from pathlib import Path

from babelvl.testing.pixmo_fixtures import (ama_rows, cap_rows, cosyn_rows, fixture_images, write_ama, write_cap,
                                            write_cosyn)

#: where the sample rows say their images live; nothing is served there, the mirror folder answers instead
SAMPLE_IMAGE_HOST = "https://images.example.invalid/pixmo"
IMAGES = 8


def write_sample_pixmo(out_dir: str | Path) -> dict[str, Path]:
    """Write ``OUT/{cap,ama,cosyn-chart}.parquet`` and ``OUT/images/`` (the URL mirror); return the paths."""
    out = Path(out_dir)
    images = out / "images"
    images.mkdir(parents=True, exist_ok=True)
    for name, data in fixture_images(IMAGES).items():
        path = images / name
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
    return {
        "cap": write_cap(out / "cap.parquet", SAMPLE_IMAGE_HOST, cap_rows(SAMPLE_IMAGE_HOST, IMAGES)),
        "ama": write_ama(out / "ama.parquet", SAMPLE_IMAGE_HOST, ama_rows(SAMPLE_IMAGE_HOST, images=IMAGES,
                                                                           per_image=2)),
        "cosyn": write_cosyn(out / "cosyn-chart.parquet", cosyn_rows(3)),
        "images": images,
    }
