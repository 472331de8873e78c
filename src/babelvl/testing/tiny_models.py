"""Tiny random-weight VLMs built offline from configs.

Tests, the ``benchmarks/`` scripts and the README quickstart need a real ``transformers`` VLM (real processor, chat
template, image tokens, ``generate``) without downloading anything. These models answer nonsense, but every code
path the real families take (LLaVA, Idefics3, PaliGemma) runs. Builds take well under a second and are deterministic
for a seed, so outputs can be compared across runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Literal

Family = Literal["llava", "idefics3", "paligemma"]
FAMILIES: tuple[str, ...] = ("llava", "idefics3", "paligemma")

_MARKER = "babelvl-tiny-model.json"
_BUILD_VERSION = 4  # bump when the recipe changes so stale folders are rebuilt



@dataclass(frozen=True)
class Dims:
    """Model dimensions. "tiny" is for tests; "small" costs about what a real forward pass costs per
    token relative to babelvl's own overhead, for benchmarks (still random weights, still offline)."""

    hidden: int
    layers: int
    image_size: int
    patch: int


SIZES: dict[str, Dims] = {"tiny": Dims(32, 2, 32, 8), "small": Dims(512, 6, 224, 14)}

# Words the tokenizer learns: multilingual everyday words, answer letters and yes/no in several languages.
_WORDS = """
A B C D E a b c d e yes no Yes No YES NO true false oui non Oui Non ja nein Ja Nein
sí no Sí si sì Sì sim não Sim Não
да нет Да Нет はい いいえ 是 否 对 不 نعم لا हाँ नहीं evet hayır tak nie
the a an of and or to in on with is are was what which who where how many color colour picture image photo
answer question option options choose correct letter describe caption shows there this that these those
cat dog car tree house person people man woman child bird horse red blue green yellow black white two three one
le la les un une des et ou de du dans sur avec est sont quelle quel couleur image photo réponse question chat chien
der die das ein eine und oder von mit ist sind welche welcher Farbe Bild Foto Antwort Frage Katze Hund Baum Haus
el la los las un una y o de en con es son qué cuál color imagen foto respuesta pregunta gato perro árbol casa
il lo gli le uno una e o di in con è sono quale colore immagine foto risposta domanda gatto cane albero casa
o a os as um uma e ou de em com é são qual cor imagem resposta pergunta gato cão árvore casa
кошка собака дом дерево цвет изображение вопрос ответ какой
猫 狗 房子 树 颜色 图片 问题 答案 什么
قطة كلب بيت شجرة لون صورة سؤال جواب
बिल्ली कुत्ता घर पेड़ रंग चित्र प्रश्न उत्तर
猫 犬 家 木 色 画像 質問 答え
Please look at the image and answer with a single word . , ? ! : ; ( ) 0 1 2 3 4 5 6 7 8 9
""".split()

_BASE_SPECIALS = ["<pad>", "<s>", "</s>", "<unk>", "<image>"]
_IDEFICS3_SPECIALS = ["<fake_token_around_image>", "<end_of_utterance>", "<global-img>"] + [
    f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7)
]

# A plain chat template understood by LLaVA/Idefics3-style processors: image parts become "<image>" (the processor
# expands it into the right number of image tokens), an optional system turn comes first. The assistant's text and
# its end-of-turn token sit in {% generation %} markers, so `return_assistant_tokens_mask` (TRL's
# `assistant_only_loss`) knows what to train on.
_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% set ns = namespace(text='') %}"
    "{% if message['content'] is string %}{% set ns.text = message['content'] %}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}{% set ns.text = ns.text + '<image>' %}"
    "{% elif part['type'] == 'text' %}{% set ns.text = ns.text + part['text'] %}{% endif %}"
    "{% endfor %}{% endif %}"
    "{% if message['role'] == 'assistant' %}Assistant: {% generation %}{{ ns.text }}{{ eot }}{% endgeneration %}"
    "{% elif message['role'] == 'system' %}System: {{ ns.text }}{{ eot }}"
    "{% else %}User: {{ ns.text }}{{ eot }}{% endif %}{{ '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}"
)


