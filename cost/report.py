"""The HTML report of a sweep: one self-contained file (plots embedded as PNG, inline CSS and JS).

:func:`write_report` takes the document that :mod:`mpmac.cost.sweep` writes as ``results.json``:

- Pareto plots of cost against numerical error (``quality.mean_rel_err``): area (``osu018.ge``, else a
  gate or LUT count), energy per operation (``energy.pj_h45``) and fmax (nextpnr's, else 1000 /
  ``osu018.delay_ns``, the 180 nm critical path, labelled ``osu018.fmax_mhz``); one marker per operand
  format (a simd engine: its modes), one colour per unit kind (per kind and approximate variant,
  ``normalize`` and ``mul_approx``, when the sweep has variants), the Pareto front drawn as a line
  through its points. Area is also plotted against the dot-product error (``quality.dot_mean_rel_err.1024``)
  when some point has it. A plot whose metrics no point has is left out, with a note saying which
  metric is missing.
- Approximation error, per unit with approximate variants (the points that differ only in
  ``normalize``/``mul_approx``): the ULP-error histogram of each variant against the exact unit
  (``quality.approx.ulp_hist``) and the dot-product error against the length
  (``quality.dot_mean_rel_err.<L>``), the layer error in the legend.
- SIMD engines (``simd`` points): per mode, the MACs per cycle and the energy per cycle and per
  MAC (``analytic.macs_per_cycle.<mode>``, ``energy.pj_h45.<mode>``, ``energy.pj_per_mac.<mode>``).
- A table of every point (parameters and metrics), sortable by any column with a click.
- The tool versions and the sweep file.

Nothing is loaded from elsewhere: the file opens offline and can be mailed as is.
"""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path

__all__ = ["write_report", "render_report", "pareto_front", "PLOTS", "ERROR_METRIC",
           "variant_label", "DOT_ERROR_METRIC"]

#: numerical error on the y axis of every Pareto plot
ERROR_METRIC = "quality.mean_rel_err"

#: the long-accumulation error of the extra area plot (fma and mac points)
DOT_ERROR_METRIC = "quality.dot_mean_rel_err.1024"

#: unit parameters that select an approximate variant (docs/approximate.md)
VARIANT_PARAMS = ("normalize", "mul_approx")

#: approximate-variant groups drawn at most (each: a histogram and a dot-length plot)
MAX_VARIANT_GROUPS = 12

#: fmax of the 180 nm critical path, 1000 / osu018.delay_ns, when no nextpnr flow ran
DERIVED_FMAX = "osu018.fmax_mhz"

#: Pareto plots: (id, title, candidate x metrics in order of preference, maximize x?)
PLOTS = (
    ("area", "Area against error",
     ("osu018.ge", "cmos.ge_t4", "gates.gates", "lut4.lut", "ice40.lut", "ecp5_nodsp.lut",
      "xc7_nodsp.lut"), False),
    ("energy", "Energy per operation against error", ("energy.pj_h45",), False),
    ("fmax", "fmax against error",
     ("nextpnr_ice40.fmax_mhz", "nextpnr_ecp5.fmax_mhz", DERIVED_FMAX), True),
)

#: secondary plots of two costs (no error axis): (id, title, x candidates, y candidates)
SECONDARY = (
    ("area_energy", "Energy against area", PLOTS[0][2], ("energy.pj_h45",)),
)

_MARKERS = "osD^v<>pPX*hH8d"
_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")


def _num(v):
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)) and math.isfinite(v):
        return float(v)
    return None


def pareto_front(xs, ys, maximize_x: bool = False) -> list[int]:
    """Indices of the non-dominated points when minimizing y and minimizing (or maximizing) x."""
    sign = -1.0 if maximize_x else 1.0
    order = sorted(range(len(xs)), key=lambda i: (sign * xs[i], ys[i]))
    front, best = [], math.inf
    for i in order:
        if ys[i] < best:
            front.append(i)
            best = ys[i]
    return front


