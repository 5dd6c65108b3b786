#!/usr/bin/env python
"""Cost of the mixed-precision SIMD engine against the units it replaces (issue 8, item 5).

The engine (``mpmac.unit("simd", ...)``, by default 4xe2m1,4xposit4_1,2xposit8_0,1xposit16_1 with
an fp32 accumulator) is compared with

* the *dedicated* units: one single-mode engine per mode, ``mpmac.unit("simd", modes=<that
  mode>)`` with the same width and accumulator, so each has the engine's throughput in its mode;
* the largest dedicated unit alone (by OSU gate equivalents);
* for reference, scalar macs ``mpmac.unit("mac", a=<lane format>, acc=<the engine's>)``, counted
  once per lane of the mode (the same MACs per cycle).

Every unit goes through the cost model as one point of a sweep (:func:`mpmac.cost.sweep.run_sweep`,
the grid built here from the engine's parameters; finished points are reused from ``OUT/points``,
so a rerun only prints): OSU 180 nm gate equivalents and OpenSTA critical path, iCE40 LUTs without
and with DSPs, nextpnr iCE40 fmax, and the energy provider (gate-level toggles; the engines per
mode with ``mode`` held and Gaussian lane operands of each lane's format; Horowitz-45 nm
calibrated). The quality provider is not run: the engines' numerics are the golden twin's.

Printed: the area / timing table, the per-mode energy per MAC and MACs per cycle, the issue's
done-when ratios (engine GE / sum of dedicated GE <= 0.65, engine GE / largest dedicated GE <= 1.25,
narrow modes cheaper per MAC than the widest, at unit and at zero delay) with the XR-NPE paper's
claims beside them. Written:
``OUT/summary.json`` and ``OUT/summary.csv`` (the comparison), and the sweep's ``results.csv``,
``results.json`` and ``report.html`` (every point and metric).

Run: ``.venv/bin/python bench/simd_cost.py [-o out/simd] [--flows osu018,...] [--modes ...]``
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import subprocess
from pathlib import Path

import mpmac
from mpmac.cost import sweep
from mpmac.cost.analytic import mode_keys

#: the flows of the comparison: GE and critical path, LUTs without and with DSPs, fmax
FLOWS = ["osu018", "ice40", "ice40_dsp", "nextpnr_ice40"]

#: the issue's done-when targets
TARGET_VS_SUM = 0.65
TARGET_VS_LARGEST = 1.25

#: XR-NPE (arXiv:2508.13049, abstract; ../shared/cost-notes.md row 2): 28 nm, against the best
#: prior MAC, not against dedicated units of its own modes
PAPER = {"area_change": -0.42, "power_change": -0.38,
         "source": "XR-NPE, arXiv:2508.13049 (abstract): 28 nm CMOS, vs the best prior MAC"}
PAPER_NOTE = (f"Paper claims beside these points: {PAPER['source']}: "
              f"{PAPER['area_change']:+.0%} area, {PAPER['power_change']:+.0%} power. "
              f"bench/simd_cost.py prints the engine against its dedicated units (summary.json).")

#: (column title, metric key) of the area / timing table
AREA_COLUMNS = [
    ("GE (OSU)", "osu018.ge"),
    ("iCE40 LUT", "ice40.lut"),
    ("iCE40+DSP LUT", "ice40_dsp.lut"),
    ("DSP", "ice40_dsp.dsp"),
    ("iCE40 fmax MHz", "nextpnr_ice40.fmax_mhz"),
    ("OSU delay ns", "osu018.delay_ns"),
]

#: metrics that add up over units (the others are the slowest member's)
ADDITIVE = {"osu018.ge", "ice40.lut", "ice40_dsp.lut", "ice40_dsp.dsp"}


# --- the units ------------------------------------------------------------------------------------
def engine_unit(args) -> mpmac.Unit:
    params = {k: v for k, v in (("width", args.width), ("modes", args.modes), ("acc", args.acc),
                                ("latency", args.latency)) if v is not None}
    engine = mpmac.unit("simd", **params)
    if engine.reduce != "dot":
        raise ValueError("the comparison needs reduce='dot' (MACs)")
    return engine


def dedicated_units(engine) -> dict[str, mpmac.Unit]:
    """Per mode key: the single-mode engine of that mode, everything else as the engine."""
    shared = {k: engine.params[k] for k in ("width", "acc", "out", "rounding", "latency")}
    return {key: mpmac.unit("simd", modes=lanes.name, **shared)
            for key, lanes in zip(mode_keys(engine), engine.lanes)}


def scalar_units(engine) -> dict[str, mpmac.Unit]:
    """Per mode key: the scalar mac of the lane format with the engine's accumulator."""
    shared = {k: engine.params[k] for k in ("acc", "out", "rounding", "latency")}
    return {key: mpmac.unit("mac", a=lanes.fmt.name, **shared)
            for key, lanes in zip(mode_keys(engine), engine.lanes)}


