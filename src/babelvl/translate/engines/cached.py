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
from babelvl.models.window import CacheCounters, InFlight, StreamStats
from babelvl.translate.base import Engine, TranslationRequest, keyed_stream
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


def request_text(request: TranslationRequest) -> str:
    """What a request asks, for its cache key: the text itself for a plain request (so caches made before
    units existed stay valid), else the canonical JSON of its fields, context and image hash."""
    if not request.is_unit and request.context is None and request.image_hash is None:
        return request.text
    return json.dumps({"segments": [list(s) for s in request.segments], "context": request.context,
                       "image": request.image_hash}, ensure_ascii=False, sort_keys=True)


class CachedEngine(CacheCounters, Engine):
    """Wraps an engine: answers from the cache and sends only the misses, in one stream through the engine.

    Each answer is stored as soon as it returns, so a killed run repeats at most the requests in flight. Identical
    texts in one call are translated once. ``hits`` and ``misses`` count texts over the lifetime of this object.
    """

    def __init__(self, engine: Engine, cache: ResponseCache) -> None:
        self.inner = engine
        self.cache = cache
        self.batch_size = engine.batch_size
        self.license = engine.license
        self.low_quality = engine.low_quality
        self.supports_units = engine.supports_units
        self.supports_context = engine.supports_context
        self.takes_images = engine.takes_images
        self.stats = StreamStats()
        self.in_flight = InFlight()  # streams of this engine running at once send a text once

    def identity(self) -> dict[str, Any]:
        return self.inner.identity()

    def prompt_id(self, variant: int = 0) -> str:
        return self.inner.prompt_id(variant)

    def translate(self, texts: Sequence[str], source: LanguagePack, target: LanguagePack, *,
                  variant: int = 0) -> list[str]:
        """All texts in one :meth:`stream` (one sliding window at a model server), answers in order."""
        out = [""] * len(texts)
        requests = [TranslationRequest(key=str(i), source=source, target=target, segments=(("text", text),),
                                       variant=variant) for i, text in enumerate(texts)]
        for key, answer in self.stream(requests):
            out[int(key)] = answer
        return out

    def request_prompt_id(self, request: TranslationRequest) -> str:
        return self.inner.request_prompt_id(request)

    def stream(self, requests: Iterable[TranslationRequest | object]) -> Iterator[tuple[str, str]]:
        """``(request key, answer)`` as each completes: cached answers without a call, each distinct miss sent once
        through the engine's window (a server's sliding window), each answer stored before it is yielded.

        ``requests`` may be produced lazily and hold ``models.window.WAIT``: a job that sends a retry as soon as
        an answer fails its checks feeds it into the same running stream (see ``segment_job``).
        """
        identity = self.inner.identity()

        def key(r: TranslationRequest) -> str:
            return translation_key(identity, self.inner.request_prompt_id(r), r.source, r.target, request_text(r))

        return keyed_stream(self.inner.open_window(), requests, cache=self.cache, key=key, stats=self.stats,
                            shared=self.in_flight)

    def close(self) -> None:
        self.inner.close()
