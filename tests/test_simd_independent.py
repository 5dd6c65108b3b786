"""An independent check of the ``simd`` engine's Verilog (issue 8: "an independent testbench with
independently computed lane results").

Nothing here comes from mpmac's golden model, its rounding or its simulation package: the lanes are
decoded by ml_dtypes (e2m1), SoftPosit (posit8_0, posit16_1) and a decoder written from the posit
definition (posit4_1); the lane products and the accumulator are added exactly with Fractions and
rounded once by a rounder written here (checked against MPFR through gmpy2); ``reduce="lanes"``
products are rounded by that rounder (e2m1, checked against ml_dtypes), by SoftPosit's multiply
(posit8_0, posit16_1) and by a posit rounder from the definition (posit4_1, checked against
SoftPosit on posit8_0). The Verilog runs under Icarus in a hand-written ``$fscanf``/``$fwrite``
testbench. Only the contract is taken from mpmac: ``mpmac.unit("simd", ...)``'s Verilog, module name
and port widths.

The contract as this file reads it (issue 8 and golden/simd.py's docstring): on a rising edge with
``in_valid`` and ``mode`` < the number of modes, ``acc <- round((clear ? +0 : acc) + sum_i a_i*b_i)``
(one rounding); ``flags`` = the OR of the rounding flags since the last such edge with ``clear``;
``rst`` gives +0 and no flags. Specials follow IEEE 754 with posit zero read as +0 and NaR as a
quiet NaN: a zero sum is the fold of the IEEE two-operand zero rule over the terms; a NaN result
is the canonical quiet NaN 0x7fc00000; NaN/NaR operands raise no flag, 0 x Inf and Inf - Inf
raise invalid. ``reduce="lanes"``: ``y`` registers each lane's product rounded to its own format
(E2M1: round to nearest even, saturating to +-6 with overflow; posits: round to nearest even on the
bit string, saturating to +-minpos/maxpos), ``flags`` the OR of the lanes' flags.
"""

from __future__ import annotations

import bisect
import functools
import re
import subprocess
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import gmpy2
import ml_dtypes
import numpy as np
import pytest
import softposit

import mpmac

INEXACT, UNDERFLOW, OVERFLOW, INVALID = 1, 2, 4, 16
FP32_NAN = 0x7FC0_0000


# --- lane formats, from their definitions ----------------------------------------------------------
@functools.lru_cache(maxsize=None)
def posit_values(n: int, es: int) -> tuple:
    """Value of every posit(n, es) code (None for NaR), decoded from the definition: sign, regime
    run, es exponent bits (missing ones read 0), fraction; negatives are two's complements."""
    values = []
    for code in range(1 << n):
        if code == 0 or code == 1 << (n - 1):
            values.append(Fraction(0) if code == 0 else None)
            continue
        neg = code >> (n - 1)
        mag = (-code) % (1 << n) if neg else code
        bits = format(mag, f"0{n}b")[1:]
        run = len(bits) - len(bits.lstrip(bits[0]))
        regime = run - 1 if bits[0] == "1" else -run
        rest = bits[run + 1:]
        exp = int(rest[:es].ljust(es, "0"), 2) if es else 0
        frac = rest[es:]
        f = Fraction(int(frac, 2), 1 << len(frac)) if frac else Fraction(0)
        v = (1 + f) * Fraction(2) ** (regime * 2 ** es + exp)
        values.append(-v if neg else v)
    return tuple(values)


def posit_round(x: Fraction, n: int, es: int) -> int:
    """The posit(n, es) code of ``x``: round to nearest even on the bit string (the tie between
    neighbouring codes c, c+1 is the (n+1)-bit posit 2c+1), saturating at minpos and maxpos."""
    if x == 0:
        return 0
    values = posit_values(n, es)
    positive = values[1:1 << (n - 1)]  # codes 1 .. maxpos, increasing
    m = abs(x)
    if m >= positive[-1]:
        code = len(positive)
    elif m <= positive[0]:
        code = 1
    else:
        code = bisect.bisect_right(positive, m)  # positive[code - 1] <= m < positive[code]
        if m != positive[code - 1]:
            tie = posit_values(n + 1, es)[2 * code + 1]
            code = code + 1 if m > tie or (m == tie and code % 2) else code
    return (-code) % (1 << n) if x < 0 else code


