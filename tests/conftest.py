"""Shared fixtures: an isolated babelvl cache and tiny models built once per session."""

from __future__ import annotations

import os

# Read by `datasets` and `huggingface_hub` when they are imported: set before any test module imports them,
# so no test ever waits on the (unreachable) Hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_babelvl_cache(tmp_path_factory, monkeypatch):
    # The sample suite is materialised under $BABELVL_CACHE; keep tests away from the user's home.
    monkeypatch.setenv("BABELVL_CACHE", str(tmp_path_factory.getbasetemp() / "babelvl-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def tiny_llava(tmp_path_factory):
    from babelvl.testing.tiny_models import build_tiny_vlm

    return build_tiny_vlm("llava", tmp_path_factory.mktemp("models") / "tiny-llava")
