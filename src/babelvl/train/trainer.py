"""Fine-tune an image-text-to-text model on a babelvl mixture with the Hugging Face ``Trainer``.

Built on ``transformers.Trainer`` (not a hand-written loop) so gradient accumulation, mixed precision, checkpoints,
resume and multi-GPU come from accelerate. TRL's ``SFTTrainer`` was not used: babelvl's collator already builds
VLM inputs and answer-only labels for every family (including PaliGemma's prefix/suffix form), which is the part
SFTTrainer would add. Full fine-tuning, LoRA and QLoRA (4-bit, CUDA + bitsandbytes) go through PEFT.

Multi-GPU (data parallel) is the same code under a launcher, e.g.::

    accelerate launch --num_processes 4 -m babelvl.train.trainer --model M --mixture DIR --out DIR
    torchrun --nproc_per_node 4 -m babelvl.train.trainer --model M --mixture DIR --out DIR

Everything is checked before a model is loaded: the mixture folder and its images, the method's requirements,
and that a resumed ``out_dir`` was trained with the same model and method (``out_dir/babelvl_train.json``).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from babelvl.errors import BabelvlError, InputError
from babelvl.train.collate import VLMCollator

METHODS = ("full", "lora", "qlora")
RECORD_NAME = "babelvl_train.json"
LOG_NAME = "log.jsonl"
FINAL_NAME = "final"
# modules that belong to the image side or the output head: "auto" LoRA targets only the language model's linears
_NOT_TEXT = ("vision", "visual", "image", "multi_modal_projector", "connector", "lm_head", "mm_projector")


@dataclass
class TrainSpec:
    """What to train, on what, and how. ``max_steps`` > 0 overrides ``epochs`` (as in ``TrainingArguments``)."""

    model: str
    mixture_dir: str | Path
    out_dir: str | Path
    method: str = "full"
    epochs: float = 1.0
    max_steps: int = -1
    lr: float = 2e-5
    batch_size: int = 4
    grad_accum: int = 1
    bf16: bool | str = "auto"
    seed: int = 0
    save_steps: int = 500
    resume: bool = True
    lora_r: int = 8
    lora_alpha: int = 16
    target_modules: str | list[str] = "auto"
    lora_dropout: float = 0.05
    logging_steps: int = 1
    save_total_limit: int | None = 3
    warmup_steps: int = 0
    quiet: bool = False  # no progress bar nor printed logs (log.jsonl is still written)


@dataclass
class TrainResult:
    """``losses`` is the whole logged curve (earlier runs included when resumed); ``checkpoint_dir`` is the
    final model (full weights, or the LoRA adapter) with its processor."""

    steps: int
    final_loss: float | None
    losses: list[float] = field(default_factory=list)
    samples_per_second: float = 0.0
    checkpoint_dir: Path | None = None
    model: Any = field(default=None, repr=False, compare=False)  # the trained model, still in memory


# -- checks ---------------------------------------------------------------------------------------------------------


def _check_spec(spec: TrainSpec) -> None:
    if spec.method not in METHODS:
        raise BabelvlError(f"unknown training method {spec.method!r}; choose one of {', '.join(METHODS)}")
    for name in ("batch_size", "grad_accum", "save_steps", "logging_steps", "lora_r"):
        if getattr(spec, name) < 1:
            raise BabelvlError(f"{name} must be at least 1, got {getattr(spec, name)}")
    if spec.max_steps <= 0 and spec.epochs <= 0:
        raise BabelvlError("give epochs > 0 or max_steps > 0")
    if spec.lr <= 0:
        raise BabelvlError(f"lr must be positive, got {spec.lr}")


def resolve_bf16(bf16: bool | str) -> bool:
    """``auto``: bf16 on a CUDA GPU that supports it, else float32. bf16 is refused on CPU (slow, no gain)."""
    import torch

    gpu_bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if bf16 == "auto":
        return gpu_bf16
    if bf16 is True and not gpu_bf16:
        raise BabelvlError("bf16=True needs a CUDA GPU with bfloat16 support; use bf16='auto' or False here")
    if bf16 not in (True, False):
        raise BabelvlError(f"bf16 must be True, False or 'auto', got {bf16!r}")
    return bool(bf16)


def _check_qlora() -> None:
    import torch

    if not torch.cuda.is_available():
        raise BabelvlError("method='qlora' needs a CUDA GPU (4-bit bitsandbytes kernels); on CPU use "
                           "method='lora' or 'full'")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError as exc:
        raise BabelvlError("method='qlora' needs bitsandbytes: pip install bitsandbytes") from exc


def load_mixture(mixture_dir: str | Path) -> list[dict[str, Any]]:
    """Read ``train.jsonl`` and check every row and image before any training starts.

    Returns rows whose ``images`` are absolute paths (they are relative to the mixture folder on disk).
    """
    root = Path(mixture_dir).expanduser()
    path = root / "train.jsonl"
    if not root.is_dir():
        raise InputError("mixture folder does not exist", file=str(root))
    if not path.is_file():
        raise InputError("mixture folder has no train.jsonl", file=str(root))
    rows: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as handle:
        for index, line in enumerate(handle):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise InputError(f"not valid JSON ({exc})", file=str(path), row=index) from exc
            messages = row.get("messages")
            if not isinstance(messages, list) or not messages or messages[-1].get("role") != "assistant":
                raise InputError("needs a list of messages ending with the assistant's answer",
                                 file=str(path), row=index, field="messages")
            images = []
            for name in row.get("images") or []:
                image = root / name
                if not image.is_file():
                    raise InputError(f"image not found on disk: {image}", file=str(path), row=index,
                                     field="images")
                images.append(str(image.resolve()))
            rows.append({"id": row.get("id", str(index)), "messages": messages, "images": images})
    if not rows:
        raise InputError("train.jsonl has no examples", file=str(path))
    return rows


def _run_record(spec: TrainSpec) -> dict[str, Any]:
    """What must match for a checkpoint to be resumed: the model and how it is adapted."""
    local = Path(spec.model).expanduser()
    record: dict[str, Any] = {"model": str(local.resolve()) if local.is_dir() else spec.model,
                              "method": spec.method}
    if spec.method != "full":
        record.update(lora_r=spec.lora_r, lora_alpha=spec.lora_alpha, target_modules=spec.target_modules)
    return record


def resume_checkpoint(spec: TrainSpec) -> str | None:
    """The checkpoint to resume from, after refusing ``out_dir`` s that belong to a different run."""
    from transformers.trainer_utils import get_last_checkpoint

    out = Path(spec.out_dir)
    last = get_last_checkpoint(str(out)) if out.is_dir() else None
    if last is None:
        return None
    if not spec.resume:
        raise BabelvlError(f"{out} already holds checkpoints ({Path(last).name}); pass resume=True to continue "
                           "them or choose an empty out_dir")
    record_path = out / RECORD_NAME
    try:
        recorded = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BabelvlError(f"{out} holds checkpoints but no readable {RECORD_NAME}: not a babelvl run, "
                           "refusing to resume it") from exc
    wanted = _run_record(spec)
    diffs = [f"{key}: checkpoint has {recorded.get(key)!r}, spec has {value!r}"
             for key, value in wanted.items() if recorded.get(key) != value]
    if diffs:
        raise BabelvlError(f"cannot resume from {last}: it was trained differently ({'; '.join(diffs)}); "
                           "use a new out_dir or resume=False with an empty one")
    return last


# -- model --------------------------------------------------------------------------------------------------------


def load_processor(model: str) -> Any:
    """The model's processor, refused when it cannot take images (a text-only LM cannot learn a VL mixture)."""
    from transformers import AutoProcessor

    try:
        processor = AutoProcessor.from_pretrained(model)
    except (OSError, ValueError) as exc:
        raise BabelvlError(f"cannot load a processor for {model!r}: {exc}") from exc
    if getattr(processor, "image_processor", None) is None:
        raise BabelvlError(f"model {model!r} has no image processor: it cannot take images, so it cannot be "
                           "fine-tuned on a vision-language mixture")
    return processor


