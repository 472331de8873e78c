"""Translation engines behind one interface, and ``load_engine`` to pick one from a spec string.

* a model spec, as everywhere in babelvl: ``openai:Qwen/Qwen2.5-7B-Instruct`` with ``base_url=`` (a chat LLM
  served by vLLM or any OpenAI-compatible server) or ``hf:./model`` in process (``llm:<model spec>`` is the older,
  still accepted spelling);
* ``mt:<hub id or path>``: an encoder-decoder MT model (MADLAD-400, opus-mt, NLLB), ``{src}``/``{tgt}`` allowed;
* ``gguf:<path or gemma3-270m>``: a GGUF base model with few-shot prompts, an offline demo and test engine.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from babelvl.errors import BabelvlError
from babelvl.translate.base import Engine
from babelvl.translate.engines.cached import CachedEngine
from babelvl.translate.engines.gguf import GGUFEngine
from babelvl.translate.engines.llm import LLMEngine, VLMEngine
from babelvl.translate.engines.seq2seq import Seq2SeqEngine

__all__ = [
    "CachedEngine",
    "GGUFEngine",
    "LLMEngine",
    "RECOMMENDED_ENGINES",
    "RecommendedEngine",
    "Seq2SeqEngine",
    "VLMEngine",
    "SPEC_FORMS",
    "load_engine",
]

SPEC_FORMS = (
    "openai:<model> (a served chat LLM, with --api-base) or hf:<hub id or path> (a chat LLM in process)",
    "vlm:<model spec> (a vision-language model that sees each item's image with --ground-images: "
    "vlm:openai:Qwen/Qwen2.5-VL-7B-Instruct)",
    "mt:<hub id or path> (e.g. mt:google/madlad400-3b-mt, mt:Helsinki-NLP/opus-mt-{src}-{tgt})",
    "gguf:<path.gguf or gemma3-270m> (offline demo/test engine)",
)


@dataclass(frozen=True)
class RecommendedEngine:
    """An engine worth using for data people publish: permissive license, good quality on our languages."""

    spec: str
    license: str
    note: str


#: engines whose license lets translated benchmarks be shared freely (for the README)
RECOMMENDED_ENGINES: tuple[RecommendedEngine, ...] = (
    RecommendedEngine(
        "openai:Qwen/Qwen2.5-7B-Instruct", "Apache-2.0",
        "served by vLLM (`vllm serve Qwen/Qwen2.5-7B-Instruct`), pass base_url= and license='Apache-2.0'; "
        "Qwen3 instruct models (Apache-2.0) work the same way",
    ),
    RecommendedEngine("mt:google/madlad400-3b-mt", "Apache-2.0",
                      "one model for every language pair (<2xx> target tokens); 3B parameters, GPU advised"),
    RecommendedEngine("mt:Helsinki-NLP/opus-mt-{src}-{tgt}", "CC-BY-4.0",
                      "small and fast, one model per pair (attribution required); not every pair exists"),
)

_KINDS: dict[str, type[Engine]] = {"llm": LLMEngine, "vlm": VLMEngine, "mt": Seq2SeqEngine, "gguf": GGUFEngine}
#: model-spec schemes (babelvl.models.load_backend) that name a chat LLM used as a translation engine
_LLM_MODEL_SCHEMES = ("openai", "hf")


def load_engine(spec: str, **options: Any) -> Engine:
    """Build an engine from a spec string (see ``SPEC_FORMS``).

    So that one set of options can serve a primary and a fallback engine of different kinds (and a command line can
    pass all of its options), ``None`` values and options that only other kinds of engine take are dropped; a name
    that no engine or model backend takes is an error (a typo). ``llm:`` passes its extra options to the backend.
    """
    options = {key: value for key, value in options.items() if value is not None}
    if spec.partition(":")[0] in _LLM_MODEL_SCHEMES:  # a model spec: the chat-LLM engine runs it
        spec = f"llm:{spec}"
    kind, sep, rest = spec.partition(":")
    if not sep or kind not in _KINDS:
        raise BabelvlError(f"unknown translation engine {spec!r}; use one of:\n  " + "\n  ".join(SPEC_FORMS))
    if not rest:
        raise BabelvlError(f"engine spec {spec!r} names no model; forms:\n  " + "\n  ".join(SPEC_FORMS))
    accepted = {name: _keyword_options(cls) for name, cls in _KINDS.items()}
    accepted["llm"] |= _backend_options()
    accepted["vlm"] |= _backend_options()
    known = set().union(*accepted.values())
    unknown = sorted(set(options) - known)
    if unknown:
        raise BabelvlError(
            f"unknown engine option(s) {', '.join(unknown)} for {spec!r}; known: {', '.join(sorted(known))}"
        )
    return _KINDS[kind](rest, **{key: value for key, value in options.items() if key in accepted[kind]})


def _keyword_options(cls: type) -> set[str]:
    return {name for name, p in inspect.signature(cls).parameters.items() if p.kind is p.KEYWORD_ONLY}


def _backend_options() -> set[str]:
    from babelvl.models.openai_backend import OpenAIBackend
    from babelvl.models.transformers_backend import TransformersBackend

    return _keyword_options(OpenAIBackend) | _keyword_options(TransformersBackend)
