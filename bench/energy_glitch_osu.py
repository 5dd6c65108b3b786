#!/usr/bin/env python
"""How realistic is the unit-delay glitch count? The same designs mapped to the OSU018 cells.

mpmac.cost.energy counts glitches with every gate one time unit late (transport delay). Here each
design is instead mapped by Yosys/ABC to the 180 nm OSU018 standard cells (Debian
qflow-tech-osu018) and simulated by Icarus with the cells' own path delays (``-gspecify``; Icarus
applies them as inertial delays, so pulses shorter than a cell's delay are swallowed), and without
them (zero delay). The glitch factor (toggles with delays / toggles at zero delay) of both models is
compared; the netlists differ (OSU018 has AOI/OAI, full/half adders), so only ratios compare.

Run: ``.venv/bin/python bench/energy_glitch_osu.py [--ops N]`` (needs qflow-tech-osu018, iverilog).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

import mpmac
from mpmac.cost import energy
from mpmac.cost.tools import OSU018_LIBERTY, run_yosys

OSU_CELLS = OSU018_LIBERTY.with_name("osu018_stdcells.v")


def osu_netlist(verilog: str, top: str, tmp: Path):
    """Map to OSU018; a light energy.Netlist (ports, names) and the cell-output nets."""
    (tmp / f"{top}.v").write_text(verilog)
    run_yosys([f"read_liberty -lib {OSU018_LIBERTY}", f"read_verilog {top}.v",
               f"hierarchy -check -top {top}", f"synth -flatten -top {top}",
               f"dfflibmap -liberty {OSU018_LIBERTY}", f"abc -liberty {OSU018_LIBERTY}",
               "opt_clean -purge", "rename -enumerate -pattern _n%_",
               "write_json osu.json", "write_verilog -noattr osu.v"], tmp)
    mod = json.loads((tmp / "osu.json").read_text())["modules"][top]
    ids = {"0": 0, "1": 1, "x": 0, "z": 0}

    def net(b):
        if b not in ids:
            ids[b] = len(ids) - 2
        return ids[b]

    inputs = {p: [net(b) for b in d["bits"]] for p, d in mod["ports"].items() if d["direction"] == "input"}
    outputs = {p: [net(b) for b in d["bits"]] for p, d in mod["ports"].items() if d["direction"] == "output"}
    cells, clocks = set(), set()
    for cell in mod["cells"].values():
        for pin, bits in cell["connections"].items():
            if cell["port_directions"][pin] == "output":
                cells.update(net(b) for b in bits)
            elif pin == "CLK":
                clocks.update(net(b) for b in bits)
    names = {n: [net(b) for b in d["bits"]] for n, d in mod["netnames"].items()}
    clock = next((p for p, bits in inputs.items() if len(bits) == 1 and bits[0] in clocks), None)
    netlist = energy.Netlist(top=top, n_nets=len(ids) - 2, inputs=inputs, outputs=outputs, gates=[],
                             dffs=[], clock=clock, load=np.zeros(len(ids) - 2, np.int64), names=names,
                             level=np.zeros(1, np.int64))
    return netlist, np.array(sorted(cells), dtype=np.int64), (tmp / "osu.v").read_text()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ops", type=int, default=512)
    args = ap.parse_args()
    designs = [("int mul 8", *energy.int_mul_verilog(8), None),
               ("int mul 16", *energy.int_mul_verilog(16), None)]
    for kind, params in [("mul", dict(a="e4m3")), ("mul", dict(a="bf16")), ("add", dict(a="bf16")),
                         ("fma", dict(a="e4m3", c="fp32", out="fp32")),
                         ("mac", dict(a="e4m3", acc="fp32")), ("mac", dict(a="e4m3", acc="kulisch"))]:
        u = mpmac.unit(kind, **params)
        designs.append((u.name, u.verilog(), u.name, u))
    print("| design | OSU cells | OSU zd | OSU specify | OSU glitch | gates zd | gates ud | unit-delay glitch |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for label, verilog, top, u in designs:
        t0 = time.time()
        gates = energy.synthesize(verilog, top)
        sequential = u is not None and (u.latency > 0 or u.sequential)
        count_from = (u.latency + 2) if sequential else 1
        n = args.ops + count_from
        if u is not None:
            ops = energy.stimulus(u, "gaussian", n, seed=0)
        else:
            ops = energy.int_operands(len(gates.inputs["a"]), "uniform", n, 0, signed=False)
        seq = energy._stream(gates, ops, n, sequential)
        cycles = [{p: np.array([v], dtype=np.uint64) for p, v in c.items()} for c in seq]
        counts = energy.Simulator(gates).run(cycles, lanes=1, count_from=count_from)
        cells_g = gates.cell_outputs
        g_zd, g_ud = counts.zd[cells_g].sum() / counts.ops, counts.ud[cells_g].sum() / counts.ops
        with tempfile.TemporaryDirectory() as tmp:
            osu, cells, text = osu_netlist(verilog, top, Path(tmp))
            r = {}
            for mode, extra in (("zd", ()), ("sdf", ("-gspecify",))):
                ic = energy.icarus_toggles(osu, seq, count_from=count_from, text=text, half=20,
                                           iverilog_args=(*extra, str(OSU_CELLS)))
                r[mode] = ic["zd"][cells].sum() / counts.ops
                missing = int((~ic["covered"][cells]).sum())
        print(f"| {label} | {len(cells)} | {r['zd']:.1f} | {r['sdf']:.1f} | {r['sdf'] / r['zd']:.2f} | "
              f"{g_zd:.1f} | {g_ud:.1f} | {g_ud / g_zd:.2f} |"
              + (f" ({missing} OSU nets not in the VCD)" if missing else ""), flush=True)
        del t0


if __name__ == "__main__":
    main()
