"""The messages export trains in TRL's ``SFTTrainer`` as it is, from another working directory.

TRL is the real peer tool, installed from PyPI into its own venv (``babelvl.testing.peers``, CPU torch pinned).
The tiny LLaVA's chat template carries ``{% generation %}`` markers, so ``assistant_only_loss=True`` works: the
test checks that the labels of a collated batch are exactly the assistant's answers.
"""

from __future__ import annotations

import json
import subprocess
import textwrap

import pytest

from babelvl.train import MixSource, build_mixture, export_mixture
from babelvl.train.synthetic_task import write_training_set

TRL = "trl==1.16.0"

SCRIPT = textwrap.dedent('''
    import json, sys
    from datasets import load_dataset
    from transformers import AutoModelForImageTextToText, AutoProcessor
    from trl import SFTConfig, SFTTrainer

    data, model_dir, out = sys.argv[1:4]
    dataset = load_dataset("parquet" if data.endswith(".parquet") else "json", data_files=data, split="train")
    processor = AutoProcessor.from_pretrained(model_dir)
    model = AutoModelForImageTextToText.from_pretrained(model_dir)
    config = SFTConfig(output_dir=out, max_steps=4, per_device_train_batch_size=2, learning_rate=1e-3,
                       assistant_only_loss=True, max_length=None, logging_steps=1, save_strategy="no",
                       report_to=[], use_cpu=True, dataloader_num_workers=0, seed=0)
    trainer = SFTTrainer(model=model, args=config, train_dataset=dataset, processing_class=processor)
    batch = trainer.data_collator([dict(dataset[0]), dict(dataset[1])])
    labelled = [processor.tokenizer.decode([t for t in row if t != -100]) for row in batch["labels"].tolist()]
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    print(json.dumps({"labelled": labelled, "losses": losses, "steps": trainer.state.global_step}))
''')


@pytest.fixture(scope="module")
def trl_python():
    from babelvl.testing.peers import peer_python

    return peer_python("trl", [TRL, "pillow"])


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("images", ["absolute", "embed"])
def test_messages_export_trains_in_trl_with_answer_only_loss_from_another_directory(tmp_path, trl_python, images):
    from babelvl.testing.tiny_models import build_tiny_vlm

    data = write_training_set(tmp_path / "data", ["en", "fr"], per_language=4)
    build_mixture([MixSource(str(data), "ama", ("en", "fr"), 1.0)], budget=8, out_dir=tmp_path / "mix")
    path = export_mixture(tmp_path / "mix", tmp_path / "export", "messages", images=images)
    if images == "embed":  # the Parquet file alone holds the images
        import shutil

        shutil.rmtree(tmp_path / "export" / "images")
    model = build_tiny_vlm("llava", tmp_path / "model")
    elsewhere = tmp_path / "elsewhere"  # not the export folder: image paths must not depend on the cwd
    elsewhere.mkdir()
    (elsewhere / "train.py").write_text(SCRIPT)
    run = subprocess.run([str(trl_python), "train.py", str(path), str(model), str(tmp_path / "trl-out")],
                         cwd=elsewhere, capture_output=True, text=True, timeout=1500)
    assert run.returncode == 0, run.stderr[-4000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    if images == "embed":
        import pyarrow.parquet as pq

        records = pq.read_table(path).to_pylist()
    else:
        records = [json.loads(l) for l in path.read_text().splitlines()]
    answers = [next(p["text"] for p in r["messages"][1]["content"] if p["type"] == "text") for r in records[:2]]
    # answer-only loss: the labels are the answer and its end-of-turn token, nothing of the question or image
    assert [text.replace(" ", "") for text in result["labelled"]] == [a.replace(" ", "") + "</s>" for a in answers]
    assert result["steps"] == 4 and len(result["losses"]) == 4
    assert all(loss == loss and loss > 0 for loss in result["losses"])  # finite, positive
