"""Counterexamples of failed proofs: read from sby's trace, decoded in number terms, replayed in sim.

sby's basecase trace of a FAIL holds the miter's free inputs at every step (the Yosys witness file,
``trace.yw``) and every signal's value (``trace.vcd``). The inputs ``i_<port>`` become the unit's
input vectors; the miter's ``dut_<out>`` and ``ref_<out>`` wires at the failing (last) step are the
DUT's and the reference's outputs. The golden model gives the expected result as a third opinion,
and :meth:`Counterexample.write_replay` writes a pytest file that runs the same inputs through
:func:`mpmac.sim.verify` with the DUT's Verilog, so the failure reproduces in simulation.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..sim.plan import code_text, flags_text
from .miter import input_name

__all__ = ["Counterexample", "read_counterexample", "read_witness", "read_vcd_top"]


# --- trace files ---------------------------------------------------------------------------------
def read_witness(path: Path) -> list[dict[str, int]]:
    """Top-level signal values per step of a Yosys witness (``.yw``) file: name -> int.

    Each step's bit string lists the signals in reverse order, most significant bit first; bits the
    solver left open (``?``, ``x``) read as 0 (any value reproduces the failure).
    """
    data = json.loads(Path(path).read_text())
    signals = [s for s in data["signals"] if len(s["path"]) == 1]
    steps = []
    for step in data["steps"]:
        bits = step["bits"][::-1]
        values, pos = {}, 0
        for s in data["signals"]:
            chunk = bits[pos:pos + s["width"]]
            pos += s["width"]
            if s not in signals or len(chunk) < s["width"]:
                continue
            name = s["path"][0].lstrip("\\")
            v = int(chunk[::-1].replace("?", "0").replace("x", "0") or "0", 2)
            values[name] = values.get(name, 0) | (v << s["offset"])
        steps.append(values)
    return steps


def read_vcd_top(path: Path) -> list[dict[str, int | None]]:
    """Values of the top scope's signals per step of an smtbmc VCD (``smt_step`` numbers them).

    Values with x/z bits read as None.
    """
    ids, step_id, depth = {}, None, 0
    steps: list[dict] = []
    current: dict = {}
    step = None
    in_header = True
    for line in Path(path).read_text().splitlines():
        tok = line.split()
        if not tok:
            continue
        if in_header:
            if tok[0] == "$scope":
                depth += 1
            elif tok[0] == "$upscope":
                depth -= 1
            elif tok[0] == "$var":
                name = tok[4]
                if name == "smt_step":
                    step_id = tok[3]
                elif depth == 1:
                    ids[tok[3]] = name
            elif tok[0] == "$enddefinitions":
                in_header = False
            continue
        if tok[0].startswith("b") and len(tok) == 2:
            value, ident = tok[0][1:], tok[1]
        elif tok[0][0] in "01xz" and len(tok) == 1:
            value, ident = tok[0][0], tok[0][1:]
        else:
            continue
        num = None if re.search("[xz]", value, re.I) else int(value, 2)
        if ident == step_id:
            if step is not None and num != step:
                _store(steps, step, current)
            step = num
        elif ident in ids:
            current[ids[ident]] = num
    if step is not None:
        _store(steps, step, current)
    return steps


def _store(steps: list, step: int, current: dict):
    while len(steps) <= step:
        steps.append({})
    steps[step] = dict(current)


# --- the counterexample --------------------------------------------------------------------------
@dataclass
class Counterexample:
    """Inputs that make a DUT and its reference disagree.

    Attributes
    ----------
    unit : mpmac.Unit
        The unit (at the DUT's latency).
    obligation : str
    steps : list of dict
        Per clock cycle (one entry for a combinational proof): input port -> value; ``rst`` too
        when the miter drives it freely.
    dut, ref : dict
        Output name -> value of the DUT and of the reference at the failing (last) step (None when
        the trace does not have it).
    mismatched : list of str
        Compared outputs that differ.
    lag : int
        Cycles between the inputs and the outputs compared at the failing step (the DUT's latency;
        for a mac one more: ``y`` shows the state after the edge).
    dut_text : str
        Verilog of the DUT, a module named ``unit.name`` (wrapped when the DUT's top is named
        otherwise), as replayed in simulation.
    replay_path : pathlib.Path or None
        The pytest file written by :meth:`write_replay`.
    """

    unit: object
    obligation: str
    steps: list
    dut: dict
    ref: dict
    mismatched: list
    lag: int
    dut_text: str
    replay_path: Path | None = None
    sequential: bool = False
    _golden: dict | None = field(default=None, repr=False)

    # -- vectors ---------------------------------------------------------------------------------
    @property
    def failing_step(self) -> int:
        return len(self.steps) - 1

    def _data_ports(self) -> list[str]:
        return [p for p, (d, _) in self.unit.ports.items() if d == "in" and p not in ("clk", "rst")]

    def sequences(self) -> list[dict[str, list[int]]]:
        """The input steps as reset-separated sequences (a mac: each starts right after rst)."""
        ports = self._data_ports()
        seqs, cur = [], None
        for s in self.steps:
            if s.get("rst", 0):
                if cur is not None and cur[ports[0]]:
                    seqs.append(cur)
                cur = {p: [] for p in ports}
                continue
            if cur is None:
                cur = {p: [] for p in ports}
            for p in ports:
                cur[p].append(int(s.get(p, 0)))
        if cur is not None and cur[ports[0]]:
            seqs.append(cur)
        return seqs

    def vectors(self):
        """Input vectors for :func:`mpmac.sim.verify`: a dict of lists (stateless units: the steps
        since the last rst, the failing operation among them) or a list of such dicts (mac)."""
        seqs = self.sequences()
        if self.sequential:
            return seqs
        return seqs[-1]

    def failing_inputs(self) -> dict[str, int] | None:
        """The inputs whose result is compared at the failing step (None: the reset state is)."""
        if self.sequential:
            return None
        k = self.failing_step - self.lag
        return {p: int(self.steps[k].get(p, 0)) for p in self._data_ports()} if k >= 0 else None

    def golden(self) -> dict[str, int] | None:
        """y and flags the golden model gives at the failing step (None if it cannot say)."""
        if self._golden is not None:
            return self._golden
        if not self.sequential:
            inputs = self.failing_inputs()
            if inputs is None:
                return None
            out = self.unit.golden(**{p: np.asarray([v], dtype=np.uint64)
                                      for p, v in inputs.items()})
        else:
            out = self._golden_mac()
            if out is None:
                return None
        self._golden = {"y": int(np.asarray(out["y"]).ravel()[-1]),
                        "flags": int(np.asarray(out["flags"]).ravel()[-1])}
        return self._golden

    def _golden_mac(self):
        """Golden y/flags of a mac at the failing step: the state after the step ``lag`` before."""
        last_rst = max((i for i, s in enumerate(self.steps) if s.get("rst", 0)), default=None)
        if last_rst is None:
            return None
        k = self.failing_step - self.lag - last_rst - 1  # index into the sequence after rst
        if k < 0:
            return {"y": [0], "flags": [0]}  # the reset state: +0, no flags
        seq = {p: np.asarray([int(s.get(p, 0)) for s in self.steps[last_rst + 1:][:k + 1]],
                             dtype=np.uint64) for p in self._data_ports()}
        return self.unit.golden(**seq)

    # -- text ------------------------------------------------------------------------------------
    def _value(self, role: str, port: str, v) -> str:
        u = self.unit
        if v is None:
            return "?"
        if u.kind == "simd" and (port in u.operands or (port == "y" and u.reduce == "lanes")):
            return f"{int(v):#0{2 + (u.width + 3) // 4}x}"  # a word of lanes
        if port == "y":
            return code_text(u.fmt("out"), int(v))
        if port == "flags":
            return f"{int(v):#04x} ({flags_text(int(v))})"
        if port in u.operands:
            return code_text(u.fmt(port), int(v))
        if port == "acc_state":
            return f"{int(v):#x}"
        return str(int(v))

    def _outputs(self, label: str, values: dict | None) -> str:
        if values is None:
            return f"  {label:<10}(not available)"
        names = ["y", "flags"] + [n for n in self.mismatched if n not in ("y", "flags")]
        parts = [f"{n} = {self._value(label, n, values.get(n))}" for n in names if n in values]
        return f"  {label:<10}" + ", ".join(parts)

    def text(self) -> str:
        """The counterexample in number terms: inputs, reference, golden and DUT outputs."""
        u = self.unit
        lines = [f"counterexample of {self.obligation} for {u.name}: "
                 f"{', '.join(self.mismatched) or 'outputs'} "
                 f"{'differs' if len(self.mismatched) == 1 else 'differ'}"]
        ports = self._data_ports()
        if len(self.steps) == 1:
            lines.append("  inputs    " + "\n            ".join(
                f"{p} = {self._value('in', p, self.steps[0].get(p, 0))}" for p in ports))
        else:
            lines.append(f"  inputs per cycle (the outputs of cycle {self.failing_step} differ; "
                         f"they show the inputs {self.lag} cycle(s) earlier):")
            for i, s in enumerate(self.steps):
                cells = [f"rst={s.get('rst', 0)}"] if "rst" in s else []
                cells += [f"{p}={self._value('in', p, s.get(p, 0))}" if p in u.operands
                          else f"{p}={s.get(p, 0)}" for p in ports]
                lines.append(f"    {i:>3}: " + ", ".join(cells))
        lines.append(self._outputs("reference", self.ref))
        lines.append(self._outputs("golden", self.golden()))
        lines.append(self._outputs("DUT", self.dut))
        if self.replay_path is not None:
            lines.append(f"  replay in simulation: python -m pytest {self.replay_path}")
        return "\n".join(lines)

    # -- replay ----------------------------------------------------------------------------------
    def _arrays(self):
        def conv(v):
            return {p: np.asarray(x, dtype=np.uint64) for p, x in v.items()}
        vec = self.vectors()
        return [conv(s) for s in vec] if isinstance(vec, list) else conv(vec)

    def replay(self, sim: str = "icarus", engine: str = "stream"):
        """Simulate the counterexample's inputs through the DUT's Verilog against the golden model
        (:func:`mpmac.sim.verify`); returns its Result."""
        from .. import sim as msim
        return msim.verify(self.unit, self._arrays(), sim=sim, engine=engine,
                           verilog=self.dut_text)

    def write_replay(self, directory: Path | None = None) -> Path:
        """Write ``test_replay.py`` and ``dut.v`` into ``directory`` (default: under the build
        root's ``counterexamples/``); returns the test file's path."""
        if directory is None:
            from ..sim.runner import build_root
            directory = build_root() / "counterexamples" / f"{self.unit.name}-{self.obligation}"
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "dut.v").write_text(self.dut_text)
        path = directory / "test_replay.py"
        path.write_text(_REPLAY.format(
            obligation=self.obligation, name=self.unit.name,
            text="\n".join("    " + ln for ln in self.text().splitlines()[:60]),
            kind=self.unit.kind, params=repr(self.unit.params),
            vectors=_vectors_literal(self.vectors())))
        self.replay_path = path
        return path


def _vectors_literal(vec) -> str:
    if isinstance(vec, list):
        return "[\n" + "".join(f"    {_dict_literal(s)},\n" for s in vec) + "]"
    return _dict_literal(vec)


def _dict_literal(d: dict) -> str:
    return "{" + ", ".join(f"{p!r}: [{', '.join(hex(int(x)) for x in v)}]"
                           for p, v in d.items()) + "}"


_REPLAY = '''"""Replay in simulation of a counterexample found by mpmac.formal ({obligation}, {name}).

{text}

The unit is rebuilt from its parameters and the inputs run through the DUT's Verilog (dut.v beside
this file) in mpmac.sim against the golden model. The test fails while the DUT has the bug and
passes once it agrees with the golden model on these inputs.
"""

from pathlib import Path

import numpy as np

import mpmac
from mpmac import sim

UNIT = mpmac.unit({kind!r}, **{params})
VECTORS = {vectors}
DUT = Path(__file__).with_name("dut.v")


def _arrays(v):
    return {{p: np.asarray(x, dtype=np.uint64) for p, x in v.items()}}


def test_counterexample_replays_in_simulation():
    vectors = [_arrays(s) for s in VECTORS] if isinstance(VECTORS, list) else _arrays(VECTORS)
    r = sim.verify(UNIT, vectors, verilog=DUT.read_text(), engine="stream")
    assert r.checked > 0
    assert r.mismatches == 0, "\\n".join(r.first)
'''


def read_counterexample(run, proof) -> Counterexample | None:
    """The counterexample of a FAILed proof (``run``: sby.JobRun, ``proof``: prove.Proof), or None
    when sby wrote no trace."""
    yw, vcd = run.trace("yw"), run.trace("vcd")
    if yw is None:
        return None
    inputs = read_witness(yw)
    values = read_vcd_top(vcd) if vcd is not None else []
    last = values[-1] if values else {}
    unit = proof.spec
    data = [p for p in proof.data]
    steps = []
    fixed = proof.fixed or {}
    for s in inputs:
        step = {p: fixed[p] if p in fixed else s.get(input_name(p), 0) for p in data}
        if proof.reset in ("free", "first"):
            step = {"rst": s.get("rst", 0), **step}
        steps.append(step)
    names = list(proof.compare) + (["mul_x", "mul_y"] if proof.product else [])
    dut = {n: last.get(f"dut_{n}") for n in names}
    ref = {n: last.get(f"ref_{n}") for n in names}
    mismatched = [n for n in names if dut[n] is None or ref[n] is None or dut[n] != ref[n]]
    sequential = unit.sequential
    lag = unit.latency + (1 if sequential else 0)
    return Counterexample(unit, proof.obligation, steps, dut, ref, mismatched, lag,
                          _replay_verilog(unit, proof), sequential=sequential)


def _replay_verilog(unit, proof) -> str:
    """The DUT's plain Verilog as module ``unit.name`` (proof knobs off, external tops wrapped)."""
    if not proof.dut_top:
        return unit.verilog()
    if proof.dut_top == unit.name:
        return proof.dut_text
    from ..sim.mutants import wrapper
    return wrapper(unit, proof.dut_text, proof.dut_top, {})
