"""Posit RTL regression: the emitted Verilog of posit units (and posit/float mixes) in simulation.

Two references:

* the golden model, through :func:`mpmac.sim.verify` (Icarus or Verilator, streaming engine);
* an **independent** check: a testbench written here (``$readmemh`` in, ``$fwrite`` out, run with
  ``iverilog``/``vvp`` directly, no mpmac.sim code) drives the Verilog, and the outputs are compared
  with results computed here from ``tests/exact_ref.py`` (Fraction posit decode/encode on the bit
  string, written from formats-reference.md, independent of mpmac.golden). The same outputs are also
  compared with the golden model, so those units are not simulated twice.

Default tier (about 6 minutes of worker time when the machine is otherwise idle):

* mul and add exhaustive (2^16 inputs) for posit8_0/8_1/8_2 and posit4_1 plus the extreme small
  shapes (posit3_0, posit5_2, posit6_3, posit7_4), posit/e4m3 mixes, a posit8_2 x e5m2 -> bf16 mul
  at latency 2; posit8_0 ``sr`` with ``rand_bits=3`` exhaustive over all 2^19 inputs (Verilator);
* converts exhaustive: posit8_* <-> e4m3/e5m2, posit8_* -> posit16_1, fp16/bf16 -> posit8_0,
  posit16_1 -> fp32 and fp16 -> posit16_1 (these two against exact_ref); sampled (4000 corner,
  targeted and random codes): posit16_1 -> bf16, bf16 -> posit16_1, posit16_1 -> posit8_0 (exact_ref);
* corner, targeted and random vectors (:func:`mpmac.sim.vectors.generate`) plus regime-boundary
  ties and saturation vectors for posit16_1, posit16_2 (Icarus, 1500 + up to 1000 ties) and
  posit32_2 (Verilator, 10k + up to 3000) mul/add/fma, and posit8_0*posit8_0+fp32 -> fp32 (2000);
* mac: quire and quire:W (overflow), out=fp32, rounded posit/float accumulators, latency 2
  (500 to 4000 cycles), and 4096-long dot products between clears checked against exact Fraction
  sums;
* port/name/latency contract and the CLI (generate, verify) with posit formats.

Slow tier (``-m slow``): every pairing of the 8-bit posit/FP formats for mul and add with either
output, all small posit shapes (3 <= N <= 8, every es), sr and latencies for every posit8 format,
every convert from and to the 8- and 16-bit formats (exhaustive) and from 32-bit formats (random),
200k-vector random sets, long quire streams, and the independent exact check on more units.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import mpmac
from exact_ref import (float_decode_finite, float_neighbours, float_ulp, floor_log2,
                       posit_decode, posit_encode)
from mpmac import sim
from mpmac.cli import main
from mpmac.golden import ops
from mpmac.sim import runner
from mpmac.sim.vectors import exhaustive_vectors, generate

INEXACT, INVALID = 1, 16
P8 = ("posit8_0", "posit8_1", "posit8_2")
FP8 = ("e4m3", "e5m2")
SMALL_POSITS = tuple(f"posit{n}_{es}" for n in range(3, 9) for es in range(0, min(4, n - 3) + 1))


def _id(params: dict) -> str:
    return "-".join(f"{k}={v}" for k, v in params.items())


def check(tally, u, vectors=None, *, expected, n=10_000, seed=0, simulator="icarus",
          exhaustive=None, label=""):
    """Simulate ``u`` against the golden model and record the comparison."""
    r = sim.verify(u, vectors, n=n, seed=seed, sim=simulator, engine="stream", exhaustive=exhaustive)
    tally(f"{u.name}{' ' + label if label else ''} [{r.sim}/{r.engine}]", r.checked, r.mismatches,
          expected=expected, detail="\n".join(r.notes + r.first))
    return r


def concat(*parts: dict) -> dict:
    parts = [p for p in parts if p and len(next(iter(p.values())))]
    return {k: np.concatenate([np.asarray(p[k], dtype=np.uint64) for p in parts]) for k in parts[0]}


def count(vectors) -> int:
    if isinstance(vectors, dict):
        return len(next(iter(vectors.values())))
    return sum(count(s) for s in vectors)


# =================================================================================================
# Independent exact reference (exact_ref.py Fractions; float formats described here, not imported)
# =================================================================================================

#: (exponent bits, mantissa bits, bias, specials) of the float formats used in the mixes
FLOATS = {"e4m3": (4, 3, 7, "fn"), "e5m2": (5, 2, 15, "ieee"), "fp16": (5, 10, 15, "ieee"),
          "bf16": (8, 7, 127, "ieee"), "fp32": (8, 23, 127, "ieee"), "e2m1": (2, 1, 1, "finite")}
QNAN, SNAN = "qnan", "snan"


def posit_params(name: str):
    m = re.fullmatch(r"posit(\d+)_(\d+)", name)
    return (int(m[1]), int(m[2])) if m else None


class Val:
    """An exact operand or result: kind num/inf/qnan/snan, a Fraction magnitude-with-sign, a sign bit."""

    __slots__ = ("kind", "v", "neg")

    def __init__(self, kind, v=Fraction(0), neg=False):
        self.kind, self.v, self.neg = kind, v, neg

    @classmethod
    def num(cls, v: Fraction, neg_zero=False):
        return cls("num", v, v < 0 or (v == 0 and neg_zero))


def _decode_uncached(name: str, bits: int) -> Val:
    p = posit_params(name)
    if p:
        v = posit_decode(bits, *p)
        return Val(QNAN) if v is None else Val.num(v)  # NaR behaves as a quiet NaN
    e, m, bias, kind = FLOATS[name]
    sign = (bits >> (e + m)) & 1
    exp, man = (bits >> m) & ((1 << e) - 1), bits & ((1 << m) - 1)
    if kind == "fn" and exp == (1 << e) - 1 and man == (1 << m) - 1:
        return Val(QNAN)
    if kind == "ieee" and exp == (1 << e) - 1:
        if man == 0:
            return Val("inf", neg=bool(sign))
        return Val(QNAN) if man >> (m - 1) else Val(SNAN)
    return Val.num(float_decode_finite(bits, e, m, bias), neg_zero=bool(sign))


@lru_cache(maxsize=None)
def _table(name: str):
    p = posit_params(name)
    nbits = p[0] if p else 1 + FLOATS[name][0] + FLOATS[name][1]
    return [_decode_uncached(name, c) for c in range(1 << nbits)] if nbits <= 16 else None


def decode(name: str, bits: int) -> Val:
    t = _table(name)
    return t[bits] if t is not None else _decode_uncached(name, bits)


def _special(*xs) -> Val | None:
    """NaN propagation shared by every op: sNaN -> invalid, quiet NaN / NaR -> quiet."""
    if any(x.kind == SNAN for x in xs):
        return Val(SNAN)
    if any(x.kind == QNAN for x in xs):
        return Val(QNAN)
    return None


def ref_mul(x: Val, y: Val) -> Val:
    s = _special(x, y)
    if s:
        return s
    neg = x.neg != y.neg
    if "inf" in (x.kind, y.kind):
        if (x.kind == "num" and x.v == 0) or (y.kind == "num" and y.v == 0):
            return Val(SNAN)  # 0 * Inf: invalid
        return Val("inf", neg=neg)
    return Val.num(x.v * y.v, neg_zero=neg)


def ref_add(x: Val, y: Val) -> Val:
    s = _special(x, y)
    if s:
        return s
    if x.kind == "inf" and y.kind == "inf":
        return Val(SNAN) if x.neg != y.neg else x
    if "inf" in (x.kind, y.kind):
        return x if x.kind == "inf" else y
    v = x.v + y.v
    return Val.num(v, neg_zero=(v == 0 and x.neg and y.neg))  # exact zero: +0 unless both -0


def ref_fma(x: Val, y: Val, z: Val) -> Val:
    zero_inf = ("inf" in (x.kind, y.kind)) and any(t.kind == "num" and t.v == 0 for t in (x, y))
    if any(t.kind == SNAN for t in (x, y, z)) or zero_inf:
        return Val(SNAN)
    return ref_add(ref_mul(x, y), z)


def encode(name: str, r: Val) -> tuple[int, int]:
    """Round an exact result into format ``name``: (bits, flags)."""
    p = posit_params(name)
    if p:
        n, es = p
        nar = 1 << (n - 1)
        if r.kind == QNAN:
            return nar, 0
        if r.kind in (SNAN, "inf"):
            return nar, INVALID  # invalid operation, or an Inf landing in a posit
        code = posit_encode(r.v, n, es)
        return code, (INEXACT if posit_decode(code, n, es) != r.v else 0)
    assert name == "fp32", name  # float outputs: only fp32 is needed (no overflow/underflow here)
    if r.kind in (QNAN, SNAN):
        return 0x7FC00000, (INVALID if r.kind == SNAN else 0)
    sign = 0x80000000 if r.neg else 0
    if r.kind == "inf":
        return sign | 0x7F800000, 0
    mag = abs(r.v)
    lo, hi = float_neighbours(mag, 24, -126)
    if hi - mag < mag - lo or (hi - mag == mag - lo and (lo / float_ulp(mag, 24, -126)) % 2 == 1):
        q = hi
    else:
        q = lo
    assert q < Fraction(2) ** 128 and (q == 0 or q >= Fraction(1, 2 ** 126)), "outside the tested range"
    bits = int(np.array([float(q)], dtype=np.float32).view(np.uint32)[0]) | sign
    return bits, (INEXACT if q != mag else 0)


def reference(u, inputs: dict) -> tuple[np.ndarray, np.ndarray]:
    """Independent expected (y, flags) of a stateless unit (rne) for input arrays."""
    assert u.rounding == "rne"
    names = {r: str(getattr(u, r)) for r in u.operands}
    out = str(u.out)
    op = {"mul": ref_mul, "add": ref_add, "fma": ref_fma, "convert": lambda x: x}[u.kind]
    cols = [inputs[r] for r in u.operands]
    ys, fs = [], []
    cache = {}
    for row in zip(*cols):
        key = tuple(int(v) for v in row)
        hit = cache.get(key)
        if hit is None:
            vals = [decode(names[r], c) for r, c in zip(u.operands, key)]
            hit = cache[key] = encode(out, op(*vals))
        ys.append(hit[0])
        fs.append(hit[1])
    return np.asarray(ys, dtype=np.uint64), np.asarray(fs, dtype=np.uint64)


def reference_quire(u, seq: dict) -> tuple[np.ndarray, np.ndarray]:
    """Independent expected (y, flags) per cycle of a quire mac fed finite operands from reset."""
    a_name, b_name, out = str(u.a), str(u.b), str(u.out)
    total = Fraction(0)
    ys, fs = [], []
    for a, b, v, c in zip(seq["a"], seq["b"], seq["in_valid"], seq["clear"]):
        if v:
            x, y = decode(a_name, int(a)), decode(b_name, int(b))
            assert x.kind == y.kind == "num"
            total = (0 if c else total) + x.v * y.v
        yb, fl = encode(out, Val.num(total))
        ys.append(yb)
        fs.append(fl)
    return np.asarray(ys, dtype=np.uint64), np.asarray(fs, dtype=np.uint64)


# =================================================================================================
# Independent testbench (Icarus, no mpmac.sim code)
# =================================================================================================

def verilog_ports(text: str, top: str) -> dict[str, tuple[str, int]]:
    """Port name -> (direction, width) parsed from the top module of emitted Verilog."""
    m = re.search(r"^module\s+" + re.escape(top) + r"\s*\(([^;]*)\);(.*?)^endmodule", text,
                  re.S | re.M)
    assert m, f"module {top} not found in the Verilog"
    header = [p.strip().lstrip("\\").strip() for p in m[1].split(",")]
    decl = {}
    for d, msb, name in re.findall(r"^\s*(input|output)\s+(?:\[(\d+):0\]\s+)?\\?(\w+)\s*;", m[2], re.M):
        decl[name] = ("in" if d == "input" else "out", int(msb) + 1 if msb else 1)
    assert sorted(header) == sorted(decl), (header, decl)
    return decl


def run_independent(u, columns: dict, workdir: Path, simulator: str = "icarus") -> tuple[np.ndarray, np.ndarray]:
    """Simulate ``u`` in a testbench written here; one output line per vector (per cycle for mac).

    Combinational units: apply, wait 1 ns, record. Clocked units (latency 0 mac only here): one
    reset edge, then per cycle apply inputs, rising edge, record ``y``/``flags`` after it.
    """
    text = u.verilog()
    ports = verilog_ports(text, u.name)
    assert ports == dict(u.ports), (ports, u.ports)
    ins = [p for p, (d, _) in ports.items() if d == "in" and p not in ("clk", "rst")]
    clocked = "clk" in ports
    assert not clocked or (u.kind == "mac" and u.latency == 0)
    n = len(columns[ins[0]])
    lines = ["`timescale 1ns/1ps", "module indep_tb;"]
    for p in ins:
        w = ports[p][1]
        lines.append(f"  reg [{w - 1}:0] r_{p}; reg [{w - 1}:0] m_{p} [0:{n - 1}];")
        body = "\n".join(format(int(v), "x") for v in columns[p]) + "\n"
        (workdir / f"{p}.hex").write_text(body)
    yw, fw = ports["y"][1], ports["flags"][1]
    lines += [f"  wire [{yw - 1}:0] w_y; wire [{fw - 1}:0] w_flags;", "  reg clk = 0, rst = 1;",
              "  integer i, f;"]
    conns = [f".\\{p} (r_{p})" for p in ins] + [".y(w_y)", ".flags(w_flags)"]
    if clocked:
        conns += [".clk(clk)", ".rst(rst)"]
    lines.append(f"  {u.name} dut ({', '.join(conns)});")
    lines += ["  initial begin"]
    lines += [f'    $readmemh("{p}.hex", m_{p});' for p in ins]
    lines.append('    f = $fopen("out.txt", "w");')
    if clocked:
        lines += [*[f"    r_{p} = 0;" for p in ins], "    #1 clk = 1; #1 clk = 0; rst = 0;"]
    lines.append(f"    for (i = 0; i < {n}; i = i + 1) begin")
    lines += [f"      r_{p} = m_{p}[i];" for p in ins]
    lines.append("      #1 clk = 1; #1 clk = 0;" if clocked else "      #1;")
    lines += ['      $fwrite(f, "%h %h\\n", w_y, w_flags);', "    end",
              "    $fclose(f);", "    $finish;", "  end", "endmodule", ""]
    (workdir / "dut.v").write_text(text)
    (workdir / "tb.v").write_text("\n".join(lines))
    env = {**os.environ, **runner.tool_env(simulator)}
    if simulator == "icarus":
        cmds = [["iverilog", "-g2012", "-s", "indep_tb", "-o", "tb.vvp", "dut.v", "tb.v"],
                ["vvp", "-n", "tb.vvp"]]
    else:  # a plain --binary build: the simulation loop is negligible next to the C++ compile
        cmds = [[str(runner.verilator_root() / "bin" / "verilator"), "--binary", "--timing",
                 "-Wno-fatal", "-Wno-lint", "-Wno-style", "--top-module", "indep_tb", "-Mdir", "obj",
                 "-o", "Vtb", "-j", "2", "dut.v", "tb.v"], ["obj/Vtb"]]
    for cmd in cmds:
        r = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True)
        assert r.returncode == 0, f"{cmd[0]} failed:\n{r.stdout[-3000:]}{r.stderr[-3000:]}"
    rows = (workdir / "out.txt").read_text().split()
    assert len(rows) == 2 * n, f"{len(rows) // 2} output lines for {n} vectors"
    assert not any(re.search(r"[xzXZ]", t) for t in rows), "x/z in the outputs"
    return (np.asarray([int(t, 16) for t in rows[0::2]], dtype=np.uint64),
            np.asarray([int(t, 16) for t in rows[1::2]], dtype=np.uint64))


def _describe(u, columns, idx, exp, got, gold):
    out = []
    for i in idx[:3]:
        ins = ", ".join(f"{p}=0x{int(columns[p][i]):x}" for p in columns)
        out.append(f"vector {i}: {ins}: exact ref y=0x{int(exp[0][i]):x} flags={int(exp[1][i])}, "
                   f"RTL y=0x{int(got[0][i]):x} flags={int(got[1][i])}, golden "
                   f"y=0x{int(gold[0][i]):x} flags={int(gold[1][i])}")
    return "\n".join(out)


def independent_check(tally, u, columns: dict, tmp_path: Path, expected_ref=None, label="",
                      simulator="icarus"):
    """Run ``columns`` through the independent bench; compare with the exact reference and golden."""
    got = run_independent(u, columns, tmp_path, simulator)
    if expected_ref is None:
        expected_ref = reference(u, columns)
    g = u.golden(**columns)
    gold = (np.asarray(g["y"], dtype=np.uint64), np.asarray(g["flags"], dtype=np.uint64))
    n = count(columns)
    bad_ref = np.flatnonzero((got[0] != expected_ref[0]) | (got[1] != expected_ref[1]))
    bad_gold = np.flatnonzero((got[0] != gold[0]) | (got[1] != gold[1]))
    tag = f"{u.name}{' ' + label if label else ''} [independent {simulator} bench]"
    try:
        tally(f"{tag} vs exact_ref", n, len(bad_ref), expected=n,
              detail=_describe(u, columns, bad_ref, expected_ref, got, gold))
    finally:
        tally(f"{tag} vs golden", n, len(bad_gold), expected=n,
              detail=_describe(u, columns, bad_gold, expected_ref, got, gold))


# =================================================================================================
# Vectors: regime-boundary ties and saturation (built with exact_ref, for pure-posit units)
# =================================================================================================

def _boundary_codes(n: int, es: int) -> list[int]:
    """Positive codes c whose tie with c+1 sits at a regime change or where exponent bits are cut."""
    top = (1 << (n - 1)) - 1
    edge = 1 << (es + 3)
    cands = set(range(0, min(top, edge))) | set(range(max(0, top - edge), top))
    for j in range(n - 1):
        for b in (1 << j, top + 1 - (1 << j)):
            cands |= {b - 2, b - 1, b}
    return sorted(c for c in cands if 0 <= c < top)


def _exact_code(x: Fraction, n: int, es: int):
    if x == 0:
        return 0
    c = posit_encode(x, n, es)
    return c if posit_decode(c, n, es) == x else None


def posit_ties(u, rng, limit: int = 3000) -> dict:
    """Operands whose exact result is a bit-string tie of the output posit (regime boundaries,
    cut exponent bits, minpos/maxpos saturation), their one-code neighbours and negations."""
    n, es = posit_params(str(u.out))
    assert all(str(getattr(u, r)) == str(u.out) for r in u.operands)
    mask = (1 << n) - 1
    neg = lambda c: (-c) & mask  # noqa: E731
    rows = []
    one = posit_encode(Fraction(1), n, es)
    for c in _boundary_codes(n, es):
        t = posit_decode(2 * c + 1, n + 1, es)  # the value halfway along the bit string
        lo, hi = posit_decode(c, n, es), posit_decode(c + 1, n, es)
        k = floor_log2(t)
        mul = []
        for s in (k, k - 2, k + 2, -k, 0):
            a = _exact_code(Fraction(2) ** s, n, es)
            b = _exact_code(t / Fraction(2) ** s, n, es) if a else None
            if a and b:
                mul.append((a, b))
                break
        add = []
        for base, code in ((lo, c), (hi, c + 1)):
            b = _exact_code(t - base, n, es)
            if b is not None and code:
                add.append((code, b))
        if u.kind == "mul":
            pairs = [(a, b) for a, b in mul] + [(a, (b + d) & mask) for a, b in mul for d in (-1, 1)]
            rows += [r for a, b in pairs for r in ((a, b), (neg(a), b))]
        elif u.kind == "add":
            pairs = add + [(a, (b + d) & mask) for a, b in add for d in (-1, 1)]
            rows += [r for a, b in pairs for r in ((a, b), (neg(a), neg(b)))]
        else:  # fma: product on the tie with c = 0, or 1 * a + c on it
            rows += [(a, b, 0) for a, b in mul] + [(neg(a), b, 0) for a, b in mul]
            rows += [(one, a, b) for a, b in add] + [(one, a, (b + 1) & mask) for a, b in add]
            rows += [(neg(one), a, neg(b)) for a, b in add]
    # saturation: products/sums beyond maxpos and below minpos (never 0, never NaR)
    maxpos, minpos = (1 << (n - 1)) - 1, 1
    big = [maxpos, maxpos - 1, posit_encode(Fraction(2), n, es), posit_encode(Fraction(3, 2), n, es)]
    small = [minpos, minpos + 1, posit_encode(Fraction(1, 2), n, es), posit_encode(Fraction(3, 4), n, es)]
    for x in big:
        for y in (maxpos, maxpos - 1):
            rows.append((x, y) if u.kind != "fma" else (x, y, maxpos))
            rows.append((neg(x), y) if u.kind != "fma" else (x, neg(y), neg(maxpos)))
    for x in small:
        for y in (minpos, minpos + 1):
            rows.append((x, y) if u.kind != "fma" else (x, y, 0))
            rows.append((neg(x), y) if u.kind != "fma" else (neg(x), y, neg(minpos)))
    rows = list(dict.fromkeys(rows))
    if len(rows) > limit:
        rows = [rows[i] for i in sorted(rng.choice(len(rows), limit, replace=False))]
    return {r: np.asarray([row[i] for row in rows], dtype=np.uint64) for i, r in enumerate(u.operands)}


def random_set(u, n: int, seed: int, ties: int = 3000) -> dict:
    """sim.vectors (corners, targeted, random) plus up to ``ties`` regime-boundary tie and
    saturation vectors for pure-posit units."""
    vec = generate(u, n, seed, exhaustive=False)
    pure = all(posit_params(str(getattr(u, r))) for r in u.operands + ("out",))
    if pure and u.rounding == "rne" and ties:
        vec = concat(vec, posit_ties(u, np.random.default_rng(seed), limit=ties))
    return vec


# =================================================================================================
# Default tier
# =================================================================================================

BINARY = [
    *[dict(kind=k, a=f) for f in ("posit8_1", "posit4_1") for k in ("mul", "add")],
    dict(kind="mul", a="posit8_2"), dict(kind="add", a="posit8_0"),  # mul 8_0, add 8_2: exact check
    *[dict(kind=k, a=f) for f in ("posit3_0", "posit5_2", "posit6_3", "posit7_4") for k in ("mul", "add")],
    dict(kind="mul", a="posit8_0", b="e4m3", out="posit8_0"),
    dict(kind="mul", a="e4m3", b="posit8_0", out="fp32"),
    dict(kind="add", a="e4m3", b="posit8_1", out="posit8_1"),
    dict(kind="mul", a="posit4_1", b="e2m1", out="e4m3"),
    dict(kind="mul", a="posit8_2", b="e5m2", out="bf16", latency=2),
    # add posit8_1 at latencies 1-3 (the same exhaustive set as latency 0): slow tier
]


@pytest.mark.parametrize("params", BINARY, ids=_id)
def test_binary_exhaustive(tally, params):
    params = dict(params)
    u = mpmac.unit(params.pop("kind"), **params)
    check(tally, u, expected=1 << (u.ports["a"][1] + u.ports["b"][1]), label="exhaustive")


def test_sr_exhaustive_with_rand(tally):
    """posit8_0 mul, sr with 3 random bits: all 2^19 (a, b, rand) combinations, on Verilator."""
    u = mpmac.unit("mul", a="posit8_0", rounding="sr", rand_bits=3)
    check(tally, u, expected=1 << 19, simulator="verilator", exhaustive=True, label="exhaustive")


CONVERTS = [
    *[dict(a=p, out=f) for p in P8 for f in ("e4m3", "e5m2", "posit16_1")],
    *[dict(a=f, out=p) for p in P8 for f in ("e4m3", "e5m2")],
    dict(a="bf16", out="posit8_0"), dict(a="fp16", out="posit8_0"),
    dict(a="posit8_0", out="posit8_2", latency=2),
    # posit16_1 -> fp32 and fp16 -> posit16_1 run exhaustively in test_exact_reference
]


@pytest.mark.parametrize("params", CONVERTS, ids=_id)
def test_convert_exhaustive(tally, params):
    u = mpmac.unit("convert", **params)
    check(tally, u, expected=1 << u.ports["a"][1], label="exhaustive")


#: converts from 16-bit formats: corner, targeted (ties, overflow) and random codes here, all 2^16
#: codes in the slow tier (test_slow_convert_exhaustive); the 8-bit ones above are exhaustive
CONVERTS_SAMPLED = [
    dict(a="posit16_1", out="bf16"),  # posit16_1 -> posit8_1/posit8_2/fp16: slow tier only
    dict(a="bf16", out="posit16_1"),
]
CONVERT_SAMPLE = 4000


@pytest.mark.parametrize("params", CONVERTS_SAMPLED, ids=_id)
def test_convert_sampled(tally, params):
    u = mpmac.unit("convert", **params)
    check(tally, u, n=CONVERT_SAMPLE, seed=13, exhaustive=False, expected=CONVERT_SAMPLE,
          label="corner+targeted+random")


#: (unit, sim.vectors count, at most this many regime-boundary tie and saturation vectors, simulator).
#: Icarus simulates a posit16 unit at several ms per vector, so the sets are small here (the slow
#: tier runs 200k-vector sets on Verilator, test_slow_random); on Verilator the build dominates.
RANDOM = [
    *[(dict(kind=k, a=f), 1500, 1000, "icarus") for f in ("posit16_1", "posit16_2")
      for k in ("mul", "add", "fma")],
    *[(dict(kind=k, a="posit32_2"), 10_000, 3000, "verilator") for k in ("mul", "add", "fma")],
    (dict(kind="fma", a="posit8_0", c="fp32", out="fp32"), 2000, 0, "icarus"),
]


@pytest.mark.parametrize("params,n,ties,simulator", RANDOM,
                         ids=lambda v: _id(v) if isinstance(v, dict) else str(v))
def test_random_and_corners(tally, tmp_path, params, n, ties, simulator):
    """sim.vectors corners, targeted and random vectors, plus (pure posits) regime-boundary ties and
    saturation. Pure-posit units run in the independent bench and are compared with exact_ref and
    with the golden model; the fp32 mix runs through mpmac.sim.verify."""
    params = dict(params)
    u = mpmac.unit(params.pop("kind"), **params)
    vec = random_set(u, n, seed=11, ties=ties)
    if all(posit_params(str(getattr(u, r))) for r in u.operands + ("out",)):
        assert count(vec) >= n + ties // 4, "too few regime-boundary tie and saturation vectors"
        independent_check(tally, u, vec, tmp_path, label="corner+ties+random", simulator=simulator)
    else:
        check(tally, u, vec, expected=count(vec), simulator=simulator, label="corner+random")


# --- mac -----------------------------------------------------------------------------------------
def _overflow_sequences(u) -> list[dict]:
    """Scripted quire:W sequences (the width must overflow within 140 maxpos^2 products):
    positive and negative overflow, idle cycles and small products while overflowed (y stays NaR),
    a clear at 250 that recovers; then a sequence that swings up and down without overflowing."""
    fa = u.fmt("a")
    maxpos, mask = fa.max_code, (1 << fa.nbits) - 1
    neg_max = (-maxpos) & mask
    one = int(ops.encode_exact(fa, "1")[0])
    seqs = []
    for sign_b in (maxpos, neg_max):
        k = 300
        a = np.full(k, maxpos, np.uint64)
        b = np.full(k, sign_b, np.uint64)
        a[200:210] = one  # small products after the overflow: still NaR
        valid = np.ones(k, np.uint64)
        valid[150:160] = 0
        clear = np.zeros(k, np.uint64)
        clear[[0, 250, 260]] = 1
        seqs.append({"a": a, "b": b, "in_valid": valid, "clear": clear})
    k = 256  # up and back down: exact cancellation through the top bits, no overflow
    a = np.full(k, maxpos, np.uint64)
    b = np.where(np.arange(k) % 2 == 0, maxpos, neg_max).astype(np.uint64)
    seqs.append({"a": a, "b": b, "in_valid": np.ones(k, np.uint64), "clear": np.zeros(k, np.uint64)})
    return seqs


#: (unit, cycles); Icarus runs the posit16 quire at several ms per cycle: the 100k-cycle streams
#: run on Verilator in the slow tier (test_slow_mac_sequences)
MACS = [
    (dict(a="posit8_0", acc="quire"), 4000),
    (dict(a="posit16_1", acc="quire"), 800),
    (dict(a="posit8_0", acc="quire:32"), 2000),  # posit16_1 quire -> fp32: the dot-product test
    (dict(a="posit8_1", acc="fp32"), 2000),
    (dict(a="e4m3", acc="posit16_1", out="posit8_0"), 1000),
    (dict(a="posit16_1", acc="quire", latency=2), 500),
]


def mac_cycles(u, seqs) -> int:
    """Compared cycles of a mac run: every cycle, plus the rst cycles between sequences (latency 0)."""
    return count(seqs) + (len(seqs) - 1 if u.latency == 0 else 0)


def mac_vectors(u, cycles: int, seed: int) -> list:
    seqs = generate(u, cycles, seed=seed)
    if u.accumulator.exact and u.acc not in ("quire", "kulisch"):
        seqs = _overflow_sequences(u) + seqs
    return seqs


@pytest.mark.parametrize("params,cycles", MACS, ids=lambda v: _id(v) if isinstance(v, dict) else str(v))
def test_mac_sequences(tally, params, cycles):
    u = mpmac.unit("mac", **params)
    seqs = mac_vectors(u, cycles, seed=5)
    check(tally, u, seqs, expected=mac_cycles(u, seqs), label="sequences")


@pytest.mark.parametrize("params", [dict(a="posit8_0", acc="quire:32"), dict(a="posit8_0", acc="quire:28"),
                                    dict(a="posit16_1", acc="quire:120")], ids=_id)
def test_quire_overflow_is_exercised(params):
    """The quire:W scripts really overflow (y = NaR with the overflow flag, sticky until a clear)
    in both directions, and recover after the clear."""
    u = mpmac.unit("mac", **params)
    nar = u.fmt("out").nar_code
    for seq in _overflow_sequences(u)[:2]:
        g = u.golden(**seq)
        assert (g["y"][140:250] == nar).all() and (g["flags"][140:250] & 4).all()
        assert g["y"][255] != nar and not g["flags"][255] & 4
    g = u.golden(**_overflow_sequences(u)[2])
    assert not (g["flags"] & 4).any()


def _dot_product(fmt_name: str, length: int, rng, cancel: bool) -> dict:
    """Operands of a dot product with a clear at the start: values of moderate magnitude (85 %)
    mixed with codes from the whole finite range. ``cancel``: the second half repeats the first
    half's products negated, and three minpos*minpos terms sit in each half, so the exact sum is
    6 minpos^2 (a rounded accumulator would have lost it)."""
    n, es = posit_params(fmt_name)
    mask, nar, top = (1 << n) - 1, 1 << (n - 1), (1 << (n - 1)) - 1

    def operand():
        moderate = rng.integers(1 << (n - 4), top - (1 << (n - 4)) + 1, length, dtype=np.int64)
        moderate = np.where(rng.random(length) < 0.5, (-moderate) & mask, moderate)
        anything = rng.integers(0, 1 << n, length, dtype=np.int64)
        anything[anything == nar] = top
        return np.where(rng.random(length) < 0.85, moderate, anything).astype(np.uint64)

    a, b = operand(), operand()
    if cancel:
        h = length // 2
        a[h:2 * h] = a[:h]
        b[h:2 * h] = (-b[:h].astype(np.int64) & mask).astype(np.uint64)
        for lo in (h - 3, 2 * h - 3):
            a[lo:lo + 3] = b[lo:lo + 3] = 1
    clear = np.zeros(length, np.uint64)
    clear[0] = 1
    return {"a": a, "b": b, "in_valid": np.ones(length, np.uint64), "clear": clear}


DOTS = [("posit8_0", "posit8_0"), ("posit16_1", "fp32")]


@pytest.mark.parametrize("fmt,out", DOTS)
def test_quire_dot_products_exact(tally, tmp_path, fmt, out):
    """4096-long dot products between clears, every cycle's y against the exact Fraction sum
    (independent bench and exact_ref) and against the golden model."""
    u = mpmac.unit("mac", a=fmt, acc="quire", out=out)
    rng = np.random.default_rng(7)
    parts = [_dot_product(fmt, 4096, rng, cancel=False)]
    if fmt == "posit8_0":
        parts.append(_dot_product(fmt, 4096, rng, cancel=True))
        idle = {"a": np.full(8, 0x40, np.uint64), "b": np.full(8, 0x40, np.uint64),
                "in_valid": np.asarray([0, 0, 1, 0, 1, 1, 0, 0], np.uint64),
                "clear": np.asarray([0, 1, 0, 0, 1, 0, 0, 1], np.uint64)}  # idle clears too
        parts.append(idle)
    seq = concat(*parts)
    exp = reference_quire(u, seq)
    independent_check(tally, u, seq, tmp_path, expected_ref=exp, label=f"{count(seq)}-cycle dot products")


# --- independent exact reference -----------------------------------------------------------------
def _exhaustive(u) -> dict:
    return exhaustive_vectors(u)


#: (unit, None for every input or a sample size); every posit16_1 code is decoded exactly into fp32
EXACT = [
    (dict(kind="mul", a="posit8_0"), None),
    (dict(kind="add", a="posit8_2"), None),
    (dict(kind="mul", a="e5m2", b="posit8_1", out="posit8_1"), None),
    (dict(kind="convert", a="posit16_1", out="fp32"), None),
    (dict(kind="convert", a="posit16_1", out="posit8_0"), 4000),  # exhaustive: slow tier
    (dict(kind="convert", a="fp16", out="posit16_1"), None),
    # posit16_1, posit16_2 and posit32_2 mul/add/fma: test_random_and_corners
]


@pytest.mark.parametrize("params,n", EXACT, ids=lambda v: _id(v) if isinstance(v, dict) else str(v))
def test_exact_reference(tally, tmp_path, params, n):
    """RTL outputs from an independent testbench against exact_ref results (and the golden model)."""
    params = dict(params)
    u = mpmac.unit(params.pop("kind"), **params)
    if n is None:
        vec = _exhaustive(u)
    else:  # posit_ties builds operands of mul/add/fma only
        vec = random_set(u, n, seed=23, ties=0 if u.kind == "convert" else n // 2)
    independent_check(tally, u, vec, tmp_path, label="exhaustive" if n is None else "sample")


def test_exact_reference_self_check():
    """The reference used above agrees with hand-worked posit cases (so a shared bug is unlikely)."""
    assert encode("posit8_0", ref_mul(decode("posit8_0", 0x40), decode("posit8_0", 0x40))) == (0x40, 0)
    assert encode("posit8_0", ref_mul(decode("posit8_0", 0x7F), decode("posit8_0", 0x7F))) == (0x7F, INEXACT)
    assert encode("posit8_0", ref_mul(decode("posit8_0", 0x01), decode("posit8_0", 0x01))) == (0x01, INEXACT)
    assert encode("posit8_0", ref_mul(decode("posit8_0", 0x80), decode("posit8_0", 0x00))) == (0x80, 0)
    assert encode("posit8_1", ref_mul(decode("e5m2", 0x7C), decode("posit8_1", 0x40))) == (0x80, INVALID)
    assert encode("posit8_1", ref_mul(decode("e5m2", 0x7D), decode("posit8_1", 0x40))) == (0x80, INVALID)
    assert encode("posit8_1", ref_mul(decode("e5m2", 0x7E), decode("posit8_1", 0x40))) == (0x80, 0)
    # 1 + 2^-6 in posit8_2 lies halfway between 1 (0x40) and 1+1/8 (0x41): ties to even -> 0x40
    x = Val.num(Fraction(1) + Fraction(1, 16))
    assert encode("posit8_2", x) == (0x40, INEXACT)
    assert encode("fp32", Val.num(Fraction(1) + Fraction(1, 2 ** 24))) == (0x3F800000, INEXACT)
    assert encode("fp32", Val.num(Fraction(0), neg_zero=True)) == (0x80000000, 0)
    assert encode("fp32", ref_mul(decode("e4m3", 0xBC), decode("posit8_0", 0))) == (0x80000000, 0)
    assert encode("fp32", Val.num(Fraction(-3, 2 ** 24) - 1)) == (0xBF800002, INEXACT)  # tie
    # ties along the bit string at a regime boundary: posit16_1 0x7ffe/0x7fff (maxpos/4, maxpos)
    t = posit_decode(2 * 0x7FFE + 1, 17, 1)
    assert t == Fraction(2) ** 27 and posit_encode(t, 16, 1) == 0x7FFE


def test_tie_vectors_hit_ties():
    """Most tie vectors of posit16_1 mul land exactly on a bit-string tie (an odd code of
    posit17_1), so they really test the rounding there."""
    u = mpmac.unit("mul", a="posit16_1")
    vec = posit_ties(u, np.random.default_rng(0), limit=10_000)
    hits = 0
    for a, b in zip(vec["a"], vec["b"]):
        x, y = decode("posit16_1", int(a)), decode("posit16_1", int(b))
        p = abs(x.v * y.v)
        if p:
            code = posit_encode(p, 17, 1)
            hits += code % 2 == 1 and posit_decode(code, 17, 1) == p
    assert hits >= len(vec["a"]) // 4, (hits, len(vec["a"]))


# --- contracts and CLI ---------------------------------------------------------------------------
CONTRACT = [
    dict(kind="mul", a="posit8_0"), dict(kind="add", a="posit16_1", latency=3),
    dict(kind="fma", a="posit16_2", latency=4), dict(kind="convert", a="posit16_1", out="e4m3", latency=2),
    dict(kind="mul", a="posit8_1", rounding="sr", rand_bits=4, latency=1),
    dict(kind="mac", a="posit8_0", acc="quire", latency=1),
]


@pytest.mark.parametrize("params", CONTRACT, ids=_id)
def test_port_latency_name_contract(params):
    params = dict(params)
    kind = params.pop("kind")
    u = mpmac.unit(kind, **params)
    text = u.verilog()
    assert verilog_ports(text, u.name) == dict(u.ports)
    fmt = lambda r: u.fmt(r).nbits  # noqa: E731
    expect = {}
    if u.latency or kind == "mac":
        expect.update(clk=("in", 1), rst=("in", 1))
    for r in u.operands:
        expect[r] = ("in", fmt(r))
    if kind == "mac":
        expect.update(in_valid=("in", 1), clear=("in", 1))
    if u.rounding == "sr":
        expect["rand"] = ("in", u.rand_bits)
    expect.update(y=("out", fmt("out")), flags=("out", 5))
    assert u.ports == expect
    parts = [kind] + [str(getattr(u, r)) for r in u.operands + ("out",)]
    assert u.name.startswith("mpmac_" + "_".join(parts)) and u.name.endswith(f"_l{u.latency}")
    assert "rand" not in text or "\\rand " in text


def test_verilog_is_deterministic():
    for params in (dict(kind="mul", a="posit8_1", b="e4m3", out="posit16_1"),
                   dict(kind="mac", a="posit8_0", acc="quire", latency=1)):
        params = dict(params)
        kind = params.pop("kind")
        assert mpmac.unit(kind, **params).verilog() == mpmac.unit(kind, **params).verilog()


@pytest.mark.parametrize("args", [
    ["mul", "--a", "posit8_0"],
    ["mul", "--a", "e4m3", "--b", "posit8_2", "--out", "fp16"],
    ["fma", "--a", "e4m3", "--b", "e4m3", "--c", "posit8_0", "--out", "posit8_0", "--latency", "2"],
    ["convert", "--a", "bf16", "--out", "posit16_2"],
    ["mac", "--a", "posit8_0", "--acc", "quire:64", "--out", "bf16"],
    ["mac", "--a", "e5m2", "--acc", "posit16_1"],
    ["add", "--a", "posit8_1", "--rounding", "sr", "--rand-bits", "5"],
])
def test_cli_generate_posit(tmp_path, args):
    out = tmp_path / "x.v"
    res = CliRunner().invoke(main, ["generate", *args, "-o", str(out)])
    assert res.exit_code == 0, res.output
    text = out.read_text()
    name = re.search(r"^module (\S+)\(", text, re.M)[1]
    assert "posit" in name and name in res.output
    assert "latency" in res.output


def test_cli_generate_and_verify_commands(tmp_path):
    """The exact commands of the issue, as a user runs them."""
    env = {**os.environ, "MPMAC_BUILD_DIR": str(runner.build_root())}
    g = subprocess.run([sys.executable, "-m", "mpmac", "generate", "mul", "--a", "posit8_0", "-o", "x.v"],
                       cwd=tmp_path, env=env, capture_output=True, text=True)
    assert g.returncode == 0, g.stderr
    assert "module mpmac_mul_posit8_0_posit8_0_posit8_0_rne_l0(" in (tmp_path / "x.v").read_text()
    v = subprocess.run([sys.executable, "-m", "mpmac", "verify", "add", "--a", "posit16_1",
                        "--vectors", "2000"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert v.returncode == 0, v.stdout + v.stderr
    assert "2,000 vectors checked, 0 mismatches" in v.stdout


def test_cli_bad_posit_format_exits_2():
    for spec in ("posit8_6", "posit2_0", "posit33_2", "posit8_5"):
        res = CliRunner().invoke(main, ["generate", "mul", "--a", spec, "-o", "-"])
        assert res.exit_code == 2, (spec, res.output)
        assert "Error: a: posit" in res.output and "Traceback" not in res.output


# =================================================================================================
# Slow tier
# =================================================================================================

def _slow_binary():
    cases = []
    fmts = P8 + FP8
    for kind in ("mul", "add"):
        for a in fmts:
            for b in fmts:
                if not (posit_params(a) or posit_params(b)):
                    continue
                for out in dict.fromkeys((a, b)):
                    cases.append(dict(kind=kind, a=a, b=b, out=out))
        for f in P8:
            for out in ("fp32", "bf16", "fp16", "posit16_1", "e4m3"):
                cases.append(dict(kind=kind, a=f, out=out))
        for f in SMALL_POSITS:
            if f not in P8:
                cases.append(dict(kind=kind, a=f))
        for f in ("e2m1", "e3m2", "e2m3"):
            cases.append(dict(kind=kind, a=f, b="posit6_1", out="posit6_1"))
            cases.append(dict(kind=kind, a="posit4_1", b=f, out="fp16"))
        for f in P8:
            for lat in (1, 2, 3):
                cases.append(dict(kind=kind, a=f, latency=lat))
    return cases


@pytest.mark.slow
@pytest.mark.parametrize("params", _slow_binary(), ids=_id)
def test_slow_binary_exhaustive(tally, params):
    params = dict(params)
    u = mpmac.unit(params.pop("kind"), **params)
    check(tally, u, expected=1 << (u.ports["a"][1] + u.ports["b"][1]), label="exhaustive")


@pytest.mark.slow
@pytest.mark.parametrize("params", [dict(kind=k, a=f, rounding="sr", rand_bits=r)
                                    for k in ("mul", "add") for f in P8 for r in (1, 3)]
                         + [dict(kind="mul", a="posit8_1", b="e4m3", out="posit8_1", rounding="sr",
                                 rand_bits=4)], ids=_id)
def test_slow_sr_exhaustive(tally, params):
    params = dict(params)
    u = mpmac.unit(params.pop("kind"), **params)
    check(tally, u, expected=1 << (16 + u.rand_bits), simulator="verilator", exhaustive=True,
          label="exhaustive")


def _slow_converts():
    p8, p16 = P8, ("posit16_1", "posit16_2", "posit16_0")
    f8, f16 = FP8, ("fp16", "bf16")
    sources = p8 + p16 + f8 + f16
    targets = p8 + p16 + f8 + f16 + ("fp32", "posit32_2", "e2m1", "posit4_1")
    cases = [dict(a=s, out=t) for s in sources for t in targets
             if s != t and (posit_params(s) or posit_params(t))]
    cases += [dict(a=s, out=t, rounding="sr", rand_bits=4) for s in ("posit16_1", "fp16", "bf16")
              for t in ("posit8_0", "posit8_2")]
    cases += [dict(a="posit16_1", out="posit8_0", latency=lat) for lat in (1, 2)]
    return cases


@pytest.mark.slow
@pytest.mark.parametrize("params", _slow_converts(), ids=_id)
def test_slow_convert_exhaustive(tally, params):
    u = mpmac.unit("convert", **params)
    bits = sum(w for p, (d, w) in u.ports.items() if d == "in" and p not in ("clk", "rst"))
    simulator = "icarus" if u.ports["a"][1] <= 8 else "verilator"
    check(tally, u, expected=1 << bits, simulator=simulator, exhaustive=True, label="exhaustive")


@pytest.mark.slow
@pytest.mark.parametrize("params", [dict(a=s, out=t) for s in ("fp32", "posit32_2")
                                    for t in ("posit8_0", "posit8_2", "posit16_1", "posit16_2",
                                              "e4m3", "bf16", "fp16")
                                    if s != t and (posit_params(s) or posit_params(t))]
                         + [dict(a="posit32_2", out="fp32"), dict(a="fp32", out="posit32_2")], ids=_id)
def test_slow_convert_wide_random(tally, params):
    u = mpmac.unit("convert", **params)
    check(tally, u, expected=50_000, n=50_000, seed=3, simulator="verilator", label="random")


SLOW_RANDOM = [dict(kind=k, a=f) for f in ("posit16_1", "posit16_2", "posit16_0", "posit32_2", "posit32_3",
                                           "posit24_1", "posit12_4") for k in ("mul", "add", "fma")]
SLOW_RANDOM += [dict(kind="fma", a="posit16_1", latency=lat) for lat in (1, 2, 3, 4)]
SLOW_RANDOM += [dict(kind=k, a="posit32_2", rounding="sr", rand_bits=8) for k in ("mul", "add", "fma")]
SLOW_RANDOM += [dict(kind="fma", a="posit8_0", c="fp32", out="fp32"),
                dict(kind="fma", a="e4m3", b="posit8_1", c="bf16", out="posit16_1"),
                dict(kind="fma", a="posit16_1", b="bf16", c="fp32", out="posit32_2"),
                dict(kind="mul", a="posit16_1", b="fp16", out="fp32"),
                dict(kind="add", a="bf16", b="posit16_2", out="posit16_2"),
                dict(kind="fma", a="posit8_0", c="posit8_0", out="posit8_0")]


@pytest.mark.slow
@pytest.mark.parametrize("params", SLOW_RANDOM, ids=_id)
def test_slow_random(tally, params):
    params = dict(params)
    u = mpmac.unit(params.pop("kind"), **params)
    vec = random_set(u, 200_000, seed=101)
    check(tally, u, vec, expected=count(vec), simulator="verilator", label="corner+ties+random")


@pytest.mark.slow
def test_slow_fma_posit8_exhaustive(tally):
    """posit8_0 fma, all 2^24 (a, b, c)."""
    u = mpmac.unit("fma", a="posit8_0")
    check(tally, u, expected=1 << 24, simulator="verilator", exhaustive=True, label="exhaustive")


SLOW_MACS = [dict(a=f, acc="quire", latency=lat) for f in ("posit8_0", "posit8_2", "posit16_1",
                                                          "posit16_2", "posit32_2") for lat in (0, 2)]
SLOW_MACS += [dict(a="posit16_1", acc="quire:120"), dict(a="posit8_0", acc="quire:28"),
              dict(a="posit32_2", acc="quire", out="fp32"), dict(a="posit8_1", acc="quire", out="bf16"),
              dict(a="posit16_1", acc="posit16_1"), dict(a="posit8_0", acc="posit16_1", out="posit8_0"),
              dict(a="posit16_1", acc="fp32", out="posit16_1"), dict(a="e4m3", acc="posit32_2"),
              dict(a="posit8_0", acc="quire", rounding="sr", rand_bits=4),
              dict(a="posit16_1", b="e4m3", acc="kulisch", out="posit16_1")]


@pytest.mark.slow
@pytest.mark.parametrize("params", SLOW_MACS, ids=_id)
def test_slow_mac_sequences(tally, params):
    u = mpmac.unit("mac", **params)
    seqs = mac_vectors(u, 100_000, seed=9)
    check(tally, u, seqs, expected=mac_cycles(u, seqs), simulator="verilator", label="sequences")


SLOW_EXACT = [
    *[(dict(kind=k, a=f), None) for f in P8 for k in ("mul", "add")],
    *[(dict(kind=k, a=a, b=b, out=b), None) for a in FP8 for b in P8 for k in ("mul", "add")],
    (dict(kind="mul", a="e4m3", b="posit8_2", out="fp32"), None),
    *[(dict(kind="convert", a=a, out=b), None) for a in ("posit16_1", "posit16_2")
      for b in ("fp32", "posit8_0", "posit8_1", "posit8_2", "posit32_2")],
    *[(dict(kind="convert", a=a, out=b), None) for a in ("fp16", "bf16", "e4m3", "e5m2")
      for b in ("posit16_1", "posit16_2", "posit8_1")],
    *[(dict(kind=k, a=f), 20_000) for f in ("posit16_1", "posit16_2", "posit32_2") for k in ("mul", "add", "fma")],
]


@pytest.mark.slow
@pytest.mark.parametrize("params,n", SLOW_EXACT, ids=lambda v: _id(v) if isinstance(v, dict) else str(v))
def test_slow_exact_reference(tally, tmp_path, params, n):
    params = dict(params)
    u = mpmac.unit(params.pop("kind"), **params)
    vec = _exhaustive(u) if n is None else random_set(u, n, seed=29)
    independent_check(tally, u, vec, tmp_path, label="exhaustive" if n is None else "sample",
                      simulator="icarus" if n is None else "verilator")


@pytest.mark.slow
@pytest.mark.parametrize("fmt,out", [("posit8_2", "posit8_2"), ("posit16_2", "posit16_2"),
                                     ("posit32_2", "posit32_2"), ("posit16_1", "posit16_1")])
def test_slow_quire_dot_products_exact(tally, tmp_path, fmt, out):
    u = mpmac.unit("mac", a=fmt, acc="quire", out=out)
    rng = np.random.default_rng(17)
    seq = concat(*[_dot_product(fmt, 4096, rng, cancel=c) for c in (False, True, False, True)])
    exp = reference_quire(u, seq)
    independent_check(tally, u, seq, tmp_path, expected_ref=exp, label=f"{count(seq)}-cycle dot products")
