"""The README's method tables, written from the registry (``lvscarseg methods --markdown``).

A test compares them with the README, so the documentation cannot drift from the declarations."""
from __future__ import annotations

from typing import List

from . import registry
from .common_params import COMMON_NAMES


def _value(p: registry.Param) -> str:
    if p.type == "bool":
        return "on" if p.default else "off"
    if p.type == "path":
        return "(shipped)" if p.default == "" else str(p.default)
    return f"{p.default:g}" if isinstance(p.default, float) else str(p.default)


def _own_params(m: registry.Method) -> str:
    """The method's own parameters with defaults (and ranges), not the shared post-processing."""
    out = []
    for p in m.params:
        if p.name in COMMON_NAMES:
            continue
        text = f"`{p.name}` {_value(p)}"
        if p.min is not None and p.max is not None and p.type in ("int", "float"):
            text += f" ({p.min:g}–{p.max:g})"
        out.append(text)
    return ", ".join(out) or "–"


def _defaults_note(m: registry.Method) -> str:
    from . import defaults as d

    notes = {("scar", d.DEFAULT_SCAR_METHOD): "default without PyTorch",
             ("scar", d.DEFAULT_DEEP_SCAR_METHOD): "default with PyTorch",
             ("myocardium", d.DEFAULT_MYOCARDIUM_METHOD): "default"}
    note = notes.get((m.target, m.name))
    return f" ({note})" if note else ""


def markdown_table(target: str) -> str:
    """One Markdown table of the ``target`` ("scar" or "myocardium") methods: name, family, what it
    does, own parameters with defaults and ranges, and the reference."""
    rows: List[str] = ["| name | family | what it does | own parameters (default, range) | reference |",
                       "|---|---|---|---|---|"]
    for m in registry.methods(target):
        doc = (m.doc or m.summary).replace("|", "\\|")
        rows.append(f"| `{m.name}`{_defaults_note(m)} | {m.family} | {doc} | {_own_params(m)} | {m.reference} |")
    return "\n".join(rows)


def markdown() -> str:
    """Both tables, as the README holds them between its ``methods table`` markers."""
    return "\n\n".join(f"**{target.capitalize()} methods**\n\n{markdown_table(target)}" for target in ("scar", "myocardium"))
