"""Text-only chat LLMs through the transformers backend (used by LLM translation engines)."""

import pytest

from babelvl.errors import BabelvlError
from babelvl.languages import load_language
from babelvl.models import GenerationSettings, Request, load_backend
from babelvl.testing.tiny_models import build_tiny_text_lm, build_tiny_vlm
from babelvl.translate.engines import load_engine


@pytest.fixture(scope="module")
def text_lm(tmp_path_factory):
    return build_tiny_text_lm(tmp_path_factory.mktemp("lm") / "tiny-text-lm")


def test_text_only_model_generates_in_batches_and_refuses_images(text_lm, tmp_path):
    backend = load_backend(str(text_lm), batch_size=3)
    settings = GenerationSettings(max_new_tokens=5)
    prompts = ["Translate: the cat", "Translate: a red car in the image", "Hello"]
    batched = backend.generate([Request(prompt=p) for p in prompts], settings)
    single = [backend.generate([Request(prompt=p)], settings)[0] for p in prompts]
    assert batched == single and len(batched) == 3
    png = (build_tiny_vlm("llava", tmp_path / "vlm") / "config.json").read_bytes()  # any bytes: refused first
    with pytest.raises(BabelvlError, match="text-only language model: it cannot take images"):
        backend.generate([Request(prompt="x", images=(png,))], settings)


def test_llm_engine_runs_on_a_local_text_model(text_lm):
    engine = load_engine(f"llm:hf:{text_lm}", license="Apache-2.0")
    out = engine.translate(["Is there a cat in the image?", "What color is the car?"],
                           load_language("en"), load_language("fr"))
    assert len(out) == 2 and all(isinstance(t, str) for t in out)
    assert out == engine.translate(["Is there a cat in the image?", "What color is the car?"],
                                   load_language("en"), load_language("fr"))
