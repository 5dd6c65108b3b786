"""Miters as Verilog text, and the port lists of Verilog modules read back through Yosys.

A miter instantiates two designs (the DUT and the reference), drives them from the same free inputs
and asserts that their outputs agree. It is plain Verilog with immediate assertions, read by Yosys
with ``read_verilog -formal -sv``, so that a generated unit, its reference and any external Verilog
(a hand-edited copy, a post-synthesis netlist) go through the same code.

Shapes (see docs/formal.md for what each proves):

* combinational: both sides combinational, no clock; the assertions hold for every input.
* delayed reference: the reference side gets its data inputs through an ``N``-cycle delay line, so
  a pipelined DUT of latency ``N`` is compared with a combinational version (``settle=N``: the
  assertions apply once ``N`` edges without ``rst`` have passed, the only cycles whose outputs the
  latency contract defines), or a pipelined mac with the latency-0 mac (the delay line clears on
  ``rst`` like the DUT's pipeline registers).
* shared product: both sides have ``mul_x``/``mul_y`` outputs and a ``mul_p`` input instead of their
  significand multiplier; the miter multiplies the DUT's operands once, feeds the product to both and
  asserts that the reference asks for the same operands. With ``blocks`` (a simd mode's lanes) the
  shared product is the block product: each lane's field of ``mul_x`` times the same field of
  ``mul_y``, placed at twice the field's offset.

Ports and wires of the sides are always written as escaped identifiers (``\\rand `` is a
SystemVerilog keyword), the miter's own inputs are ``i_<port>``.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Module", "Side", "read_modules", "find_top", "check_ports", "miter", "MITER",
           "input_name"]

#: module name of every miter
MITER = "mpmac_miter"

#: ports the miter drives itself rather than from a free input
CLOCK_PORTS = ("clk", "rst")
PRODUCT_PORTS = ("mul_x", "mul_y", "mul_p")


def _esc(name: str) -> str:
    """A Verilog escaped identifier (legal for any name, keywords included)."""
    return f"\\{name} "


def input_name(port: str) -> str:
    """The miter's free input for a unit input port (``a`` -> ``i_a``)."""
    return f"i_{port}"


# --- reading Verilog -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Module:
    """A Verilog module as Yosys reads it.

    Attributes
    ----------
    name : str
    ports : dict
        Port name -> (``"in"``/``"out"``/``"inout"``, width), in declaration order.
    sequential : bool
        The module or a module below it has flip-flops or latches.
    children : tuple of str
        Module types instantiated in it.
    """

    name: str
    ports: dict
    sequential: bool
    children: tuple = field(default=())