def _pick(metric_rows: list[dict], candidates) -> str | None:
    """The first candidate metric that some point has; else one matching the candidates' ends."""
    for c in candidates:
        if any(_num(r.get(c)) is not None for r in metric_rows):
            return c
    return None


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def variant_label(params: dict) -> str:
    """The approximate variant of a point: "exact", or its normalize / mul_approx values joined
    by "+" (e.g. "coarse:4", "lmul", "window:2+lmul")."""
    parts = [str(params[k]) for k in VARIANT_PARAMS if params.get(k, "exact") != "exact"]
    return "+".join(parts) or "exact"


def _has_variants(points) -> bool:
    return any(variant_label(p["params"]) != "exact" for p in points)


def _colour_key(p, by_variant: bool) -> str:
    return f"{p['kind']} {variant_label(p['params'])}" if by_variant else p["kind"]


def _palette(n: int) -> list:
    if n <= len(_COLORS):
        return list(_COLORS)
    from matplotlib import colormaps
    cmap = colormaps["tab20"]
    return [cmap(i % 20) for i in range(n)]


def _format_key(p) -> str:
    """What a point's marker stands for: its operand format a, or a simd engine's modes."""
    return str(p["params"].get("a", p["params"].get("modes", "?")))


def _style_maps(points):
    """(marker per format a, colour per kind, or per kind and variant when there are variants)."""
    by_variant = _has_variants(points)
    fmts = list(dict.fromkeys(_format_key(p) for p in points))
    keys = list(dict.fromkeys(_colour_key(p, by_variant) for p in points))
    colors = _palette(len(keys))
    return ({f: _MARKERS[i % len(_MARKERS)] for i, f in enumerate(fmts)},
            {k: colors[i % len(colors)] for i, k in enumerate(keys)})


def _legend(ax, markers, colors, by_variant=False):
    from matplotlib.lines import Line2D
    handles = [Line2D([], [], marker=m, ls="", color="0.35", label=f) for f, m in markers.items()]
    handles += [Line2D([], [], marker="s", ls="", color=c, label=k) for k, c in colors.items()]
    handles.append(Line2D([], [], color="k", lw=1.2, label="Pareto front"))
    title = "format (a) or modes / kind, variant" if by_variant else \
        "format (a) or modes / kind"
    ax.legend(handles=handles, fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5),
              title=title, title_fontsize=7, frameon=False)


def _scatter(points, vals, xm, ym, title, maximize_x=False, pareto=True, refs=()):
    """One plot; returns (png base64, note, indices of the front in ``points``).

    ``refs``: (label, x) reference lines, e.g. the INT8 MAC floor's area."""
    from matplotlib.figure import Figure
    idx = [i for i in range(len(points))
           if _num(vals[i].get(xm)) is not None and _num(vals[i].get(ym)) is not None]
    xs = [_num(vals[i][xm]) for i in idx]
    ys = [_num(vals[i][ym]) for i in idx]
    note = ""
    ylog = ym.startswith(("quality.", "energy"))
    zero = [y <= 0 for y in ys]
    if ylog and any(zero):
        positive = [y for y in ys if y > 0]
        floor = min(positive) / 10 if positive else 1e-12
        note = (f"{sum(zero)} point(s) with {ym} = 0 (exact) are drawn on the dashed line at "
                f"{floor:.3g}.")
        plot_ys = [floor if z else y for y, z in zip(ys, zero)]
    else:
        floor = None
        plot_ys = ys
    markers, colors = _style_maps(points)
    by_variant = _has_variants(points)
    fig = Figure(figsize=(7.2, 4.2))
    ax = fig.add_subplot()
    for j, i in enumerate(idx):
        p = points[i]
        ax.scatter(xs[j], plot_ys[j], marker=markers[_format_key(p)],
                   color=colors[_colour_key(p, by_variant)], s=36, alpha=0.85, edgecolors="none")
    front = pareto_front(xs, ys, maximize_x) if pareto and xs else []
    if front:
        fx = [xs[j] for j in front]
        fy = [plot_ys[j] for j in front]
        ax.step(fx, fy, where="post", color="k", lw=1.2, zorder=1)
        ax.scatter(fx, fy, s=110, facecolors="none", edgecolors="k", lw=1.1, zorder=3)
        for j in front:
            ax.annotate(points[idx[j]]["name"].replace("mpmac_", ""), (xs[j], plot_ys[j]),
                        fontsize=6, xytext=(4, 3), textcoords="offset points")
    if floor is not None:
        ax.axhline(floor, color="0.5", ls="--", lw=0.8)
    for label, x in refs:
        ax.axvline(x, color="#2ca02c", ls=":", lw=1.2)
        ax.annotate(label, (x, 1), xycoords=("data", "axes fraction"), fontsize=7, rotation=90,
                    va="top", ha="right", color="#2ca02c")
    if ylog:
        ax.set_yscale("log")
    if xs and min(xs) > 0 and max(xs) / min(xs) > 30:
        ax.set_xscale("log")
    ax.set_xlabel(xm + ("  (higher is better)" if maximize_x else ""))
    ax.set_ylabel(ym)
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", lw=0.3, alpha=0.5)
    _legend(ax, markers, colors, by_variant)
    return _png(fig), note, [idx[j] for j in front]


