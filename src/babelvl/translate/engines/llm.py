"""Translate with any chat LLM that a model backend can run (a vLLM/OpenAI-compatible server, or in-process).

The model's license is not knowable from a server, so the user states it; until they do, the identity carries a
warning, and dataset cards show it.
"""

from __future__ import annotations

from typing import Any, Sequence

from babelvl.errors import BabelvlError
from babelvl.languages import LanguagePack
from babelvl.models import Backend, GenerationSettings, Request, load_backend
from babelvl.models.window import MappedWindow, Window
from babelvl.translate.base import Engine, TranslationJob
from babelvl.translate.engines.prompts import PROMPT_VERSION, chat_prompt, clean_output, validate_variant

#: greedy decoding, with room for a long hint or question
DEFAULT_SETTINGS = GenerationSettings(max_new_tokens=256)
UNKNOWN_LICENSE_WARNING = "model license not stated; pass license=... (e.g. Apache-2.0) so dataset cards are correct"


class LLMEngine(Engine):
    """A chat LLM behind ``load_backend(backend_spec, **backend_options)``, sent text-only requests.

    ``batch_size`` defaults to the backend's own. Decoding is greedy (``settings.temperature`` 0) so cached and
    resumed runs agree.
    """

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
            "engine": "llm",
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

    def open_window(self) -> Window[TranslationJob, str]:
        """The backend's own window (a server's sliding window), with the chat prompt and output cleaning."""

        def request(job: TranslationJob) -> Request:
            prompt = chat_prompt(job.text, job.source, job.target, job.variant)
            return Request(prompt=prompt.user, system=prompt.system)

        return MappedWindow(self.backend.open_window(self.settings), request,
                            lambda job, answer: clean_output(answer, job.text, job.target, job.source))

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
