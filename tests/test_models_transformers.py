"""TransformersBackend on tiny random-weight LLaVA, Idefics3 and PaliGemma models built offline."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

from babelvl.errors import BabelvlError
from babelvl.models import GenerationSettings, Request, load_backend
from babelvl.models.transformers_backend import TransformersBackend
from babelvl.testing import FAMILIES, build_tiny_vlm

GREEDY = GenerationSettings(max_new_tokens=6)


def image_bytes(seed: int, size: tuple[int, int] = (40, 30), fmt: str = "PNG") -> bytes:
    """A deterministic striped image; different seeds give different pixels."""
    img = Image.new("RGB", size)
    img.putdata([((x * 37 + seed * 91) % 256, (y * 53 + seed * 29) % 256, ((x ^ y) * 11 + seed) % 256)
                 for y in range(size[1]) for x in range(size[0])])
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


REQUESTS = [
    Request("What colour is the cat?", (image_bytes(1),)),
    Request("Quelle est la couleur du chien dans cette image ? Répondez A, B, C ou D.", (image_bytes(2, (64, 64)),)),
    Request("Katze?", (image_bytes(3, (20, 50), "JPEG"),)),
]


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny")
    return {family: build_tiny_vlm(family, root / family) for family in FAMILIES}  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def backends(model_dirs: dict[str, Path]) -> dict[str, TransformersBackend]:
    loaded = {}
    for family, path in model_dirs.items():
        backend = TransformersBackend(str(path), device="cpu", batch_size=3)
        backend.load()
        loaded[family] = backend
    return loaded


@pytest.mark.parametrize("family", FAMILIES)
def test_batch_of_three_answers_in_order(backends: dict[str, TransformersBackend], family: str) -> None:
    answers = backends[family].generate(REQUESTS, GREEDY)
    assert len(answers) == 3
    assert all(isinstance(a, str) for a in answers)
    # random weights still make the answer depend on the input; otherwise the next test would prove nothing
    assert len(set(answers)) > 1, answers


@pytest.mark.parametrize("family", FAMILIES)
def test_batched_greedy_equals_one_at_a_time(backends: dict[str, TransformersBackend], family: str) -> None:
    backend = backends[family]
    batched = backend.generate(REQUESTS, GREEDY)
    single = [backend.generate([r], GREEDY)[0] for r in REQUESTS]
    assert batched == single


@pytest.mark.parametrize("family", FAMILIES)
def test_system_turn_reaches_the_model(backends: dict[str, TransformersBackend], family: str) -> None:
    with_system = [Request(r.prompt, r.images, system="Answer in one word.") for r in REQUESTS]
    answers = backends[family].generate(with_system, GREEDY)
    assert len(answers) == 3
    assert answers != backends[family].generate(REQUESTS, GREEDY)


def test_requests_with_different_image_counts_in_one_batch(backends: dict[str, TransformersBackend]) -> None:
    backend = backends["llava"]
    mixed = [REQUESTS[0], Request("No image here, just text."), Request("Two images", (image_bytes(4), image_bytes(5)))]
    answers = backend.generate(mixed, GREEDY)
    assert answers[0] == backend.generate([REQUESTS[0]], GREEDY)[0]
    assert answers[2] == backend.generate([mixed[2]], GREEDY)[0]
    assert len(answers) == 3


def test_sampling_is_reproducible_for_a_seed(backends: dict[str, TransformersBackend]) -> None:
    backend = backends["llava"]
    sampled = GenerationSettings(max_new_tokens=8, temperature=1.0, top_p=0.9, seed=7)
    assert backend.generate(REQUESTS, sampled) == backend.generate(REQUESTS, sampled)


def test_identity_names_the_folder_and_changes_with_the_files(model_dirs: dict[str, Path], tmp_path: Path) -> None:
    copy = Path(shutil.copytree(model_dirs["llava"], tmp_path / "llava-copy"))
    backend = TransformersBackend(str(copy), device="cpu", dtype="float32")
    first = backend.identity()
    assert first["backend"] == "transformers"
    assert first["model"] == str(copy.resolve())
    assert first["dtype"] == "float32" and first["revision"] is None
    weights = copy / "model.safetensors"
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    assert TransformersBackend(str(copy), device="cpu").identity()["fingerprint"] != first["fingerprint"]


def test_hub_id_identity_needs_no_download() -> None:
    backend = TransformersBackend("HuggingFaceTB/SmolVLM-256M-Instruct", device="cpu", revision="abc123")
    assert backend.identity() == {
        "backend": "transformers",
        "model": "HuggingFaceTB/SmolVLM-256M-Instruct",
        "revision": "abc123",
        "dtype": "float32",
    }


def test_text_only_model_gives_a_clear_error(model_dirs: dict[str, Path], tmp_path: Path) -> None:
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(model_dirs["llava"])
    tokenizer.save_pretrained(tmp_path)
    # a plain language model: its tokenizer does not point at a multimodal processor
    tokenizer_config = tmp_path / "tokenizer_config.json"
    settings = json.loads(tokenizer_config.read_text())
    settings.pop("processor_class", None)
    tokenizer_config.write_text(json.dumps(settings))
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1)
    LlamaForCausalLM(config).save_pretrained(tmp_path)
    backend = TransformersBackend(str(tmp_path), device="cpu")
    backend.load()  # text-only models load (translation engines use them) ...
    with pytest.raises(BabelvlError, match="cannot take images"):  # ... but refuse images, clearly
        backend.generate([REQUESTS[0]], GREEDY)


def test_unreadable_image_names_the_request(backends: dict[str, TransformersBackend]) -> None:
    with pytest.raises(BabelvlError, match="request 1"):
        backends["llava"].generate([REQUESTS[0], Request("x", (b"not an image",))], GREEDY)


def test_load_backend_picks_transformers_for_hf_and_bare_specs(model_dirs: dict[str, Path]) -> None:
    for spec in (f"hf:{model_dirs['idefics3']}", str(model_dirs["idefics3"])):
        backend = load_backend(spec, device="cpu", batch_size=2, revision=None)
        assert isinstance(backend, TransformersBackend)
        assert backend.batch_size == 2
        assert backend.identity()["model"] == str(model_dirs["idefics3"])
    # a command line passes every model option; the OpenAI-only ones are ignored for a transformers model
    assert isinstance(load_backend(str(model_dirs["idefics3"]), concurrency=4, timeout=9.0), TransformersBackend)
    with pytest.raises(BabelvlError, match="unknown model option"):
        load_backend(str(model_dirs["idefics3"]), devcie="cpu")
    with pytest.raises(BabelvlError, match="unknown model spec"):
        load_backend("vllm:some-model")


def test_tiny_build_is_deterministic_and_skipped_when_complete(model_dirs: dict[str, Path], tmp_path: Path) -> None:
    again = build_tiny_vlm("llava", tmp_path / "llava")
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        assert (again / name).read_bytes() == (model_dirs["llava"] / name).read_bytes(), name
    mtime = (again / "model.safetensors").stat().st_mtime_ns
    assert build_tiny_vlm("llava", again) == again
    assert (again / "model.safetensors").stat().st_mtime_ns == mtime
    other_seed = build_tiny_vlm("llava", tmp_path / "llava-seed1", seed=1)
    assert (other_seed / "model.safetensors").read_bytes() != (again / "model.safetensors").read_bytes()