def text_lora_targets(model: Any) -> list[str]:
    """Full names of the language model's linear layers: LoRA there adapts the text side, the vision tower stays."""
    import torch

    names = [name for name, module in model.named_modules()
             if isinstance(module, torch.nn.Linear) and not any(part in name for part in _NOT_TEXT)]
    if not names:
        raise BabelvlError("found no language-model linear layers for LoRA; pass target_modules explicitly")
    return names


def load_model(spec: TrainSpec, bf16: bool) -> Any:
    """Load the model for ``spec.method``: plain weights, LoRA adapters, or a 4-bit base with LoRA (QLoRA)."""
    import torch
    from transformers import AutoModelForImageTextToText

    kwargs: dict[str, Any] = {"dtype": torch.float32}
    if spec.method == "qlora":
        from accelerate import PartialState
        from transformers import BitsAndBytesConfig

        compute = torch.bfloat16 if bf16 else torch.float16
        kwargs.update(
            dtype=compute,
            quantization_config=BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                                   bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=compute),
            device_map={"": PartialState().local_process_index},
        )
    try:
        model = AutoModelForImageTextToText.from_pretrained(spec.model, **kwargs)
    except (OSError, ValueError) as exc:
        raise BabelvlError(f"cannot load {spec.model!r} as an image-text-to-text model: {exc}") from exc
    if spec.method == "full":
        return model
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if spec.method == "qlora":
        model = prepare_model_for_kbit_training(model)
    targets = text_lora_targets(model) if spec.target_modules == "auto" else spec.target_modules
    config = LoraConfig(r=spec.lora_r, lora_alpha=spec.lora_alpha, lora_dropout=spec.lora_dropout,
                        target_modules=targets, task_type="CAUSAL_LM")
    return get_peft_model(model, config)


