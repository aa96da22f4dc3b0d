"""Write a phantom set in the second style (``phantom/from_labels.py``): LGE images drawn from
EMIDEC's expert label maps, appearance random per case, in the phantom layout that
``lvscarseg benchmark`` reads. By default only the held-out exams' labels (``--split test``), so
no network trained on EMIDEC has seen those shapes, and no network at all has seen this style.

    python benchmarks/label_phantoms.py -o build/label-phantoms [--style lge|random] [--split test]
    lvscarseg benchmark build/label-phantoms --methods fwhm,strm,otsu --myocardium observer -o OUT

The label maps are EMIDEC's (CC BY-NC-SA 4.0): the set is for evaluation here, not for shipping.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def write_set(emidec: Path, out: Path, style: str = "lge", split: str = "test", seed: int = 0,
              cnr_range=(3.0, 12.0)) -> dict:
    from LVScarSegLogic.datasets import emidec_split, find_cases, load_case
    from LVScarSegLogic.files import write_text_atomic
    from LVScarSegLogic.phantom.from_labels import lge_from_labels
    from LVScarSegLogic.volume import write_volume

    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "labels").mkdir(parents=True, exist_ok=True)
    refs = find_cases(emidec)
    cases = []
    for n, ref in enumerate(r for r in refs if split == "all" or emidec_split(r, refs) == split):
        _, codes, grid = load_case(ref)
        image, settings = lge_from_labels(codes, tuple(grid.spacing[::-1]), seed=seed * 1000 + n, style=style,
                                          cnr_range=cnr_range)
        name = f"{ref.name}-{style}"
        write_volume(out / "images" / f"{name}.nrrd", image, grid)
        write_volume(out / "labels" / f"{name}.nrrd", codes, grid)
        cases.append(dict(settings, case=name, source=ref.name, protocol=f"labels-{style}-2d",
                          healthy=bool(not (codes >= 3).any())))
        print(f"{name}: {settings}", flush=True)
    manifest = {"generator": "LVScarSegLogic.phantom.from_labels (EMIDEC label maps, CC BY-NC-SA 4.0)",
                "style": style, "split": split, "seed": seed, "cnr_range": list(cnr_range), "cases": cases}
    write_text_atomic(out / "phantom.json", json.dumps(manifest, indent=1) + "\n")
    return manifest


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--emidec", default=str(ROOT.parent / "shared" / "data" / "emidec-png"))
    ap.add_argument("--style", default="lge", choices=("lge", "random"))
    ap.add_argument("--split", default="test", choices=("test", "train", "all"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cnr", default="3,12", help="LOW,HIGH: scar-to-wall contrast over the noise SD "
                    "(default 3,12; e.g. 12,30 for a cleaner scanner)")
    ap.add_argument("-o", "--output", required=True)
    a = ap.parse_args(argv)
    write_set(Path(a.emidec), Path(a.output), a.style, a.split, a.seed,
              tuple(float(v) for v in a.cnr.split(",")))


if __name__ == "__main__":
    main()
