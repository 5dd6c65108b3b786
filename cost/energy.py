"""Energy per operation from gate-level toggle activity, glitches counted.

Method (docs/cost-energy.md has the measured figures):

1. Yosys maps the unit's Verilog to its internal 2-input gates (flattened; ``abc -g
   AND,NAND,OR,NOR,XOR,XNOR,ANDNOT,ORNOT,MUX``; every register becomes a ``$_DFF_P_`` with its reset
   and enable as logic) and writes the netlist as JSON (:func:`synthesize`).
2. A bit-parallel simulator (:class:`Simulator`; numpy ``uint64`` words, one operation per bit lane)
   drives that netlist with operand streams drawn from a workload-like distribution
   (:func:`stimulus`) and counts, per net, every 0/1 transition

   * at zero delay: a net toggles at most once per operation (settled value changed), and
   * at unit delay: every gate output changes one gate delay after its inputs, all gates alike; each
     transition counts, so glitches count.

   Combinational units run every operation in its own lane, the previous operation's settled state
   as the starting point. Pipelined units and macs run independent streams, one per lane, and are
   clocked: at each rising edge the registers take their D values, then the next inputs arrive.
   A simd engine runs once per mode with ``mode`` held, its lanes drawn from that mode's format,
   and reports each mode's energy per cycle and per multiply-accumulate (per cycle / lanes).
3. Each net's transitions are weighted by its load: the cell input pins it drives, plus one per
   output-port bit (the next stage's input), plus one for the driving cell's own output when a cell
   of the unit drives it (primary inputs are driven from outside). Energy = weighted unit-delay toggles x
   :data:`K_H45_FJ` (0.276 fJ per weighted toggle: Horowitz's 45 nm, 0.9 V table, calibrated so that
   an 8x8 integer multiplier costs 0.2 pJ; cost-notes.md section 3.5). :func:`calibration`
   re-measures that 8x8 multiplier with this simulator.

Independent cross-check (:func:`icarus_toggles`): Icarus Verilog simulates the same Yosys netlist,
written by Yosys as Verilog, with the same stimulus; toggles are counted from its VCD.

The clock tree and the registers' internal energy are not in the toggle counts (only their Q
transitions are); ``energy.dffs`` reports how many registers a unit has.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .tools import ToolError, run_yosys, versions

__all__ = ["K_H45_FJ", "H45_MUL8_PJ", "DISTRIBUTIONS", "Netlist", "Simulator", "synthesize",
           "parse_netlist", "stimulus", "measure", "measure_verilog", "int_mul_verilog",
           "calibration", "icarus_toggles", "cross_check", "measure_int_mul", "quantize",
           "uniform_patterns", "simd_stimulus", "EnergyError"]

#: fJ per fanout-weighted unit-delay toggle (Horowitz 45 nm / 0.9 V, 8x8 multiplier = 0.2 pJ)
K_H45_FJ = 0.276
#: Horowitz ISSCC 2014, 45 nm: 8-bit integer multiply
H45_MUL8_PJ = 0.2

DISTRIBUTIONS = ("gaussian", "laplace", "uniform", "array")

#: register cell the flow legalizes every flip-flop to
_DFF = "$_DFF_P_"

YOSYS_GATE_SCRIPT = [
    "synth -flatten -top {top}",
    "dfflegalize -cell $_DFF_P_ 01",
    "abc -g AND,NAND,OR,NOR,XOR,XNOR,ANDNOT,ORNOT,MUX",
    "opt_clean -purge",
    # public names for every net, so the JSON and the Verilog (and a VCD of it) name nets alike
    "rename -enumerate -pattern _n%_",
    "tee -q -o stat.txt stat",
    "write_json net.json",
    "write_verilog -noattr net.v",
    "write_verilog -noattr -noexpr net_cells.v",
]


class EnergyError(RuntimeError):
    """The netlist holds something the toggle simulator cannot model (the message says what)."""


# -- gate functions over uint64 lane words ---------------------------------------------------------
def _mux(a, b, s):
    return (a & ~s) | (b & s)


#: cell type -> (input pins, function)
GATES = {
    "$_BUF_": (("A",), lambda a: a.copy()),
    "$_NOT_": (("A",), lambda a: ~a),
    "$_AND_": (("A", "B"), lambda a, b: a & b),
    "$_NAND_": (("A", "B"), lambda a, b: ~(a & b)),
    "$_OR_": (("A", "B"), lambda a, b: a | b),
    "$_NOR_": (("A", "B"), lambda a, b: ~(a | b)),
    "$_XOR_": (("A", "B"), lambda a, b: a ^ b),
    "$_XNOR_": (("A", "B"), lambda a, b: ~(a ^ b)),
    "$_ANDNOT_": (("A", "B"), lambda a, b: a & ~b),
    "$_ORNOT_": (("A", "B"), lambda a, b: a | ~b),
    "$_MUX_": (("A", "B", "S"), _mux),
    "$_NMUX_": (("A", "B", "S"), lambda a, b, s: ~_mux(a, b, s)),
    "$_AOI3_": (("A", "B", "C"), lambda a, b, c: ~((a & b) | c)),
    "$_OAI3_": (("A", "B", "C"), lambda a, b, c: ~((a | b) & c)),
    "$_AOI4_": (("A", "B", "C", "D"), lambda a, b, c, d: ~((a & b) | (c & d))),
    "$_OAI4_": (("A", "B", "C", "D"), lambda a, b, c, d: ~((a | b) & (c | d))),
}


# -- netlist -----------------------------------------------------------------------------------------
@dataclass
class Netlist:
    """A flat gate-level netlist over numbered nets (0 = constant 0, 1 = constant 1).

    Attributes
    ----------
    inputs, outputs : dict
        Port name -> net numbers, LSB first (the clock port is in ``inputs`` too).
    gates : list of (cell type, input nets, output net)
    dffs : list of (D net, Q net, init value)
    clock : str or None
        The input port that clocks every register.
    load : ndarray
        Per net: cell input pins driven, plus output-port bits, plus one for the driving cell's
        own output when a cell drives it (the switched-capacitance weight of a transition).
    names : dict
        Net name -> net numbers (Yosys netnames: the same names as in the written Verilog).
    level : ndarray
        Per net: logic depth in gates from the inputs and register outputs.
    """

    top: str
    n_nets: int
    inputs: dict
    outputs: dict
    gates: list
    dffs: list
    clock: str | None
    load: np.ndarray
    names: dict
    level: np.ndarray
    cell_counts: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)

    @property
    def depth(self) -> int:
        return int(self.level.max()) if self.level.size else 0

    @property
    def cell_outputs(self) -> np.ndarray:
        """Nets driven by a cell (gate outputs and register outputs)."""
        return np.array(sorted({y for _, _, y in self.gates} | {q for _, q, _ in self.dffs}),
                        dtype=np.int64)


def parse_netlist(data: dict, top: str | None = None) -> Netlist:
    """Build a :class:`Netlist` from Yosys ``write_json`` output of a gate-level design."""
    modules = data["modules"]
    if top is None:
        tops = [n for n, m in modules.items() if int(m.get("attributes", {}).get("top", 0) or 0)]
        top = tops[0] if len(tops) == 1 else next(iter(modules))
    mod = modules[top]
    ids: dict = {"0": 0, "1": 1, "x": 0, "z": 0}

    def net(bit):
        key = bit if isinstance(bit, str) else int(bit)
        if key not in ids:
            ids[key] = len(ids) - 2  # "x" and "z" share net 0
        return ids[key]

    inputs, outputs = {}, {}
    for name, port in mod["ports"].items():
        bits = [net(b) for b in port["bits"]]
        if port["direction"] == "input":
            inputs[name] = bits
        elif port["direction"] == "output":
            outputs[name] = bits
        else:
            raise EnergyError(f"port {name} is {port['direction']}; only input/output are modelled")
    gates, dffs, clocks, counts = [], [], set(), {}
    for cname, cell in mod["cells"].items():
        kind, conn = cell["type"], cell["connections"]
        counts[kind] = counts.get(kind, 0) + 1
        if kind == _DFF:
            clocks.add(net(conn["C"][0]))
            dffs.append([net(conn["D"][0]), net(conn["Q"][0]), 0])
        elif kind in GATES:
            pins, _ = GATES[kind]
            gates.append((kind, tuple(net(conn[p][0]) for p in pins), net(conn["Y"][0])))
        else:
            raise EnergyError(f"cell {cname} of type {kind} is not modelled (expected internal "
                              f"gates and {_DFF}; was the netlist mapped with abc -g?)")
    names = {name: [net(b) for b in nn["bits"]] for name, nn in mod["netnames"].items()}
    # register init values (Yosys keeps them on the Q wire's netname)
    q_index = {q: i for i, (_, q, _) in enumerate(dffs)}
    for nn in mod["netnames"].values():
        init = nn.get("attributes", {}).get("init")
        if init is None:
            continue
        init = str(init)
        for pos, bit in enumerate(nn["bits"]):
            i = q_index.get(net(bit)) if not isinstance(bit, str) else None
            if i is not None and len(init) > pos:
                dffs[i][2] = int(init[len(init) - 1 - pos] == "1")
    n_nets = len(ids) - 2
    clock = None
    if clocks:
        if len(clocks) > 1:
            raise EnergyError(f"{len(clocks)} clock nets; one clock domain is modelled")
        (clk,) = clocks
        clock = next((p for p, bits in inputs.items() if bits == [clk]), None)
        if clock is None:
            raise EnergyError("the registers' clock is not an input port")
    drivers = {}
    for _, ins, y in gates:
        drivers.setdefault(y, 0)
        drivers[y] += 1
    for _, q, _ in dffs:
        drivers[q] = drivers.get(q, 0) + 1
    multi = [n for n, c in drivers.items() if c > 1]
    if multi:
        raise EnergyError(f"{len(multi)} nets have more than one driver")
    load = np.zeros(n_nets, dtype=np.int64)
    for _, ins, _ in gates:
        for i in ins:
            load[i] += 1
    for d, _, _ in dffs:
        load[d] += 1
    for bits in outputs.values():
        for b in bits:
            load[b] += 1
    for y in drivers:  # the driving cell's own output capacitance, one pin's worth
        load[y] += 1
    load[:2] = 0
    level = _levelize(n_nets, gates)
    return Netlist(top=top, n_nets=n_nets, inputs=inputs, outputs=outputs,
                   gates=[tuple(g) for g in gates], dffs=[tuple(d) for d in dffs], clock=clock,
                   load=load, names=names, level=level, cell_counts=counts)


def _levelize(n_nets: int, gates: list) -> np.ndarray:
    """Gate depth of every net (inputs, constants and register outputs are level 0)."""
    level = np.zeros(n_nets, dtype=np.int64)
    driver = {y: i for i, (_, _, y) in enumerate(gates)}
    state = np.zeros(len(gates), dtype=np.int8)  # 0 new, 1 on stack, 2 done
    for start in range(len(gates)):
        if state[start]:
            continue
        stack = [(start, 0)]
        state[start] = 1
        while stack:
            g, k = stack[-1]
            ins = gates[g][1]
            if k < len(ins):
                stack[-1] = (g, k + 1)
                d = driver.get(ins[k])
                if d is not None:
                    if state[d] == 1:
                        raise EnergyError("combinational loop in the netlist")
                    if state[d] == 0:
                        state[d] = 1
                        stack.append((d, 0))
                continue
            level[gates[g][2]] = 1 + max(level[i] for i in ins)
            state[g] = 2
            stack.pop()
    return level


_NETLISTS: OrderedDict = OrderedDict()
_NETLIST_CACHE_SIZE = 16


def default_cache_dir() -> Path:
    """Where synthesized netlists are kept: ``<build root>/energy-netlists`` (the build root is
    ``$MPMAC_BUILD_DIR`` or ``./.mpmac-build``, as for the other flows)."""
    from mpmac.sim.runner import build_root
    return build_root() / "energy-netlists"


_CACHED_FILES = ("net.json", "net.v", "net_cells.v")


def synthesize(verilog: str, top: str, workdir: Path | str | None = None,
               cache_dir: Path | str | None | bool = None) -> Netlist:
    """Map Verilog to Yosys internal gates and parse the netlist.

    Netlists are cached by a hash of the Verilog, the script and the Yosys version: in memory, and
    on disk under ``cache_dir`` (default :func:`default_cache_dir`; ``False`` turns the disk cache
    off), because ABC takes most of a measurement (about 45 s for an fp32 fma). ``workdir`` keeps the
    Yosys files of a fresh run (script, log, net.json, net.v, net_cells.v); by default they go to a
    temporary directory.
    """
    script = [f"read_verilog {top}.v", f"hierarchy -check -top {top}"] + \
        [line.format(top=top) for line in YOSYS_GATE_SCRIPT]
    key = hashlib.sha256(("\n".join(script) + "\0" + versions().get("yosys", "") + "\0"
                          + verilog).encode()).hexdigest()
    if workdir is None and key in _NETLISTS:
        _NETLISTS.move_to_end(key)
        return _NETLISTS[key]
    disk = None
    if cache_dir is not False and workdir is None:
        disk = Path(cache_dir) if cache_dir not in (None, True) else default_cache_dir()
        disk = disk / key[:24]

    def load(path: Path) -> Netlist:
        netlist = parse_netlist(json.loads((path / "net.json").read_text()), top)
        netlist.files = {"net.v": (path / "net.v").read_text(),
                         "net_cells.v": (path / "net_cells.v").read_text()}
        return netlist

    def run(path: Path) -> Netlist:
        (path / f"{top}.v").write_text(verilog)
        run_yosys(script, path)
        return load(path)

    netlist = None
    if disk is not None and all((disk / f).exists() for f in _CACHED_FILES):
        try:
            netlist = load(disk)
        except (OSError, ValueError, KeyError):
            netlist = None  # a damaged entry: synthesize again
    if netlist is None:
        if workdir is not None:
            path = Path(workdir)
            path.mkdir(parents=True, exist_ok=True)
            netlist = run(path)
        else:
            with tempfile.TemporaryDirectory(prefix="mpmac-energy-") as tmp:
                netlist = run(Path(tmp))
                if disk is not None:
                    staging = disk.with_name(disk.name + f".tmp{os.getpid()}")
                    staging.mkdir(parents=True, exist_ok=True)
                    for f in _CACHED_FILES:
                        shutil.copyfile(Path(tmp) / f, staging / f)
                    try:
                        staging.rename(disk)  # atomic: readers see all files or none
                    except OSError:
                        shutil.rmtree(staging, ignore_errors=True)  # another process won
    _NETLISTS[key] = netlist
    while len(_NETLISTS) > _NETLIST_CACHE_SIZE:
        _NETLISTS.popitem(last=False)
    return netlist


# -- simulator ---------------------------------------------------------------------------------------
def _pack(bits: np.ndarray, words: int) -> np.ndarray:
    """(nets, lanes) bool -> (nets, words) uint64, lane i in bit i%64 of word i//64."""
    nets, lanes = bits.shape
    padded = np.zeros((nets, words * 64), dtype=bool)
    padded[:, :lanes] = bits
    packed = np.packbits(padded, axis=1, bitorder="little")
    return np.ascontiguousarray(packed).view("<u8").astype(np.uint64, copy=False)