def _bars(points, vals, metric):
    """Fallback plot: one bar per point of the first cost metric available."""
    from matplotlib.figure import Figure
    idx = [i for i in range(len(points)) if _num(vals[i].get(metric)) is not None]
    _, colors = _style_maps(points)
    by_variant = _has_variants(points)
    fig = Figure(figsize=(7.2, 0.5 + 0.22 * len(idx)))
    ax = fig.add_subplot()
    names = [points[i]["name"].replace("mpmac_", "") for i in idx]
    ax.barh(range(len(idx)), [_num(vals[i][metric]) for i in idx],
            color=[colors[_colour_key(points[i], by_variant)] for i in idx])
    ax.set_yticks(range(len(idx)), names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(metric)
    ax.set_title(f"{metric} per point", fontsize=10)
    ax.grid(True, axis="x", lw=0.3, alpha=0.5)
    return _png(fig)


def _group_label(p) -> str:
    """A unit without its variant parameters: kind, format a, the other formats that differ."""
    prm = p["params"]
    a = prm.get("a")
    parts = [p["kind"], f"a={a}"]
    parts += [f"{r}={prm[r]}" for r in ("b", "c", "acc", "out")
              if prm.get(r) is not None and prm[r] != a]
    parts += [f"{k}={prm[k]}" for k, default in (("rounding", "rne"), ("latency", 0))
              if prm.get(k, default) != default]
    return " ".join(parts)


def _variant_groups(points) -> list[list[int]]:
    """Indices of the points that differ only in their variant parameters, for each unit that
    has at least one approximate variant (in grid order)."""
    groups: dict[tuple, list[int]] = {}
    for i, p in enumerate(points):
        key = (p["kind"], tuple(sorted((k, str(v)) for k, v in p["params"].items()
                                       if k not in VARIANT_PARAMS)))
        groups.setdefault(key, []).append(i)
    return [idx for idx in groups.values()
            if any(variant_label(points[i]["params"]) != "exact" for i in idx)]


def _variant_colours(points) -> dict[str, object]:
    labels = list(dict.fromkeys(variant_label(p["params"]) for p in points))
    colors = _palette(len(labels))
    return {v: colors[i % len(colors)] for i, v in enumerate(labels)}


def _ulp_hist_plot(points, idx, colours):
    """Grouped bars: the fraction of operations per |error| bin (ULPs of the exact unit's result),
    one colour per approximate variant; None when no variant has a histogram."""
    from matplotlib.figure import Figure

    from .quality import ulp_bin_labels
    series = []
    for i in idx:
        label = variant_label(points[i]["params"])
        hist = ((points[i].get("result") or {}).get("metrics") or {}).get("quality.approx.ulp_hist")
        if label == "exact" or not isinstance(hist, list) or not sum(hist):
            continue
        series.append((label, [c / sum(hist) for c in hist]))
    if not series:
        return None
    last = max(max(j for j, f in enumerate(frac) if f > 0) for _, frac in series)
    labels = ulp_bin_labels()[:last + 1]
    fig = Figure(figsize=(7.2, 3.6))
    ax = fig.add_subplot()
    width = 0.8 / len(series)
    for k, (label, frac) in enumerate(series):
        xs = [j - 0.4 + width * (k + 0.5) for j in range(last + 1)]
        ax.bar(xs, frac[:last + 1], width=width, color=colours[label], label=label, log=True)
    ax.set_xticks(range(last + 1), labels, fontsize=7, rotation=45)
    ax.set_xlabel("|error| in ULPs of the exact unit's result")
    ax.set_ylabel("fraction of operations")
    ax.set_title(f"{_group_label(points[idx[0]])}: error against the exact unit", fontsize=10)
    ax.grid(True, axis="y", which="both", lw=0.3, alpha=0.5)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), title="variant",
              title_fontsize=7, frameon=False)
    return _png(fig)


