#!/usr/bin/env python
"""Cost of each approximate variant against mpmac's exact unit (issue 7): GE, LUTs, delay, energy.

Runs the sweep ``bench/approx_sweep.toml`` through the cost model (:func:`mpmac.cost.sweep.run_sweep`;
finished points come from ``OUT/points``, so a rerun only prints) and prints, per unit, each variant
beside the exact one: OSU018 gate equivalents, 2-input gates, transistors, iCE40 LUTs, the OSU018
critical path, energy per operation (Horowitz-45 nm-calibrated, unit delay with glitches, and zero
delay) under Gaussian operands, the mean relative error of one operation against the exact unit and
the mean relative error of a 1024-long Gaussian dot product; the percentages are changes against the
exact variant of the same unit (negative: smaller).

Run: ``.venv/bin/python bench/approx_cost.py [-o out/approx] [--jobs 2] [--markdown]``
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mpmac.cost import sweep

SWEEP = Path(__file__).with_name("approx_sweep.toml")

#: (column title, metric key, relative change shown)
COLUMNS = [
    ("GE (OSU)", "osu018.ge", True),
    ("gates", "gates.gates", True),
    ("transistors", "cmos.transistors", True),
    ("iCE40 LUT", "ice40.lut", True),
    ("delay ns", "osu018.delay_ns", True),
    ("pJ/op", "energy.pj_h45", True),
    ("pJ/op zd", "energy.pj_h45_zd", True),
    ("op rel err", "quality.approx.mean_rel_err", False),
    ("dot1024 rel err", "quality.dot_mean_rel_err.1024", False),
]


def unit_key(params: dict, kind: str) -> tuple:
    """The unit a variant belongs to: every parameter except the two variant knobs."""
    return (kind,) + tuple(sorted((k, str(v)) for k, v in params.items()
                                  if k not in ("normalize", "mul_approx")))


def variant(params: dict) -> str:
    n, m = params.get("normalize", "exact"), params.get("mul_approx", "exact")
    return n if m == "exact" else (m if n == "exact" else f"{m}+{n}")


def _text(v, rel: float | None) -> str:
    if v is None:
        return "-"
    text = f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"
    return text + (f" ({rel:+.1%})" if rel is not None else "")


def tables(rows: list[dict]) -> list[tuple[str, list[list[str]]]]:
    """Per unit: a title and rows of cells (variant, then COLUMNS)."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault(unit_key(r["params"], r["kind"]), []).append(r)
    out = []
    for key, members in groups.items():
        exact = next((r for r in members if variant(r["params"]) == "exact"), None)
        base = (exact or {}).get("result", {}).get("metrics", {})
        lines = []
        for r in members:
            if r["status"] != "ok":
                lines.append([variant(r["params"]), f"error: {r['error']}"])
                continue
            m = r["result"]["metrics"]
            cells = [variant(r["params"])]
            for _, metric, relative in COLUMNS:
                v, b = m.get(metric), base.get(metric)
                rel = v / b - 1 if relative and v is not None and b else None
                cells.append(_text(v, rel))
            lines.append(cells)
        title = members[0]["name"].rsplit("_rne", 1)[0]
        out.append((title, lines))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", "--output", default="out/approx", help="sweep output directory")
    ap.add_argument("--jobs", type=int, default=None, help="points in parallel (default: CPUs)")
    ap.add_argument("--markdown", action="store_true", help="print Markdown tables")
    args = ap.parse_args(argv)
    result = sweep.run_sweep(sweep.load_config(SWEEP), args.output, jobs=args.jobs, progress=True)
    header = ["variant"] + [c[0] for c in COLUMNS]
    for title, lines in tables(result.rows):
        print(f"\n{title}")
        if args.markdown:
            print("| " + " | ".join(header) + " |")
            print("|" + "---|" * len(header))
            for cells in lines:
                print("| " + " | ".join(cells) + " |")
        else:
            widths = [max(len(c[i]) if i < len(c) else 0 for c in lines + [header])
                      for i in range(len(header))]
            for cells in [header] + lines:
                print("  ".join(c.ljust(w) for c, w in zip(cells, widths)))
    print(f"\n{len(result.rows)} points ({result.computed} computed, {result.cached} cached, "
          f"{result.errors} errors) in {result.seconds:.0f} s; report: {result.html_path}")
    return 1 if result.errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