class Term:
    """An extended real: kind "num" (a Fraction, with the sign of a zero), "inf" or "nan"."""

    __slots__ = ("kind", "neg", "value", "signalling")

    def __init__(self, kind, neg=False, value=Fraction(0), signalling=False):
        self.kind, self.neg, self.value, self.signalling = kind, bool(neg), value, signalling


@functools.lru_cache(maxsize=None)
def decoder(name: str):
    """code -> Term for a lane format, from an independent source."""
    if name == "e2m1":
        values = np.arange(16, dtype=np.uint8).view(ml_dtypes.float4_e2m1fn).astype(np.float32)
        return [Term("num", np.signbit(v), Fraction(float(v))) for v in values]
    match = re.fullmatch(r"posit(\d+)_(\d+)", name)
    n, es = int(match[1]), int(match[2])
    if (n, es) in ((8, 0), (16, 1)):  # SoftPosit's own decoder
        cls = softposit.posit8 if n == 8 else softposit.posit16
        values = [None if cls(bits=c).isNaR() else Fraction(float(cls(bits=c))) for c in range(1 << n)]
    else:
        values = posit_values(n, es)
    return [Term("nan") if v is None else Term("num", v < 0, v) for v in values]


def lane_split(word: int, count: int, nbits: int) -> list[int]:
    return [(word >> (i * nbits)) & ((1 << nbits) - 1) for i in range(count)]


def parse_modes(text: str) -> list[tuple[int, str, int]]:
    """(lanes, format name, lane bits) per mode of a mode list such as 4xe2m1,2xposit8_0."""
    out = []
    for item in text.split(","):
        count, name = item.split("x", 1)
        bits = 4 if name == "e2m1" else int(re.fullmatch(r"posit(\d+)_\d+", name)[1])
        out.append((int(count), name, bits))
    return out


# --- exact arithmetic and one rounding -----------------------------------------------------------
def product(x: Term, y: Term) -> tuple[Term, int]:
    """IEEE product of two terms (exact), and the invalid flag it raises."""
    if "nan" in (x.kind, y.kind):
        return Term("nan"), INVALID if x.signalling or y.signalling else 0
    if "inf" in (x.kind, y.kind):
        if x.value == 0 and x.kind == "num" or y.value == 0 and y.kind == "num":
            return Term("nan"), INVALID
        return Term("inf", x.neg != y.neg), 0
    return Term("num", x.neg != y.neg, x.value * y.value), 0


def add(s: Term, t: Term, rounding: str) -> tuple[Term, int]:
    """Exact IEEE sum of two terms; an exact zero takes the two-operand sign rule."""
    if "nan" in (s.kind, t.kind):
        return Term("nan"), 0
    if s.kind == "inf" and t.kind == "inf":
        return (Term("inf", s.neg), 0) if s.neg == t.neg else (Term("nan"), INVALID)
    if "inf" in (s.kind, t.kind):
        return (s if s.kind == "inf" else t), 0
    v = s.value + t.value
    if v:
        return Term("num", v < 0, v), 0
    if s.value == 0 and t.value == 0:  # two zeros: their common sign; rdn: -0 if either is -0
        return Term("num", (s.neg or t.neg) if rounding == "rdn" else (s.neg and t.neg)), 0
    return Term("num", rounding == "rdn"), 0  # x + (-x)


def _floor_log2(m: Fraction) -> int:
    e = m.numerator.bit_length() - m.denominator.bit_length()
    return e if Fraction(2) ** e <= m else e - 1


