"""Modules imported on first use: ``from .lazy import ndi`` reads like ``from scipy import ndimage
as ndi``, but scipy is imported only when a function first calls ``ndi.something``. Listing the
methods (the registry imports every method's module to read its declaration) then costs no scipy
import, and works where scipy is not installed yet (a fresh Slicer before the engine's
dependencies are installed)."""
from __future__ import annotations

import importlib


class LazyModule:
    """A stand-in for the module ``name`` that imports it on the first attribute access."""

    def __init__(self, name: str):
        self._name = name
        self._module = None

    def __getattr__(self, attr: str):
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name}{' (imported)' if self._module is not None else ''}>"


ndi = LazyModule("scipy.ndimage")
special = LazyModule("scipy.special")
