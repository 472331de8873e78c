"""Translate free-form texts (answers, captions, code strings) with the same masking as benchmarks.

Each text is split into lines, protected spans are masked, distinct segments are translated once, and
the texts are reassembled: what the benchmark pipeline does across a dataset, for any list of texts.
"""

from __future__ import annotations

from typing import Any, Sequence

from babelvl.languages import LanguagePack
from babelvl.translate.placeholders import join_lines, split_lines, unmask


def translate_texts(engine: Any, texts: Sequence[str], source: LanguagePack, target: LanguagePack, *,
                    variant: int = 0) -> tuple[list[str], list[tuple[str, str]]]:
    """Return the translated texts and, for checking, the (masked source, masked target) segment pairs."""
    planned = [split_lines(text) for text in texts]
    distinct: dict[str, None] = {}
    for lines in planned:
        for line in lines:
            if line.body is not None:
                distinct.setdefault(line.body.text)
    order = list(distinct)
    translated = dict(zip(order, engine.translate(order, source, target, variant=variant))) if order else {}
    out = []
    for lines in planned:
        parts = [unmask(translated[line.body.text], line.body.values) if line.body is not None else None
                 for line in lines]
        out.append(join_lines(lines, parts))
    return out, [(segment, translated[segment]) for segment in order]
