"""``babelvl eval`` against an OpenAI-compatible server: a real HTTP server on loopback.

``FakeVLMServer`` is a test double for a remote model server (vLLM, a hosted API): that server is a true
external boundary. Everything on babelvl's side (client, concurrency, cache, parsing, metrics) is real.
"""

from __future__ import annotations

import json

from babelvl.cli import main
from babelvl.testing.openai_server import FakeVLMServer


def test_eval_through_openai_server_in_french(tmp_path):
    def always_oui(prompt: str, images: list[bytes]) -> str:
        assert len(images) == 1
        return "Oui, bien sûr."

    out = tmp_path / "run"
    with FakeVLMServer(always_oui, fail_first=2) as server:  # two 500s first: retried transparently
        code = main(["eval", "--model", "openai:fake-vlm", "--api-base", server.base_url,
                     "--concurrency", "3", "--suite", "sample", "--benchmarks", "pope,mme",
                     "--languages", "fr", "--out", str(out)])
        assert code == 0
        assert server.max_in_flight <= 3
        first_calls = server.request_count
        # A second run in a new folder sharing the cache makes no request at all.
        assert main(["eval", "--model", "openai:fake-vlm", "--api-base", server.base_url, "--suite", "sample",
                     "--benchmarks", "pope,mme", "--languages", "fr", "--out", str(tmp_path / "again"),
                     "--cache", str(out / "cache.sqlite")]) == 0
        assert server.request_count == first_calls
    results = json.loads((out / "results.json").read_text())
    pope = results["benchmarks"]["pope"]["fr"]["overall"]
    assert pope["yes_ratio"] == 1.0 and pope["recall"] == 1.0
    mme = results["benchmarks"]["mme"]["fr"]
    # Always "yes": exactly one of the two questions of each image is right.
    for cat in mme["categories"].values():
        assert cat["acc"] == 0.5 and cat["acc_plus"] == 0.0 and cat["score"] == 50.0
    records = [json.loads(l) for l in (out / "records" / "pope" / "fr.jsonl").read_text().splitlines()]
    assert all(r["prediction"] == "yes" and r["status"] == "ok" for r in records)
