"""Cache translations, so a resumed or repeated run never pays an engine twice for the same segment.

Entries live in the shared ``ResponseCache`` SQLite file (one cache for model answers and translations). The key
covers what changes a translation: the engine identity (minus provenance-only fields), the prompt id of the variant,
both language codes, a hash of both packs' ``translation:`` sections (edited examples change prompts) and the text.
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any, Iterator, Mapping, Sequence

from babelvl.languages import LanguagePack
from babelvl.models import ResponseCache
from babelvl.models.cache import through_cache
from babelvl.translate.base import Engine, TranslationRequest
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


#: answers stored together while streaming: a killed run loses at most this many finished answers
STORE_EVERY = 16


def request_text(request: TranslationRequest) -> str:
    """What a request asks, for its cache key: the text itself for a plain request (so caches made before
    units existed stay valid), else the canonical JSON of its fields, context and image hash."""
    if not request.is_unit and request.context is None and request.image_hash is None:
        return request.text
    return json.dumps({"segments": [list(s) for s in request.segments], "context": request.context,
                       "image": request.image_hash}, ensure_ascii=False, sort_keys=True)


class CachedEngine(Engine):
    """Wraps an engine: answers from the cache and sends only the misses, in chunks of the engine's batch size.

    Each chunk is stored as soon as it returns, so a killed run loses at most one chunk. Identical texts in one call
    are translated once. ``hits`` and ``misses`` count texts over the lifetime of this object.
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
        self.hits = 0
        self.misses = 0
        self._count_lock = threading.Lock()

    def identity(self) -> dict[str, Any]:
        return self.inner.identity()

    def prompt_id(self, variant: int = 0) -> str:
        return self.inner.prompt_id(variant)

    def translate(self, texts: Sequence[str], source: LanguagePack, target: LanguagePack, *,
                  variant: int = 0) -> list[str]:
        identity, prompt_id = self.inner.identity(), self.inner.prompt_id(variant)
        keys = [translation_key(identity, prompt_id, source, target, text) for text in texts]
        answers, missed = through_cache(
            self.cache, keys,
            lambda indices: self.inner.translate([texts[i] for i in indices], source, target, variant=variant),
            chunk_size=self.inner.batch_size, who=f"engine {identity}")
        with self._count_lock:
            self.hits += len(texts) - missed
            self.misses += missed
        return answers

    def request_prompt_id(self, request: TranslationRequest) -> str:
        return self.inner.request_prompt_id(request)

    def stream(self, requests: Sequence[TranslationRequest]) -> Iterator[tuple[str, str]]:
        """Cached answers first, then each distinct miss sent once; answers are stored as they arrive."""
        identity = self.inner.identity()
        keys = {r.key: translation_key(identity, self.inner.request_prompt_id(r), r.source, r.target,
                                       request_text(r)) for r in requests}
        cached = self.cache.get_many(list(dict.fromkeys(keys.values())))
        waiting: dict[str, list[str]] = {}
        to_send: list[TranslationRequest] = []
        hits = 0
        for r in requests:
            answer = cached.get(keys[r.key])
            if answer is not None:
                hits += 1
                yield r.key, answer
                continue
            if keys[r.key] not in waiting:
                to_send.append(r)
            waiting.setdefault(keys[r.key], []).append(r.key)
        with self._count_lock:
            self.hits += hits
        buffer: list[tuple[str, str]] = []
        try:
            for key, answer in self.inner.stream(to_send):
                cache_key = keys[key]
                buffer.append((cache_key, answer))
                with self._count_lock:
                    self.misses += 1
                if len(buffer) >= STORE_EVERY:
                    self.cache.put_many(buffer)
                    buffer = []
                for request_key in waiting[cache_key]:
                    yield request_key, answer
        finally:
            if buffer:
                self.cache.put_many(buffer)

    def close(self) -> None:
        self.inner.close()
