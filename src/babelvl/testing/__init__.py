"""Test doubles shipped with babelvl: tiny offline VLMs and a loopback OpenAI-compatible server.

``FakeVLMServer`` is imported on first use because it needs the ``dev`` extra (fastapi, uvicorn).
"""

from __future__ import annotations

from typing import Any

from babelvl.testing.tiny_models import FAMILIES, build_tiny_vlm

__all__ = ["FAMILIES", "FakeVLMServer", "build_tiny_vlm"]


def __getattr__(name: str) -> Any:
    if name == "FakeVLMServer":
        from babelvl.testing.openai_server import FakeVLMServer

        return FakeVLMServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
