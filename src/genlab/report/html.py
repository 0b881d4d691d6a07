"""The comparison as one self-contained HTML page: no external assets, every picture a data URI.

Every string read from a run folder (its name, config values, metric keys, notes) is HTML-escaped.
"""

from __future__ import annotations

import base64
from html import escape

from genlab.report.folder import RunFolder
from genlab.report.svg import curve_svg, training_series
from genlab.report.table import MISSING, Table, format_value

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
.scroll { overflow-x: auto; }
table.metrics { border-collapse: collapse; font-size: 0.9em; }
table.metrics th, table.metrics td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
table.metrics th { background: #f3f3f3; vertical-align: bottom; }
table.metrics td.run, table.metrics td.context { text-align: left; }
table.metrics td.best { background: #dff3df; font-weight: bold; }
table.metrics th .unit { display: block; font-weight: normal; color: #666; font-size: 0.85em; }
section.run { border-top: 1px solid #ccc; margin-top: 1.5em; }
.pictures { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
figure { margin: 0; }
img.grid { max-width: 480px; border: 1px solid #ddd; }
img.grid.small { width: 320px; image-rendering: pixelated; }
figcaption, .legend, .notes { color: #555; font-size: 0.85em; }
pre { background: #f7f7f7; padding: 0.6em; overflow-x: auto; }
"""


def data_uri(mime: str, payload: bytes) -> str:
    """`payload` embedded in a URI (base64), so the page needs no file beside it.

    >>> data_uri("image/png", b"abc")
    'data:image/png;base64,YWJj'
    """
    return f"data:{mime};base64,{base64.b64encode(payload).decode('ascii')}"


def _grid_class(payload: bytes) -> str:
    """`grid small` for a PNG narrower than 320 pixels (a grid of 8x8 digits): shown enlarged with
    crisp pixels; larger pictures (2-D scatter plots) at their own size."""
    small = payload[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(payload[16:20], "big") < 320
    return "grid small" if small else "grid"


def _metrics_table(table: Table) -> str:
    head = ['<th scope="col">run</th>']
    head += [f'<th scope="col">{escape(title)}</th>' for title, _ in table.context]
    head += [f'<th scope="col" title="{escape(c.metric.better)} is better">{escape(c.name)} '
             f'{c.metric.arrow}<span class="unit">{escape(c.metric.unit)}</span></th>'
             for c in table.columns]
    rows = []
    for i, run in enumerate(table.runs):
        cells = [f'<td class="run"><a href="#run-{i}">{escape(run)}</a></td>']
        cells += [f'<td class="context">{escape(cells_[i])}</td>' for _, cells_ in table.context]
        for j in range(len(table.columns)):
            text = escape(table.cell(i, j))
            cells.append(f'<td class="best">{text} ★</td>' if i in table.best[j] else f"<td>{text}</td>")
        rows.append(f'<tr class="run-row">{"".join(cells)}</tr>')
    return (f'<div class="scroll"><table class="metrics" id="metrics"><thead><tr>{"".join(head)}</tr>'
            f'</thead><tbody>{"".join(rows)}</tbody></table></div>')


def _run_section(i: int, run: RunFolder, table: Table) -> str:
    facts = [f"model <b>{escape(run.model)}</b>", f"data <b>{escape(run.dataset)}</b>",
             f"last step <b>{escape(format_value(run.last_step))}</b>"]
    notes = list(run.notes)
    notes += [f"only this run has {c.name} {c.metric.arrow} = {format_value(v)} ({c.metric.unit})"
              for c, v in table.unshared.get(i, [])]
    pictures = []
    if run.grid is not None and run.grid_type is not None:
        payload = run.grid.read_bytes()
        pictures.append(f'<figure><img class="{_grid_class(payload)}" '
                        f'alt="sample grid of {escape(run.label)}" '
                        f'src="{data_uri(run.grid_type, payload)}">'
                        f'<figcaption>{escape(run.grid.relative_to(run.path).as_posix())}</figcaption>'
                        "</figure>")
    for key, points in training_series(run.records).items():
        svg = curve_svg(key, points).encode("utf-8")
        pictures.append(f'<figure><img class="curve" alt="{escape(key)} against step" '
                        f'src="{data_uri("image/svg+xml", svg)}"></figure>')
    return (f'<section class="run" id="run-{i}"><h3>{escape(run.label)}</h3>'
            f'<p>{" · ".join(facts)}</p>'
            + (f'<ul class="notes">{"".join(f"<li>{escape(n)}</li>" for n in notes)}</ul>' if notes else "")
            + f'<div class="pictures">{"".join(pictures)}</div>'
            f'<details><summary>config.yaml</summary><pre>{escape(run.config_text)}</pre></details>'
            "</section>")


def render_html(runs: list[RunFolder], table: Table, version: str) -> str:
    """The whole page: the metrics table, then per run its sample grid, loss curves and config."""
    notes = "".join(f"<li>{escape(n)}</li>" for n in table.notes)
    title = f"genlab compare: {len(runs)} run{'s' if len(runs) != 1 else ''}"
    metrics = (_metrics_table(table) if table.columns else
               "<p>No metrics to compare: no run has an eval.json with metrics "
               "(run <code>genlab eval RUN</code>).</p>"
               + (_metrics_table(table) if table.context else ""))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1>"
        f'<p class="legend">genlab {escape(version)}. Metrics from each run\'s eval.json; '
        f"★ and green: best in its column (↓ lower is better, ↑ higher is better); "
        f"{MISSING}: the run has no such metric.</p>"
        f"<h2>Metrics</h2>{metrics}"
        + (f'<ul class="notes">{notes}</ul>' if notes else "")
        + "<h2>Runs</h2>" + "".join(_run_section(i, r, table) for i, r in enumerate(runs))
        + "</body></html>\n"
    )
