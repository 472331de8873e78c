"""Fine-tuning tiny VLMs on a tiny mixture: answer-only labels, loss goes down, save/reload, resume, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from babelvl.errors import BabelvlError
from babelvl.testing.tiny_models import build_tiny_text_lm, build_tiny_vlm
from babelvl.train.collate import IGNORE_INDEX, VLMCollator
from babelvl.train.trainer import TrainSpec, load_processor, load_trained, train

FAMILIES = ("llava", "idefics3", "paligemma")
_EXAMPLES = [
    ("red", (220, 20, 20), "What color is this picture?", "red"),
    ("blue", (20, 20, 220), "What color is the image?", "blue"),
    ("green", (20, 200, 20), "Describe the colour.", "green"),
    ("yellow", (230, 230, 10), "Which color?", "yellow"),
]


def write_mixture(root: Path) -> Path:
    """A mixture folder as the mixture builder writes it: train.jsonl + images/ with relative paths."""
    from PIL import Image

    (root / "images").mkdir(parents=True, exist_ok=True)
    with (root / "train.jsonl").open("w", encoding="utf-8") as handle:
        for index, (name, colour, question, answer) in enumerate(_EXAMPLES):
            Image.new("RGB", (24, 20), colour).save(root / "images" / f"{name}.png")
            row = {"id": str(index), "language": "en", "images": [f"images/{name}.png"],
                   "messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]}
            handle.write(json.dumps(row) + "\n")
    return root


@pytest.fixture(scope="module")
def mixture(tmp_path_factory) -> Path:
    return write_mixture(tmp_path_factory.mktemp("mixture"))


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("train-models")
    return {family: build_tiny_vlm(family, root / family) for family in FAMILIES}


def _spec(model: Path, mixture: Path, out: Path, **overrides) -> TrainSpec:
    settings = {"max_steps": 15, "lr": 1e-2, "batch_size": 4, "save_steps": 50, "seed": 0, "quiet": True}
    settings.update(overrides)
    return TrainSpec(model=str(model), mixture_dir=mixture, out_dir=out, **settings)


def _rows(mixture: Path) -> list[dict]:
    rows = [json.loads(line) for line in (mixture / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    for row in rows:
        row["images"] = [str(mixture / name) for name in row["images"]]
    return rows


# -- collator -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_labels_cover_only_the_answer(models, mixture, family):
    processor = load_processor(str(models[family]))
    rows = _rows(mixture)[:2]  # "red" and "blue": different prompt lengths, so one row is padded
    batch = VLMCollator(processor)(rows)
    labels, mask = batch["labels"], batch["attention_mask"]
    assert labels.shape == batch["input_ids"].shape
    assert (labels[mask == 0] == IGNORE_INDEX).all()  # padding never counts
    assert (mask[:, 0] == 1).all() and (mask[:, :-1] >= mask[:, 1:]).all()  # right padding
    tokenizer = processor.tokenizer
    for row, answer in zip(range(2), ("red", "blue")):
        kept = labels[row][labels[row] != IGNORE_INDEX]
        text = tokenizer.decode(kept, skip_special_tokens=True).strip()
        assert text == answer  # the prompt, the image tokens and the question are all masked
        assert tokenizer.convert_tokens_to_ids("<image>") not in kept.tolist()
        # the answer is followed by the end-of-turn token, so the model learns to stop
        assert kept[-1].item() != tokenizer.convert_tokens_to_ids("<pad>")
        assert len(kept) > len(tokenizer(answer, add_special_tokens=False)["input_ids"])


# -- training -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_training_lowers_the_loss(models, mixture, tmp_path, family):
    result = train(_spec(models[family], mixture, tmp_path / "run"))
    assert result.steps == 15 and len(result.losses) == 15
    first, last = sum(result.losses[:3]) / 3, sum(result.losses[-3:]) / 3
    assert last < 0.8 * first, result.losses
    assert result.samples_per_second > 0
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    steps = [entry for entry in log if "loss" in entry]
    assert [entry["step"] for entry in steps] == list(range(1, 16))
    assert all(entry["samples_per_second"] > 0 for entry in steps)


def _logits(model, processor, mixture: Path):
    batch = VLMCollator(processor)(_rows(mixture))
    batch.pop("labels")
    model.eval()
    with torch.no_grad():
        return model(**batch).logits


@pytest.mark.slow
@pytest.mark.parametrize("method", ["full", "lora"])
def test_saved_model_reloads_with_the_same_outputs(models, mixture, tmp_path, method):
    spec = _spec(models["idefics3"], mixture, tmp_path / "run", method=method, max_steps=6, lr=5e-3)
    result = train(spec)
    processor = load_processor(str(models["idefics3"]))
    before = _logits(result.model, processor, mixture)
    reloaded, reloaded_processor = load_trained(result.checkpoint_dir)
    after = _logits(reloaded, reloaded_processor, mixture)
    torch.testing.assert_close(after, before, rtol=1e-4, atol=1e-4)
    base, _ = load_trained(models["idefics3"])
    assert not torch.allclose(_logits(base, processor, mixture), before, atol=1e-3)  # training changed it
    if method == "lora":
        assert (result.checkpoint_dir / "adapter_config.json").is_file()
        assert not (result.checkpoint_dir / "model.safetensors").exists()  # an adapter, not a copy of the model
    inputs = processor(text=[processor.apply_chat_template(
        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Which color?"}]}],
        add_generation_prompt=True, tokenize=False)], images=[[_image(mixture)]], return_tensors="pt")
    kwargs = {"max_new_tokens": 4, "do_sample": False}
    with torch.no_grad():
        assert torch.equal(result.model.generate(**inputs, **kwargs), reloaded.generate(**inputs, **kwargs))


def _image(mixture: Path):
    from PIL import Image

    return Image.open(mixture / "images" / "red.png").convert("RGB")


def test_resume_continues_from_the_last_checkpoint(models, mixture, tmp_path):
    out = tmp_path / "run"
    # batches of 2 accumulated twice: one optimizer step still sees all four examples
    first = train(_spec(models["paligemma"], mixture, out, max_steps=4, save_steps=2, batch_size=2, grad_accum=2))
    assert first.steps == 4 and (out / "checkpoint-4").is_dir()
    second = train(_spec(models["paligemma"], mixture, out, max_steps=7, save_steps=2, batch_size=2, grad_accum=2))
    assert second.steps == 7
    assert second.losses[:4] == first.losses  # the restored history, then three new steps
    assert len(second.losses) == 7
    logged = [json.loads(line)["step"] for line in (out / "log.jsonl").read_text().splitlines()
              if "loss" in json.loads(line)]
    assert logged == [1, 2, 3, 4, 5, 6, 7]  # the resumed run did not restart at step 1
    with pytest.raises(BabelvlError, match="already holds checkpoints"):
        train(_spec(models["paligemma"], mixture, out, max_steps=8, resume=False))


def test_incompatible_resume_is_refused(models, mixture, tmp_path):
    out = tmp_path / "run"
    train(_spec(models["paligemma"], mixture, out, max_steps=2, save_steps=2))
    with pytest.raises(BabelvlError, match="method"):
        train(_spec(models["paligemma"], mixture, out, max_steps=4, method="lora"))
    with pytest.raises(BabelvlError, match="model"):
        train(_spec(models["llava"], mixture, out, max_steps=4))
    (out / "babelvl_train.json").unlink()
    with pytest.raises(BabelvlError, match="not a babelvl run"):
        train(_spec(models["paligemma"], mixture, out, max_steps=4))


# -- checks before training ---------------------------------------------------------------------------------------


def test_bad_inputs_are_refused_before_training(models, mixture, tmp_path):
    llava = models["llava"]
    with pytest.raises(BabelvlError, match="mixture folder does not exist"):
        train(_spec(llava, tmp_path / "nowhere", tmp_path / "a"))
    broken = write_mixture(tmp_path / "broken")
    (broken / "images" / "blue.png").unlink()
    with pytest.raises(BabelvlError, match="image not found.*blue.png"):
        train(_spec(llava, broken, tmp_path / "b"))
    text_lm = build_tiny_text_lm(tmp_path / "text-lm")
    with pytest.raises(BabelvlError, match="cannot take images|processor"):
        train(_spec(text_lm, mixture, tmp_path / "c"))
    with pytest.raises(BabelvlError, match="unknown training method"):
        train(_spec(llava, mixture, tmp_path / "d", method="dora"))
    if not torch.cuda.is_available():
        with pytest.raises(BabelvlError, match="qlora.*CUDA"):
            train(_spec(llava, mixture, tmp_path / "e", method="qlora"))
        with pytest.raises(BabelvlError, match="bf16"):
            train(_spec(llava, mixture, tmp_path / "f", bf16=True))
    assert not any((tmp_path / name).exists() for name in "abcdef")  # nothing was written for refused runs
