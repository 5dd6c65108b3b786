#!/usr/bin/env python
"""Simulation throughput (vectors/s) of the regression: Icarus vs Verilator, cocotb vs streaming.

For each unit (default: an fp8 fma ``fma(a=e4m3)`` and an fp32 fma ``fma(a=fp32)``, both RNE,
combinational) and each simulator/engine pair, the script runs :func:`mpmac.sim.verify` on random
vectors and reports:

* ``vectors/s``: checked vectors per second of simulator process time (start-up included, builds
  excluded) -- what a regression of that size sees;
* ``loop v/s`` (cocotb only): the testbench's vector loop alone, i.e. the steady state once the
  simulator and Python are up;
* ``startup``: the run's fixed cost (process time minus loop time; cocotb only);
* ``build``: compile time when the build was not cached (a fresh ``--build-dir`` forces it).

Each row is the fastest of ``--repeat`` runs (default 2).

Two more rows per simulator separate the bench's cost from the design's:

* ``null`` unit: the same ports as the fp32 fma, but ``y = a ^ b ^ c`` (a stand-in written here,
  not generated RTL): its rate is the per-vector cost of the testbench itself;
* ``cocotb public API``: the generic bench with ``MPMAC_TB_PUBLIC_API=1`` (cocotb's ``handle.value``
  reads and writes instead of direct GPI calls).

Every run must have zero mismatches (the null unit is checked against itself: its expected values
are computed here). The script exits 1 otherwise.

Run: ``.venv/bin/python bench/sim_throughput.py [--units e4m3,fp32] [--sims icarus,verilator]
[--scale 1.0] [--build-dir DIR] [--json out.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

import mpmac
from mpmac import sim
from mpmac.sim import runner

#: vectors per (simulator, engine) at --scale 1: each run takes a few seconds on this machine
VECTORS = {("icarus", "cocotb"): 5_000, ("icarus", "stream"): 50_000,
           ("verilator", "cocotb"): 100_000, ("verilator", "stream"): 1_000_000}


class NullUnit:
    """The fp32 fma's ports and golden model interface around ``y = a ^ b ^ c`` (bench stand-in)."""

    def __init__(self):
        self._u = mpmac.unit("fma", a="fp32")
        self.name = "mpmac_bench_null_fp32"

    def __getattr__(self, k):
        return getattr(self._u, k)

    def golden(self, a, b, c):
        a, b, c = (np.asarray(x, dtype=np.uint64) for x in (a, b, c))
        return {"y": (a ^ b ^ c).astype(np.uint32), "flags": np.zeros(len(a), np.uint8)}

    def verilog(self, name=None):
        return (f"module {name or self.name}(input [31:0] a, input [31:0] b, input [31:0] c,\n"
                "  output [31:0] y, output [4:0] flags);\n"
                "  assign y = a ^ b ^ c;\n  assign flags = 5'd0;\nendmodule\n")


def run_one(label, unit, simulator, engine, n, seed, public=False):
    rng = np.random.default_rng(seed)
    vectors = None
    if isinstance(unit, NullUnit):
        vectors = {p: rng.integers(0, 1 << 32, n, dtype=np.uint64) for p in "abc"}
    if public:
        os.environ["MPMAC_TB_PUBLIC_API"] = "1"
    try:
        r = sim.verify(unit, vectors, n=n, seed=seed, sim=simulator, engine=engine)
    finally:
        os.environ.pop("MPMAC_TB_PUBLIC_API", None)
    rec = {"unit": label, "module": r.unit, "sim": simulator,
           "engine": engine + (" public API" if public else ""), "vectors": r.checked,
           "mismatches": r.mismatches, "sim_seconds": r.sim_seconds,
           "vectors_per_s": r.vectors_per_second, "build_seconds": r.build_seconds if r.built else None,
           "loop_per_s": r.checked / r.loop_seconds if r.loop_seconds else None,
           "startup_seconds": r.sim_seconds - r.loop_seconds if r.loop_seconds else None}
    return rec


def fmt_rate(v):
    if v is None:
        return "-"
    return f"{v / 1e6:.2f} M" if v >= 1e6 else f"{v / 1e3:.1f} k" if v >= 1e3 else f"{v:.0f}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--units", default="e4m3,fp32", help="fma operand formats (a=b=c=out)")
    ap.add_argument("--sims", default="icarus,verilator")
    ap.add_argument("--engines", default="cocotb,stream")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the vector counts")
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--repeat", type=int, default=2,
                    help="runs per row; the fastest counts (the first may also build)")
    ap.add_argument("--no-null", action="store_true", help="skip the null-unit and public-API rows")
    ap.add_argument("--build-dir", help="build cache (default: $MPMAC_BUILD_DIR or ./.mpmac-build)")
    ap.add_argument("--json", help="write the records, versions and machine here")
    args = ap.parse_args(argv)
    if args.build_dir:
        os.environ["MPMAC_BUILD_DIR"] = args.build_dir
    sims = args.sims.split(",")
    engines = args.engines.split(",")
    records = []
    jobs = []
    for fmt in args.units.split(","):
        u = mpmac.unit("fma", a=fmt)
        for s in sims:
            for e in engines:
                jobs.append((f"fma {fmt}", u, s, e, False))
    if not args.no_null:
        for s in sims:
            for e in engines:
                jobs.append(("null (a^b^c)", NullUnit(), s, e, False))
            if "cocotb" in engines:
                jobs.append(("null (a^b^c)", NullUnit(), s, "cocotb", True))
                jobs.append(("fma fp32", mpmac.unit("fma", a="fp32"), s, "cocotb", True))
    print(f"{'unit':<14} {'sim':<10} {'engine':<18} {'vectors':>9} {'vectors/s':>10} "
          f"{'loop v/s':>9} {'startup':>8} {'build':>8}")
    for label, u, s, e, public in jobs:
        n = max(1, int(VECTORS[(s, e)] * args.scale))
        runs = [run_one(label, u, s, e, n, args.seed, public) for _ in range(max(1, args.repeat))]
        rec = max(runs, key=lambda r: r["vectors_per_s"])
        rec["build_seconds"] = runs[0]["build_seconds"]
        rec["mismatches"] = max(r["mismatches"] for r in runs)
        records.append(rec)
        build = f"{rec['build_seconds']:.1f} s" if rec["build_seconds"] is not None else "cached"
        start = f"{rec['startup_seconds']:.2f} s" if rec["startup_seconds"] is not None else "-"
        print(f"{label:<14} {s:<10} {rec['engine']:<18} {rec['vectors']:>9,} "
              f"{fmt_rate(rec['vectors_per_s']):>10} {fmt_rate(rec['loop_per_s']):>9} {start:>8} "
              f"{build:>8}" + (f"  MISMATCHES {rec['mismatches']}" if rec["mismatches"] else ""),
              flush=True)
    bad = [r for r in records if r["mismatches"]]
    if args.json:
        import cocotb
        info = {"records": records, "machine": platform.platform(), "cpus": os.cpu_count(),
                "python": sys.version.split()[0], "cocotb": cocotb.__version__,
                "icarus": runner.tool_version("icarus") if "icarus" in sims else None,
                "verilator": runner.tool_version("verilator") if "verilator" in sims else None,
                "date": time.strftime("%Y-%m-%d")}
        with open(args.json, "w") as f:
            json.dump(info, f, indent=1)
    if bad:
        print(f"{len(bad)} run(s) with mismatches", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
