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


@pytest.fixture(autouse=True)
def _cosyn_code_where_bubblewrap_cannot_run(monkeypatch):
    # babelvl refuses to run dataset code without bubblewrap. Where bwrap cannot run (e.g. a container without
    # user namespaces), tests that render CoSyn figures run it unsandboxed; the isolation tests skip, saying why.
    from babelvl.pixmo import sandbox

    if sandbox.bwrap_problem():
        monkeypatch.setenv(sandbox.UNSAFE_ENV, "1")
    else:
        monkeypatch.delenv(sandbox.UNSAFE_ENV, raising=False)


@pytest.fixture(scope="session")
def tiny_llava(tmp_path_factory):
    from babelvl.testing.tiny_models import build_tiny_vlm

    return build_tiny_vlm("llava", tmp_path_factory.mktemp("models") / "tiny-llava")
