"""Fault-injection report: mutants of four units through the simulation regression and the proofs.

Derives ``--count`` mutants of each unit (e4m3 mul, e2m1 fma, posit8_0 add and an e2m1 mac with
e4m3 accumulation, all with operands of at most 8 bits, so that every proof is complete), runs
each through ``mpmac.sim.verify`` (stream engine, exhaustive where the input space has at most 2^16
points) and ``mpmac.formal.prove``, proves every survivor against the original, and prints the kill
matrix per unit and over all units, with the time taken. Results are cached per mutant (an
interrupted run resumes). Exit status as ``mpmac mutate``: 0 when every survivor is proven
equivalent, 1 otherwise.

    .venv/bin/python bench/mutation_report.py                      # 4 x 52 mutants, 2 processes
    .venv/bin/python bench/mutation_report.py --count 10 --json /tmp/mutants.json --markdown /tmp/m.md
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import mpmac
from mpmac.cli import _console
from mpmac.formal import mutate as mm

#: the four units of the report (kind, parameters)
UNITS = (
    ("mul", dict(a="e4m3")),
    ("fma", dict(a="e2m1")),
    ("add", dict(a="posit8_0")),
    ("mac", dict(a="e2m1", acc="e4m3")),
)


def markdown(data: dict) -> str:
    """Markdown tables of a report's JSON (:meth:`mpmac.formal.mutate.Report.to_json`): one row
    per unit, then the matrix by operator over all units."""
    cols = mm.COLUMNS
    head = "| {} | {} |\n| --- |{}\n".format
    out = [head("unit", " | ".join(cols.values()), " ---: |" * len(cols))]
    for u in data["units"]:
        t = u["matrix"]["total"]
        out.append(f"| {u['name']} ({u['seconds']:.0f} s) | "
                   + " | ".join(str(t[c]) for c in cols) + " |\n")
    t = data["matrix"]["total"]
    out.append("| **total** | " + " | ".join(f"**{t[c]}**" for c in cols) + " |\n\n")
    out.append(head("operator", " | ".join(cols.values()), " ---: |" * len(cols)))
    for op, row in data["matrix"]["rows"].items():
        out.append(f"| {op} | " + " | ".join(str(row[c]) for c in cols) + " |\n")
    return "".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=52, help="mutants per unit (default 52)")
    p.add_argument("--seed", type=int, default=1, help="seed of the mutant sampling (default 1)")
    p.add_argument("--jobs", type=int, default=2, help="parallel processes (default 2)")
    p.add_argument("--vectors", type=int, default=10_000,
                   help="random vectors / mac cycles where not exhaustive (default 10000)")
    p.add_argument("--timeout", type=float, default=300, help="seconds per proof (default 300)")
    p.add_argument("--json", help="write the whole report (every mutant's outcome) as JSON")
    p.add_argument("--markdown", help="write the matrices as Markdown tables (docs/mutation.md)")
    args = p.parse_args(argv)
    console = _console()
    units = [mpmac.unit(kind, **params) for kind, params in UNITS]
    console.print(f"mutation report: {args.count} mutants x {len(units)} units, seed {args.seed}, "
                  f"{args.jobs} processes, {os.cpu_count()} CPUs")
    t0 = time.perf_counter()
    report = mm.campaign(units, args.count, args.seed, jobs=args.jobs, sim="icarus",
                         vectors=args.vectors, timeout=args.timeout, log=console.print,
                         progress=sys.stderr.isatty())
    for u in report.units:
        console.print(mm.matrix_table(u["matrix"], title=u["name"]))
    mm.print_report(report, console, args.json)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown(report.to_json()))
    console.print(f"wall time {time.perf_counter() - t0:.0f} s")
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