def sweep_text(engine, flows: list[str]) -> str:
    """The sweep file of the comparison: the engine, its dedicated units, the scalar macs."""
    def toml(v):
        return json.dumps(v) if isinstance(v, str) else str(v).lower() if isinstance(v, bool) \
            else str(v)

    def grid(kind, params):
        lines = ["[[grid]]", f"kind = {toml(kind)}"]
        for k, v in params.items():
            lines.append(f"{k} = [{', '.join(toml(x) for x in v)}]" if isinstance(v, list)
                         else f"{k} = {toml(v)}")
        return "\n".join(lines)

    ded = dedicated_units(engine)
    simd_params = {k: engine.params[k] for k in ("width", "acc", "out", "rounding", "latency")}
    mac_params = {k: engine.params[k] for k in ("acc", "out", "rounding", "latency")}
    return "\n\n".join([
        "# bench/simd_cost.py: the simd engine, one dedicated single-mode engine per mode and the\n"
        "# scalar macs of the lane formats (generated from the engine's parameters)",
        "[sweep]\ntitle = \"mpmac simd engine against the dedicated single-mode units it replaces\"\n"
        f"notes = {toml(PAPER_NOTE)}\n"
        f"flows = [{', '.join(toml(f) for f in flows)}]\ndistribution = \"gaussian\"\n"
        "floors = false\njobs = 1",
        grid("simd", {"modes": [engine.modes] + [u.modes for u in ded.values()], **simd_params}),
        grid("mac", {"a": [u.params["a"] for u in scalar_units(engine).values()], **mac_params}),
    ]) + "\n"


def evaluate_energy_only(unit, flows=None, *, floors=True, extra=None, jobs=None):
    """:func:`mpmac.cost.evaluate` with the energy provider only (no quality layer)."""
    from mpmac.cost import evaluate
    return evaluate(unit, flows, floors=floors, extra=extra, jobs=jobs, providers=["energy"])


# --- the comparison -------------------------------------------------------------------------------
def _metrics(rows: list[dict]) -> dict[str, dict]:
    """Unit module name -> its metrics (empty for a failed point)."""
    return {r["name"]: ((r.get("result") or {}).get("metrics") or {}) for r in rows}


def _combine(members: list[dict], counts: list[int] | None = None) -> dict:
    """Metrics of a set of units side by side: areas add up (``counts`` copies of each), fmax is
    the slowest member's, the delay the longest."""
    counts = counts or [1] * len(members)
    out = {}
    for _, key in AREA_COLUMNS:
        values = [m.get(key) for m in members]
        if any(v is None for v in values):
            out[key] = None
        elif key in ADDITIVE:
            out[key] = sum(v * c for v, c in zip(values, counts))
        elif key.endswith("fmax_mhz"):
            out[key] = min(values)
        else:
            out[key] = max(values)
    return out


def _ratio(a, b):
    return a / b if a is not None and b else None