@dataclass
class Counts:
    """Per-net transition counts of one simulation (summed over lanes and counted cycles)."""

    zd: np.ndarray
    ud: np.ndarray
    ops: int
    steps_max: int = 0

    def __iadd__(self, other):
        self.zd += other.zd
        self.ud += other.ud
        self.ops += other.ops
        self.steps_max = max(self.steps_max, other.steps_max)
        return self


class Simulator:
    """Bit-parallel zero-delay and unit-delay simulation of a :class:`Netlist`.

    Values live in an array ``(nets, words)`` of uint64; bit ``i`` of a net's row is lane ``i``.
    A unit-delay step evaluates every gate from the previous step's values at once (each gate output
    follows its inputs one delay later); steps repeat until nothing changes, so a cycle takes at most
    the logic depth in steps.
    """

    def __init__(self, netlist: Netlist):
        self.netlist = netlist
        groups: dict = {}
        for kind, ins, y in netlist.gates:
            groups.setdefault(kind, ([], []))
            groups[kind][0].append(ins)
            groups[kind][1].append(y)
        self.groups = [(GATES[k][1], np.array(ins, dtype=np.int64).T.copy(), np.array(ys, dtype=np.int64))
                       for k, (ins, ys) in groups.items()]
        self.gate_out = np.concatenate([ys for _, _, ys in self.groups]) if self.groups \
            else np.zeros(0, dtype=np.int64)
        # levelized schedule for zero-delay settling: per level, per type
        lv = netlist.level
        self.schedule = []
        for lvl in range(1, netlist.depth + 1):
            part = []
            for fn, ins, ys in self.groups:
                sel = lv[ys] == lvl
                if sel.any():
                    part.append((fn, ins[:, sel], ys[sel]))
            self.schedule.append(part)
        self.q = np.array([q for _, q, _ in netlist.dffs], dtype=np.int64)
        self.d = np.array([d for d, _, _ in netlist.dffs], dtype=np.int64)
        self.init = np.array([i for _, _, i in netlist.dffs], dtype=bool)

    # - helpers -
    def _input_rows(self, inputs: dict, lanes: int) -> tuple[np.ndarray, np.ndarray]:
        """Input port values (port -> int array per lane) -> (net numbers, bool bits)."""
        nets, rows = [], []
        for port, bits in self.netlist.inputs.items():
            if port == self.netlist.clock:
                continue
            if port not in inputs:
                raise ValueError(f"no stimulus for input port {port!r} of {self.netlist.top}")
            vals = np.asarray(inputs[port]).astype(np.uint64)
            if vals.shape != (lanes,):
                raise ValueError(f"stimulus for {port!r} has shape {vals.shape}, expected ({lanes},)")
            for i, b in enumerate(bits):
                if b > 1:
                    nets.append(b)
                    rows.append(((vals >> np.uint64(i)) & np.uint64(1)).astype(bool))
        unknown = set(inputs) - set(self.netlist.inputs)
        if unknown:
            raise ValueError(f"stimulus for unknown port(s) {sorted(unknown)}")
        return np.array(nets, dtype=np.int64), (np.array(rows) if rows else np.zeros((0, lanes), bool))

    def _settle(self, vals: np.ndarray):
        """Zero-delay: evaluate level by level (in place)."""
        for part in self.schedule:
            for fn, ins, ys in part:
                vals[ys] = fn(*(vals[i] for i in ins))

    def _unit_delay(self, vals: np.ndarray, counts: np.ndarray | None, mask: np.ndarray) -> int:
        """Unit-delay steps until stable; adds every gate-output transition to ``counts``."""
        steps = 0
        out = self.gate_out
        limit = self.netlist.depth + 2
        while True:
            new = np.concatenate([fn(*(vals[i] for i in ins)) for fn, ins, _ in self.groups]) \
                if self.groups else np.zeros((0, vals.shape[1]), np.uint64)
            diff = (new ^ vals[out]) & mask
            if not diff.any():
                return steps
            steps += 1
            if steps > limit:
                raise EnergyError("unit-delay simulation did not settle (oscillation?)")
            if counts is not None:
                np.add.at(counts, out, np.bitwise_count(diff).sum(axis=1, dtype=np.int64))
            vals[out] = new

    # - public -
    def outputs(self, vals: np.ndarray, lanes: int) -> dict[str, np.ndarray]:
        """Output port values (port -> uint64 per lane) of a value array."""
        out = {}
        for port, bits in self.netlist.outputs.items():
            rows = np.unpackbits(vals[bits].view(np.uint8), axis=1, bitorder="little")[:, :lanes]
            weights = np.uint64(1) << np.arange(len(bits), dtype=np.uint64)
            out[port] = (rows.astype(np.uint64) * weights[:, None]).sum(axis=0, dtype=np.uint64)
        return out

    def run(self, cycles: list[dict], lanes: int, count_from: int = 1,
            record: list | None = None) -> Counts:
        """Simulate ``cycles`` (per cycle: port -> per-lane int array) on ``lanes`` parallel lanes.

        Each cycle: registers load their D (from the end of the previous cycle; the initial value in
        cycle 0), inputs take the cycle's values, then the logic settles at unit delay. Cycle 0 starts
        from the zero-delay settled state of its own inputs (nothing is counted in it). Transitions in
        cycles ``>= count_from`` are counted: per net, at zero delay (settled value changed) and at
        unit delay (every transition). Primary inputs and register outputs change once per cycle.
        With a list ``record``, the settled output port values of every cycle are appended to it
        (before the clock edge that ends the cycle).
        """
        if count_from < 1:
            raise ValueError("count_from must be >= 1 (cycle 0 only sets up the state)")
        n = self.netlist.n_nets
        words = (lanes + 63) // 64
        mask = np.zeros(words, dtype=np.uint64)
        full, rest = divmod(lanes, 64)
        mask[:full] = np.uint64(0xFFFFFFFFFFFFFFFF)
        if rest:
            mask[full] = np.uint64((1 << rest) - 1)
        vals = np.zeros((n, words), dtype=np.uint64)
        vals[1] = mask  # constant 1 (only counted lanes matter)
        zd = np.zeros(n, dtype=np.int64)
        ud = np.zeros(n, dtype=np.int64)
        regs = np.zeros((len(self.q), words), dtype=np.uint64)
        regs[self.init] = mask
        steps_max = 0
        prev = None
        for t, inputs in enumerate(cycles):
            nets, rows = self._input_rows(inputs, lanes)
            counted = t >= count_from
            new_src = _pack(rows, words)
            src = np.concatenate([nets, self.q])
            src_vals = np.concatenate([new_src, regs]) if len(self.q) else new_src
            if t == 0:
                vals[src] = src_vals
                self._settle(vals)
            else:
                diff = (vals[src] ^ src_vals) & mask
                if counted:
                    bits = np.bitwise_count(diff).sum(axis=1, dtype=np.int64)
                    np.add.at(ud, src, bits)
                vals[src] = src_vals
                steps = self._unit_delay(vals, ud if counted else None, mask)
                steps_max = max(steps_max, steps)
            if counted:
                np.add.at(zd, src, np.bitwise_count((prev[src] ^ vals[src]) & mask).sum(axis=1, dtype=np.int64))
                out = self.gate_out
                zd[out] += np.bitwise_count((prev[out] ^ vals[out]) & mask).sum(axis=1, dtype=np.int64)
            if record is not None:
                record.append(self.outputs(vals, lanes))
            if len(self.q):
                regs = vals[self.d].copy()
            prev = vals.copy()
        ops = lanes * max(0, len(cycles) - count_from)
        return Counts(zd=zd, ud=ud, ops=ops, steps_max=steps_max)


