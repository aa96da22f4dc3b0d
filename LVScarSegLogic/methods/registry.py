"""The method registry: every method and its typed parameters, declared once, next to its code.

Each method module declares its methods with a decorator (``declare.scar_method`` /
``declare.myocardium_method``) on the function that implements them; the registry imports the
modules of ``METHOD_MODULES`` to read them. The registry feeds ``lvscarseg methods --json``,
command-line parsing and validation of ``--param KEY=VALUE``, the Slicer module's generated
parameter widgets and the README's method table. Method modules import scipy lazily
(``lazy.py``) and torch inside the functions that need it, so listing methods costs numpy at
most: no scipy, no SimpleITK, no torch.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ..errors import InputError

_TYPES = ("int", "float", "bool", "choice", "path")


@dataclass(frozen=True)
class Param:
    name: str
    type: str  # one of _TYPES
    default: Any
    help: str
    min: Optional[float] = None
    max: Optional[float] = None
    choices: Optional[Tuple[str, ...]] = None

    def __post_init__(self):
        if self.type not in _TYPES:
            raise ValueError(f"parameter {self.name}: unknown type {self.type}")

    def parse(self, text: str, method: str):
        """Convert and validate a command-line value; InputError names the method and the range."""
        where = f"--param {self.name}={text} ({method})"
        try:
            if self.type == "int":
                value = int(text)
            elif self.type == "float":
                value = float(text)
                if value != value or value in (float("inf"), float("-inf")):
                    raise ValueError
            elif self.type == "bool":
                lowered = str(text).strip().lower()
                if lowered not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                    raise ValueError
                value = lowered in ("1", "true", "yes", "on")
            else:  # choice or path
                value = str(text)
        except ValueError:
            raise InputError(f"{where}: expected {self.type}") from None
        return self.validate(value, where)

    def validate(self, value, where: str):
        if self.choices is not None and value not in self.choices:
            raise InputError(f"{where}: choose one of {', '.join(self.choices)}")
        if self.min is not None and value < self.min:
            raise InputError(f"{where}: below the minimum {self.min:g}")
        if self.max is not None and value > self.max:
            raise InputError(f"{where}: above the maximum {self.max:g}")
        return value

    def to_json(self) -> dict:
        out = {"name": self.name, "type": self.type, "default": self.default, "help": self.help}
        if self.min is not None:
            out["min"] = self.min
        if self.max is not None:
            out["max"] = self.max
        if self.choices is not None:
            out["choices"] = list(self.choices)
        return out


@dataclass(frozen=True)
class Method:
    name: str
    target: str  # "scar" or "myocardium"
    family: str  # "threshold", "clustering", "graph", "classifier", "deep-learning", ...
    summary: str
    entry: str  # "module:function", relative to LVScarSegLogic.methods
    params: Tuple[Param, ...] = ()
    needs: Tuple[str, ...] = ()  # what the method needs besides the image: "myocardium", "torch", ...
    optional_inputs: Tuple[str, ...] = ()  # inputs it uses when given: "seeds", "remote"
    reference: str = ""
    doc: str = ""  # the README's "what it does" (Markdown); empty: the summary

    @property
    def key(self) -> str:
        """How parameters address the method: the name for scar methods, ``myocardium.NAME`` for
        myocardium methods (the contract gives both targets a ``unet``)."""
        return self.name if self.target == "scar" else f"{self.target}.{self.name}"

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def defaults(self) -> Dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def model_tasks(self) -> Dict[str, str]:
        """{parameter: model task} of the method's model-file parameters (empty: the model set's
        file for that task is used)."""
        tasks = {"model": f"{self.target}-{self.name}", "myo_model": f"myocardium-{self.name}",
                 "localizer_model": "lv-localizer"}
        return {p.name: tasks[p.name] for p in self.params if p.type == "path" and p.name in tasks}

    def function(self) -> Callable:
        module_name, func_name = self.entry.split(":")
        module = importlib.import_module(f"{__package__}.{module_name}")
        return getattr(module, func_name)

    def to_json(self, default: bool = False) -> dict:
        return {
            "name": self.name, "target": self.target, "family": self.family, "summary": self.summary,
            "params": [p.to_json() for p in self.params], "needs": list(self.needs),
            "optional_inputs": list(self.optional_inputs), "default": default, "reference": self.reference,
        }


_METHODS: Dict[str, Method] = {}
_DEFAULTS: Dict[str, str] = {}


def register(method: Method, default: bool = False) -> Method:
    key = f"{method.target}:{method.name}"
    if key in _METHODS:
        raise ValueError(f"method {key} registered twice")
    _METHODS[key] = method
    if default:
        _DEFAULTS[method.target] = method.name
    return method


def set_default(target: str, name: str) -> None:
    if f"{target}:{name}" not in _METHODS:
        raise ValueError(f"no {target} method {name} to make the default")
    _DEFAULTS[target] = name


def methods(target: Optional[str] = None) -> List[Method]:
    """The declared methods (of ``target``), in ``METHOD_MODULES`` order and, within a module, in
    the order they are declared: the same order whichever module was imported first."""
    _load_declarations()
    order = {m: i for i, m in enumerate(METHOD_MODULES)}
    listed = list(_METHODS.values())
    ranked = sorted(range(len(listed)), key=lambda i: (order.get(listed[i].entry.split(":")[0], len(order)), i))
    return [listed[i] for i in ranked if target is None or listed[i].target == target]


def get(name: str, target: str) -> Method:
    _load_declarations()
    key = f"{target}:{name}"
    if key not in _METHODS:
        known = ", ".join(m.name for m in methods(target)) or "none installed yet"
        raise InputError(f"unknown {target} method '{name}' (available: {known})")
    return _METHODS[key]


def default_method(target: str) -> Optional[str]:
    _load_declarations()
    return _DEFAULTS.get(target)


def use_model_set(selected: Sequence[Method], values: Dict[str, Dict[str, Any]], model_set: str
                  ) -> List[Dict[str, Any]]:
    """Name the model file of every empty model parameter of the selected methods from the model
    set (``--models``), in place, and check every model file against it (a permissive run refuses
    a non-permissive file, also one named explicitly). Returns one entry per model file: task,
    parameter, name, path, license. Nothing here needs torch."""
    from pathlib import Path

    from ..models import check_license, default_model_path

    used = []
    for m in selected:
        if m.key not in values:
            continue
        for param, task in m.model_tasks().items():
            if param == "localizer_model" and not values[m.key].get("localize", True):
                continue
            path = values[m.key].get(param) or str(default_model_path(task, model_set))
            values[m.key][param] = path
            if not Path(path).is_file():
                continue  # the method reports the missing file in its own words when it runs
            info = check_license(path, model_set)
            kind = info.get("task")
            if kind and kind != task:  # before any case runs, not as an error per case
                takers = [(o, p) for o in methods() for p, t in o.model_tasks().items() if t == kind]
                hint = (f" (a {kind} model goes in {takers[0][1]}=, for the {takers[0][0].target} method "
                        f"{takers[0][0].name})") if takers else ""
                raise InputError(f"{param}={path}: a {kind} model, and {m.name}'s {param} needs a {task} model{hint}")
            used.append({"task": task, "method": m.key, "parameter": param, "name": info.get("name"),
                         "path": str(Path(path).resolve()), "license": info.get("license"),
                         "sha256": info.get("sha256")})
    return used


def resolve_params(selected: Sequence[Method], pairs: Sequence[str]) -> Dict[str, Dict[str, Any]]:
    """Parse ``KEY=VALUE`` strings for the selected methods.

    ``KEY`` is a parameter name, or ``METHOD.NAME`` when several selected methods share a name.
    Returns {method key: {param: value}} with defaults filled in (``Method.key``: the name of a
    scar method, ``myocardium.NAME`` of a myocardium method).
    """
    values = {m.key: m.defaults() for m in selected}
    for pair in pairs:
        if "=" not in pair:
            raise InputError(f"--param {pair}: expected KEY=VALUE")
        key, text = pair.split("=", 1)
        key = key.strip()
        owners = sorted((m for m in selected if key.startswith(m.key + ".")), key=lambda m: -len(m.key))
        if owners:
            method, name = owners[0], key[len(owners[0].key) + 1:]
        else:
            name = key
            candidates = [m for m in selected if any(p.name == name for p in m.params)]
            if not candidates:
                known = ", ".join(f"{m.name}: {', '.join(p.name for p in m.params) or '-'}" for m in selected)
                raise InputError(f"--param {pair}: unknown parameter '{name}' (parameters of the chosen methods: {known})")
            if len(candidates) > 1:
                raise InputError(f"--param {pair}: '{name}' is ambiguous; write METHOD.{name}")
            method = candidates[0]
        try:
            param = method.param(name)
        except KeyError:
            raise InputError(f"--param {pair}: method {method.name} has no parameter '{name}'") from None
        values[method.key][name] = param.parse(text, method.name)
    return values


_loaded = False


# The modules that declare methods, in the order `lvscarseg methods` and the README list them.
METHOD_MODULES = ("threshold", "growing", "clustering", "ewa", "graphcut", "levelset", "classifiers", "deep_methods")


def _load_declarations() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for name in METHOD_MODULES:
            importlib.import_module(f"{__package__}.{name}")
        importlib.import_module(f"{__package__}.defaults").apply()
