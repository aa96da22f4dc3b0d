"""A one-page HTML report for the patient file (``segment`` and ``measure`` with ``--html``): the
quality verdict first, the totals, the AHA 17 segments, the bull's-eye and QA pictures embedded
(one self-contained file that opens in any browser and prints on one page), and the methods and
models with their licenses. Research use: the page says so."""
from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Dict, Optional

from . import __version__
from .files import write_text_atomic

_STYLE = """body{font-family:Helvetica,Arial,sans-serif;margin:18px;max-width:960px;color:#111}
h1{font-size:20px;margin:0 0 6px}h2{font-size:15px;margin:14px 0 4px}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #bbb;padding:2px 6px;text-align:right}
th{background:#eee}td:first-child,th:first-child{text-align:left}
.banner{background:#c00000;color:#fff;padding:6px 10px;font-weight:bold;margin:6px 0}
.ok{background:#e8f4e8;padding:6px 10px;margin:6px 0}.small{font-size:11px;color:#444}
img{max-width:100%;border:1px solid #ccc}@media print{body{margin:6mm}}"""


def _img(path: Optional[str], alt: str) -> str:
    if not path or not Path(path).is_file():
        return ""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def html_page(report: Dict[str, object], bullseye_png: Optional[str] = None, qa_png: Optional[str] = None) -> str:
    """The page as text (pictures embedded as data URIs)."""
    from .models import license_note
    from .quality import banner

    e = html.escape
    v = report["volumes_ml"]
    verdict = report.get("quality", {"status": "ok", "reasons": []})
    head = banner(verdict)
    status = (f'<div class="banner">Quality {e(head)}</div>' if head else
              '<div class="ok">Quality: ok (the engine found nothing to doubt; a reader still reviews it)</div>')
    totals = [("LV myocardium", f"{v['lv_myocardium']:.1f} mL", f"{report['lv_mass_g']:.1f} g", ""),
              ("Infarct (scar + MVO)", f"{v['scar']:.2f} mL", f"{report['scar_mass_g']:.2f} g",
               f"{report['scar_percent']:.1f} % of LV"),
              *([("Infarct, partial-volume weighted", f"{report['infarct_pv_weighted']['ml']:.2f} mL", "",
                  f"{report['infarct_pv_weighted']['percent']:.1f} % of LV")] if report.get("infarct_pv_weighted") else []),
              ("MVO", f"{v['mvo']:.2f} mL", "", ""),
              ("Gray zone", f"{v['grayzone']:.2f} mL", "", f"{report['grayzone_percent']:.1f} % of LV"),
              ("LV blood pool", f"{v['bloodpool']:.1f} mL", "", "")]
    rows = "".join(f"<tr><td>{e(a)}</td><td>{b}</td><td>{c}</td><td>{d}</td></tr>" for a, b, c, d in totals)
    aha = "".join(f"<tr><td>{s['segment']} {e(s['name'])}</td><td>{s['myocardium_ml']:.2f}</td>"
                  f"<td>{s['scar_percent']:.0f}</td><td>{s['transmurality_mean']:.2f}</td>"
                  f"<td>{s['transmurality_max']:.2f}</td></tr>" for s in report.get("aha_segments", []))
    methods = report.get("methods", {})
    method_text = "; ".join(f"{k}: {e(str(m.get('name')))}" for k, m in methods.items() if isinstance(m, dict))
    models = "".join(f"<li>{e(str(m.get('name')))} ({e(str(m.get('task')))}): license "
                     f"{e(license_note(m.get('license')))}</li>" for m in report.get("models", []))
    warnings = "".join(f"<li>{e(w)}</li>" for w in report.get("warnings", []))
    source = report.get("input", {})
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>LVScarSeg report</title>
<style>{_STYLE}</style></head><body>
<h1>LV myocardium and scar (LGE MRI)</h1>
<div class="small">{e(str(source.get('path', '')))} &middot; LVScarSeg {e(str(report.get('software', __version__)))}
&middot; research use only, not a medical device: a qualified reader reviews every result</div>
{status}
<h2>Totals</h2><table><tr><th></th><th>volume</th><th>mass (1.05 g/mL)</th><th>share</th></tr>{rows}</table>
<h2>AHA 17 segments</h2><table><tr><th>segment</th><th>myocardium mL</th><th>infarct %</th>
<th>transmurality mean</th><th>max</th></tr>{aha}</table>
<h2>Bull's-eye</h2>{_img(bullseye_png, "AHA bull's-eye")}
<h2>Contours (QA)</h2>{_img(qa_png, "QA montage")}
<h2>Methods and models</h2><div class="small">{method_text}</div><ul class="small">{models or '<li>no model files</li>'}</ul>
{f'<h2>Warnings</h2><ul class="small">{warnings}</ul>' if warnings else ''}
</body></html>
"""


def write_html_report(path, report: Dict[str, object], bullseye_png: Optional[str] = None,
                      qa_png: Optional[str] = None) -> Dict[str, str]:
    """Write the page (atomically); what the report records of it."""
    write_text_atomic(path, html_page(report, bullseye_png, qa_png))
    return {"path": str(Path(path).resolve())}
