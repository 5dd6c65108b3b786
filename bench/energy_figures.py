#!/usr/bin/env python
"""The measured figures of docs/cost-energy.md: calibration, Horowitz comparison, units, cross-check.

Every number comes from mpmac.cost.energy / mpmac.cost.quality with fixed seeds, so a rerun on the
same tool versions prints the same tables (times aside).

Run: ``.venv/bin/python bench/energy_figures.py [--quick]`` (Markdown on stdout).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import mpmac
from mpmac.cost import energy, quality
from mpmac.cost.tools import versions

#: Horowitz ISSCC 2014, 45 nm / 0.9 V (pJ per operation)
HOROWITZ = {"int add 8": 0.03, "int add 32": 0.1, "int mul 8": 0.2, "int mul 32": 3.1,
            "fp add 16": 0.4, "fp add 32": 0.9, "fp mul 16": 1.1, "fp mul 32": 3.7}


def int_add(n):
    top = f"intuadd{n}"
    return (f"module {top}(input [{n - 1}:0] a, input [{n - 1}:0] b, output [{n}:0] y);\n"
            f"  assign y = a + b;\nendmodule\n"), top


def measure_int(verilog, top, n, n_ops, seed=0):
    ops = energy.int_operands(n, "uniform", n_ops + 1, seed, signed=False)
    cycles = [{p: v[:-1] for p, v in ops.items()}, {p: v[1:] for p, v in ops.items()}]
    netlist = energy.synthesize(verilog, top)
    counts = energy.Simulator(netlist).run(cycles, lanes=n_ops)
    r = energy.summarize(netlist, counts)
    # the alternative weight without the driving cell's own output (cell input pins only)
    driven = np.zeros(netlist.n_nets, dtype=np.int64)
    driven[netlist.cell_outputs] = 1
    r["weighted_ud_pins_only"] = float((counts.ud * (netlist.load - driven)).sum()) / counts.ops
    return r


def fmt_row(cells):
    return "| " + " | ".join(cells) + " |"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer operations, no 24/32-bit designs")
    args = ap.parse_args()
    n_ops = 1024 if args.quick else 4096
    t0 = time.time()
    v = versions()
    print(f"Tools: {v.get('yosys')}, amaranth {v.get('amaranth')}, numpy {np.__version__}; "
          f"n_ops={n_ops}, seed 0\n")

    # 1. calibration and integer references
    print("## Integer references (uniform operands) against Horowitz 45 nm\n")
    print(fmt_row(["design", "gates", "depth", "toggles zd", "toggles ud", "glitch", "weighted ud",
                   "weighted ud (pins only)", "pJ (k=0.276 fJ)", "Horowitz pJ", "ratio"]))
    print(fmt_row(["---"] * 11))
    designs = [("int mul 4", energy.int_mul_verilog(4), 4), ("int mul 8", energy.int_mul_verilog(8), 8),
               ("int mul 16", energy.int_mul_verilog(16), 16)]
    if not args.quick:
        designs += [("int mul 24", energy.int_mul_verilog(24), 24), ("int mul 32", energy.int_mul_verilog(32), 32)]
    designs += [("int add 8", int_add(8), 8), ("int add 16", int_add(16), 16), ("int add 32", int_add(32), 32)]
    for name, (verilog, top), n in designs:
        r = measure_int(verilog, top, n, n_ops)
        h = HOROWITZ.get(name)
        print(fmt_row([name, str(r["energy.gates"]), str(r["energy.depth"]),
                       f"{r['energy.toggles_zd']:.1f}", f"{r['energy.toggles_ud']:.1f}",
                       f"{r['energy.glitch_factor']:.2f}", f"{r['energy.weighted_ud']:.1f}",
                       f"{r['weighted_ud_pins_only']:.1f}", f"{r['energy.pj_h45']:.4f}",
                       f"{h}" if h else "", f"{r['energy.pj_h45'] / h:.2f}" if h else ""]))
    c = energy.calibration(n_ops=n_ops)
    print(f"\nCalibration (8x8 unsigned multiplier, uniform): weighted_ud = {c['weighted_ud']:.1f}, "
          f"pj_h45 = {c['pj_h45']:.4f} pJ, factor vs 0.2 pJ = {c['factor']:.3f}, "
          f"k that would give exactly 0.2 pJ = {c['k_fj_self']:.4f} fJ\n")

    # 2. FP units against Horowitz, and the unit table
    print("## Units (energy: gaussian sigma=1 and uniform patterns; quality: gaussian)\n")
    print(fmt_row(["unit", "gates", "dffs", "depth", "dist", "toggles zd", "toggles ud", "glitch",
                   "weighted ud", "pJ h45", "Horowitz pJ", "max ulp", "mean rel err", "dot rel err"]))
    print(fmt_row(["---"] * 14))
    units = [("mul", dict(a="e2m1"), None), ("mul", dict(a="e4m3"), None), ("mul", dict(a="e5m2"), None),
             ("mul", dict(a="posit8_0"), None), ("mul", dict(a="bf16"), "fp mul 16"),
             ("mul", dict(a="fp16"), "fp mul 16"), ("add", dict(a="bf16"), "fp add 16"),
             ("add", dict(a="fp16"), "fp add 16"), ("mul", dict(a="e4m3", latency=1), None),
             ("fma", dict(a="e4m3", c="e4m3", out="e4m3"), None),
             ("fma", dict(a="e4m3", c="fp32", out="fp32"), None),
             ("mac", dict(a="e4m3", acc="e4m3"), None),
             ("mac", dict(a="e4m3", acc="fp32"), None), ("mac", dict(a="e4m3", acc="kulisch"), None),
             ("convert", dict(a="fp32", out="e4m3"), None)]
    if not args.quick:
        units += [("add", dict(a="fp32"), "fp add 32"), ("mul", dict(a="fp32"), "fp mul 32")]
    for kind, params, anchor in units:
        u = mpmac.unit(kind, **params)
        q = quality.measure(u, "gaussian", n=2048)
        for dist in ("gaussian", "uniform"):
            r = energy.measure(u, dist, n_ops=n_ops)
            h = HOROWITZ.get(anchor) if anchor else None
            qcells = ([f"{q['quality.max_ulp']:.3f}", f"{q['quality.mean_rel_err']:.2e}",
                       f"{q['quality.dot_rel_err']:.2e}"] if dist == "gaussian" else ["", "", ""])
            print(fmt_row([u.name if dist == "gaussian" else "", str(r["energy.gates"]),
                           str(r["energy.dffs"]), str(r["energy.depth"]), dist,
                           f"{r['energy.toggles_zd']:.1f}", f"{r['energy.toggles_ud']:.1f}",
                           f"{r['energy.glitch_factor']:.2f}", f"{r['energy.weighted_ud']:.1f}",
                           f"{r['energy.pj_h45']:.3f}", f"{h}" if h else ""] + qcells))

    # 3. cross-check against Icarus
    print("\n## Cross-check: this simulator vs Icarus on the same Yosys netlist (one stream)\n")
    print(fmt_row(["design", "ops", "cells", "sim zd", "icarus zd", "nets differing", "sim ud",
                   "icarus ud", "nets differing"]))
    print(fmt_row(["---"] * 9))
    checks = [("int mul 4", dict(verilog=energy.int_mul_verilog(4)[0], top=energy.int_mul_verilog(4)[1])),
              ("int mul 8", dict(verilog=energy.int_mul_verilog(8)[0], top=energy.int_mul_verilog(8)[1])),
              ("e2m1 mul", dict(unit=mpmac.unit("mul", a="e2m1"))),
              ("e4m3 mul", dict(unit=mpmac.unit("mul", a="e4m3"))),
              ("e4m3 mul latency 2", dict(unit=mpmac.unit("mul", a="e4m3", latency=2))),
              ("e4m3 mac fp16 acc", dict(unit=mpmac.unit("mac", a="e4m3", acc="fp16")))]
    for name, kw in checks:
        r = energy.cross_check(n_ops=1024 if not args.quick else 256, **kw)
        print(fmt_row([name, str(r["n_ops"]), str(r["cells"]), f"{r['sim_zd']:.2f}", f"{r['icarus_zd']:.2f}",
                       str(r["nets_differing_zd"]), f"{r['sim_ud']:.2f}", f"{r['icarus_ud']:.2f}",
                       str(r["nets_differing_ud"])]))
    print(f"\n(total {time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
