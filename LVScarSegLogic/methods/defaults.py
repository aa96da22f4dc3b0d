"""Which method runs when none is named. Chosen on data this project did not make (issue 16),
not on its own phantoms; the figures behind each choice are in the comments and the README.
"""
from __future__ import annotations

from .registry import set_default

# Without PyTorch: ewa, the best classical method on EMIDEC's held-out exams with the expert wall
# (infarct Dice 0.71; knn 0.71, svm 0.71, otsu 0.69, strm 0.68) and second on the second phantom
# style (0.84; otsu 0.85) - benchmarks/results/emidec/ewa.md; figures of 2026-12-03.
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