def compare(engine, rows: list[dict], commit: str | None = None) -> dict:
    """The comparison document (summary.json) from the sweep's rows."""
    metrics = _metrics(rows)
    keys = mode_keys(engine)
    ded, sca = dedicated_units(engine), scalar_units(engine)
    eng = metrics.get(engine.name, {})
    ded_m = {k: metrics.get(u.name, {}) for k, u in ded.items()}
    sca_m = {k: metrics.get(u.name, {}) for k, u in sca.items()}
    ge = {k: m.get("osu018.ge") for k, m in ded_m.items()}
    largest = max((k for k in keys if ge[k] is not None), key=lambda k: ge[k], default=None)
    lanes = {k: mode.count for k, mode in zip(keys, engine.lanes)}
    widest = max(keys, key=lambda k: engine.lanes[keys.index(k)].fmt.nbits)

    area = {"engine": {"name": engine.name, **{c: eng.get(c) for _, c in AREA_COLUMNS}}}
    for k in keys:
        area[f"dedicated {k}"] = {"name": ded[k].name, **{c: ded_m[k].get(c) for _, c in AREA_COLUMNS}}
    area["sum of dedicated"] = _combine(list(ded_m.values()))
    if largest is not None:
        area[f"largest dedicated ({largest})"] = dict(area[f"dedicated {largest}"])
    for k in keys:
        area[f"scalar mac {sca[k].params['a']} x{lanes[k]}"] = {
            "name": sca[k].name, **_combine([sca_m[k]], [lanes[k]])}
    area["sum of scalar macs"] = _combine(list(sca_m.values()), [lanes[k] for k in keys])

    per_mode = {k: _mode_energy(k, eng, ded_m[k], sca_m[k], widest) for k in keys}
    vs_sum = _ratio(eng.get("osu018.ge"), area["sum of dedicated"]["osu018.ge"])
    vs_largest = _ratio(eng.get("osu018.ge"), ge.get(largest) if largest else None)
    narrow = {delay: {k: per_mode[k][f"engine_vs_widest{delay}"] for k in keys if k != widest}
              for delay in DELAYS}
    done = {
        "engine_ge_over_sum_dedicated_ge": vs_sum, "target_vs_sum": TARGET_VS_SUM,
        "engine_ge_over_largest_dedicated_ge": vs_largest, "target_vs_largest": TARGET_VS_LARGEST,
        "largest_dedicated": largest, "widest_mode": widest,
        "narrow_mode_pj_per_mac_over_widest": narrow,
        "met": {"vs_sum": vs_sum is not None and vs_sum <= TARGET_VS_SUM,
                "vs_largest": vs_largest is not None and vs_largest <= TARGET_VS_LARGEST,
                **{f"narrow_modes_cheaper{delay}": bool(r) and all(v is not None and v < 1
                                                                  for v in r.values())
                   for delay, r in narrow.items()}},
    }
    paper = {**PAPER, "measured_area_change_vs_dedicated_set": None if vs_sum is None else vs_sum - 1,
             "measured_energy_per_mac_change_vs_dedicated": {
                 delay: {k: None if per_mode[k][f"engine_vs_dedicated{delay}"] is None
                         else per_mode[k][f"engine_vs_dedicated{delay}"] - 1 for k in keys}
                 for delay in DELAYS}}
    return {"engine": engine.name, "params": engine.params, "commit": commit or _commit(),
            "area_timing": area, "per_mode": per_mode, "done_when": done, "paper": paper}


#: energy delay models: "" unit delay with glitches, "_zd" zero delay (metric suffixes)
DELAYS = ("", "_zd")


def _mode_energy(key: str, eng: dict, ded: dict, sca: dict, widest: str) -> dict:
    """One mode's MACs per cycle and energy per MAC (both delay models) in the engine, in its
    dedicated unit and in the scalar mac, and the engine's ratios to the other two."""
    out = {"macs_per_cycle_engine": eng.get(f"analytic.macs_per_cycle.{key}"),
           "macs_per_cycle_dedicated": ded.get(f"analytic.macs_per_cycle.{key}")}
    for delay in DELAYS:
        e = eng.get(f"energy.pj_per_mac{delay}.{key}")
        d = ded.get(f"energy.pj_per_mac{delay}.{key}")
        out.update({f"pj_per_mac_engine{delay}": e, f"pj_per_mac_dedicated{delay}": d,
                    f"pj_per_mac_scalar_mac{delay}": sca.get(f"energy.pj_h45{delay}"),
                    f"engine_vs_dedicated{delay}": _ratio(e, d),
                    f"engine_vs_widest{delay}": _ratio(
                        e, eng.get(f"energy.pj_per_mac{delay}.{widest}"))})
    return out


#: the source folders whose changes change the measured numbers
MEASURED_SOURCES = ("rtl", "golden", "mpmac", "cost")


