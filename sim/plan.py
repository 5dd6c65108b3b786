"""A simulation plan: the per-step input columns and expected outputs of one run, for every engine.

A *step* is what the testbench applies at once: one vector (combinational units), one clock cycle
(pipelined units and mac). Stateless units get one step per vector; a mac gets its sequences one
after the other, separated by a step with ``rst`` high (whose outputs must read +0 and no flags;
with ``latency=N > 0`` each sequence first gets N idle, uncompared cycles, so that its last
updates reach ``y`` before the reset).
Expected outputs come from ``unit.golden``; the testbench's observation ``k`` shows step
``k - delay`` (``delay``: 0 for combinational units, ``latency - 1`` for pipelined ones, ``latency``
for mac, whose ``y[t]`` is readable right after the edge of step ``t``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..golden import ops
from ..golden.formats import FloatFormat
from ..golden.rounding import Flags
from .vectors import input_ports

__all__ = ["Plan", "flags_text", "code_text", "lanes_text"]


def flags_text(flags: int) -> str:
    """Flag names of a flags value (``inexact|overflow``), ``-`` when none is set."""
    names = sorted((v, k.lower()) for k, v in vars(Flags).items()
                   if k.isupper() and k != "WIDTH" and isinstance(v, int))
    set_ = [n for bit, n in names if int(flags) & bit]
    return "|".join(set_) if set_ else "-"


def _value(fmt, code: int) -> str:
    if fmt.is_posit and code == fmt.nar_code:
        return "NaR"
    v = float(ops.decode(fmt, np.asarray([code], dtype=ops.bits_dtype(fmt)))[0])
    if v != v:
        return "NaN"
    if v in (float("inf"), float("-inf")):
        return "+Inf" if v > 0 else "-Inf"
    if v == 0:
        return "-0" if np.signbit(v) else "0"
    return f"{v:.10g}" if v == int(v) and abs(v) < 1e16 else repr(v)


def code_text(fmt, code) -> str:
    """``0x3c = 0 0111 100 = 1.5``: hex bits, fields (float: sign exponent mantissa) and value."""
    if not isinstance(code, (int, np.integer)):
        return f"{code} (X/Z: not a 0/1 value)"
    code = int(code)
    b = f"{code:0{fmt.nbits}b}"
    if isinstance(fmt, FloatFormat):
        e = 1 + fmt.exp_bits
        fields = " ".join(p for p in (b[0], b[1:e], b[e:]) if p)
    else:
        fields = f"{b[0]} {b[1:]}"
    return f"0x{code:0{(fmt.nbits + 3) // 4}x} = {fields} = {_value(fmt, code)}"


def lanes_text(lanes, word) -> str:
    """A packed lane word in human terms: hex, then each lane's :func:`code_text`, lane 0 first."""
    if not isinstance(word, (int, np.integer)):
        return f"{word} (X/Z: not a 0/1 value)"
    word = int(word)
    parts = ", ".join(f"[{i}] {code_text(lanes.fmt, c)}" for i, c in enumerate(lanes.split(word)))
    return f"0x{word:0{(lanes.bits + 3) // 4}x} as {lanes.name}: {parts}"