def _yosys_json(text: str) -> dict:
    """Yosys' JSON of the Verilog ``text`` after ``proc`` (raises ValueError with Yosys' error)."""
    from .sby import tool_paths
    yosys = tool_paths()["--yosys"]
    with tempfile.TemporaryDirectory(prefix="mpmac-ports-") as d:
        src = Path(d) / "design.v"
        src.write_text(text)
        out = Path(d) / "design.json"
        log = Path(d) / "yosys.log"
        proc = subprocess.run([yosys, "-q", "-l", log.name, "-p",
                               f"read_verilog -sv {src.name}; proc; write_json {out.name}"],
                              cwd=d, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if proc.returncode or not out.exists():
            lines = log.read_text(errors="replace").splitlines() if log.exists() else []
            errors = [ln for ln in lines if "ERROR" in ln] or lines[-5:] or [proc.stderr[-2000:]]
            raise ValueError("Yosys cannot read the Verilog: " + "\n".join(errors))
        return json.loads(out.read_text())


_STATE_CELLS = ("dff", "dlatch", "sr", "ff")


def read_modules(text: str) -> dict[str, Module]:
    """Every module of the Verilog ``text`` with its ports (raises ValueError if Yosys cannot read
    it)."""
    data = _yosys_json(text)["modules"]
    direct = {}
    children = {}
    for name, m in data.items():
        types = {c["type"] for c in m.get("cells", {}).values()}
        direct[name] = any(t.startswith("$") and any(s in t.lower() for s in _STATE_CELLS)
                           for t in types)
        children[name] = tuple(sorted(t for t in types if t in data))

    def sequential(name, seen=()):
        return direct[name] or any(sequential(c, seen + (name,)) for c in children[name]
                                   if c not in seen)

    dirs = {"input": "in", "output": "out", "inout": "inout"}
    return {name: Module(name, {p: (dirs[v["direction"]], len(v["bits"]))
                                for p, v in m["ports"].items()},
                         sequential(name), children[name])
            for name, m in data.items()}


def find_top(modules: dict[str, Module], top: str | None = None,
             preferred: str | None = None) -> Module:
    """The module ``top``; else ``preferred`` if present; else the only module no other instantiates.

    Raises
    ------
    ValueError
        ``top`` is not defined (the defined modules are listed), or no single top module exists.
    """
    if top is not None:
        if top not in modules:
            raise ValueError(f"top module {top!r} is not defined in the Verilog; modules: "
                             f"{', '.join(sorted(modules)) or '(none)'}")
        return modules[top]
    if preferred is not None and preferred in modules:
        return modules[preferred]
    used = {c for m in modules.values() for c in m.children}
    tops = sorted(n for n in modules if n not in used)
    if len(tops) != 1:
        raise ValueError(f"cannot tell the top module: {len(tops)} candidates "
                         f"({', '.join(tops) or 'none'}); name it with --top / top=")
    return modules[tops[0]]


def _ports_text(ports: dict) -> str:
    return ", ".join(f"{p} {d} {w}" for p, (d, w) in ports.items())


def check_ports(module: Module, expected: dict, what: str) -> None:
    """Raise ValueError unless ``module`` has exactly the ports ``expected`` (name -> (dir, width)),
    listing the missing, extra and mismatched ones."""
    missing = [p for p in expected if p not in module.ports]
    extra = [p for p in module.ports if p not in expected]
    wrong = [p for p in expected if p in module.ports and module.ports[p] != tuple(expected[p])]
    if not (missing or extra or wrong):
        return
    parts = []
    if missing:
        parts.append("missing " + ", ".join(f"{p} ({expected[p][0]} {expected[p][1]})"
                                            for p in missing))
    if extra:
        parts.append("unexpected " + ", ".join(f"{p} ({module.ports[p][0]} {module.ports[p][1]})"
                                               for p in extra))
    if wrong:
        parts.append("mismatched " + ", ".join(
            f"{p} (expected {expected[p][0]} {expected[p][1]}, found {module.ports[p][0]} "
            f"{module.ports[p][1]})" for p in wrong))
    raise ValueError(f"{what} {module.name!r} does not have the ports of the unit: "
                     f"{'; '.join(parts)}.\n  expected: {_ports_text(expected)}\n  found:    "
                     f"{_ports_text(module.ports)}")


# --- writing miters ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Side:
    """One design in a miter: its module name, ports, and how many cycles late it is compared.

    A combinational side with ``delay`` N gets N registers on its outputs; a clocked one (a mac) gets
    them on its data inputs, clearing on ``rst`` like the pipeline registers of a generated unit.
    """

    module: str
    ports: dict
    delay: int = 0

    @property
    def clocked(self) -> bool:
        return "clk" in self.ports


def _width(w: int) -> str:
    return f"[{w - 1}:0] " if w > 1 else ""


def _delay(name: str, source: str, w: int, delay: int, clear: bool) -> tuple[list[str], str]:
    """``delay`` registers after ``source`` (cleared by rst when ``clear``); returns (lines, tap)."""
    lines, prev = [], source
    for k in range(1, delay + 1):
        reg = f"{name}_d{k}"
        nxt = f"rst ? {w}'d0 : {prev}" if clear else prev
        lines += [f"  reg {_width(w)}{reg};", f"  always @(posedge clk) {reg} <= {nxt};"]
        prev = reg
    return lines, prev


def _instance(role: str, side: Side, data: dict, product: str | None, rst: str) -> list[str]:
    """Wires, input delay lines and the instance of one side; outputs are ``<role>_<port>``, or
    ``<role>_<port>_now`` before an output delay line."""
    lines, conns = [], []
    for p, (d, w) in side.ports.items():
        if p == "clk":
            conns.append(f".{_esc(p)}(clk)")
        elif p == "rst":
            conns.append(f".{_esc(p)}({rst})")
        elif p == "mul_p" and product:
            conns.append(f".{_esc(p)}(mul_p)")
        elif d == "in":
            if p not in data:
                raise ValueError(f"{role} module {side.module!r} has an input {p!r} the miter "
                                 f"does not drive; driven: {', '.join(data)}")
            tap = input_name(p)
            if side.clocked and side.delay:
                more, tap = _delay(f"{role}_{p}", tap, data[p], side.delay, rst != "1'b0")
                lines += more
            conns.append(f".{_esc(p)}({tap})")
        else:
            late = side.delay and not side.clocked
            wire = f"{role}_{p}_now" if late else f"{role}_{p}"
            lines.append(f"  wire {_width(w)}{wire};")
            if late:
                more, tap = _delay(f"{role}_{p}", wire, w, side.delay, False)
                lines += more + [f"  wire {_width(w)}{role}_{p} = {tap};"]
            conns.append(f".{_esc(p)}({wire})")
    return lines + [f"  {_esc(side.module)}u_{role} ({', '.join(conns)});"]


def _compared(dut: Side, ref: Side, names) -> list[tuple[str, int]]:
    out = []
    for name in names:
        dw, rw = dut.ports.get(name), ref.ports.get(name)
        if dw is None or rw is None or dw[0] != "out" or rw[0] != "out":
            raise ValueError(f"output {name!r} is not an output of both sides "
                             f"({dut.module}: {dw}, {ref.module}: {rw})")
        if dw[1] != rw[1]:
            raise ValueError(f"output {name!r} is {dw[1]} bits wide in {dut.module} but {rw[1]} "
                             f"in {ref.module}")
        out.append((name, dw[1]))
    return out


#: ways the miter drives ``rst``
RESETS = ("none", "free", "low", "first")


def miter(dut: Side, ref: Side, data: dict, compare=("y", "flags"), *, product: str | None = None,
          settle: int = 0, reset: str = "none", invariant: str | None = None,
          fixed: dict | None = None, blocks=None) -> str:
    """Verilog of a miter module :data:`MITER` asserting that ``dut`` and ``ref`` agree.

    Parameters
    ----------
    dut, ref : Side
        The two designs (see :class:`Side` for ``delay``).
    data : dict
        Data input port -> width (every input of the unit except clk/rst), free inputs ``i_<port>``.
    compare : sequence of str
        Outputs asserted equal (``mul_x``/``mul_y`` are added with a product port).
    product : {None, "shared", "cut"}
        ``shared``: ``mul_p = dut.mul_x * dut.mul_y`` feeds both sides; ``cut``: ``mul_p`` is a free
        input ``i_mul_p`` (the downstream datapath is compared for every product value).
    settle : int
        Assertions apply only once ``settle`` clock edges without ``rst`` have passed (since the
        start or the last ``rst``): the cycles whose outputs a latency-``settle`` pipeline defines.
    reset : {"none", "free", "low", "first"}
        ``none``: no clock (combinational miter); ``free``: ``rst`` is a free input; ``low``: ``rst``
        is tied low; ``first``: ``rst`` is free but assumed high in the first cycle, and the
        assertions apply only after an ``rst`` edge (units whose state starts at reset).
    invariant : str, optional
        A Verilog condition on the sides' output wires (``ref_acc_state``, ...) asserted beside
        the equalities: a state invariant, which k-induction then proves together with them and
        may use as its hypothesis (asserted, never assumed: a wrong invariant fails the proof).
    fixed : dict, optional
        Data input port -> int: ``i_<port>`` is that constant instead of a free input (a simd
        engine's ``mode`` in its per-mode proofs).
    blocks : sequence of (offset, width), optional
        With ``product="shared"``: the lane fields of the operand words; ``mul_p`` is then the sum
        of ``mul_x[field] * mul_y[field] << 2*offset`` (the block product of a simd mode) instead of
        ``mul_x * mul_y``.

    Raises
    ------
    ValueError
        Sides whose ports do not fit (an undriven input, an output missing or of another width).
    """
    if product not in (None, "shared", "cut"):
        raise ValueError(f"product={product!r} is invalid; valid: None, 'shared', 'cut'")
    if reset not in RESETS:
        raise ValueError(f"reset={reset!r} is invalid; valid: {', '.join(RESETS)}")
    clocked = bool(dut.clocked or ref.clocked or dut.delay or ref.delay)
    if clocked == (reset == "none"):
        raise ValueError(f"reset={reset!r} does not fit a {'clocked' if clocked else 'combinational'}"
                         f" miter")
    if product and (dut.delay or ref.delay):
        raise ValueError("a product port needs both sides undelayed")
    names = list(compare) + (["mul_x", "mul_y"] if product else [])
    outputs = _compared(dut, ref, names)

    fixed = fixed or {}
    unknown = [p for p in fixed if p not in data]
    if unknown:
        raise ValueError(f"fixed inputs {unknown} are not data inputs; data: {', '.join(data)}")
    inputs = {p: w for p, w in data.items() if p not in fixed}
    if product == "cut":
        inputs["mul_p"] = dut.ports["mul_x"][1] + dut.ports["mul_y"][1]
    ports = (["clk"] if clocked else []) + (["rst"] if reset in ("free", "first") else [])
    ports += [input_name(p) for p in inputs]
    body = [f"module {MITER}({', '.join(ports)});"]
    body += [f"  input {p};" for p in ports if p in ("clk", "rst")]
    body += [f"  input {_width(w)}{input_name(p)};" for p, w in inputs.items()]
    body += [f"  wire {_width(data[p])}{input_name(p)} = {data[p]}'d{v};" for p, v in fixed.items()]
    if product:
        body += _product(dut, ref, product, blocks)
    rst = "1'b0" if reset == "low" else "rst"
    body += _instance("dut", dut, data, product, rst)
    body += _instance("ref", ref, data, product, rst)
    body += _gate(settle, reset)
    body.append("  always @* if (check) begin")
    body += [f"    assert (dut_{n} == ref_{n});" for n, _ in outputs]
    if invariant:
        body.append(f"    assert ({invariant});")
    body += ["  end", "endmodule", ""]
    return "\n".join(body)


def _product(dut: Side, ref: Side, product: str, blocks=None) -> list[str]:
    wx, wy = dut.ports["mul_x"][1], dut.ports["mul_y"][1]
    wp = wx + wy
    for side in (dut, ref):
        if side.ports.get("mul_p") != ("in", wp):
            raise ValueError(f"{side.module} has no input mul_p of {wp} bits (mul_x {wx} + "
                             f"mul_y {wy}); ports: {_ports_text(side.ports)}")
    # the DUT's operands are the ones multiplied: the reference's are asserted equal to them
    if product == "cut":
        source = input_name("mul_p")
    elif blocks is None:
        source = "dut_mul_x * dut_mul_y"
    else:  # each product is sized by the 2W-bit context: exact
        source = " | ".join(f"((dut_mul_x[{o + w - 1}:{o}] * dut_mul_y[{o + w - 1}:{o}]) << {2 * o})"
                            for o, w in blocks)
    return [f"  wire {_width(wp)}mul_p = {source};"]


def _gate(settle: int, reset: str) -> list[str]:
    """The ``check`` signal: when the assertions apply."""
    lines, conds = [], []
    if settle:
        w = max(1, settle.bit_length())
        clear = f"rst ? {w}'d0 : " if reset in ("free", "first") else ""
        # clean edges since the start or the last rst edge, saturating at settle
        lines += [f"  reg [{w - 1}:0] clean = {w}'d0;",
                  f"  always @(posedge clk) clean <= {clear}"
                  f"(clean == {w}'d{settle} ? clean : clean + {w}'d1);"]
        conds.append(f"clean == {w}'d{settle}")
    if reset == "first":
        lines += ["  reg was_reset = 1'b0;",
                  "  always @(posedge clk) if (rst) was_reset <= 1'b1;",
                  "  always @* if ($initstate) assume (rst);"]
        conds.append("was_reset")
    check = " && ".join(conds) if conds else "1'b1"
    return lines + [f"  wire check = {check};"]
