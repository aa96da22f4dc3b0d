"""Finding the engine (``LVScarSegLogic/``) and ``Resources/`` next to the module.

From source (a developer adds ``LVScarSeg/`` as an additional module path) they are siblings of
the module folder; in an installed extension CMake copies them into the scripted-modules folder,
next to ``LVScarSeg.py``. Both layouts are searched, nearest first."""
from __future__ import annotations

import os
from typing import Optional

# This file is <module dir>/LVScarSegLib/paths.py.
MODULE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def engine_root(module_dir: str) -> Optional[str]:
    """The folder that holds ``LVScarSegLogic/`` (and ``Resources/``), or None."""
    here = os.path.abspath(module_dir)
    for candidate in (here, os.path.dirname(here)):
        if os.path.isfile(os.path.join(candidate, "LVScarSegLogic", "__init__.py")):
            return candidate
    return None


def resource_path(module_dir: str, *parts: str) -> Optional[str]:
    """A file under ``Resources/`` of the engine root (e.g. "UI", "LVScarSeg.ui"), or None."""
    root = engine_root(module_dir)
    if root is None:
        return None
    path = os.path.join(root, "Resources", *parts)
    return path if os.path.exists(path) else None


def reload_library() -> None:
    """Re-import every LVScarSegLib file (Slicer's Reload re-imports only LVScarSeg.py)."""
    import importlib
    import sys

    for name in sorted(n for n in sys.modules if n.startswith("LVScarSegLib")):
        importlib.reload(sys.modules[name])
