"""Record measured figures and notes in a deep-learning model's manifest and rewrite its model
card from it (the weights and their SHA-256 are untouched):

    python scripts/annotate_model.py Resources/Models/scar-cmpunet.json \
        --benchmark "observer-like wall, held-out phantoms=0.87 ± 0.03" --note "fine-tuned on CPU ..."

``--benchmark KEY=VALUE`` replaces the figure of that name; ``--clear`` drops the old figures and
notes first (after retraining); ``--trained-on`` replaces the training-data sentence.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("manifest", type=Path)
    ap.add_argument("--benchmark", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--note", action="append", default=[])
    ap.add_argument("--trained-on")
    ap.add_argument("--clear", action="store_true", help="drop the recorded figures and notes first")
    a = ap.parse_args()

    from LVScarSegLogic.deep.tasks import TASKS
    from LVScarSegLogic.deep.config import EMIDEC_LICENSE
    from LVScarSegLogic.deep.model_card import model_card
    from LVScarSegLogic.files import write_text_atomic

    m = json.loads(a.manifest.read_text())
    if "task" not in m:
        ap.error(f"{a.manifest} is not a deep-learning model manifest")
    if a.clear:
        m["benchmark"], m["notes"] = {}, []
    for item in a.benchmark:
        key, sep, value = item.rpartition("=")
        if not sep or not key:
            ap.error(f"--benchmark wants KEY=VALUE, got {item!r}")
        m.setdefault("benchmark", {})[key.strip()] = value.strip()
    m["notes"] = m.get("notes", []) + a.note
    if a.trained_on:
        m["trained_on"] = a.trained_on
    write_text_atomic(a.manifest, json.dumps(m, indent=1) + "\n")
    card = a.manifest.with_name(m.get("model_card", f"{m['name']}.md"))
    write_text_atomic(card, model_card(m, TASKS[m["task"]], m.get("license") == EMIDEC_LICENSE))
    print(f"{a.manifest} and {card.name} updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
