#!/usr/bin/env python
"""Time one design point through every available cost flow, warm (the issue's <= 30 s budget).

"Warm" means the tools have run before on this machine (yowasp compiles its WebAssembly once, about
a minute, cached in ~/.cache/YoWASP) but no result comes from the cost cache: every run here calls
:func:`mpmac.cost.evaluate` with ``cache=False``. The first run warms the tools and the OS file
cache; the last run is the measurement. Reported per flow: the seconds attributed to it (its own
Yosys commands, an equal share of a Yosys process it shares, its place-and-route / STA jobs), then
the wall time of the whole point, the CPU time of the tool processes, and the load average (the
machine may be shared: wall time = CPU time / the cores we got).

By default the point is the unit alone (``--floors`` adds the two floor designs, which a sweep
computes once per significand width and then reads from the cache; ``--providers`` adds energy and
quality). ``--standalone`` also runs every flow alone, one after the other, and reports its wall and
tool CPU seconds: on a shared machine the CPU seconds are the figure that does not depend on the
other users' load (an idle machine's wall time for the point is about their sum / the cores).

Run: ``.venv/bin/python bench/cost_point.py [--kind fma --a e4m3 ...] [--runs 2] [--jobs N]
[--floors] [--providers energy,quality] [--standalone] [--json out/cost_point.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import mpmac
from mpmac.cost import FLOWS, available_flows, evaluate, tools


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kind", default="fma")
    ap.add_argument("--a", default="e4m3")
    ap.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                    help="further unit parameters (e.g. --param out=fp32 --param latency=1)")
    ap.add_argument("--flows", help="comma-separated flows (default: every available one)")
    ap.add_argument("--runs", type=int, default=2, help="runs; the last one is reported")
    ap.add_argument("--jobs", type=int, default=None, help="tool processes at a time (default: CPUs)")
    ap.add_argument("--floors", action="store_true", help="also the floor designs")
    ap.add_argument("--providers", default="", help="metric providers besides analytic")
    ap.add_argument("--standalone", action="store_true",
                    help="also run each flow alone and report its wall and CPU seconds")
    ap.add_argument("--json", help="write the measurement here")
    args = ap.parse_args(argv)

    params = {"a": args.a}
    for p in args.param:
        k, _, v = p.partition("=")
        params[k] = int(v) if v.isdigit() else {"true": True, "false": False}.get(v, v)
    unit = mpmac.unit(args.kind, **params)
    flows = args.flows.split(",") if args.flows else available_flows()
    providers = [p for p in args.providers.split(",") if p]
    print(f"{unit.name}: {len(flows)} flows ({', '.join(flows)}), jobs {args.jobs or os.cpu_count()}"
          f", floors {'on' if args.floors else 'off'}, providers {providers or '-'}",
          file=sys.stderr)
    runs = []
    for i in range(args.runs):
        load0 = os.getloadavg()
        cpu0, t0 = children_cpu(), time.monotonic()
        r = evaluate(unit, flows, cache=False, floors=args.floors, providers=providers,
                     jobs=args.jobs)
        wall, cpu = time.monotonic() - t0, children_cpu() - cpu0
        runs.append({"wall_s": round(wall, 2), "tool_cpu_s": round(cpu, 2),
                     "load_before": [round(x, 2) for x in load0],
                     "load_after": [round(x, 2) for x in os.getloadavg()],
                     "seconds": r["seconds"], "errors": r["errors"]})
        print(f"run {i + 1}: {wall:.1f} s wall, {cpu:.1f} s tool CPU, load "
              f"{load0[0]:.1f} -> {os.getloadavg()[0]:.1f}", file=sys.stderr)
    last = runs[-1]
    print(f"\n{unit.name}, warm run {len(runs)} of {len(runs)} (no cost cache):")
    for name, s in last["seconds"].items():
        if name != "total":
            print(f"  {name:<14} {s:6.1f} s")
    print(f"  {'total (wall)':<14} {last['wall_s']:6.1f} s   (tool CPU {last['tool_cpu_s']:.1f} s "
          f"on {os.cpu_count()} cores; load average {last['load_before'][0]:.1f} before, "
          f"{last['load_after'][0]:.1f} after)")
    print("  flow seconds overlap: the flows run in parallel, so they add up to more than the wall")
    if last["errors"]:
        print(f"errors: {last['errors']}")
    standalone = {}
    if args.standalone:
        import tempfile
        verilog = unit.verilog()
        print("\neach flow alone (jobs 1), wall / tool CPU seconds:")
        with tempfile.TemporaryDirectory() as tmp:
            for name in flows:
                cpu0, t0 = children_cpu(), time.monotonic()
                FLOWS[name].run(verilog, unit.name, Path(tmp) / name)
                wall, cpu = time.monotonic() - t0, children_cpu() - cpu0
                standalone[name] = {"wall_s": round(wall, 2), "tool_cpu_s": round(cpu, 2)}
                print(f"  {name:<14} {wall:6.1f} s wall {cpu:6.1f} s CPU  (load "
                      f"{os.getloadavg()[0]:.1f})")
        total = sum(v["tool_cpu_s"] for v in standalone.values())
        print(f"  {'sum':<14} {sum(v['wall_s'] for v in standalone.values()):6.1f} s wall "
              f"{total:6.1f} s CPU -> about {total / os.cpu_count():.0f} s on {os.cpu_count()} "
              f"idle cores")
    if args.json:
        out = {"unit": unit.name, "params": unit.params, "flows": flows, "jobs": args.jobs,
               "cpus": os.cpu_count(), "floors": args.floors, "providers": providers,
               "versions": tools.versions(), "runs": runs, "standalone": standalone}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)
    return 1 if last["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
