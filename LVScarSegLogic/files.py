"""File-name rules and atomic writes.

Every output is first written to a hidden temporary file beside its destination and then
renamed into place, so an interrupted run never leaves a half-written file at the path the
user asked for, and an existing file there stays untouched until the new one is complete.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from pathlib import Path
from typing import Iterable, Iterator

from .errors import InputError

# Longest first, so that ".seg.nrrd" wins over ".nrrd".
COMPOUND_EXTENSIONS = (".seg.nrrd", ".nii.gz", ".nrrd", ".nhdr", ".nii", ".mha", ".mhd",
                       ".json", ".csv", ".png", ".md")
IMAGE_EXTENSIONS = (".nrrd", ".nhdr", ".nii", ".nii.gz", ".mha", ".mhd")
LABELMAP_OUTPUT_EXTENSIONS = (".nrrd", ".nii", ".nii.gz", ".mha")


def extension(path) -> str:
    """The file's format extension, lower case, including compound ones (".seg.nrrd", ".nii.gz")."""
    name = Path(path).name.lower()
    for ext in COMPOUND_EXTENSIONS:
        if name.endswith(ext):
            return ext
    return Path(path).suffix.lower()


def sha256_of(path) -> str:
    """SHA-256 of a file, or of every file in a folder (sorted by name) for a DICOM series."""
    h = hashlib.sha256()
    p = Path(path)
    files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    for f in files:
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_output_path(output, inputs: Iterable, what: str = "output") -> Path:
    """Refuse an output that is one of the inputs, lies inside an input folder, or whose folder is missing."""
    out = Path(output)
    for inp in inputs:
        if inp is None:
            continue
        inp = Path(inp)
        if _same_file(out, inp):
            raise InputError(f"{out}: the {what} path is an input; refusing to overwrite an input file")
        if inp.is_dir() and inp.resolve() in out.resolve().parents:
            raise InputError(f"{out}: the {what} path lies inside the input folder {inp}; choose another folder")
    if out.is_dir():
        raise InputError(f"{out}: the {what} path is a folder; give a file name")
    if not out.parent.exists():
        raise InputError(f"{out}: the {what} folder {out.parent} does not exist")
    if not os.access(out.parent, os.W_OK):
        raise InputError(f"{out}: the {what} folder {out.parent} is not writable")
    return out


def _writer_alive(pid_text: str) -> bool:
    """Whether the process that named a temporary file still runs (unknown names count as alive)."""
    if not pid_text.isdigit():
        return True
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: alive
        return True
    return True


@contextlib.contextmanager
def atomic_output(path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` with the same extension; rename it into place on success.

    On any exception the temporary file is removed and ``path`` is left as it was. The temporary
    name holds the writer's process ID: temporary files of ``path`` left by a writer that no longer
    runs (killed by SIGKILL, or the power went: nothing could remove them) are removed first; those
    of a writer still at work are not.
    """
    dest = Path(path)
    ext = extension(dest)
    stem = dest.name[: len(dest.name) - len(ext)] if ext else dest.name
    for stale in dest.parent.glob(f".{stem}.partial-*{ext}"):
        if not _writer_alive(stale.name[len(f".{stem}.partial-"):].split("-")[0]):
            stale.unlink(missing_ok=True)
    tmp = dest.with_name(f".{stem}.partial-{os.getpid()}-{secrets.token_hex(4)}{ext}")
    try:
        yield tmp
        if not tmp.exists():
            raise RuntimeError(f"{dest}: nothing was written")
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text_atomic(path, text: str) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def csv_text(rows, fieldnames) -> str:
    """CSV text of dict rows with these columns (keys not listed are left out)."""
    import csv
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(fieldnames), extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()