def _chat_template(end_of_turn: str) -> str:
    return _CHAT_TEMPLATE.replace("{{ eot }}", end_of_turn)


def is_complete(out_dir: str | os.PathLike[str], family: str, seed: int, size: str = "tiny") -> bool:
    """True when ``out_dir`` already holds the model this recipe would build (so the build can be skipped)."""
    marker = Path(out_dir) / _MARKER
    try:
        info = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return info == _marker_info(family, seed, size)


def _marker_info(family: str, seed: int, size: str = "tiny") -> dict[str, Any]:
    info = {"family": family, "seed": seed, "version": _BUILD_VERSION}
    return info if size == "tiny" else {**info, "size": size}


def build_tiny_vlm(family: Family, out_dir: str | os.PathLike[str], seed: int = 0, size: str = "tiny") -> Path:
    """Build a tiny random-weight ``family`` model + processor into ``out_dir`` and return the folder.

    The folder loads with ``AutoProcessor`` / ``AutoModelForImageTextToText``. Skips the build when ``out_dir``
    already holds a complete model for the same family and seed. Writes into a temporary sibling and renames it,
    so a crashed or concurrent build never leaves a half-written model behind.
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown tiny model family {family!r}; choose one of {', '.join(FAMILIES)}")
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; choose one of {', '.join(SIZES)}")
    out = Path(out_dir).expanduser().resolve()
    if is_complete(out, family, seed, size):
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        _BUILDERS[family](tmp, seed, SIZES[size])
        (tmp / _MARKER).write_text(json.dumps(_marker_info(family, seed, size)), encoding="utf-8")
        if out.exists():
            if is_complete(out, family, seed, size):  # someone else finished first
                return out
            shutil.rmtree(out)
        try:
            tmp.rename(out)
        except OSError:
            if not is_complete(out, family, seed, size):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _tokenizer(extra_specials: list[str], end_of_turn: str, vocab_size: int = 600):
    """A byte-level BPE tokenizer trained on a few hundred words, wrapped for transformers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = _BASE_SPECIALS + extra_specials
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size + len(specials),
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    # repeat the corpus so frequent merges exist; sentences give the merges for word + space
    corpus = [" ".join(_WORDS[i : i + 12]) for i in range(0, len(_WORDS), 12)] * 3
    tok.train_from_iterator(corpus, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        extra_special_tokens=["<image>"] + extra_specials,
        padding_side="left",
    )
    fast.chat_template = _chat_template(end_of_turn)
    return fast


def _generation_config(tokenizer):
    from transformers import GenerationConfig

    return GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        do_sample=False,
    )


def _text_config(tokenizer, d: Dims, **extra: Any) -> dict[str, Any]:
    return {
        "vocab_size": len(tokenizer),
        "hidden_size": d.hidden,
        "intermediate_size": 2 * d.hidden,
        "num_hidden_layers": d.layers,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": d.hidden // 4,
        "max_position_embeddings": 4096,  # long benchmark prompts in byte-level tokens
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        **extra,
    }


def _vision_config(d: Dims, **extra: Any) -> dict[str, Any]:
    return {
        "hidden_size": d.hidden,
        "intermediate_size": 2 * d.hidden,
        "num_hidden_layers": d.layers,
        "num_attention_heads": 4,
        "image_size": d.image_size,
        "patch_size": d.patch,
        **extra,
    }


def _image_processor_class(name: str):
    """The PIL-backed image processor when transformers has one (works without torchvision)."""
    import transformers

    return getattr(transformers, f"{name}Pil", None) or getattr(transformers, name)


def _save(model, processor, tokenizer, out: Path) -> None:
    model.generation_config = _generation_config(tokenizer)
    model.save_pretrained(out)
    processor.save_pretrained(out)


def _seeded_model(model_cls, config, seed: int):
    import torch

    torch.manual_seed(seed)
    model = model_cls(config)
    return model.eval()


