"""Cache translations, so a resumed or repeated run never pays an engine twice for the same segment.

Entries live in the shared ``ResponseCache`` SQLite file (one cache for model answers and translations). The key
covers what changes a translation: the engine identity (minus provenance-only fields), the prompt id of the variant,
both language codes, a hash of both packs' ``translation:`` sections (edited examples change prompts) and the text.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable, Iterator, Mapping, Sequence

from babelvl.languages import LanguagePack
from babelvl.models import ResponseCache
from babelvl.models.window import InFlight, StreamStats, stream_through
from babelvl.translate.base import Engine, TranslationJob
from babelvl.translate.engines.prompts import prompt_material

#: identity fields that describe an engine without changing its output: stating a license must not void a cache
PROVENANCE_ONLY_KEYS = frozenset({"license", "warning", "note"})


def translation_key(identity: Mapping[str, Any], prompt_id: str, source: LanguagePack, target: LanguagePack,
                    text: str) -> str:
    """sha256 of the canonical JSON of everything that determines one translation."""
    payload = {
        "kind": "translation",
        "engine": {k: v for k, v in identity.items() if k not in PROVENANCE_ONLY_KEYS},
        "prompt_id": prompt_id,
        "source": source.code,
        "target": target.code,
        "packs": prompt_material(source, target),
        "text": text,
    }
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class CachedEngine(Engine):
    """Wraps an engine: answers from the cache and sends only the misses through the engine's window.

    Each answer is stored as soon as it returns, so a killed run repeats at most the requests in flight. Identical
    texts are translated once. ``hits`` and ``misses`` count texts over the lifetime of this object.
    """

    def __init__(self, engine: Engine, cache: ResponseCache) -> None:
        self.inner = engine
        self.cache = cache
        self.batch_size = engine.batch_size
        self.license = engine.license
        self.low_quality = engine.low_quality
        self.stats = StreamStats()
        self.in_flight = InFlight()  # streams of this object running at once send a text once

    @property
    def hits(self) -> int:
        return self.stats.hits

    @property
    def misses(self) -> int:
        return self.stats.misses

    def identity(self) -> dict[str, Any]:
        return self.inner.identity()

    def prompt_id(self, variant: int = 0) -> str:
        return self.inner.prompt_id(variant)

    def translate_stream(self, jobs: Iterable[TranslationJob | object]) -> Iterator[tuple[int, str]]:
        """``(index, translation)`` as each returns; ``jobs`` may mix languages and variants, be produced lazily
        and hold ``models.window.WAIT`` (a producer of retries waits for answers)."""
        identity = self.inner.identity()
        prompt_ids: dict[int, str] = {}

        def key(job: TranslationJob) -> str:
            if job.variant not in prompt_ids:
                prompt_ids[job.variant] = self.inner.prompt_id(job.variant)
            return translation_key(identity, prompt_ids[job.variant], job.source, job.target, job.text)

        return stream_through(self.inner.open_window(), jobs, cache=self.cache, key=key, stats=self.stats,
                              shared=self.in_flight)

    def translate(self, texts: Sequence[str], source: LanguagePack, target: LanguagePack, *,
                  variant: int = 0) -> list[str]:
        out = [""] * len(texts)
        for index, text in self.translate_stream(TranslationJob(t, source, target, variant) for t in texts):
            out[index] = text
        return out

    def close(self) -> None:
        self.inner.close()