def _dot_len_plot(points, vals, idx, colours):
    """Mean relative dot-product error against the length, one line per variant (the layer error
    in its legend entry); None when no point has a long dot product."""
    from matplotlib.figure import Figure
    prefix = "quality.dot_mean_rel_err."
    lens = sorted({int(k[len(prefix):]) for i in idx for k in vals[i]
                   if k.startswith(prefix) and k[len(prefix):].isdigit()})
    if not lens:
        return None, ""
    lines = []
    for i in idx:
        ys = [_num(vals[i].get(f"{prefix}{n}")) for n in lens]
        pts = [(n, y) for n, y in zip(lens, ys) if y is not None]
        if pts:
            layer = _num(vals[i].get("quality.layer_rel_err"))
            label = variant_label(points[i]["params"])
            legend = label if layer is None else f"{label} (layer {layer:.2g})"
            lines.append((label, pts, legend))
    if not lines:
        return None, ""
    positive = [y for _, pts, _ in lines for _, y in pts if y > 0]
    floor = min(positive) / 10 if positive else 1e-12
    zeros = sum(y <= 0 for _, pts, _ in lines for _, y in pts)
    fig = Figure(figsize=(7.2, 3.6))
    ax = fig.add_subplot()
    for label, pts, legend in lines:
        ax.plot([n for n, _ in pts], [y if y > 0 else floor for _, y in pts],
                marker="o", ms=4, color=colours[label], label=legend)
    if zeros:
        ax.axhline(floor, color="0.5", ls="--", lw=0.8)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(lens, [str(n) for n in lens])
    ax.set_xlabel("dot-product length")
    ax.set_ylabel("mean relative error")
    ax.set_title(f"{_group_label(points[idx[0]])}: dot products against exact", fontsize=10)
    ax.grid(True, which="both", lw=0.3, alpha=0.5)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), title="variant",
              title_fontsize=7, frameon=False)
    note = (f"{zeros} point(s) with zero error are drawn on the dashed line at {floor:.3g}."
            if zeros else "")
    return _png(fig), note


def _approximation_section(points, vals) -> list[str]:
    """HTML of the approximation-error plots (empty without approximate variants)."""
    groups = _variant_groups(points)
    if not groups:
        return []
    esc = html.escape
    colours = _variant_colours(points)
    plots = []
    for g, idx in enumerate(groups[:MAX_VARIANT_GROUPS]):
        name = esc(_group_label(points[idx[0]]))
        png = _ulp_hist_plot(points, idx, colours)
        if png is not None:
            plots.append(f"<div class='plot' id='plot-ulp-hist-{g}'><img alt='ULP-error histogram "
                         f"{name}' src='data:image/png;base64,{png}'></div>")
        png, note = _dot_len_plot(points, vals, idx, colours)
        if png is not None:
            plots.append(f"<div class='plot' id='plot-dot-len-{g}'><img alt='dot-product error "
                         f"{name}' src='data:image/png;base64,{png}'>"
                         + (f"<p class='note'>{esc(note)}</p>" if note else "") + "</div>")
    if not plots:
        return []
    parts = ["<h2>Approximation error</h2><p>Per unit with approximate variants (points that "
             "differ only in <i>normalize</i> / <i>mul_approx</i>): the error of each variant "
             "against the exact unit in ULPs of the exact result's format "
             "(<i>quality.approx.ulp_hist</i>; the exact unit itself has none), and the mean "
             "relative error of Gaussian dot products against their length "
             "(<i>quality.dot_mean_rel_err.&lt;L&gt;</i>, every variant against exact "
             "arithmetic), with the layer workload's relative Frobenius error in the legend.</p>",
             *plots]
    if len(groups) > MAX_VARIANT_GROUPS:
        parts.append(f"<p class='note'>{len(groups) - MAX_VARIANT_GROUPS} more unit(s) with "
                     f"variants are left out of these plots (the table has their numbers).</p>")
    return parts


