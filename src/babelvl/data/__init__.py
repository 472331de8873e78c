"""Reading benchmark data: rows from Hub ids, Parquet and saved datasets, and verified image bytes."""

from babelvl.data.images import image_bytes
from babelvl.data.loading import ResolvedSource, load_rows, resolve_source

__all__ = ["ResolvedSource", "image_bytes", "load_rows", "resolve_source"]
