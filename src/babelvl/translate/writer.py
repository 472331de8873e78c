"""Write one language's rows as Parquet with the source's schema plus babelvl's provenance columns."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from datasets import Features, Image, Value

from babelvl.io.files import write_atomic


def _decoded_features(features: Features) -> Features:
    """The loader reads images undecoded; the written schema declares them as ordinary Image columns."""
    def fix(feature: Any) -> Any:
        if isinstance(feature, Image):
            return Image()
        if isinstance(feature, list) and feature and isinstance(feature[0], Image):
            return [Image()]
        return feature

    return Features({name: fix(f) for name, f in features.items()})


def write_rows(rows: Any, columns: dict[str, list[Any]], path: Path) -> None:
    """``columns`` replace (None = keep the source value) or add columns; all others are copied as is."""
    table: pa.Table = rows.data.table
    features = _decoded_features(rows.features)
    for name, values in columns.items():
        if name in table.column_names:
            source = table.column(name).to_pylist()
            merged = [s if v is None else v for v, s in zip(values, source)]
            index = table.column_names.index(name)
            table = table.set_column(index, name, pa.array(merged, type=table.schema.field(name).type))
        else:
            kind = "int64" if all(isinstance(v, int) for v in values) else "string"
            table = table.append_column(name, pa.array(values, type=pa.int64() if kind == "int64" else pa.string()))
            features[name] = Value(kind)
    table = table.replace_schema_metadata(
        {"huggingface": json.dumps({"info": {"features": features.to_dict()}})})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    write_atomic(path, buffer.getvalue())
