"""Turn mixture examples into model inputs whose labels cover only the assistant's answer.

A VLM fine-tune that also learns to reproduce the prompt (and the image placeholder tokens) wastes capacity and
skews the loss, so every token except the final assistant turn is labelled -100. Two prompt forms exist:

* chat-template families (LLaVA, Idefics3, ...): the processor's chat template renders the conversation; the
  prompt (everything up to the generation prompt) is rendered and tokenized on its own to find where the answer
  starts, with the same images so the image-token expansion matches;
* PaliGemma (no chat template): ``processor(text=prefix, images=..., suffix=answer)`` already returns labels.

Batches are right-padded (training needs no aligned generation start) and padding is always masked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from babelvl.errors import BabelvlError

IGNORE_INDEX = -100


def load_image(path: str | Path):
    """Open an image as RGB (processors expect three channels; mixtures hold PNGs of any mode)."""
    from PIL import Image

    with Image.open(path) as img:
        return img.convert("RGB")


def uses_chat_template(processor: Any) -> bool:
    """True when the processor (or its tokenizer) has a chat template; PaliGemma's has none."""
    return bool(getattr(processor, "chat_template", None) or getattr(processor.tokenizer, "chat_template", None))


def split_conversation(messages: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    """(context turns, final assistant answer): only the last assistant turn is trained on."""
    if not messages or messages[-1].get("role") != "assistant":
        raise BabelvlError("a training example must end with an assistant message (the answer to learn)")
    return list(messages[:-1]), _text_of(messages[-1].get("content", ""))


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if part.get("type") == "text")


def _chat_messages(context: list[dict[str, Any]], n_images: int) -> list[dict[str, Any]]:
    """Content as typed parts; the images go first in the first user turn (where the templates expect them)."""
    out: list[dict[str, Any]] = []
    placed = n_images == 0
    for message in context:
        parts: list[dict[str, Any]] = [{"type": "text", "text": _text_of(message.get("content", ""))}]
        if not placed and message.get("role") == "user":
            parts = [{"type": "image"} for _ in range(n_images)] + parts
            placed = True
        out.append({"role": message["role"], "content": parts})
    if not placed:
        raise BabelvlError("an example with images needs a user message to attach them to")
    return out


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


@dataclass
class VLMCollator:
    """Data collator for ``transformers.Trainer``: examples (``messages`` + loaded ``images``) -> tensors + labels.

    Each example is a dict with ``messages`` (chat turns, the last one the assistant's answer) and ``images``
    (PIL images or paths). Extra keys are ignored, so the Trainer can hand over mixture rows as they are.
    """

    processor: Any
    chat_template: bool = field(init=False)

    def __post_init__(self) -> None:
        if getattr(self.processor, "image_processor", None) is None:
            raise BabelvlError("the processor has no image processor: this model cannot take images")
        self.chat_template = uses_chat_template(self.processor)
        self.processor.tokenizer.padding_side = "right"
        if self.processor.tokenizer.pad_token is None:
            self.processor.tokenizer.pad_token = self.processor.tokenizer.eos_token

    def __call__(self, examples: Sequence[dict[str, Any]]) -> dict[str, Any]:
        images = [[img if not isinstance(img, (str, Path)) else load_image(img) for img in ex.get("images") or []]
                  for ex in examples]
        if self.chat_template:
            batch = self._chat_batch(examples, images)
        else:
            batch = self._prefix_batch(examples, images)
        batch["labels"][batch["attention_mask"] == 0] = IGNORE_INDEX
        return dict(batch)

    def _process(self, texts: list[str], images: list[list[Any]], **kwargs: Any) -> Any:
        has_images = any(images)
        return self.processor(text=texts, images=images if has_images else None, padding=True,
                              return_tensors="pt", **kwargs)

    def _chat_batch(self, examples: Sequence[dict[str, Any]], images: list[list[Any]]) -> Any:
        processor = self.processor
        own = getattr(processor, "chat_template", None)
        template = None if own else processor.tokenizer.chat_template
        prompts, fulls = [], []
        for ex, imgs in zip(examples, images):
            context, answer = split_conversation(ex["messages"])
            messages = _chat_messages(context, len(imgs))
            prompts.append(processor.apply_chat_template(messages, chat_template=template,
                                                         add_generation_prompt=True, tokenize=False))
            answer_turn = {"role": "assistant", "content": [{"type": "text", "text": answer}]}
            fulls.append(processor.apply_chat_template(messages + [answer_turn], chat_template=template,
                                                       tokenize=False))
        batch = self._process(fulls, images)
        prompt_ids = self._process(prompts, images)
        labels = batch["input_ids"].clone()
        for row in range(labels.shape[0]):
            full = batch["input_ids"][row][batch["attention_mask"][row] == 1].tolist()
            prompt = prompt_ids["input_ids"][row][prompt_ids["attention_mask"][row] == 1].tolist()
            # a tokenizer may merge across the prompt/answer boundary: label from where the two first differ
            start = min(len(prompt), _common_prefix(full, prompt))
            labels[row, :start] = IGNORE_INDEX
        batch["labels"] = labels
        return batch

    def _prefix_batch(self, examples: Sequence[dict[str, Any]], images: list[list[Any]]) -> Any:
        image_token = getattr(self.processor, "image_token", None) or "<image>"
        prefixes, suffixes = [], []
        for ex, imgs in zip(examples, images):
            context, answer = split_conversation(ex["messages"])
            # no turns in the prefix form: earlier turns (and a system text) are joined into one prompt
            prompt = "\n".join(_text_of(m.get("content", "")) for m in context)
            prefixes.append(image_token * len(imgs) + prompt)
            suffixes.append(answer)
        batch = self._process(prefixes, images, suffix=suffixes)
        if "labels" not in batch:
            raise BabelvlError(f"{type(self.processor).__name__} returned no labels for suffix= inputs")
        return batch