@dataclass
class Plan:
    """Inputs and expected outputs of one simulation run (see the module docstring).

    Attributes
    ----------
    inputs : dict
        Data input port -> uint64 array over steps (port order of ``unit.ports``).
    rst : ndarray or None
        Per-step ``rst`` of clocked units (uint64), None for combinational ones.
    exp_y, exp_flags : ndarray
        Expected outputs per step.
    check : ndarray of bool
        Steps whose outputs are compared.
    delay : int
        Observation ``k`` shows step ``k - delay``.
    origin : list
        For mac: (sequence, cycle) of each step, cycle -1 for the rst step before a sequence.
    """

    unit: object
    inputs: dict
    rst: np.ndarray | None
    exp_y: np.ndarray
    exp_flags: np.ndarray
    check: np.ndarray
    delay: int
    origin: list = field(default_factory=list)

    @property
    def clocked(self) -> bool:
        return self.rst is not None

    @property
    def steps(self) -> int:
        return len(self.exp_y)

    @property
    def vectors(self) -> int:
        """Compared steps."""
        return int(self.check.sum())

    @classmethod
    def build(cls, unit, vectors) -> "Plan":
        """Plan for ``vectors``: a dict port -> array (stateless units) or, for mac, one such dict
        per sequence (a list; one dict is one sequence; missing in_valid/clear default to 1/0)."""
        ports = input_ports(unit)
        if unit.sequential:
            return cls._build_sequences(unit, ports, vectors)
        if not isinstance(vectors, dict):
            raise TypeError(f"vectors for {unit.kind} must be a dict of input arrays, "
                            f"not {type(vectors).__name__}")
        cols = cls._columns(unit, ports, vectors)
        expected = unit.golden(**cols)
        n = len(expected["y"])
        clocked = unit.latency > 0
        return cls(unit=unit, inputs=cols, rst=np.zeros(n, np.uint64) if clocked else None,
                   exp_y=expected["y"].astype(np.uint64), exp_flags=expected["flags"].astype(np.uint8),
                   check=np.ones(n, bool), delay=unit.latency - 1 if clocked else 0)

    @staticmethod
    def _columns(unit, ports, vectors, defaults=None) -> dict:
        unknown = set(vectors) - set(ports)
        if unknown:
            raise ValueError(f"unknown input(s) {sorted(unknown)} for {unit.name}; inputs: {list(ports)}")
        defaults = defaults or {}
        missing = [p for p in ports if p not in vectors and p not in defaults]
        if missing:
            raise ValueError(f"missing input(s) {missing} for {unit.name}")
        arrays = [np.asarray(vectors.get(p, defaults.get(p))) for p in ports]
        for p, a in zip(ports, arrays):
            if a.dtype.kind not in "uib":
                raise TypeError(f"input {p} must hold integer bit patterns, got dtype {a.dtype}")
        shape = np.broadcast_shapes(*(a.shape for a in arrays))
        if len(shape) != 1:
            raise ValueError(f"vectors must be 1-D arrays (or scalars); got shape {shape}")
        return {p: np.ascontiguousarray(np.broadcast_to(a, shape)).astype(np.uint64)
                for p, a in zip(ports, arrays)}

    @classmethod
    def _build_sequences(cls, unit, ports, sequences) -> "Plan":
        if isinstance(sequences, dict):
            sequences = [sequences]
        cols = {p: [] for p in ports}
        rst, ys, fs, check, origin = [], [], [], [], []
        delay = unit.latency
        for j, seq in enumerate(sequences):
            seq_cols = cls._columns(unit, ports, seq, defaults={"in_valid": 1, "clear": 0})
            pad = delay if j + 1 < len(sequences) else 0
            if pad:
                # idle cycles (in_valid low) while the last updates travel to y: their own
                # observations would fall on or after the rst edge, so they are not compared
                seq_cols = {p: np.concatenate([c, np.zeros(pad, np.uint64)])
                            for p, c in seq_cols.items()}
            expected = unit.golden(**seq_cols)
            if j:  # one rst cycle between sequences: outputs read +0, no flags
                for p in ports:
                    cols[p].append(np.zeros(1, np.uint64))
                rst.append(np.ones(1, np.uint64))
                ys.append(np.zeros(1, np.uint64))
                fs.append(np.zeros(1, np.uint8))
                check.append(np.asarray([delay == 0]))
                origin.append((j, -1))
            n = len(expected["y"])
            for p in ports:
                cols[p].append(seq_cols[p])
            rst.append(np.zeros(n, np.uint64))
            ys.append(expected["y"].astype(np.uint64))
            fs.append(expected["flags"].astype(np.uint8))
            check.append(np.arange(n) < n - pad)
            origin += [(j, t) for t in range(n)]
        if not origin:
            raise ValueError("no mac sequence to simulate")
        return cls(unit=unit, inputs={p: np.concatenate(c) for p, c in cols.items()},
                   rst=np.concatenate(rst), exp_y=np.concatenate(ys), exp_flags=np.concatenate(fs),
                   check=np.concatenate(check), delay=delay, origin=origin)

    # -- files for the testbenches -------------------------------------------------------------
    def write_npz(self, path: Path):
        """The cocotb testbench's vector file (see :mod:`mpmac.sim.tb_unit`)."""
        meta = {"inputs": list(self.inputs), "clocked": self.clocked, "delay": self.delay,
                "unit": self.unit.name}
        arrays = {f"in_{p}": a for p, a in self.inputs.items()}
        if self.clocked:
            arrays["rst"] = self.rst
        np.savez(path, meta=np.asarray(json.dumps(meta)), exp_y=self.exp_y,
                 exp_flags=self.exp_flags, check=self.check, **arrays)

    # -- comparison ----------------------------------------------------------------------------
    def mismatches(self, got_y, got_flags, got_valid, delay=None) -> np.ndarray:
        """Steps (checked ones only) whose observed outputs differ, for observations shifted by
        ``delay`` (default: the plan's)."""
        d = self.delay if delay is None else delay
        n = self.steps
        obs = np.arange(n) + d
        inside = (obs >= 0) & (obs < len(got_y))
        idx = np.clip(obs, 0, max(len(got_y) - 1, 0))
        if len(got_y) == 0:
            return np.flatnonzero(self.check)
        bad = ~inside | ~got_valid[idx] | (got_y[idx] != self.exp_y) | (got_flags[idx] != self.exp_flags)
        return np.flatnonzero(bad & self.check)

    def latency_hint(self, got_y, got_flags, got_valid) -> str | None:
        """When the outputs match the golden model at another delay, say so in latency terms."""
        if not self.clocked:
            return None
        base = len(self.mismatches(got_y, got_flags, got_valid))
        best = None
        for d in range(0, self.delay + 6):
            if d == self.delay:
                continue
            bad = len(self.mismatches(got_y, got_flags, got_valid, d))
            if bad * 10 < base and (best is None or bad < best[1]):
                best = (d, bad)
        if best is None:
            return None
        offset = 0 if self.unit.sequential else 1
        return (f"the outputs match the golden model {best[0] + offset} cycle(s) after the inputs "
                f"({best[1]} mismatches instead of {base}): the unit declares latency="
                f"{self.unit.latency}, the Verilog behaves like latency={best[0] + offset}")

    # -- human-readable mismatches -------------------------------------------------------------
    def _step_lanes(self, step: int):
        """The lane mode (golden.simd.Lanes) a lane unit applies at ``step``; None beyond the list."""
        k = int(self.inputs["mode"][step])
        return self.unit.lanes[k] if k < len(self.unit.lanes) else None

    def _output_lanes(self, step: int):
        """The lane mode of the last edge at or before ``step`` (in its sequence) that updated y."""
        seq = self.origin[step][0]
        for t in range(step, -1, -1):
            if self.origin[t][0] != seq or self.origin[t][1] < 0:
                return None
            lanes = self._step_lanes(t)
            if lanes is not None and self.inputs["in_valid"][t]:
                return lanes
        return None

    def _operand_text(self, port: str, step: int) -> str:
        code = int(self.inputs[port][step])
        if getattr(self.unit, "lanes", None) is None:
            return code_text(self.unit.fmt(port), code)
        lanes = self._step_lanes(step)
        return f"0x{code:x} (mode beyond the list)" if lanes is None else lanes_text(lanes, code)

    def _output_text(self, code, step: int) -> str:
        """``y`` in the output format, or, for a unit whose ``y`` packs lanes, lane by lane."""
        out = self.unit.fmt("out")
        if out is not None:
            return code_text(out, code)
        lanes = self._output_lanes(step)
        if lanes is None or not isinstance(code, (int, np.integer)):
            return f"0x{int(code):x}" if isinstance(code, (int, np.integer)) else str(code)
        return lanes_text(lanes, code)

    def describe(self, step: int, got_y, got_flags) -> str:
        """One mismatch in human terms: inputs, expected and observed outputs."""
        u = self.unit
        parts = []
        for p in self.inputs:
            if p in u.operands:
                parts.append(f"{p} = {self._operand_text(p, step)}")
            else:
                parts.append(f"{p} = {int(self.inputs[p][step])}")
        if u.sequential:
            seq, cycle = self.origin[step]
            where = (f"sequence {seq}, rst cycle before it" if cycle < 0 else
                     f"sequence {seq}, cycle {cycle} after rst")
            head = f"step {step} ({where}):"
            if cycle > 0:
                previous = self._output_text(int(self.exp_y[step - 1]), step - 1)
                parts.append(f"(previous expected y = {previous}, "
                             f"flags {flags_text(int(self.exp_flags[step - 1]))})")
            if cycle < 0:
                parts = ["rst = 1"]
        else:
            head = f"vector {step}:"
        got_flags_text = flags_text(got_flags) if isinstance(got_flags, (int, np.integer)) \
            else f"{got_flags} (X/Z)"
        lines = [head, "  inputs    " + "\n            ".join(parts),
                 f"  expected  y = {self._output_text(int(self.exp_y[step]), step)}, "
                 f"flags {flags_text(int(self.exp_flags[step]))}",
                 f"  got       y = {self._output_text(got_y, step)}, flags {got_flags_text}"]
        return "\n".join(lines)