def _round_at(m: Fraction, q: int, rounding: str, neg: bool) -> Fraction:
    """The magnitude ``m`` rounded to a multiple of 2^q."""
    scaled = m / Fraction(2) ** q
    whole = scaled.numerator // scaled.denominator
    rest = scaled - whole
    up = rest > 0 and {"rne": rest > Fraction(1, 2) or (rest == Fraction(1, 2) and whole % 2 == 1),
                       "rtz": False, "rup": not neg, "rdn": neg}[rounding]
    return (whole + up) * Fraction(2) ** q


def round_float(x: Term, p: int, emin: int, emax: int, rounding: str, has_inf: bool = True):
    """A term rounded to a binary float (p significand bits, normal exponents emin..emax, with
    subnormals); tininess after rounding. Without Inf, overflow saturates. Returns (Term, flags)."""
    if x.kind != "num" or x.value == 0:
        return x, 0
    neg, m = x.value < 0, abs(x.value)
    e = _floor_log2(m)
    r = _round_at(m, max(e, emin) - (p - 1), rounding, neg)
    flags = INEXACT if r != m else 0
    if flags and _round_at(m, e - (p - 1), rounding, neg) < Fraction(2) ** emin:
        flags |= UNDERFLOW
    largest = (2 - Fraction(2) ** (1 - p)) * Fraction(2) ** emax
    if r > largest:
        flags |= OVERFLOW | INEXACT
        to_inf = has_inf and (rounding == "rne" or rounding == ("rdn" if neg else "rup"))
        return (Term("inf", neg) if to_inf else Term("num", neg, -largest if neg else largest)), flags
    return Term("num", neg, -r if neg else r), flags


def fp32_bits(x: Term) -> int:
    if x.kind == "nan":
        return FP32_NAN
    sign = int(x.neg) << 31
    if x.kind == "inf":
        return sign | 0x7F80_0000
    return sign | int(np.float32(float(abs(x.value))).view(np.uint32))  # exact: already rounded


# --- the engine, cycle by cycle ------------------------------------------------------------------
def lane_products(modes, mode: int, a: int, b: int) -> list[tuple[Term, int]]:
    """The exact lane products of two operand words in ``mode``, with their invalid flags."""
    count, name, bits = modes[mode]
    dec = decoder(name)
    return [product(dec[x], dec[y]) for x, y in zip(lane_split(a, count, bits), lane_split(b, count, bits))]


def dot_engine(modes, rounding: str, rows) -> list[tuple[int, int]]:
    """y and flags after every edge of ``rows`` (rst, mode, a, b, in_valid, clear), fp32 acc/out."""
    acc, sticky, out = Term("num"), 0, []
    for rst, mode, a, b, valid, clear in rows:
        if rst:
            acc, sticky = Term("num"), 0
        elif valid and mode < len(modes):
            sticky = 0 if clear else sticky
            total = Term("num") if clear else acc
            for prod, invalid in lane_products(modes, mode, a, b):
                total, add_flags = add(total, prod, rounding)
                sticky |= invalid | add_flags
            acc, round_flags = round_float(total, 24, -126, 127, rounding)
            sticky |= round_flags
        out.append((fp32_bits(acc), sticky))
    return out


@functools.lru_cache(maxsize=None)
def e2m1_codes() -> dict:
    return {(t.neg, abs(t.value)): c for c, t in enumerate(decoder("e2m1"))}


def lane_round(name: str, bits: int, prod: Term, x: int, y: int) -> tuple[int, int]:
    """The product ``prod`` of lane codes ``x``, ``y`` rounded to the lane format: (code, flags)."""
    if name == "e2m1":
        r, flags = round_float(prod, 2, 0, 2, "rne", has_inf=False)
        return e2m1_codes()[(r.neg, abs(r.value))], flags
    if prod.kind == "nan":
        return 1 << (bits - 1), 0
    if name in ("posit8_0", "posit16_1"):  # SoftPosit's multiply rounds
        cls = softposit.posit8 if bits == 8 else softposit.posit16
        code = (cls(bits=x) * cls(bits=y)).v.v
    else:
        es = int(name.split("_")[1])
        code = posit_round(prod.value, bits, es)
    return code, INEXACT if decoder(name)[code].value != prod.value else 0