def _build_llava(out: Path, seed: int, d: Dims) -> None:
    from transformers import LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor

    tokenizer = _tokenizer([], end_of_turn="</s>")
    image_processor = _image_processor_class("CLIPImageProcessor")(
        size={"shortest_edge": d.image_size}, crop_size={"height": d.image_size, "width": d.image_size}
    )
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=d.patch,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,  # CLIP's class token, dropped by the "default" strategy
        chat_template=tokenizer.chat_template,
    )
    config = LlavaConfig(
        vision_config=_vision_config(d, model_type="clip_vision_model", projection_dim=d.hidden),
        text_config=_text_config(tokenizer, d, model_type="llama"),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        image_seq_length=(d.image_size // d.patch) ** 2,
        vision_feature_layer=-1,
        vision_feature_select_strategy="default",
        pad_token_id=tokenizer.pad_token_id,
    )
    _save(_seeded_model(LlavaForConditionalGeneration, config, seed), processor, tokenizer, out)


def _build_idefics3(out: Path, seed: int, d: Dims) -> None:
    from transformers import Idefics3Config, Idefics3ForConditionalGeneration, Idefics3Processor

    tokenizer = _tokenizer(_IDEFICS3_SPECIALS, end_of_turn="<end_of_utterance>")
    scale_factor = 2
    image_processor = _image_processor_class("Idefics3ImageProcessor")(
        size={"longest_edge": d.image_size},
        max_image_size={"longest_edge": d.image_size},
        do_image_splitting=False,
    )
    image_seq_len = (d.image_size // d.patch) ** 2 // scale_factor**2
    processor = Idefics3Processor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        image_seq_len=image_seq_len,
        chat_template=tokenizer.chat_template,
    )
    config = Idefics3Config(
        vision_config=_vision_config(d, ),
        text_config=_text_config(tokenizer, d, model_type="llama"),
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        scale_factor=scale_factor,
        pad_token_id=tokenizer.pad_token_id,
    )
    _save(_seeded_model(Idefics3ForConditionalGeneration, config, seed), processor, tokenizer, out)


def _build_paligemma(out: Path, seed: int, d: Dims) -> None:
    from transformers import PaliGemmaConfig, PaliGemmaForConditionalGeneration, PaliGemmaProcessor

    tokenizer = _tokenizer([], end_of_turn="</s>")
    image_processor = _image_processor_class("SiglipImageProcessor")(
        size={"height": d.image_size, "width": d.image_size}
    )
    image_processor.image_seq_length = (d.image_size // d.patch) ** 2
    # PaliGemma has no chat template: its prompt format is "<image>" * n + bos + prompt + "\n", built by the processor.
    # The processor also adds 1152 <locXXXX>/<segXXX> tokens, so the text config is sized after it is built.
    processor = PaliGemmaProcessor(image_processor=image_processor, tokenizer=tokenizer)
    processor.chat_template = None
    tokenizer.chat_template = None
    config = PaliGemmaConfig(
        vision_config=_vision_config(d, model_type="siglip_vision_model", vision_use_head=False),
        # Gemma scales embeddings by sqrt(hidden) and ties the output head: with the usual 0.02 init every prompt
        # then just repeats its last token. A wider init makes answers depend on the image and prompt.
        text_config=_text_config(tokenizer, d, model_type="gemma", initializer_range=0.5),
        initializer_range=0.5,
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        projection_dim=d.hidden,
        hidden_size=d.hidden,
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
    )
    _save(_seeded_model(PaliGemmaForConditionalGeneration, config, seed), processor, tokenizer, out)


_BUILDERS = {"llava": _build_llava, "idefics3": _build_idefics3, "paligemma": _build_paligemma}


def build_tiny_text_lm(out_dir: str | os.PathLike[str], seed: int = 0) -> Path:
    """A tiny random-weight text-only chat LM (Llama architecture) with the same tokenizer, built offline.

    For tests of text-only paths (LLM translation engines through the transformers backend).
    """
    from transformers import LlamaConfig, LlamaForCausalLM

    out = Path(out_dir).expanduser().resolve()
    if (out / "config.json").exists() and (out / "tokenizer.json").exists():
        return out
    tokenizer = _tokenizer([], end_of_turn="</s>")
    config = LlamaConfig(**_text_config(tokenizer, SIZES["tiny"]))
    model = _seeded_model(LlamaForCausalLM, config, seed)
    model.generation_config = _generation_config(tokenizer)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
