"""Translate with any chat LLM that a model backend can run (a vLLM/OpenAI-compatible server, or in-process).

The model's license is not knowable from a server, so the user states it; until they do, the identity carries a
warning, and dataset cards show it.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Sequence

from babelvl.errors import BabelvlError
from babelvl.languages import LanguagePack
from babelvl.models import Backend, GenerationSettings, Request, load_backend
from babelvl.translate.base import Engine, TranslationRequest, keyed_stream
from babelvl.models.window import MappedWindow, Window
from babelvl.translate.engines.prompts import (PROMPT_VERSION, chat_prompt, clean_output, unit_prompt,
                                               validate_variant)

#: version of the unit (JSON) and context prompt wordings; part of their prompt ids, hence of cache keys
UNIT_PROMPT_VERSION = "1"

#: greedy decoding, with room for a long hint or question
DEFAULT_SETTINGS = GenerationSettings(max_new_tokens=256)
UNKNOWN_LICENSE_WARNING = "model license not stated; pass license=... (e.g. Apache-2.0) so dataset cards are correct"


class LLMEngine(Engine):
    """A chat LLM behind ``load_backend(backend_spec, **backend_options)``, sent text-only requests.

    ``batch_size`` defaults to the backend's own. Decoding is greedy (``settings.temperature`` 0) so cached and
    resumed runs agree. It translates an item's fields together (JSON in, JSON out) and reads contexts.
    """

    supports_units = True
    supports_context = True
    kind = "llm"

    def __init__(
        self,
        backend_spec: str | Backend,
        *,
        settings: GenerationSettings = DEFAULT_SETTINGS,
        batch_size: int | None = None,
        license: str = "unknown",
        **backend_options: Any,
    ) -> None:
        if isinstance(backend_spec, Backend):
            self.backend = backend_spec
        else:  # an in-process backend batches on the device as the engine does; load_backend drops it for others
            self.backend = load_backend(backend_spec, batch_size=batch_size, **backend_options)
        self.spec = backend_spec if isinstance(backend_spec, str) else type(backend_spec).__name__
        self.settings = settings
        if batch_size is not None and batch_size < 1:
            raise BabelvlError(f"batch_size must be at least 1, got {batch_size}")
        self.batch_size = batch_size or max(1, self.backend.batch_size)
        self.license = license or "unknown"

    def identity(self) -> dict[str, Any]:
        ident: dict[str, Any] = {
            "engine": self.kind,
            "backend": self.backend.identity(),
            "prompt_version": PROMPT_VERSION,
            "settings": self.settings.as_dict(),
            "license": self.license,
        }
        if self.license == "unknown":
            ident["warning"] = UNKNOWN_LICENSE_WARNING
        return ident

    def prompt_id(self, variant: int = 0) -> str:
        return f"chat-p{PROMPT_VERSION}-v{validate_variant(variant)}"

    def request_prompt_id(self, request: TranslationRequest) -> str:
        variant = validate_variant(request.variant)
        if request.is_unit:
            return f"unit-p{UNIT_PROMPT_VERSION}-v{variant}"
        if request.context:
            return f"chat-p{PROMPT_VERSION}-ctx{UNIT_PROMPT_VERSION}-v{variant}"
        return self.prompt_id(variant)

    def open_window(self) -> Window[TranslationRequest, str]:
        """The backend's own window (a server's sliding window of ``concurrency`` requests), with the prompts
        built on the way in and the answers cleaned on the way out."""
        return MappedWindow(self.backend.open_window(self.settings), self._request, self._answer)

    def _request(self, r: TranslationRequest) -> Request:
        prompt = (unit_prompt(r.segments, r.source, r.target, r.variant, context=r.context) if r.is_unit
                  else chat_prompt(r.text, r.source, r.target, r.variant, context=r.context))
        see = r.image is not None and self.takes_images
        return Request(prompt=prompt.user, system=prompt.system, images=(r.image,) if see else (),
                       image_hashes=(r.image_hash,) if see and r.image_hash else ())

    @staticmethod
    def _answer(r: TranslationRequest, answer: str) -> str:
        """Unit answers come back raw (the caller parses the JSON); text answers cleaned."""
        return answer.strip() if r.is_unit else clean_output(answer, r.text, r.target, r.source)

    def stream(self, requests: Iterable[TranslationRequest | object]) -> Iterator[tuple[str, str]]:
        return keyed_stream(self.open_window(), requests)

    def translate(self, texts: Sequence[str], source: LanguagePack, target: LanguagePack, *,
                  variant: int = 0) -> list[str]:
        prompts = [chat_prompt(text, source, target, variant) for text in texts]
        requests = [Request(prompt=p.user, system=p.system) for p in prompts]
        answers = self.backend.generate(requests, self.settings)
        if len(answers) != len(texts):
            raise BabelvlError(f"backend {self.spec!r} returned {len(answers)} answers for {len(texts)} texts")
        return [clean_output(answer, text, target, source) for answer, text in zip(answers, texts)]

    def close(self) -> None:
        self.backend.close()


class VLMEngine(LLMEngine):
    """A vision-language chat model: like ``llm:``, and it sees the item's image while translating
    (``babelvl translate --ground-images``), so "the bat" or "the left one" are read in the picture's sense."""

    takes_images = True
    kind = "vlm"