def lanes_engine(modes, rows) -> list[tuple[int, int]]:
    """y and flags after every edge for reduce="lanes" (rne)."""
    word, flags, out = 0, 0, []
    for rst, mode, a, b, valid, _ in rows:
        if rst:
            word, flags = 0, 0
        elif valid and mode < len(modes):
            count, name, bits = modes[mode]
            word, flags = 0, 0
            lanes = zip(lane_split(a, count, bits), lane_split(b, count, bits),
                        lane_products(modes, mode, a, b))
            for i, (x, y, (prod, invalid)) in enumerate(lanes):
                code, f = lane_round(name, bits, prod, x, y)
                word |= code << (i * bits)
                flags |= f | invalid
        out.append((word, flags))
    return out


# --- stimulus ------------------------------------------------------------------------------------
def corner_codes(name: str, bits: int) -> list[int]:
    """0, NaR/-0, +-1 and neighbours, +-minpos, +-maxpos and neighbours, by the format's definition."""
    if name == "e2m1":
        return list(range(16))
    one, nar, maxpos = 1 << (bits - 2), 1 << (bits - 1), (1 << (bits - 1)) - 1
    mags = {1, 2, one - 1, one, one + 1, maxpos - 1, maxpos}
    return sorted({0, nar} | mags | {(-m) % (1 << bits) for m in mags})


def stimulus(modes, mode_bits: int, rng, switching: int, random_per_mode: int):
    """Rows (rst, mode, a, b, in_valid, clear): a reset; per mode every operand pair in every lane
    (4-bit lanes, clear on every edge) or corner and random codes; then mode-switching cycles with
    random in_valid, clear and occasional rst."""
    rows = [(1, 0, 0, 0, 0, 0)]
    for k, (count, name, bits) in enumerate(modes):
        if bits <= 4:
            pairs = [(x, y) for x in range(16) for y in range(16)]
            order = [rng.permutation(len(pairs)) for _ in range(count)]
            for t in range(len(pairs)):
                lane = [pairs[order[i][t]] for i in range(count)]
                rows.append((0, k, _pack([p[0] for p in lane], bits), _pack([p[1] for p in lane], bits),
                             1, 1))
        else:
            for _ in range(random_per_mode):
                rows.append((0, k, _word(name, count, bits, rng), _word(name, count, bits, rng),
                             1, int(rng.random() < 0.5)))
    for _ in range(switching):
        k = int(rng.integers(0, 1 << mode_bits))
        count, name, bits = modes[min(k, len(modes) - 1)]
        a, b = _word(name, count, bits, rng), _word(name, count, bits, rng)
        if count > 1 and rng.random() < 0.25:  # lane 1's product cancels lane 0's: a zero sum
            lane_a, lane_b = lane_split(a, count, bits), lane_split(b, count, bits)
            lane_a[1], lane_b[1] = negate(name, bits, lane_a[0]), lane_b[0]
            a, b = _pack(lane_a, bits), _pack(lane_b, bits)
        rows.append((int(rng.random() < 0.01), k, a, b, int(rng.random() < 0.85),
                     int(rng.random() < 0.2)))
    return rows


def negate(name: str, bits: int, code: int) -> int:
    """The code of the negated value: floats flip the sign bit, posits take the two's complement."""
    return code ^ (1 << (bits - 1)) if name == "e2m1" else (-code) % (1 << bits)


def _pack(codes, bits) -> int:
    return sum(c << (i * bits) for i, c in enumerate(codes))


def _word(name, count, bits, rng) -> int:
    corners = corner_codes(name, bits)
    codes = []
    for _ in range(count):
        c = corners[rng.integers(len(corners))] if rng.random() < 0.3 else int(rng.integers(1 << bits))
        if decoder(name)[c].kind == "nan" and rng.random() < 0.8:  # keep NaR rarer: it sticks
            c = 0x1 if rng.random() < 0.5 else (1 << (bits - 2))
        codes.append(c)
    return _pack(codes, bits)