def load_trained(path: str | Path) -> tuple[Any, Any]:
    """(model, processor) from a ``TrainResult.checkpoint_dir``: full weights, or base model + LoRA adapter."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    path = Path(path)
    adapter = path / "adapter_config.json"
    if adapter.is_file():
        from peft import PeftModel

        base = json.loads(adapter.read_text(encoding="utf-8"))["base_model_name_or_path"]
        model = PeftModel.from_pretrained(AutoModelForImageTextToText.from_pretrained(base), str(path))
    else:
        model = AutoModelForImageTextToText.from_pretrained(path)
    return model.eval(), AutoProcessor.from_pretrained(path)


def merge_lora(adapter_dir: str | Path, out_dir: str | Path) -> Path:
    """Write base + LoRA as one plain model folder, so evaluation backends load it like any other model."""
    model, processor = load_trained(adapter_dir)
    out = Path(out_dir)
    model.merge_and_unload().save_pretrained(out)
    processor.save_pretrained(out)
    return out


# -- training -----------------------------------------------------------------------------------------------------


class _Rows:
    """Map-style dataset over mixture rows; images are opened by the collator, one batch at a time."""

    def __init__(self, rows: Sequence[dict[str, Any]]) -> None:
        self.rows = list(rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.rows[index]


def _jsonl_logger(path: Path, samples_per_step: int):
    """A callback that appends every Trainer log (loss, lr, grad norm) plus throughput to ``log.jsonl``."""
    from transformers import TrainerCallback

    class JsonlLog(TrainerCallback):
        def __init__(self) -> None:
            self.start: tuple[float, int] | None = None
            self.last: tuple[float, int] | None = None
            self.end: tuple[float, int] | None = None

        def on_step_begin(self, args, state, control, **kwargs):
            if self.start is None:  # after the Trainer restored a checkpoint's global step
                self.start = self.last = (time.perf_counter(), state.global_step)

        def on_step_end(self, args, state, control, **kwargs):
            self.end = (time.perf_counter(), state.global_step)

        def samples_per_second(self) -> float:
            if self.start is None or self.end is None or self.end[0] <= self.start[0]:
                return 0.0
            return (self.end[1] - self.start[1]) * samples_per_step / (self.end[0] - self.start[0])

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not state.is_world_process_zero or not logs:
                return
            record: dict[str, Any] = {"step": state.global_step, "epoch": state.epoch}
            record.update({k: v for k, v in logs.items() if isinstance(v, (int, float))})
            if self.last is not None and "loss" in logs:
                now = time.perf_counter()
                steps = state.global_step - self.last[1]
                if now > self.last[0] and steps > 0:
                    record["samples_per_second"] = steps * samples_per_step / (now - self.last[0])
                self.last = (now, state.global_step)
            with path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")

    return JsonlLog()


def _training_args(spec: TrainSpec, bf16: bool) -> Any:
    import torch
    from transformers import TrainingArguments

    return TrainingArguments(
        output_dir=str(spec.out_dir),
        num_train_epochs=spec.epochs,
        max_steps=spec.max_steps if spec.max_steps > 0 else -1,
        learning_rate=spec.lr,
        warmup_steps=spec.warmup_steps,
        per_device_train_batch_size=spec.batch_size,
        gradient_accumulation_steps=spec.grad_accum,
        bf16=bf16,
        seed=spec.seed,
        data_seed=spec.seed,
        save_strategy="steps",
        save_steps=spec.save_steps,
        save_total_limit=spec.save_total_limit,
        logging_strategy="steps",
        logging_steps=spec.logging_steps,
        remove_unused_columns=False,  # the collator needs "messages" and "images"
        label_names=["labels"],
        report_to="none",
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
        disable_tqdm=spec.quiet,
    )


def train(spec: TrainSpec) -> TrainResult:
    """Fine-tune ``spec.model`` on ``spec.mixture_dir``; checks everything first, resumes when it can."""
    _check_spec(spec)
    if spec.method == "qlora":
        _check_qlora()
    bf16 = resolve_bf16(spec.bf16)
    rows = load_mixture(spec.mixture_dir)
    processor = load_processor(spec.model)
    collator = VLMCollator(processor)
    last = resume_checkpoint(spec)

    from transformers import PrinterCallback, Trainer, set_seed

    set_seed(spec.seed)
    args = _training_args(spec, bf16)
    out = Path(spec.out_dir)
    if args.should_save:
        out.mkdir(parents=True, exist_ok=True)
        (out / RECORD_NAME).write_text(json.dumps(_run_record(spec), indent=2), encoding="utf-8")
    samples_per_step = min(len(rows), spec.batch_size * spec.grad_accum * args.world_size)
    logger = _jsonl_logger(out / LOG_NAME, samples_per_step)
    model = load_model(spec, bf16)
    trainer = Trainer(model=model, args=args, train_dataset=_Rows(rows), data_collator=collator,
                      callbacks=[logger])
    if spec.quiet:
        trainer.remove_callback(PrinterCallback)
    trainer.train(resume_from_checkpoint=last)
    final = out / FINAL_NAME
    trainer.save_model(str(final))
    if args.should_save:
        processor.save_pretrained(final)
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    finite = [loss for loss in losses if math.isfinite(loss)]
    return TrainResult(steps=trainer.state.global_step, final_loss=finite[-1] if finite else None, losses=losses,
                       samples_per_second=logger.samples_per_second(), checkpoint_dir=final,
                       model=trainer.model)


# -- command line (for accelerate launch / torchrun) --------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m babelvl.train.trainer`` (or under ``accelerate launch`` / ``torchrun`` for several GPUs)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--mixture", required=True, dest="mixture_dir")
    parser.add_argument("--out", required=True, dest="out_dir")
    defaults = TrainSpec(model="", mixture_dir="", out_dir="")
    for name in ("method", "epochs", "max_steps", "lr", "batch_size", "grad_accum", "seed", "save_steps",
                 "lora_r", "lora_alpha", "logging_steps", "warmup_steps"):
        value = getattr(defaults, name)
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value, dest=name)
    parser.add_argument("--bf16", choices=("auto", "true", "false"), default="auto")
    parser.add_argument("--no-resume", action="store_true")
    ns = vars(parser.parse_args(argv))
    bf16 = {"auto": "auto", "true": True, "false": False}[ns.pop("bf16")]
    resume = not ns.pop("no_resume")
    spec = TrainSpec(**ns, bf16=bf16, resume=resume)
    result = train(spec)
    print(json.dumps({"steps": result.steps, "final_loss": result.final_loss, "losses": result.losses,
                      "samples_per_second": result.samples_per_second,
                      "checkpoint_dir": str(result.checkpoint_dir)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
