"""How a method declares itself, next to its code (as MONAI registers its networks): a decorator
on the function that implements it.

    @scar_method(name="otsu", family="threshold", summary="...", params=(VARIANT,))
    def otsu(inp: ScarInput, variant: str = "enhanced") -> ScarResult: ...

The declaration (name, parameters with types, ranges and help, inputs, reference) is the one
source of ``lvscarseg methods``, command-line validation, the Slicer module's widgets and the
README's method table. Classical scar methods also get the shared post-processing parameters
(``common_params.COMMON_PARAMS``); networks, which draw the wall's border themselves, do not.
Which method is the default is decided in ``defaults.py``, on measurements, not here.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

from .common_params import COMMON_PARAMS
from .registry import Method, Param, register


def _entry(func: Callable, entry: Optional[str]) -> str:
    if entry:
        return entry
    if not hasattr(func, "__name__"):
        raise ValueError("a declared method without a __name__ (a functools.partial?) needs entry='module:name'")
    return f"{func.__module__.rsplit('.', 1)[-1]}:{func.__name__}"


def scar_method(*, name: str, family: str, summary: str, params: Sequence[Param] = (), common: bool = True,
                needs: Sequence[str] = ("myocardium",), optional_inputs: Sequence[str] = (), reference: str = "",
                doc: str = "", entry: Optional[str] = None) -> Callable:
    """Register the decorated function as the scar method ``name`` (the function takes a
    ``ScarInput`` and the method's own parameters as keywords, returns a ``ScarResult``)."""
    def decorate(func):
        register(Method(name=name, target="scar", family=family, summary=summary, entry=_entry(func, entry),
                        params=tuple(params) + (COMMON_PARAMS if common else ()), needs=tuple(needs),
                        optional_inputs=tuple(optional_inputs), reference=reference, doc=doc))
        return func
    return decorate


def myocardium_method(*, name: str, family: str, summary: str, params: Sequence[Param] = (),
                      needs: Sequence[str] = (), reference: str = "", doc: str = "",
                      entry: Optional[str] = None) -> Callable:
    """Register the decorated function as the myocardium method ``name`` (the function takes the
    image and its spacing and returns codes, disagreement map, details and warnings)."""
    def decorate(func):
        register(Method(name=name, target="myocardium", family=family, summary=summary, entry=_entry(func, entry),
                        params=tuple(params), needs=tuple(needs), reference=reference, doc=doc))
        return func
    return decorate