# --- the hand-written testbench -------------------------------------------------------------------
TESTBENCH = """`timescale 1ns/1ps
module simd_check_tb;
  reg clk = 0, rst = 1, in_valid = 0, clear = 0, next_rst;
  reg [{mb}:0] mode = 0;
  reg [{wb}:0] a = 0, b = 0;
  wire [{yb}:0] y;
  wire [4:0] flags;
  integer fin, fout, got;
  \\{name} dut (.clk(clk), .rst(rst), .mode(mode), .a(a), .b(b), .in_valid(in_valid),
               .clear(clear), .y(y), .flags(flags));
  initial begin
    fin = $fopen("stimulus.txt", "r");
    fout = $fopen("response.txt", "w");
    got = $fscanf(fin, "%h %h %h %h %h %h\\n", next_rst, mode, a, b, in_valid, clear);
    while (got == 6) begin
      rst = next_rst;
      #5 clk = 1;  // the edge samples this row
      #5 clk = 0;
      $fwrite(fout, "%h %h\\n", y, flags);
      got = $fscanf(fin, "%h %h %h %h %h %h\\n", next_rst, mode, a, b, in_valid, clear);
    end
    $fclose(fout);
    $finish;
  end
endmodule
"""


def simulate(u, rows) -> tuple[list, float]:
    """Run ``rows`` through ``u``'s Verilog under Icarus; (y, flags) per row (None for X/Z)."""
    ports = u.ports
    tb = TESTBENCH.format(name=u.name + " ", mb=ports["mode"][1] - 1, wb=ports["a"][1] - 1,
                          yb=ports["y"][1] - 1)
    with tempfile.TemporaryDirectory(prefix="simd-independent-") as tmp:
        d = Path(tmp)
        (d / "dut.v").write_text(u.verilog())
        (d / "tb.v").write_text(tb)
        (d / "stimulus.txt").write_text("".join(" ".join(f"{v:x}" for v in row) + "\n" for row in rows))
        t0 = time.perf_counter()
        subprocess.run(["iverilog", "-g2012", "-s", "simd_check_tb", "-o", "sim.vvp", "tb.v", "dut.v"],
                       cwd=d, check=True, capture_output=True)
        subprocess.run(["vvp", "-n", "sim.vvp"], cwd=d, check=True, capture_output=True)
        seconds = time.perf_counter() - t0
        lines = (d / "response.txt").read_text().split()
    pairs = [(lines[i], lines[i + 1]) for i in range(0, len(lines), 2)]
    return [None if re.search("[xXzZ]", y + f) else (int(y, 16), int(f, 16)) for y, f in pairs], seconds


def compare(tally, label, modes, rows, got, want):
    assert len(got) == len(want) == len(rows)
    bad = [t for t in range(len(rows)) if got[t] != want[t]]
    applied = {}
    for rst, mode, *_, valid, _ in rows:
        if valid and not rst and mode < len(modes):
            applied[mode] = applied.get(mode, 0) + 1
    counts = ", ".join(f"{modes[k][0]}x{modes[k][1]}: {n}" for k, n in sorted(applied.items()))
    detail = "\n".join(f"cycle {t}: row {rows[t]}: want {want[t]}, got {got[t]}" for t in bad[:5])
    tally(f"{label} (edges per mode: {counts})", len(rows), len(bad), detail=detail)
    assert len(applied) == len(modes)


# --- the oracle's own checks ----------------------------------------------------------------------
def test_posit_decoder_matches_softposit():
    for n, es, cls in ((8, 0, softposit.posit8), (16, 1, softposit.posit16)):
        mine = posit_values(n, es)
        for c in range(1 << n):
            ref = cls(bits=c)
            assert (mine[c] is None) == ref.isNaR() and (mine[c] is None or mine[c] == Fraction(float(ref)))