# -- stimulus ------------------------------------------------------------------------------------------
_ROLE_SEED = {"a": 1, "b": 2, "c": 3, "rand": 4, "c_a": 5, "c_b": 6}


def _rng(seed: int, role: str) -> np.random.Generator:
    return np.random.default_rng([int(seed), _ROLE_SEED[role]])


def quantize(fmt, values) -> np.ndarray:
    """Real values -> bit patterns of ``fmt`` through the golden conversion (round to nearest even,
    saturating at the largest finite value, as post-training quantization does)."""
    from mpmac.golden import ops
    from mpmac.golden.rounding import RoundingContext
    values = np.asarray(values, dtype=np.float64)
    if np.isnan(values).any():
        raise ValueError("operand values contain NaN")
    bits, _ = ops.encode(fmt, values, RoundingContext("rne", saturate=True))
    return np.asarray(bits).astype(np.uint64)


def _is_nan(fmt, bits) -> np.ndarray:
    from mpmac.golden import ops
    return np.isnan(ops.decode(fmt, bits))


def uniform_patterns(fmt, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` uniformly random bit patterns of ``fmt`` with NaN (and posit NaR) codes left out."""
    out = rng.integers(0, 1 << fmt.nbits, size=n, dtype=np.uint64)
    bad = _is_nan(fmt, out)
    while bad.any():
        out[bad] = rng.integers(0, 1 << fmt.nbits, size=int(bad.sum()), dtype=np.uint64)
        bad = _is_nan(fmt, out)
    return out


def _real_values(distribution: str, n: int, rng, sigma: float, values, role: str) -> np.ndarray:
    if distribution == "gaussian":
        return rng.normal(0.0, sigma, n)
    if distribution == "laplace":
        return rng.laplace(0.0, sigma / np.sqrt(2.0), n)  # standard deviation sigma
    if distribution == "array":
        if values is None:
            raise ValueError("distribution='array' needs values= (an array, or a dict role -> array)")
        if isinstance(values, dict):
            if role not in values:
                raise ValueError(f"values has no array for operand {role!r} (has {sorted(values)})")
            arr = np.asarray(values[role], dtype=np.float64).ravel()
            if arr.size == 0:
                raise ValueError(f"values[{role!r}] is empty")
            return np.resize(arr, n)  # in the given order, repeated as needed
        arr = np.asarray(values, dtype=np.float64).ravel()
        if arr.size == 0:
            raise ValueError("values is empty")
        return rng.choice(arr, n)
    raise ValueError(f"distribution={distribution!r} is invalid; valid: {', '.join(DISTRIBUTIONS)}")


def describe(distribution: str, sigma: float, values) -> str:
    """One-line description of an operand distribution, for reports."""
    if distribution in ("gaussian", "laplace"):
        return f"{distribution}(sigma={sigma:g}), rne-saturating quantization"
    if distribution == "uniform":
        return "uniform bit patterns without NaN/NaR"
    if isinstance(values, dict):
        sizes = ", ".join(f"{k}: {np.asarray(v).size}" for k, v in sorted(values.items()))
        return f"array (given per operand, in order; {sizes} values)"
    return f"array (sampled from {np.asarray(values).size} given values)"


#: products in one fma addend: c is a partial dot product of this many a*b terms
ADDEND_TERMS = 16


def stimulus(unit, distribution: str = "gaussian", n: int = 2048, seed: int = 0, values=None,
             sigma: float = 1.0) -> dict[str, np.ndarray]:
    """Operand bit patterns (role -> uint64 array of ``n``) for ``unit``, deterministic in ``seed``.

    ``gaussian``/``laplace``: real values with standard deviation ``sigma``, quantized to each
    operand's format (round to nearest even, saturating). ``uniform``: uniformly random bit
    patterns without NaN/NaR. ``array``: ``values`` is one array (operands sampled from it) or a
    dict role -> array (taken in order, repeated as needed). An fma addend ``c`` is a partial dot
    product of :data:`ADDEND_TERMS` products drawn like a and b (for ``uniform``: uniform patterns
    of c's format). With ``rounding="sr"``, ``rand`` is uniform over its ``rand_bits``.
    """
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"distribution={distribution!r} is invalid; valid: {', '.join(DISTRIBUTIONS)}")
    if unit.kind == "simd":
        raise ValueError("a simd engine's operands are words of lanes that depend on the mode: "
                         "use simd_stimulus(unit, mode, ...)")
    out = {}
    for role in unit.operands:
        fmt = unit.fmt(role)
        rng = _rng(seed, role)
        if distribution == "uniform":
            out[role] = uniform_patterns(fmt, n, rng)
            continue
        if role == "c" and not (isinstance(values, dict) and "c" in values):
            xa = _real_values(distribution, n * ADDEND_TERMS, _rng(seed, "c_a"), sigma, values, "a")
            xb = _real_values(distribution, n * ADDEND_TERMS, _rng(seed, "c_b"), sigma, values,
                              "b" if isinstance(values, dict) and "b" in values else "a")
            x = (xa * xb).reshape(n, ADDEND_TERMS).sum(axis=1)
        else:
            x = _real_values(distribution, n, rng, sigma, values, role)
        out[role] = quantize(fmt, x)
    if unit.rounding == "sr":
        out["rand"] = _rng(seed, "rand").integers(0, 1 << unit.rand_bits, size=n, dtype=np.uint64)
    return out


def simd_stimulus(unit, mode: int, distribution: str = "gaussian", n: int = 2048, seed: int = 0,
                  values=None, sigma: float = 1.0) -> dict[str, np.ndarray]:
    """Operand words (``a``, ``b`` -> uint64 array of ``n``) of a simd engine in mode ``mode``.

    Every lane is drawn as :func:`stimulus` draws a scalar operand of the lane's format; the lanes
    are packed as the engine reads them (lane i at bits [i*n, (i+1)*n)). The draws depend on the
    mode's name (its lanes), not on its index, so a single-mode engine of the same lanes gets the
    same words.
    """
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"distribution={distribution!r} is invalid; valid: {', '.join(DISTRIBUTIONS)}")
    if not 0 <= mode < len(unit.lanes):
        raise ValueError(f"mode={mode!r} is invalid: {unit.name} has modes 0..{len(unit.lanes) - 1}")
    lanes = unit.lanes[mode]
    fmt, count = lanes.fmt, lanes.count
    name_seed = zlib.crc32(lanes.name.encode())
    out = {}
    for role in unit.operands:
        rng = np.random.default_rng([int(seed), _ROLE_SEED[role], name_seed])
        if distribution == "uniform":
            codes = uniform_patterns(fmt, n * count, rng)
        else:
            codes = quantize(fmt, _real_values(distribution, n * count, rng, sigma, values, role))
        codes = codes.reshape(n, count)
        word = np.zeros(n, dtype=np.uint64)
        for i in range(count):
            word |= codes[:, i] << np.uint64(i * fmt.nbits)
        out[role] = word
    return out


# -- measurement -------------------------------------------------------------------------------------
def summarize(netlist: Netlist, counts: Counts) -> dict:
    """Per-operation figures of a simulation (the ``energy.*`` metrics)."""
    ops = counts.ops
    if ops <= 0:
        raise ValueError("no operations were counted")
    cells = netlist.cell_outputs
    q = np.array([q for _, q, _ in netlist.dffs], dtype=np.int64)
    ins = np.array(sorted({b for p, bits in netlist.inputs.items() if p != netlist.clock
                           for b in bits if b > 1}), dtype=np.int64)
    load = netlist.load
    weighted_ud = float((counts.ud * load).sum()) / ops
    return {
        "energy.toggles_zd": float(counts.zd[cells].sum()) / ops,
        "energy.toggles_ud": float(counts.ud[cells].sum()) / ops,
        "energy.glitch_factor": (float(counts.ud[cells].sum()) / float(counts.zd[cells].sum())
                                 if counts.zd[cells].sum() else float("nan")),
        "energy.ff_toggles": float(counts.ud[q].sum()) / ops if q.size else 0.0,
        "energy.input_toggles": float(counts.ud[ins].sum()) / ops if ins.size else 0.0,
        "energy.weighted_zd": float((counts.zd * load).sum()) / ops,
        "energy.weighted_ud": weighted_ud,
        "energy.pj_h45": weighted_ud * K_H45_FJ * 1e-3,
        "energy.pj_h45_zd": float((counts.zd * load).sum()) / ops * K_H45_FJ * 1e-3,
        "energy.k_fj": K_H45_FJ,
        "energy.gates": len(netlist.gates),
        "energy.dffs": len(netlist.dffs),
        "energy.depth": netlist.depth,
        "energy.ud_steps_max": counts.steps_max,
        "energy.n_ops": ops,
    }


def _sequential_plan(unit, n_ops: int, lanes: int):
    """(total cycles, first counted cycle, counted cycles) for a clocked unit: one reset cycle,
    the pipeline fill (latency cycles), one more so that the first counted transition goes from one
    real operation to the next, then the counted stream."""
    count_from = unit.latency + 2
    cycles_counted = -(-n_ops // lanes)
    return count_from + cycles_counted, count_from, cycles_counted


def measure(unit, distribution: str = "gaussian", n_ops: int = 2048, seed: int = 0, values=None,
            sigma: float = 1.0, lanes: int = 16, mac_len: int = 64,
            workdir: Path | str | None = None) -> dict:
    """Energy per operation of ``unit`` from gate-level toggles under an operand distribution.

    Parameters
    ----------
    unit : mpmac.Unit
    distribution : {"gaussian", "laplace", "uniform", "array"}
        See :func:`stimulus`.
    n_ops : int
        Operations counted. A combinational unit runs them as ``n_ops`` transitions from one
        operation to the next (``n_ops + 1`` operand draws), all in parallel lanes. A clocked unit
        (latency > 0, mac) runs ``lanes`` independent streams of ``ceil(n_ops / lanes)`` counted
        cycles, after one reset cycle and the pipeline fill; a mac clears its accumulator every
        ``mac_len`` cycles (a dot product of that length) with ``in_valid`` high throughout.
        A simd engine does that once per mode, ``mode`` held and the lanes drawn from the mode's
        format (:func:`simd_stimulus`); an operation is then one cycle of the engine.
    seed : int
        Makes the stimulus, hence every figure, deterministic.
    values : array or dict, optional
        For ``distribution="array"``.
    sigma : float
        Standard deviation of the gaussian / laplace values.

    Returns
    -------
    dict
        ``energy.toggles_zd`` / ``energy.toggles_ud`` (cell-output transitions per operation, zero
        and unit delay), ``energy.weighted_zd`` / ``energy.weighted_ud`` (load-weighted, including
        input nets), ``energy.pj_h45`` (pJ: weighted_ud x 0.276 fJ), ``energy.pj_h45_zd`` (the same
        without glitches, a lower bound), ``energy.glitch_factor``,
        ``energy.ff_toggles``, ``energy.input_toggles``, netlist size, the distribution description
        (``energy.distribution``), seed and tool versions. A simd engine adds the per-mode
        figures of :func:`_measure_simd` (``energy.pj_per_mac.<mode>``, ...).
    """
    if n_ops < 1:
        raise ValueError(f"n_ops={n_ops} is invalid: it must be >= 1")
    start = time.perf_counter()
    netlist = synthesize(unit.verilog(), unit.name, workdir)
    sim = Simulator(netlist)
    clocked = unit.latency > 0 or unit.sequential
    if not clocked:
        ops = stimulus(unit, distribution, n_ops + 1, seed, values, sigma)
        cycles = [{p: v[:-1] for p, v in ops.items()}, {p: v[1:] for p, v in ops.items()}]
        counts = sim.run(cycles, lanes=n_ops, count_from=1)
        layout = f"{n_ops} transitions in parallel lanes"
    elif unit.kind == "simd":
        return _measure_simd(unit, netlist, sim, distribution, n_ops, seed, values, sigma, lanes,
                             mac_len, start)
    else:
        lanes = max(1, min(lanes, n_ops))
        draw = lambda count: stimulus(unit, distribution, count, seed, values, sigma)  # noqa: E731
        counts, layout = _run_clocked(unit, netlist, sim, draw, n_ops, lanes, mac_len)
    result = summarize(netlist, counts)
    result.update({
        "energy.distribution": describe(distribution, sigma, values),
        "energy.seed": seed,
        "energy.stimulus": layout,
        "energy.yosys": versions().get("yosys", "unknown"),
        "energy.seconds": round(time.perf_counter() - start, 3),
    })
    return result


def _run_clocked(unit, netlist: Netlist, sim: Simulator, draw, n_ops: int, lanes: int,
                 mac_len: int, fixed: dict | None = None) -> tuple[Counts, str]:
    """Simulate ``lanes`` independent streams of a clocked unit (see :func:`measure`); ``draw``
    gives the operands of ``count`` cycles x lanes, ``fixed`` inputs held for the whole run (a
    simd engine's ``mode``). Returns the counts and a description of the layout."""
    total, count_from, counted = _sequential_plan(unit, n_ops, lanes)
    ops = draw(total * lanes)
    cycles = []
    for t in range(total):
        inputs = {p: v[t * lanes:(t + 1) * lanes] for p, v in ops.items()}
        inputs.update({p: np.full(lanes, v, dtype=np.uint64) for p, v in (fixed or {}).items()})
        if "rst" in netlist.inputs:
            inputs["rst"] = np.full(lanes, int(t == 0), dtype=np.uint64)
        if unit.sequential:
            inputs["in_valid"] = np.full(lanes, int(t > 0), dtype=np.uint64)
            inputs["clear"] = np.full(lanes, int(t > 0 and (t - 1) % mac_len == 0), np.uint64)
        cycles.append(inputs)
    counts = sim.run(cycles, lanes=lanes, count_from=count_from)
    layout = (f"{lanes} streams x {counted} cycles after reset and {count_from - 1} fill cycles"
              + (f"; accumulator cleared every {mac_len} cycles" if unit.sequential else ""))
    return counts, layout


#: per-mode metrics of a simd engine: energy.<name>.<mode> (see _measure_simd)
SIMD_MODE_METRICS = ("pj_h45", "pj_h45_zd", "pj_per_mac", "pj_per_mac_zd", "toggles_ud")


def _measure_simd(unit, netlist, sim, distribution, n_ops, seed, values, sigma, lanes, mac_len,
                  start) -> dict:
    """:func:`measure` of a simd engine: one run per mode with ``mode`` held, the lanes drawn
    from the mode's format (:func:`simd_stimulus`).

    Per mode (key from :func:`mpmac.cost.analytic.mode_keys`): ``energy.pj_h45.<mode>`` and
    ``energy.pj_h45_zd.<mode>`` per cycle, ``energy.pj_per_mac.<mode>`` and
    ``energy.pj_per_mac_zd.<mode>`` (per cycle / lanes of the mode: each lane is one
    multiply-accumulate), ``energy.toggles_ud.<mode>``. The plain :func:`summarize` metrics are
    the means over the modes (every mode run equally often); ``energy.n_ops`` counts every run.
    """
    from .analytic import mode_keys
    lanes = max(1, min(lanes, n_ops))
    runs, layout = [], ""
    for k, key in enumerate(mode_keys(unit)):
        draw = lambda count, k=k: simd_stimulus(unit, k, distribution, count, seed, values,  # noqa: E731
                                                sigma)
        counts, layout = _run_clocked(unit, netlist, sim, draw, n_ops, lanes, mac_len,
                                      fixed={"mode": k})
        runs.append((key, unit.lanes[k].count, summarize(netlist, counts)))
    result = {}
    for name, value in runs[0][2].items():
        values_ = [r[name] for _, _, r in runs]
        if name == "energy.n_ops":
            result[name] = sum(values_)
        elif name == "energy.ud_steps_max":
            result[name] = max(values_)
        else:
            result[name] = float(np.mean(values_)) if isinstance(value, float) else value
    for key, count, r in runs:
        per_mode = {"pj_h45": r["energy.pj_h45"], "pj_h45_zd": r["energy.pj_h45_zd"],
                    "pj_per_mac": r["energy.pj_h45"] / count,
                    "pj_per_mac_zd": r["energy.pj_h45_zd"] / count,
                    "toggles_ud": r["energy.toggles_ud"]}
        result.update({f"energy.{m}.{key}": per_mode[m] for m in SIMD_MODE_METRICS})
    result.update({
        "energy.distribution": describe(distribution, sigma, values) + ", per lane format",
        "energy.seed": seed,
        "energy.stimulus": f"per mode, mode held: {layout}; figures without a mode suffix are "
                           f"means over the {len(runs)} modes, per cycle",
        "energy.yosys": versions().get("yosys", "unknown"),
        "energy.seconds": round(time.perf_counter() - start, 3),
    })
    return result


def measure_verilog(verilog: str, top: str, cycles: list[dict], lanes: int, count_from: int = 1,
                    workdir: Path | str | None = None) -> dict:
    """:func:`measure` for any Verilog module: ``cycles`` gives per cycle port -> per-lane values
    (the clock port is left out; see :meth:`Simulator.run`)."""
    netlist = synthesize(verilog, top, workdir)
    return summarize(netlist, Simulator(netlist).run(cycles, lanes, count_from))


def int_mul_verilog(n: int, signed: bool = False, top: str | None = None) -> tuple[str, str]:
    """(Verilog, module name) of a bare combinational ``n`` x ``n`` integer multiplier."""
    top = top or f"int{'s' if signed else 'u'}mul{n}"
    s = "signed " if signed else ""
    return (f"module {top}(input {s}[{n - 1}:0] a, input {s}[{n - 1}:0] b, "
            f"output {s}[{2 * n - 1}:0] y);\n  assign y = a * b;\nendmodule\n"), top


def int_operands(n: int, distribution: str, count: int, seed: int, signed: bool,
                 sigma_range: float = 4.0) -> dict[str, np.ndarray]:
    """Operands for an integer unit: ``uniform`` over all n-bit patterns, or ``gaussian`` /
    ``laplace`` values clipped at +-``sigma_range`` sigma and scaled to the signed n-bit range
    (symmetric integer quantization; needs ``signed``)."""
    out = {}
    for role in ("a", "b"):
        rng = _rng(seed, role)
        if distribution == "uniform":
            out[role] = rng.integers(0, 1 << n, size=count, dtype=np.uint64)
            continue
        if not signed:
            raise ValueError(f"distribution={distribution!r} on integers needs signed=True")
        x = _real_values(distribution, count, rng, 1.0, None, role)
        top = (1 << (n - 1)) - 1
        q = np.clip(np.rint(x / sigma_range * top), -top, top).astype(np.int64)
        out[role] = (q & ((1 << n) - 1)).astype(np.uint64)
    return out


def measure_int_mul(n: int, distribution: str = "uniform", n_ops: int = 2048, seed: int = 0,
                    signed: bool = False) -> dict:
    """Energy figures of a bare n x n integer multiplier (the calibration and floor reference)."""
    verilog, top = int_mul_verilog(n, signed)
    ops = int_operands(n, distribution, n_ops + 1, seed, signed)
    cycles = [{p: v[:-1] for p, v in ops.items()}, {p: v[1:] for p, v in ops.items()}]
    result = measure_verilog(verilog, top, cycles, lanes=n_ops)
    result["energy.distribution"] = distribution + (" signed" if signed else " unsigned")
    result["energy.seed"] = seed
    return result


def calibration(n_ops: int = 4096, seed: int = 0) -> dict:
    """Re-measure the Horowitz anchor: an unsigned 8x8 multiplier under uniform operands.

    Returns
    -------
    dict with ``weighted_ud`` (raw load-weighted unit-delay toggles per multiply), ``pj_h45`` (that
    times :data:`K_H45_FJ`), ``factor`` (pj_h45 / 0.2 pJ: 1.0 means this simulator reproduces the
    calibration) and ``k_fj_self`` (the fJ per weighted toggle that would make it exactly 0.2 pJ).
    """
    r = measure_int_mul(8, "uniform", n_ops, seed)
    w = r["energy.weighted_ud"]
    return {"weighted_ud": w, "toggles_zd": r["energy.toggles_zd"], "toggles_ud": r["energy.toggles_ud"],
            "pj_h45": r["energy.pj_h45"], "factor": r["energy.pj_h45"] / H45_MUL8_PJ,
            "k_fj_self": H45_MUL8_PJ * 1e3 / w}


# -- independent cross-check: Icarus Verilog on the Yosys-written netlist -----------------------------
#: transport-delay (one time unit) models of the internal cells, for net_cells.v (unit delay)
_CELL_EXPR = {
    "$_BUF_": "A", "$_NOT_": "~A", "$_AND_": "A & B", "$_NAND_": "~(A & B)", "$_OR_": "A | B",
    "$_NOR_": "~(A | B)", "$_XOR_": "A ^ B", "$_XNOR_": "~(A ^ B)", "$_ANDNOT_": "A & ~B",
    "$_ORNOT_": "A | ~B", "$_MUX_": "S ? B : A", "$_NMUX_": "~(S ? B : A)",
    "$_AOI3_": "~((A & B) | C)", "$_OAI3_": "~((A | B) & C)",
    "$_AOI4_": "~((A & B) | (C & D))", "$_OAI4_": "~((A | B) & (C | D))",
}


def _cell_library(delay: int) -> str:
    """Verilog models of the internal cells; gates drive their output ``delay`` units after any input
    change (non-blocking, so transport delay: every pulse survives)."""
    lines = []
    for kind, expr in _CELL_EXPR.items():
        pins = GATES[kind][0]
        lines.append(f"module \\{kind} ({', '.join(pins)}, Y);\n  input {', '.join(pins)};\n"
                     f"  output reg Y;\n  always @({' or '.join(pins)}) Y <= #{delay} {expr};\n"
                     f"endmodule")
    lines.append("module \\$_DFF_P_ (C, D, Q);\n  input C, D;\n  output reg Q;\n"
                 "  always @(posedge C) Q <= D;\nendmodule")
    return "\n".join(lines) + "\n"


_TIME_UNITS = {"s": 10 ** 15, "ms": 10 ** 12, "us": 10 ** 9, "ns": 10 ** 6, "ps": 10 ** 3, "fs": 1}


def _parse_vcd(path: Path, start_ns: float) -> tuple[dict, dict]:
    """VCD -> ({code: [(name, msb, lsb, width)]}, {code: per-bit toggle counts, MSB first}).

    Changes within one time step collapse to the step's final value; a toggle is a 0<->1 change
    between the final values of consecutive steps, counted from ``start_ns`` on.
    """
    start_time = 0
    vars_, width = {}, {}
    state, counts, pending = {}, {}, {}
    now = None

    def close_step():
        for code, value in pending.items():
            old = state.get(code)
            if old is not None and now is not None and now >= start_time:
                c = counts[code]
                for k, (o, v) in enumerate(zip(old, value)):
                    if o != v and o in "01" and v in "01":
                        c[k] += 1
            state[code] = value
        pending.clear()

    def pad(value: str, w: int) -> str:
        if len(value) >= w:
            return value[-w:]
        fill = value[0] if value[0] in "xz" else "0"
        return fill * (w - len(value)) + value

    in_header = True
    with open(path) as f:
        for line in f:
            tok = line.split()
            if not tok:
                continue
            if in_header:
                if tok[0] == "$var":
                    # $var wire 8 ! name [7:0] $end
                    w, code, name = int(tok[2]), tok[3], tok[4]
                    rng = tok[5] if len(tok) > 6 and tok[5].startswith("[") else None
                    msb = lsb = None
                    if rng:
                        parts = rng.strip("[]").split(":")
                        msb = int(parts[0])
                        lsb = int(parts[-1])
                    vars_.setdefault(code, []).append((name.lstrip("\\"), msb, lsb, w))
                    width[code] = w
                    counts[code] = [0] * w
                elif tok[0] == "$timescale":
                    unit = " ".join(tok[1:]).replace("$end", "").strip()
                    if not unit:  # the value is on the next line
                        unit = next(f).replace("$end", "").strip()
                    m = re.fullmatch(r"(\d+)\s*([munpf]?s)", unit)
                    if m is None:
                        raise ToolError(f"unreadable VCD timescale {unit!r} in {path}")
                    fs = int(m[1]) * _TIME_UNITS[m[2]]
                    start_time = int(round(start_ns * 10 ** 6 / fs))
                elif tok[0] == "$enddefinitions":
                    in_header = False
                continue
            head = tok[0]
            if head.startswith("#"):
                close_step()
                now = int(head[1:])
            elif head[0] in "bB":
                pending[tok[1]] = pad(head[1:].lower(), width[tok[1]])
            elif head[0] in "01xzXZ" and len(head) > 1 and head[1:] in width:
                pending[head[1:]] = head[0].lower()
            # $dumpvars / $end / real values are ignored
    close_step()
    return vars_, counts


def icarus_toggles(netlist: Netlist, sequence: list[dict], count_from: int = 1,
                   unit_delay: bool = False, workdir: Path | str | None = None,
                   text: str | None = None, iverilog_args: tuple = (), half: int | None = None) -> dict:
    """Toggles per net of one operand stream, simulated by Icarus Verilog on the Yosys netlist.

    ``sequence`` holds per cycle port -> int (one stream). The netlist Verilog is Yosys's own
    ``write_verilog -noattr`` text (zero delay) or, with ``unit_delay``, its ``-noexpr`` cell
    instances bound to transport-delay cell models (one time unit per gate). Inputs change (and the
    clock rises) at the start of each cycle; transitions in cycles ``>= count_from`` are counted
    from the VCD. Returns ``{"zd" or "ud": per-net counts (net numbers of ``netlist``),
    "covered": nets found in the VCD, "seconds": ...}``.

    ``text`` replaces the netlist's Verilog (e.g. the same design mapped to a cell library, whose
    models ``iverilog_args`` then name, with ``-gspecify`` for their path delays); ``half`` is half
    a clock period in ns (default: enough for the logic depth at one ns per gate).
    """
    iverilog, vvp = (_which(t) for t in ("iverilog", "vvp"))
    start = time.perf_counter()
    if half is None:
        half = netlist.depth + 4 if unit_delay else 5
    period = 2 * half
    if text is None:
        text = netlist.files["net_cells.v" if unit_delay else "net.v"]
    ports = [p for p in netlist.inputs if p != netlist.clock]
    T = len(sequence)
    lines = ["`timescale 1ns/1ps", "module tb;"]
    # testbench names carry a tb_ prefix so that no port name (a, b, c, rand, ...) can clash
    for p in ports:
        w = len(netlist.inputs[p])
        lines.append(f"  reg [{w - 1}:0] tb_in_{p};")
        lines.append(f"  reg [{w - 1}:0] tb_mem_{p} [0:{T - 1}];")
    clk = f"tb_in_{netlist.clock}" if netlist.clock else None
    if clk:
        lines.append(f"  reg {clk};")
    conns = [f".{p}(tb_in_{p})" for p in ports] + ([f".{netlist.clock}({clk})"] if clk else [])
    conns += [f".{p}()" for p in netlist.outputs]
    lines.append(f"  {netlist.top} dut({', '.join(conns)});")
    lines.append("  integer tb_cycle;")
    lines.append("  initial begin")
    for p in ports:
        lines.append(f'    $readmemh("{p}.hex", tb_mem_{p});')
    lines.append('    $dumpfile("tb.vcd");')
    lines.append("    $dumpvars(1, dut);")
    if clk:
        lines.append(f"    {clk} = 0;")
    for p in ports:
        lines.append(f"    tb_in_{p} = tb_mem_{p}[0];")
    lines.append(f"    for (tb_cycle = 1; tb_cycle < {T}; tb_cycle = tb_cycle + 1) begin")
    if clk:  # the clock falls mid-cycle and rises with the next inputs
        lines.append(f"      #{half} {clk} = 0;")
        lines.append(f"      #{half} {clk} = 1;")
    else:
        lines.append(f"      #{period};")
    for p in ports:
        lines.append(f"      tb_in_{p} <= tb_mem_{p}[tb_cycle];")
    lines.append("    end")
    lines.append(f"    #{period} $finish;")
    lines.append("  end")
    lines.append("endmodule")
    tb = "\n".join(lines) + "\n"

    def run(path: Path) -> dict:
        for p in ports:
            w = len(netlist.inputs[p])
            digits = max(1, (w + 3) // 4)
            (path / f"{p}.hex").write_text(
                "".join(f"{int(cyc[p]) & ((1 << w) - 1):0{digits}x}\n" for cyc in sequence))
        (path / "tb.v").write_text(tb)
        (path / "net_sim.v").write_text(text + (_cell_library(1) if unit_delay else ""))
        for cmd in ([iverilog, "-g2005", *iverilog_args, "-o", "tb.vvp", "tb.v", "net_sim.v"],
                    [vvp, "-n", "tb.vvp"]):
            proc = subprocess.run(cmd, cwd=path, capture_output=True, text=True, timeout=600,
                                  stdin=subprocess.DEVNULL)
            if proc.returncode != 0:
                raise ToolError(f"{Path(cmd[0]).name} failed (exit {proc.returncode}) in {path}:\n"
                                f"{proc.stdout[-1500:]}{proc.stderr[-1500:]}")
        vars_, counts = _parse_vcd(path / "tb.vcd", count_from * period)
        per_net = np.zeros(netlist.n_nets, dtype=np.int64)
        seen = np.zeros(netlist.n_nets, dtype=bool)
        for code, decls in vars_.items():
            for name, msb, lsb, w in decls:
                bits = netlist.names.get(name)
                if bits is None or len(bits) != w:
                    continue
                for k in range(w):  # VCD strings are MSB first
                    net = bits[w - 1 - k]
                    if net > 1 and not seen[net]:
                        per_net[net] = counts[code][k]
                        seen[net] = True
        return {"zd" if not unit_delay else "ud": per_net, "covered": seen,
                "seconds": round(time.perf_counter() - start, 3)}

    if workdir is not None:
        path = Path(workdir)
        path.mkdir(parents=True, exist_ok=True)
        return run(path)
    with tempfile.TemporaryDirectory(prefix="mpmac-icarus-") as tmp:
        return run(Path(tmp))


def _which(tool: str) -> str:
    from .tools import find
    path = find(tool)
    if path is None:
        raise ToolError(f"{tool} is not installed (Debian: apt install iverilog)")
    return path


def _stream(netlist: Netlist, ops: dict, n: int, sequential: bool) -> list[dict]:
    """One operand stream (cycle -> port -> int) for a netlist, with reset/valid/clear set."""
    seq = []
    for t in range(n):
        cycle = {}
        for p, bits in netlist.inputs.items():
            if p == netlist.clock:
                continue
            if p in ops:
                cycle[p] = int(ops[p][t])
            elif p == "rst":
                cycle[p] = int(t == 0)
            elif p == "in_valid":
                cycle[p] = int(t > 0)
            elif p == "clear":
                cycle[p] = int(t == 1)
            else:
                raise ValueError(f"no stimulus for input port {p!r}")
        seq.append(cycle)
    return seq


def cross_check(unit=None, n_ops: int = 256, seed: int = 0, distribution: str = "gaussian",
                verilog: str | None = None, top: str | None = None, unit_delay: bool = True,
                workdir: Path | str | None = None) -> dict:
    """Toggle counts of one operand stream from this simulator and from Icarus Verilog.

    Both simulate the same Yosys netlist (Icarus reads Yosys's Verilog of it, see
    :func:`icarus_toggles`) on ``n_ops`` operations of ``unit`` (or of ``verilog``/``top`` with
    uniform operands). Returns per-operation cell-output toggles of both at zero delay and (with
    ``unit_delay``) unit delay, and the number of nets whose counts differ.
    """
    if unit is not None:
        verilog, top = unit.verilog(), unit.name
        sequential = unit.latency > 0 or unit.sequential
        count_from = unit.latency + 2 if sequential else 1
    elif verilog is None or top is None:
        raise ValueError("cross_check needs a unit, or verilog and top")
    netlist = synthesize(verilog, top)
    if unit is not None:
        ops = stimulus(unit, distribution, n_ops + count_from, seed)
    else:
        sequential, count_from = bool(netlist.dffs), (2 if netlist.dffs else 1)
        rng = np.random.default_rng(seed)
        ops = {p: rng.integers(0, 1 << len(bits), size=n_ops + count_from, dtype=np.uint64)
               for p, bits in netlist.inputs.items()
               if p not in (netlist.clock, "rst", "in_valid", "clear")}
    seq = _stream(netlist, ops, n_ops + count_from, sequential)
    cycles = [{p: np.array([v], dtype=np.uint64) for p, v in c.items()} for c in seq]
    counts = Simulator(netlist).run(cycles, lanes=1, count_from=count_from)
    cells = netlist.cell_outputs
    out = {"top": top, "n_ops": counts.ops, "cells": int(cells.size)}
    for mode in (("zd", "ud") if unit_delay else ("zd",)):
        ic = icarus_toggles(netlist, seq, count_from=count_from, unit_delay=mode == "ud",
                            workdir=None if workdir is None else Path(workdir) / mode)
        mine = counts.zd if mode == "zd" else counts.ud
        covered = ic["covered"][cells]
        theirs = ic[mode][cells]
        out[f"sim_{mode}"] = float(mine[cells].sum()) / counts.ops
        out[f"icarus_{mode}"] = float(theirs[covered].sum()) / counts.ops
        out[f"nets_differing_{mode}"] = int((mine[cells][covered] != theirs[covered]).sum())
        out[f"nets_missing_{mode}"] = int((~covered).sum())
        out[f"icarus_seconds_{mode}"] = ic["seconds"]
    return out
