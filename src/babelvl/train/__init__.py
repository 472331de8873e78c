"""Training data from babelvl datasets: conversations, matched-budget mixtures, framework formats."""

from babelvl.train.conversations import Example, load_examples
from babelvl.train.exporters import READERS, export_mixture
from babelvl.train.mixture import (
    Manifest,
    MixSource,
    build_mixture,
    eval_image_hashes,
    read_mixture,
)

__all__ = ["READERS", "Example", "Manifest", "MixSource", "build_mixture", "eval_image_hashes",
           "export_mixture", "load_examples", "read_mixture"]