#: per-mode metrics of a simd point: (column title, metric prefix before ".<mode>")
SIMD_MODE_COLUMNS = (("MACs/cycle", "analytic.macs_per_cycle"), ("pJ/cycle", "energy.pj_h45"),
                     ("pJ/MAC", "energy.pj_per_mac"), ("pJ/MAC zd", "energy.pj_per_mac_zd"))


def _simd_section(points, vals) -> list[str]:
    """HTML table of the simd points, one row per mode (empty without simd points)."""
    esc = html.escape
    rows = []
    lead = SIMD_MODE_COLUMNS[0][1] + "."
    for p, v in zip(points, vals):
        if p["kind"] != "simd":
            continue
        keys = [k[len(lead):] for k in v if k.startswith(lead)]  # the analytic layer's mode order
        area = _num(v.get("osu018.ge"))
        for key in keys:
            cells = [esc(p["name"].replace("mpmac_", "")), esc(key),
                     "" if area is None else f"{area:,.0f}"]
            cells += [esc(_fmt(v.get(f"{prefix}.{key}"))) for _, prefix in SIMD_MODE_COLUMNS]
            rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    if not rows:
        return []
    head = ["engine", "mode", "GE (osu018)", *(t for t, _ in SIMD_MODE_COLUMNS)]
    return ["<h2>SIMD engines</h2><p>Per mode of each <i>simd</i> point: multiply-accumulates "
            "per cycle (its lanes), and the energy per cycle and per MAC (per cycle / lanes) with "
            "<i>mode</i> held and Gaussian lane operands of the lane format (docs/simd.md).</p>"
            "<table class='sortable'><thead><tr>"
            + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr></thead><tbody>",
            *rows, "</tbody></table>"]


