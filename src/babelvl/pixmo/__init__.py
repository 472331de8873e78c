"""PixMo and CoSyn as sources of multilingual training data: validated records and fetched images.

``sources`` turns Hub rows into :class:`SourceRecord` (or :class:`Rejected`, with file, row and field);
``fetch`` downloads PixMo's image URLs once into a content-addressed cache. ``fetch`` needs httpx and is
imported on first use, so reading records does not.
"""

from __future__ import annotations

from typing import Any

from babelvl.pixmo.sources import (SOURCES, LoadedSource, Rejected, Source, SourceRecord, get_source,
                                   load_source)

__all__ = ["SOURCES", "FetchRequest", "FetchResult", "ImageFetcher", "LoadedSource", "Rejected", "Source",
           "SourceRecord", "get_source", "load_source"]


def __getattr__(name: str) -> Any:
    if name in ("FetchRequest", "FetchResult", "ImageFetcher"):
        from babelvl.pixmo import fetch

        return getattr(fetch, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
