"""Parameter widgets from the method registry: one spec per parameter (kind, range, default,
help), turned into Qt widgets by the module. Nothing here imports Qt."""
from __future__ import annotations

from typing import Dict, List


def widget_specs(method_json: Dict[str, object]) -> List[Dict[str, object]]:
    """Specs for a method as ``lvscarseg methods --json`` lists it: kind is spin (int),
    double (float), check (bool), combo (choice) or path; with min/max/default/choices/tooltip."""
    specs = []
    for p in method_json.get("params", []):
        kind = {"int": "spin", "float": "double", "bool": "check", "choice": "combo", "path": "path"}[p["type"]]
        spec = {"name": p["name"], "kind": kind, "default": p["default"], "tooltip": p.get("help", ""),
                "label": p["name"].replace("_", " ")}
        if "min" in p:
            spec["min"] = p["min"]
        if "max" in p:
            spec["max"] = p["max"]
        if "choices" in p:
            spec["choices"] = list(p["choices"])
        if kind == "double":
            span = (spec.get("max", 1e6) - spec.get("min", -1e6))
            spec["step"] = 0.1 if span <= 20 else 1.0
            spec["decimals"] = 2
        specs.append(spec)
    return specs