def test_posit_rounder_matches_softposit_products():
    rng = np.random.default_rng(3)
    vals = posit_values(8, 0)
    for x, y in rng.integers(0, 256, (4000, 2)):
        if vals[x] is None or vals[y] is None:
            continue
        want = (softposit.posit8(bits=int(x)) * softposit.posit8(bits=int(y))).v.v
        assert posit_round(vals[x] * vals[y], 8, 0) == want, (hex(x), hex(y))


@pytest.mark.parametrize("rounding", ["rne", "rtz", "rup", "rdn"])
def test_float_rounder_matches_mpfr(rounding):
    """The rounder against MPFR with fp32's precision and exponent range (subnormals emulated)."""
    ctx = gmpy2.context(precision=24, emin=-148, emax=128, subnormalize=True,
                        round={"rne": gmpy2.RoundToNearest, "rtz": gmpy2.RoundToZero,
                               "rup": gmpy2.RoundUp, "rdn": gmpy2.RoundDown}[rounding])
    rng = np.random.default_rng(4)
    for _ in range(3000):
        x = Fraction(int(rng.integers(-(1 << 40), 1 << 40)), 1) * Fraction(2) ** int(rng.integers(-200, 120))
        with ctx as active:  # a copy of ctx, fresh flags
            ref = gmpy2.mpfr(gmpy2.mpq(x.numerator, x.denominator))
        mine, flags = round_float(Term("num", x < 0, x), 24, -126, 127, rounding)
        if gmpy2.is_infinite(ref):
            assert mine.kind == "inf" and mine.neg == (ref < 0)
        else:
            assert mine.kind == "num" and mine.value == Fraction(*ref.as_integer_ratio())
        assert bool(flags & INEXACT) == active.inexact
        assert bool(flags & OVERFLOW) == active.overflow


def test_e2m1_rounder_matches_ml_dtypes():
    vals = [t.value for t in decoder("e2m1")]
    for x in vals:
        for y in vals:
            r, _ = round_float(Term("num", x * y < 0, x * y), 2, 0, 2, "rne", has_inf=False)
            ref = ml_dtypes.float4_e2m1fn(np.float32(float(x * y)))  # a product is exact in fp32
            assert r.value == Fraction(float(np.float32(ref)))


# --- the engine ----------------------------------------------------------------------------------
def check_dot(tally, rounding: str, seed: int, switching: int, random_per_mode: int):
    """The default engine (reduce="dot") in ``rounding`` on a stimulus of that size, against the
    independent model; the label counts the -0 and NaN results among the expected ones."""
    u = mpmac.unit("simd", rounding=rounding)
    modes = parse_modes(u.modes)
    rows = stimulus(modes, u.ports["mode"][1], np.random.default_rng(seed), switching=switching,
                    random_per_mode=random_per_mode)
    got, seconds = simulate(u, rows)
    want = dot_engine(modes, rounding, rows)
    specials = f"-0: {sum(y == 1 << 31 for y, _ in want)}, NaN: {sum(y == FP32_NAN for y, _ in want)}"
    compare(tally, f"{u.name} dot ({specials}), icarus {seconds:.1f} s", modes, rows, got, want)


@pytest.mark.parametrize("rounding", ["rne", "rdn"])  # rdn: where the sign of a zero sum shows
def test_default_engine_dot_matches_independent_model(tally, rounding):
    check_dot(tally, rounding, seed=5, switching=500, random_per_mode=150)


def test_default_engine_lanes_matches_independent_model(tally):
    u = mpmac.unit("simd", reduce="lanes")
    modes = parse_modes(u.modes)
    rows = stimulus(modes, u.ports["mode"][1], np.random.default_rng(6), switching=400,
                    random_per_mode=150)
    got, seconds = simulate(u, rows)
    compare(tally, f"{u.name} lanes, icarus {seconds:.1f} s", modes, rows, got,
            lanes_engine(modes, rows))


@pytest.mark.slow
@pytest.mark.parametrize("rounding", ["rne", "rdn", "rtz", "rup"])
def test_slow_default_engine_dot_long(tally, rounding):
    check_dot(tally, rounding, seed=7, switching=3000, random_per_mode=1000)