def _commit() -> str:
    """The HEAD commit, marked when the measured sources differ from it."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, cwd=Path(__file__).parent, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                                *MEASURED_SOURCES], capture_output=True, text=True,
                               cwd=Path(__file__).parents[1], timeout=10).stdout.strip()
        return out.stdout.strip() + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


# --- printing -------------------------------------------------------------------------------------
def _num(v, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    if isinstance(v, float) and abs(v) < 100:
        return f"{v:.{digits}g}"
    return f"{v:,.0f}"


def _table(header: list[str], lines: list[list[str]], markdown: bool) -> str:
    if markdown:
        return "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
                         + ["| " + " | ".join(c) + " |" for c in lines])
    widths = [max(len(c[i]) for c in [header] + lines) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(cells, widths))
                     for cells in [header] + lines)


def area_table(doc: dict, markdown: bool) -> str:
    lines = [[row] + [_num(m.get(key)) for _, key in AREA_COLUMNS]
             for row, m in doc["area_timing"].items()]
    return _table(["unit"] + [c for c, _ in AREA_COLUMNS], lines, markdown)


def mode_table(doc: dict, markdown: bool) -> str:
    """Per mode: MACs per cycle, then each energy column as "unit delay / zero delay"."""
    widest = doc["done_when"]["widest_mode"]
    header = ["mode", "MACs/cycle", "engine pJ/MAC", "dedicated pJ/MAC", "scalar mac pJ/MAC",
              "engine / dedicated", f"engine / {widest} mode"]
    cols = ["pj_per_mac_engine", "pj_per_mac_dedicated", "pj_per_mac_scalar_mac",
            "engine_vs_dedicated", "engine_vs_widest"]
    lines = [[k, _num(m["macs_per_cycle_engine"])]
             + [" / ".join(_num(m[c + delay]) for delay in DELAYS) for c in cols]
             for k, m in doc["per_mode"].items()]
    return _table(header, lines, markdown)


def verdict(doc: dict) -> str:
    d, p = doc["done_when"], doc["paper"]
    ok = {True: "met", False: "NOT met"}
    change = p["measured_area_change_vs_dedicated_set"]
    lines = [
        f"engine GE / sum of dedicated GE = {_num(d['engine_ge_over_sum_dedicated_ge'])} "
        f"(target <= {d['target_vs_sum']}: {ok[d['met']['vs_sum']]})",
        f"engine GE / largest dedicated GE ({d['largest_dedicated']}) = "
        f"{_num(d['engine_ge_over_largest_dedicated_ge'])} (target <= {d['target_vs_largest']}: "
        f"{ok[d['met']['vs_largest']]})"]
    for delay, name in zip(DELAYS, ("unit delay", "zero delay")):
        narrow = ", ".join(f"{k} {_num(v)}"
                           for k, v in d["narrow_mode_pj_per_mac_over_widest"][delay].items())
        energy = ", ".join(f"{k} {v:+.0%}" if v is not None else f"{k} -" for k, v in
                           p["measured_energy_per_mac_change_vs_dedicated"][delay].items())
        lines += [f"{name}: engine pJ/MAC of each narrow mode / the {d['widest_mode']} mode's: "
                  f"{narrow} (all < 1: {ok[d['met']['narrow_modes_cheaper' + delay]]})",
                  f"{name}: engine pJ/MAC change vs the dedicated unit: {energy}"]
    lines += [f"area change vs the dedicated set: {'-' if change is None else f'{change:+.0%}'}"
              f"; paper {p['area_change']:+.0%} area, {p['power_change']:+.0%} power",
              f"  (paper: {p['source']}; a different baseline and node, quoted for orientation)"]
    return "\n".join(lines)


def write_summary(doc: dict, out: Path) -> None:
    (out / "summary.json").write_text(json.dumps(doc, indent=1) + "\n")
    with open(out / "summary.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["table", "row"] + [k for _, k in AREA_COLUMNS])
        for row, m in doc["area_timing"].items():
            w.writerow(["area_timing", row] + [m.get(k) for _, k in AREA_COLUMNS])
        cols = list(next(iter(doc["per_mode"].values())))
        w.writerow(["table", "mode"] + cols)
        for k, m in doc["per_mode"].items():
            w.writerow(["per_mode", k] + [m[c] for c in cols])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", "--output", default="out/simd", help="output directory")
    ap.add_argument("--flows", default=",".join(FLOWS), help="cost flows (comma-separated)")
    ap.add_argument("--modes", help="engine modes (default: the simd default)")
    ap.add_argument("--width", type=int, help="engine width (default 16)")
    ap.add_argument("--acc", help="engine accumulator (default fp32)")
    ap.add_argument("--latency", type=int, help="engine latency (default 0)")
    ap.add_argument("--jobs", type=int, default=None, help="points in parallel (default 1)")
    ap.add_argument("--markdown", action="store_true", help="print Markdown tables")
    args = ap.parse_args(argv)
    engine = engine_unit(args)
    flows = [f.strip() for f in args.flows.split(",") if f.strip()]
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    text = sweep_text(engine, flows)
    (out / "simd_sweep.toml").write_text(text)
    config = sweep.parse_text(text, origin=str(out / "simd_sweep.toml"))
    commit = _commit()  # before the run: the sources it measures
    result = sweep.run_sweep(config, out, jobs=args.jobs, progress=True,
                             evaluate=evaluate_energy_only)
    doc = compare(engine, result.rows, commit)
    doc["flows"] = flows
    write_summary(doc, out)
    print(f"\n{engine.name} (commit {doc['commit']})\n")
    print(area_table(doc, args.markdown))
    print()
    print(mode_table(doc, args.markdown))
    print()
    print(verdict(doc))
    errors = {r["name"]: (r["error"] or (r.get("result") or {}).get("errors"))
              for r in result.rows if r["status"] != "ok" or (r.get("result") or {}).get("errors")}
    for name, e in errors.items():
        print(f"error: {name}: {e}")
    print(f"\n{len(result.rows)} points ({result.computed} computed, {result.cached} cached, "
          f"{result.errors} errors) in {result.seconds:.0f} s; {out / 'summary.json'}, "
          f"report: {result.html_path}")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
