"""Shared fixtures: small phantom cases and a helper that runs the command line in-process."""
from __future__ import annotations

import io
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


class CliResult:
    def __init__(self, code, out, err):
        self.code, self.out, self.err = code, out, err


def run_cli(*args) -> CliResult:
    from LVScarSegLogic.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse
            code = exc.code
    return CliResult(code, out.getvalue(), err.getvalue())


def _written_case(folder, index, healthy):
    from LVScarSegLogic.phantom.cases import make_case
    from LVScarSegLogic.volume import write_volume

    image, codes, grid, meta = make_case(seed=7, index=index, protocol="3d-lowres", healthy=healthy, hard=False)
    write_volume(folder / "image.nrrd", image, grid)
    write_volume(folder / "label.nrrd", codes, grid)
    return {"dir": folder, "image": folder / "image.nrrd", "label": folder / "label.nrrd",
            "array": image, "codes": codes, "grid": grid, "meta": meta}


@pytest.fixture(scope="session")
def lowres_case(tmp_path_factory):
    """A small 3D phantom case with scar (2 mm isotropic), written as NRRD files."""
    return _written_case(tmp_path_factory.mktemp("case"), 0, healthy=False)


@pytest.fixture(scope="session")
def healthy_case(tmp_path_factory):
    """A small healthy 3D phantom case."""
    return _written_case(tmp_path_factory.mktemp("healthy"), 1, healthy=True)


def oblique_grid(shape=(6, 7, 8), spacing=(0.7, 0.9, 3.1)):
    """An oblique, anisotropic grid with non-trivial origin (a rotation about a tilted axis)."""
    from LVScarSegLogic.geometry import Grid

    axis = np.array([0.3, -0.5, 0.8])
    axis /= np.linalg.norm(axis)
    angle = 0.61
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    rot = np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k
    return Grid.make(shape, spacing, (-12.25, 33.5, 101.125), rot)
