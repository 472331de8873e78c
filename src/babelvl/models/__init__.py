"""Model backends behind one interface, a response cache, and ``load_backend`` to pick one from a spec string."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from babelvl.errors import BabelvlError
from babelvl.models.base import Backend, GenerationSettings, Request
from babelvl.models.cache import CachedBackend, ResponseCache, cache_key

__all__ = [
    "Backend",
    "CachedBackend",
    "GenerationSettings",
    "Request",
    "ResponseCache",
    "cache_key",
    "load_backend",
]


def load_backend(spec: str, **options: Any) -> Backend:
    """Build a backend from a spec string.

    ``hf:<hub-id-or-path>`` or a bare id/path -> ``TransformersBackend``; ``openai:<model-name>`` -> ``OpenAIBackend``
    (needs ``base_url``). ``options`` are backend keyword arguments. So that a command line can pass all of its model
    options whatever the spec, ``None`` values and options that only the other backend takes are dropped; a name
    that no backend takes is an error (a typo).
    """
    options = {key: value for key, value in options.items() if value is not None}
    scheme, sep, rest = spec.partition(":")
    if sep and scheme == "openai":
        if not rest:
            raise BabelvlError("spec 'openai:' needs a model name, e.g. openai:gpt-4o-mini")
        if "base_url" not in options:
            raise BabelvlError(
                f"model {spec!r} needs the server address: pass --api-base (base_url), "
                "e.g. --api-base http://localhost:8000/v1"
            )
        from babelvl.models.openai_backend import OpenAIBackend

        return _construct(OpenAIBackend, rest, options, spec)
    if sep and scheme == "hf":
        if not rest:
            raise BabelvlError(
                "spec 'hf:' needs a Hub id or a local folder, e.g. hf:HuggingFaceTB/SmolVLM-256M-Instruct"
            )
        spec = rest
    elif sep and len(scheme) > 1 and not Path(spec).expanduser().exists():
        # Hub ids never contain ':'; a one-letter scheme is a Windows drive
        raise BabelvlError(f"unknown model spec {spec!r}: use hf:<hub-id-or-path> or openai:<model-name>")
    from babelvl.models.transformers_backend import TransformersBackend

    return _construct(TransformersBackend, spec, options, spec)


def _keyword_options(cls: type[Backend]) -> set[str]:
    return {name for name, p in inspect.signature(cls).parameters.items() if p.kind is p.KEYWORD_ONLY}


def _construct(cls: type[Backend], model: str, options: dict[str, Any], spec: str) -> Backend:
    from babelvl.models.openai_backend import OpenAIBackend
    from babelvl.models.transformers_backend import TransformersBackend

    known = _keyword_options(OpenAIBackend) | _keyword_options(TransformersBackend)
    unknown = sorted(set(options) - known)
    if unknown:
        raise BabelvlError(
            f"unknown model option(s) {', '.join(unknown)} for {spec!r}; known: {', '.join(sorted(known))}"
        )
    accepted = _keyword_options(cls)
    return cls(model, **{key: value for key, value in options.items() if key in accepted})  # type: ignore[call-arg]