_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ddd;padding:2px 6px}
th{background:#f3f3f3;cursor:pointer;position:sticky;top:0;white-space:nowrap}
th.asc::after{content:" \\25B2"}th.desc::after{content:" \\25BC"}
td.n{text-align:right;font-variant-numeric:tabular-nums}tr.err td{background:#fde8e8}
tr.front td:nth-child(2){font-weight:bold}tr.floor td{background:#eef6ee}
.note{color:#8a5a00}.plot{margin:1em 0}pre{background:#f7f7f7;padding:.6em;overflow:auto}
.wrap{overflow:auto;max-height:80vh}
"""

# Sorts a table by the clicked column: numbers numerically (blank cells last), text otherwise.
_JS = """
document.querySelectorAll('table.sortable').forEach(function(t){
  t.querySelectorAll('th').forEach(function(th,col){
    th.addEventListener('click',function(){
      var asc=!th.classList.contains('asc');
      t.querySelectorAll('th').forEach(function(h){h.classList.remove('asc','desc');});
      th.classList.add(asc?'asc':'desc');
      var body=t.tBodies[0],rows=Array.prototype.slice.call(body.rows);
      function key(r){var s=r.cells[col].getAttribute('data-v');
        if(s===null)s=r.cells[col].textContent;var x=parseFloat(s);
        return (s!==''&&isFinite(x)&&/^[-+0-9.eE]+$/.test(s.trim()))?x:s;}
      rows.sort(function(a,b){var x=key(a),y=key(b);
        if(x===''&&y!=='')return 1;if(y===''&&x!=='')return -1;
        var c=(typeof x==='number'&&typeof y==='number')?x-y:String(x).localeCompare(String(y));
        return asc?c:-c;});
      rows.forEach(function(r){body.appendChild(r);});
    });
  });
});
"""


def _fmt(v) -> str:
    if v is None or v == "":
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def render_report(doc: dict) -> str:
    """HTML text of the report of a results.json document."""
    from .sweep import row_values  # the same flattening as the CSV

    esc = html.escape
    points = doc["points"]
    ok = [p for p in points if p["status"] == "ok"]
    floors = doc.get("floors") or []
    vals = [row_values(p) for p in ok]
    fvals = [row_values(f) for f in floors]
    for v in vals + fvals:
        delay = _num(v.get("osu018.delay_ns"))
        if DERIVED_FMAX not in v and delay:
            v[DERIVED_FMAX] = 1000.0 / delay
    pcols = doc.get("columns", {}).get("params") or sorted({k for p in points for k in p["params"]})
    mcols = doc.get("columns", {}).get("metrics") or sorted({k for v in vals for k in v})
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{esc(doc['title'])}</title>"
             f"<style>{_CSS}</style></head><body>", f"<h1>{esc(doc['title'])}</h1>"]
    if doc.get("notes"):
        parts.append(f"<p class='notes'>{esc(doc['notes'])}</p>")
    s = doc.get("settings", {})
    errors = len(points) - len(ok)
    secs = doc.get("seconds")
    parts.append(
        f"<p>{len(points)} points, {errors} with errors; flows: {esc(', '.join(s.get('flows', [])))}; "
        f"operand distribution: {esc(str(s.get('distribution', '')))}; mpmac "
        f"{esc(str(doc.get('mpmac_version', '')))}"
        + (f"; sweep time {secs:.0f} s" if isinstance(secs, (int, float)) else "") + ".</p>")

    parts.append("<h2>Pareto plots</h2>")
    fronts: dict[int, list[str]] = {}
    notes, drawn = [], 0
    has_error = _pick(vals, (ERROR_METRIC,)) is not None
    if not has_error:
        notes.append(f"No point has {ERROR_METRIC}: the cost-against-error plots are left out "
                     f"(add the quality measurement to the sweep).")
    for pid, title, cands, maximize in PLOTS:
        xm = _pick(vals, cands)
        if xm is None:
            notes.append(f"{title}: left out, no point has any of {', '.join(cands)}.")
            continue
        if not has_error:
            continue
        refs = [(f"{f['name']} (floor)", _num(fv.get(xm))) for f, fv in zip(floors, fvals)
                if f.get("floor") == "int8mac" and _num(fv.get(xm)) is not None]
        png, note, front = _scatter(ok, vals, xm, ERROR_METRIC, f"{title}: {xm}", maximize,
                                    refs=refs)
        drawn += 1
        for i in front:
            fronts.setdefault(i, []).append(pid)
        parts.append(f"<div class='plot' id='plot-{pid}'><img alt='{esc(title)}' "
                     f"src='data:image/png;base64,{png}'>"
                     + (f"<p class='note'>{esc(note)}</p>" if note else "") + "</div>")
    xm = _pick(vals, PLOTS[0][2])
    if xm is not None and _pick(vals, (DOT_ERROR_METRIC,)) is not None:
        png, note, front = _scatter(ok, vals, xm, DOT_ERROR_METRIC,
                                    f"Area against dot-product error: {xm}")
        drawn += 1
        for i in front:
            fronts.setdefault(i, []).append("area_dot")
        parts.append(f"<div class='plot' id='plot-area_dot'><img alt='Area against dot-product "
                     f"error' src='data:image/png;base64,{png}'>"
                     + (f"<p class='note'>{esc(note)}</p>" if note else "") + "</div>")
    for pid, title, xc, yc in SECONDARY:
        xm, ym = _pick(vals, xc), _pick(vals, yc)
        if xm is None or ym is None:
            continue
        png, note, _ = _scatter(ok, vals, xm, ym, f"{title}: {ym} vs {xm}", pareto=True)
        drawn += 1
        parts.append(f"<div class='plot' id='plot-{pid}'><img alt='{esc(title)}' "
                     f"src='data:image/png;base64,{png}'>"
                     + (f"<p class='note'>{esc(note)}</p>" if note else "") + "</div>")
    if not drawn:
        first = next((m for m in mcols if not m.startswith(("seconds.", "rel."))), None)
        if first is not None:
            parts.append(f"<div class='plot' id='plot-bars'><img alt='{esc(first)}' "
                         f"src='data:image/png;base64,{_bars(ok, vals, first)}'></div>")
    for n in notes:
        parts.append(f"<p class='note'>{esc(n)}</p>")
    parts += _approximation_section(ok, vals)
    parts += _simd_section(ok, vals)

    parts.append("<h2>Points</h2><p>Click a column header to sort. Bold names are on a Pareto "
                 "front (column <i>front</i>); rows of kind <i>floor</i> are the floor references "
                 "(INT8 MAC, bare integer multipliers) synthesized by the same flows.</p><div class='wrap'><table class='sortable'><thead><tr>")
    heads = ["kind", "name", *pcols, "front", *mcols]
    parts.append("".join(f"<th>{esc(h)}</th>" for h in heads) + "</tr></thead><tbody>")
    for i, p in enumerate(ok):
        v = vals[i]
        cls = " class='front'" if i in fronts else ""
        cells = [esc(p["kind"]), esc(p["name"])]
        cells += [esc(_fmt(p["params"].get(c))) for c in pcols]
        cells.append(esc(",".join(fronts.get(i, []))))
        row = "".join(f"<td>{c}</td>" for c in cells)
        for m in mcols:
            x = v.get(m)
            n = _num(x)
            row += (f"<td class='n' data-v='{x!r}'>{esc(_fmt(x))}</td>" if n is not None
                    else f"<td>{esc(_fmt(x))}</td>")
        parts.append(f"<tr{cls}>{row}</tr>")
    for f, v in zip(floors, fvals):
        cells = ["floor", esc(f["name"])] + [""] * len(pcols) + [""]
        row = "".join(f"<td>{c}</td>" for c in cells)
        for m in mcols:
            x = v.get(m)
            row += (f"<td class='n' data-v='{x!r}'>{esc(_fmt(x))}</td>" if _num(x) is not None
                    else f"<td>{esc(_fmt(x))}</td>")
        parts.append(f"<tr class='floor'>{row}</tr>")
    parts.append("</tbody></table></div>")

    flow_errors = [(p["name"], f, m) for p in ok
                   for f, m in ((p.get("result") or {}).get("errors") or {}).items()]
    if errors or flow_errors:
        parts.append("<h2>Errors</h2><table class='sortable'><thead><tr><th>name</th><th>where"
                     "</th><th>message</th></tr></thead><tbody>")
        for p in points:
            if p["status"] != "ok":
                parts.append(f"<tr class='err'><td>{esc(p['name'])}</td><td>point</td>"
                             f"<td>{esc(p['error'])}</td></tr>")
        for name, f, m in flow_errors:
            parts.append(f"<tr><td>{esc(name)}</td><td>{esc(f)}</td><td>{esc(str(m))}</td></tr>")
        parts.append("</tbody></table>")

    parts.append("<h2>Tool versions</h2><table><tbody>")
    for tool, v in sorted((doc.get("versions") or {}).items()):
        parts.append(f"<tr><td>{esc(tool)}</td><td>{esc(str(v))}</td></tr>")
    parts.append("</tbody></table>")
    parts.append(f"<h2>Sweep file</h2><p>{esc(str(doc.get('origin', '')))}</p>"
                 f"<pre>{esc(doc.get('config', ''))}</pre>")
    parts.append(f"<script>{_JS}</script></body></html>\n")
    return "".join(parts)


def write_report(doc: dict, path: str | Path) -> Path:
    """Write the report of a results.json document to ``path``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(render_report(doc))
    tmp.replace(path)
    return path
