"""Which method runs when none is named. Chosen on data this project did not make (issue 16),
not on its own phantoms; the figures behind each choice are in the comments and the README.
"""
from __future__ import annotations

from .registry import set_default

# Without PyTorch: ewa, the best classical method on EMIDEC's held-out exams with the expert wall
# (infarct Dice 0.66; otsu 0.63, random-forest 0.63, strm 0.60) and on the second phantom style
# (0.83; otsu 0.82) - benchmarks/results/emidec/ewa.md.
DEFAULT_SCAR_METHOD = "ewa"
# With PyTorch and MONAI: the CMPU-Net scar stage, whose `best` model set scores 0.74 on those
# EMIDEC exams (benchmarks/results/deep/).
DEFAULT_DEEP_SCAR_METHOD = "cmpunet"
# The myocardium: the CMPU-Net stage 1, the best fully automatic wall on EMIDEC's held-out exams
# and on the held-out phantoms (benchmarks/results/deep/).
DEFAULT_MYOCARDIUM_METHOD = "cmpunet"


def deep_learning_installed() -> bool:
    import importlib.util  # find_spec looks for the packages without importing them (no start-up cost)

    return all(importlib.util.find_spec(m) is not None for m in ("torch", "monai"))


def apply() -> None:
    """Set the defaults in the registry (after every method module has declared its methods)."""
    set_default("myocardium", DEFAULT_MYOCARDIUM_METHOD)
    set_default("scar", DEFAULT_DEEP_SCAR_METHOD if deep_learning_installed() else DEFAULT_SCAR_METHOD)
