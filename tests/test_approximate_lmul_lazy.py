"""L-Mul (``mul_approx="lmul"``) and the lazy mac accumulator (``normalize="lazy:G"``).

Golden level: the golden L-Mul against the paper's definition evaluated with Fractions from the
decoded operands (incl. the carry case 1.75 x 1.75 -> 3.25), and the golden lazy accumulator against
a Fraction model written from docs/approximate.md.

RTL level (default tier, streaming engine on Icarus, the ``tally`` pattern of
test_rtl_regression.py): lmul mul exhaustive for the five small formats and options, lmul fma
random 20k, lmul and lazy mac sequences with in_valid/clear switches and rst between them. Every
set is also checked to contain vectors on which the approximate unit differs from the exact one,
so that an exact datapath would fail it. Slow tier: lmul mul in every mode, long lazy streams.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from amaranth.back import rtlil
from amaranth.sim import Simulator

import mpmac
from mpmac import sim
from mpmac.golden import core, ops
from mpmac.golden import mac as golden_mac
from mpmac.golden.formats import parse_format
from mpmac.rtl.lint import icarus_compile, verilator_lint
from mpmac.sim.vectors import exhaustive_vectors, input_bits

from test_rtl_regression import _id, check, mac_expected

SMALL = ("e4m3", "e5m2", "e3m2", "e2m3", "e2m1")


def _exact_twin(u):
    """The same unit with the exact multiplier and normalization."""
    params = {k: v for k, v in u.params.items() if k not in ("mul_approx", "normalize")}
    return mpmac.unit(u.kind, **params)


def differing(u, vectors) -> int:
    """Vectors (mac: cycles) on which ``u`` and its exact twin disagree in y or flags."""
    exact = _exact_twin(u)
    if isinstance(vectors, dict):
        vectors = [vectors]
    count = 0
    for v in vectors:
        got, ref = u.golden(**v), exact.golden(**v)
        count += int(np.count_nonzero((got["y"] != ref["y"]) | (got["flags"] != ref["flags"])))
    return count


# --- golden: L-Mul against the paper's definition -------------------------------------------------
def lmul_offset_exponent(m: int) -> int:
    """l(m) of Luo & Sun: the offset is 2^-l(m)."""
    return m if m <= 3 else (3 if m == 4 else 4)


def lmul_reference(fmt, x: float, y: float) -> Fraction:
    """L-Mul of two finite decoded operands in the integer-add form (docs/approximate.md):
    ``f = xm + ym + 2^-l(m)``, ``c = floor(f)``, value ``2^(xe + ye + c) (1 + f - c)``; subnormal
    or zero operands give 0 (only the magnitude is returned; the sign is the XOR)."""
    if abs(x) < fmt.min_normal or abs(y) < fmt.min_normal:
        return Fraction(0)
    parts = []
    for v in (abs(x), abs(y)):
        mant, e = math.frexp(v)  # v = mant * 2^e, mant in [0.5, 1): exact
        parts.append((Fraction(mant) * 2 - 1, e - 1))
    (xm, xe), (ym, ye) = parts
    f = xm + ym + Fraction(1, 2 ** lmul_offset_exponent(fmt.man_bits))
    c = math.floor(f)
    return (1 + f - c) * Fraction(2) ** (xe + ye + c)


@pytest.mark.parametrize("fmt", SMALL)
def test_golden_lmul_is_the_paper_definition(fmt):
    """All operand pairs, delivered exactly in fp32: the golden L-Mul equals the Fraction model."""
    u = mpmac.unit("mul", a=fmt, out="fp32", mul_approx="lmul")
    f = parse_format(fmt)
    codes = np.arange(1 << f.nbits, dtype=np.uint64)
    a, b = (g.reshape(-1) for g in np.meshgrid(codes, codes, indexing="ij"))
    g = u.golden(a=a, b=b)
    y = ops.decode(parse_format("fp32"), g["y"])
    xa, xb = ops.decode(f, a), ops.decode(f, b)
    finite = np.isfinite(xa) & np.isfinite(xb)
    checked = 0
    for i in np.flatnonzero(finite):
        want = lmul_reference(f, float(xa[i]), float(xb[i]))
        assert Fraction(abs(float(y[i]))) == want, (fmt, int(a[i]), int(b[i]), float(y[i]), want)
        if want:
            assert (y[i] < 0) == ((xa[i] < 0) != (xb[i] < 0))
        checked += 1
    assert checked == int(finite.sum()) > 0
    assert np.all(g["flags"][finite] == 0)  # exact in fp32
    # NaN operands and Inf x 0 give NaN, as for the exact product
    nan = np.isnan(xa) | np.isnan(xb) | (np.isinf(xa) & (xb == 0)) | (np.isinf(xb) & (xa == 0))
    assert np.all(np.isnan(y[nan]))


def _code(fmt: str, value: str) -> int:
    return int(ops.encode_exact(fmt, value)[0])


def test_golden_lmul_carry_case():
    """1.75 x 1.75 in e4m3: the integer-add form carries into the exponent, giving 3.25 (the literal
    formula 1 + 0.75 + 0.75 + 2^-3 = 2.625, the exact product 3.0625)."""
    x = _code("e4m3", "1.75")
    lmul = mpmac.unit("mul", a="e4m3", mul_approx="lmul").golden(a=x, b=x)
    exact = mpmac.unit("mul", a="e4m3").golden(a=x, b=x)
    assert int(lmul["y"]) == _code("e4m3", "3.25") and int(lmul["flags"]) == 0
    assert int(exact["y"]) == _code("e4m3", "3")  # 3.0625 rounds to 3 in e4m3
    assert lmul_reference(parse_format("e4m3"), 1.75, 1.75) == Fraction(13, 4)
    # no carry: the literal formula, e.g. 1.25 x 1.125 -> 1 + 0.25 + 0.125 + 0.125 = 1.5
    y = mpmac.unit("mul", a="e4m3", mul_approx="lmul").golden(a=_code("e4m3", "1.25"),
                                                              b=_code("e4m3", "1.125"))
    assert int(y["y"]) == _code("e4m3", "1.5")


def test_golden_lmul_subnormal_operands_are_zero():
    f = parse_format("e4m3")
    sub, one = 1, _code("e4m3", "1")  # the smallest subnormal
    g = mpmac.unit("mul", a="e4m3", mul_approx="lmul").golden(a=[sub, sub | f.sign_mask],
                                                              b=[one, one])
    assert list(g["y"]) == [0, f.sign_mask]


# --- golden: the lazy accumulator against a Fraction model ----------------------------------------
def lazy_reference(fa, acc_fmt, guard, a, b, valid, clear):
    """docs/approximate.md's lazy accumulator with Fractions (rne; finite operands): returns the
    accumulator value (a Fraction, or +-inf as a float) after each cycle and the sticky flags."""
    W = acc_fmt.precision + guard
    floor = acc_fmt.qmin - guard
    xa, xb = ops.decode(fa, np.asarray(a)), ops.decode(fa, np.asarray(b))
    value, top, special, sticky = Fraction(0), None, None, 0
    values, flags = [], []
    for t in range(len(a)):
        if valid[t]:
            if clear[t]:
                value, top, special, sticky = Fraction(0), None, None, 0
            prod = Fraction(float(xa[t])) * Fraction(float(xb[t]))
            if special is None and prod != 0:
                prod_top = (math.frexp(abs(xa[t]))[1] - 1) + (math.frexp(abs(xb[t]))[1] - 1) + 1
                top = prod_top if value == 0 else max(top, prod_top)
                value += prod
                if value == 0:
                    top = None
                else:
                    if abs(value) >= Fraction(2) ** (top + 1):  # carried out of the field
                        top += 1
                    q = max(top - W + 1, floor)
                    v = round(value / Fraction(2) ** q)  # ties to even
                    if abs(v) == 2 ** W:
                        top += 1
                    inexact = v * Fraction(2) ** q != value
                    if v == 0:
                        value, top = Fraction(0), None
                        sticky |= 0b11  # underflow, inexact
                    elif top > acc_fmt.emax:
                        special, value = math.copysign(math.inf, value), Fraction(0)
                        sticky |= 0b101  # overflow, inexact
                    else:
                        value = v * Fraction(2) ** q
                        sticky |= int(inexact)
        values.append(special if special is not None else value)
        flags.append(sticky)
    return values, flags


def _finite_sequence(fmt: str, n: int, seed: int):
    """Moderate finite operands with in_valid/clear switches; half the products are negated
    copies of recent ones, so that sums cancel, some of them exactly right after a clear."""
    rng = np.random.default_rng(seed)
    f = parse_format(fmt)
    one = _code(fmt, "1")
    a = rng.integers(one - 3 * (1 << f.man_bits), one + 3 * (1 << f.man_bits), n).astype(np.uint64)
    b = rng.integers(one - 2 * (1 << f.man_bits), one + 2 * (1 << f.man_bits), n).astype(np.uint64)
    echo = rng.random(n) < 0.5
    for t in np.flatnonzero(echo)[1:]:
        k = max(0, t - int(rng.integers(1, 4)))
        a[t], b[t] = a[k] ^ np.uint64(f.sign_mask), b[k]
    valid = (rng.random(n) < 0.9).astype(np.uint64)
    clear = (rng.random(n) < 0.05).astype(np.uint64)
    for t in rng.choice(n - 1, n // 40, replace=False):  # +0 + p - p: an exact zero sum
        clear[t], valid[t], valid[t + 1] = 1, 1, 1
        a[t + 1], b[t + 1] = a[t] ^ np.uint64(f.sign_mask), b[t]
    return a, b, valid, clear


@pytest.mark.parametrize("acc,guard", [("fp16", 4), ("fp16", 0), ("bf16", 2)])
def test_golden_lazy_is_the_documented_accumulator(acc, guard):
    """Readout into fp32 is exact (W <= 24 bits, in range), so y is the accumulator's value."""
    u = mpmac.unit("mac", a="e4m3", acc=acc, out="fp32", normalize=f"lazy:{guard}")
    a, b, valid, clear = _finite_sequence("e4m3", 3000, seed=5 + guard)
    g = u.golden(a=a, b=b, in_valid=valid, clear=clear)
    values, flags = lazy_reference(parse_format("e4m3"), parse_format(acc), guard, a, b, valid,
                                   clear)
    y = ops.decode(parse_format("fp32"), g["y"])
    for t, want in enumerate(values):
        got = float(y[t]) if math.isinf(y[t]) else Fraction(float(y[t]))
        assert got == want, (t, float(y[t]), want)
    assert list(g["flags"]) == flags
    assert sum(1 for v in values if isinstance(v, Fraction) and v != 0) > 1000
    # the accumulator is approximate: the exact rounded-acc mac (acc=fp16/bf16) differs
    assert differing(u, dict(a=a, b=b, in_valid=valid, clear=clear)) > 0


def test_golden_lazy_grid_stays_coarse_after_cancellation():
    """fp16 lazy accumulator, G = 0: 1.5 x 1 sets the top to 1 (an exact product's field is
    [1, 4)), so the grid is 2^-9; -1 x 1 cancels to 0.5 but the top stays; then 2^-5 x 2^-5 = 2^-10
    is a tie on that grid and rounds away (to even), where an fp16 accumulator (ulp 2^-11 at 0.5)
    keeps it."""
    e4 = lambda v: _code("e4m3", v)  # noqa: E731
    seq = dict(a=[e4("1.5"), e4("-1"), e4("0.03125")], b=[e4("1"), e4("1"), e4("0.03125")])
    u = mpmac.unit("mac", a="e4m3", acc="fp16", out="fp32", normalize="lazy:0")
    fp32 = parse_format("fp32")
    g = u.golden(**seq)
    assert list(ops.decode(fp32, g["y"])) == [1.5, 0.5, 0.5]
    assert list(g["flags"]) == [0, 0, 1]
    exact = _exact_twin(u).golden(**seq)
    assert list(ops.decode(fp32, exact["y"])) == [1.5, 0.5, 0.5 + 2.0 ** -10]
    values, flags = lazy_reference(parse_format("e4m3"), parse_format("fp16"), 0, seq["a"],
                                   seq["b"], [1, 1, 1], [0, 0, 0])
    assert values == [Fraction(3, 2), Fraction(1, 2), Fraction(1, 2)] and flags == [0, 0, 1]


# --- RTL: L-Mul ----------------------------------------------------------------------------------
LMUL_MUL_CASES = [dict(a=f) for f in SMALL] + [
    dict(a="e4m3", out="bf16"),
    dict(a="e4m3", saturate=True),
    dict(a="e5m2", rounding="rtz"),
    dict(a="e2m3", rounding="rup", saturate=True),
    dict(a="e4m3", latency=1),
]


@pytest.mark.parametrize("params", LMUL_MUL_CASES, ids=_id)
def test_lmul_mul_exhaustive(tally, params):
    u = mpmac.unit("mul", mul_approx="lmul", **params)
    vec = exhaustive_vectors(u)
    assert differing(u, vec) > 0
    check(tally, u, vec, expected=1 << input_bits(u))


def test_lmul_has_no_multiplier():
    """The L-Mul datapath adds fields: no $mul cell, unlike the exact unit; and the product="port"
    proof knob (which cuts a multiplier) is refused."""
    assert "$mul" not in rtlil.convert(mpmac.unit("mul", a="e4m3", mul_approx="lmul").component())
    assert "$mul" in rtlil.convert(mpmac.unit("mul", a="e4m3").component())
    for kind, params in (("mul", {}), ("fma", {}), ("mac", dict(acc="fp32"))):
        u = mpmac.unit(kind, a="e4m3", mul_approx="lmul", **params)
        with pytest.raises(ValueError, match="product='port' is invalid with mul_approx='lmul'"):
            u.component(product="port")


LMUL_FMA_CASES = [  # (params, vectors)
    (dict(a="e4m3", c="fp32", out="fp32"), 20_000),
    (dict(a="e4m3", c="fp32", out="fp32", rounding="rdn", latency=4), 5_000),
    (dict(a="bf16"), 20_000),
    (dict(a="bf16", rounding="sr", rand_bits=4, latency=2), 5_000),
]


@pytest.mark.parametrize("params,n", LMUL_FMA_CASES,
                         ids=lambda x: _id(x) if isinstance(x, dict) else str(x))
def test_lmul_fma_random(tally, params, n):
    u = mpmac.unit("fma", mul_approx="lmul", **params)
    vec = sim.generate(u, n, 23)
    assert differing(u, vec) > 0
    check(tally, u, vec, expected=n)


# --- RTL: mac sequences (lmul and lazy) -----------------------------------------------------------
MAC_CASES = [
    dict(a="e4m3", acc="fp32", mul_approx="lmul", latency=0),
    dict(a="e4m3", acc="fp32", mul_approx="lmul", latency=2),
    dict(a="e4m3", acc="kulisch", mul_approx="lmul", latency=1),
    dict(a="e4m3", acc="fp32", normalize="lazy:4", latency=0),
    dict(a="e4m3", acc="fp32", normalize="lazy:0", latency=1),
    dict(a="e2m1", acc="bf16", normalize="lazy", latency=0),
    dict(a="e2m1", acc="bf16", out="fp16", normalize="lazy:2", rounding="rmm", latency=2),
    dict(a="bf16", acc="fp32", normalize="lazy:4", latency=2),
    dict(a="bf16", acc="fp32", out="bf16", normalize="lazy:0", rounding="rdn", latency=0),
    dict(a="fp16", acc="fp32", normalize="lazy:4", latency=1),
    dict(a="fp16", acc="bf16", normalize="lazy:3", rounding="rup", latency=0),
    dict(a="e4m3", acc="bf16", normalize="lazy:4", rounding="sr", rand_bits=4, latency=0),
    dict(a="bf16", acc="fp32", normalize="lazy:2", rounding="sr", rand_bits=6, latency=1),
    dict(a="e4m3", acc="fp16", normalize="lazy:4", mul_approx="lmul", rounding="rtz", latency=0),
    # products below the acc format's normal range (the grid floor 2^(qmin - G)) and above it
    dict(a="bf16", acc="fp16", out="fp32", normalize="lazy:2", latency=0),
    dict(a="e4m3", acc="e5m2", out="fp16", normalize="lazy:1", rounding="rup", latency=1),
]


@pytest.mark.parametrize("params", MAC_CASES, ids=_id)
def test_mac_sequences(tally, params):
    u = mpmac.unit("mac", **params)
    seqs = sim.generate(u, 3000, 33)
    assert differing(u, seqs) > 0
    check(tally, u, seqs, expected=mac_expected(u, seqs), label="sequences")


@pytest.mark.parametrize("params", [
    dict(a="e4m3", acc="fp16", out="fp32", normalize="lazy:0"),
    dict(a="bf16", acc="fp32", normalize="lazy:4", rounding="rdn", latency=1),
], ids=_id)
def test_lazy_mac_cancellation_sequences(tally, params):
    """Sequences built to cancel (negated echoes of recent products, exact zero sums: their sign
    depends on the mode): the lazy grid stays coarse."""
    u = mpmac.unit("mac", **params)
    seqs = []
    for seed in range(8):
        a, b, valid, clear = _finite_sequence(params["a"], 400, seed=100 + seed)
        seqs.append(dict(a=a, b=b, in_valid=valid, clear=clear))
    assert differing(u, seqs) > 0
    check(tally, u, seqs, expected=mac_expected(u, seqs), label="cancelling sequences")


def test_lazy_mac_carry_with_sticky(tally):
    """A sum that carries out of the field while the shifted term lost bits below the window.

    e4m3 L-Mul products into an fp16 lazy:2 accumulator (W = 13): 2^-3 (1.375 x 1.5 x 2^-4: the
    fields carry to an exact power of two), then 1.125 x 2^-12 (the grid at top -3 is 2^-15: exact),
    then 1.875 (1.375 x 1.375) moves the top to 0 and the sum 2 + 2^-12 + 2^-15 carries: on the new
    grid 2^-11 the rest 2^-12 + 2^-15 lies above half an ulp, so it rounds up to 2 + 2^-11 (the
    2^-15 bit survives only in the sticky bit of the window)."""
    e4 = lambda v: _code("e4m3", v)  # noqa: E731
    u = mpmac.unit("mac", a="e4m3", acc="fp16", out="fp32", normalize="lazy:2", mul_approx="lmul")
    seq = dict(a=[e4("0.34375"), e4("0.015625"), e4("1.375")],
               b=[e4("0.375"), e4("0.015625"), e4("1.375")])
    g = u.golden(**seq)
    fp32 = parse_format("fp32")
    assert list(ops.decode(fp32, g["y"])) == [2.0 ** -3, 2.0 ** -3 + 1.125 * 2.0 ** -12,
                                              2 + 2.0 ** -11]
    assert list(g["flags"]) == [0, 0, 1]
    check(tally, u, [seq], expected=3, label="carry with sticky")


def test_lazy_mac_rounding_carry(tally):
    """bf16 products into an e5m2 lazy:0 accumulator (W = 3): 1.9921875^2 = 3.968... has field top
    1, so it rounds on the grid 2^-1 to 8 units = 2^W: the top moves to 2 (value 4, grid 1), and
    a following 0.25 rounds away on that grid."""
    bf = lambda v: _code("bf16", v)  # noqa: E731
    u = mpmac.unit("mac", a="bf16", acc="e5m2", out="fp32", normalize="lazy:0")
    seq = dict(a=[bf("1.9921875"), bf("0.5")], b=[bf("1.9921875"), bf("0.5")])
    g = u.golden(**seq)
    assert list(ops.decode(parse_format("fp32"), g["y"])) == [4.0, 4.0]
    assert list(g["flags"]) == [1, 1]
    check(tally, u, [seq], expected=2, label="rounding carry")


def _with_tiny_operands(u, sequences, seed: int):
    """The sequences with 60 % of the operands replaced by the smallest magnitudes of their
    format (random sign) and more clears, so that the accumulator often holds only tiny values."""
    rng = np.random.default_rng(seed)
    out = []
    for seq in sequences:
        seq = dict(seq)
        n = len(seq["a"])
        for role in ("a", "b"):
            f = u.fmt(role)
            tiny = rng.integers(0, 4 << f.man_bits, n).astype(np.uint64)
            tiny |= np.where(rng.random(n) < 0.5, np.uint64(f.sign_mask), np.uint64(0))
            seq[role] = np.where(rng.random(n) < 0.6, tiny, seq[role])
        seq["clear"] = seq["clear"] | (rng.random(n) < 0.15).astype(np.uint64)
        out.append(seq)
    return out


def golden_lazy_registers(u, stream, monkeypatch) -> list[dict]:
    """The golden lazy accumulator after every cycle of ``stream`` (one sequence), in the
    register encoding of rtl/lazy.py: the golden mac is run with ``_LazyState.add_product``
    recording its state; ``top`` is clamped at the acc format's emin, and a zero, Inf or NaN
    accumulator holds sig 0 and top emin."""
    emin = u.fmt("acc").emin
    updates = []
    add_product = golden_mac._LazyState.add_product

    def recording(state, *args):
        flags = add_product(state, *args)
        cls, sign, mag, _, _ = state.term
        finite = cls == core.FINITE
        updates.append({"sig": mag if finite else 0,
                        "top": max(state.top, emin) if finite else emin,
                        "sign": sign if cls != core.NAN else 0, "zero": int(cls == core.ZERO),
                        "inf": int(cls == core.INF), "nan": int(cls == core.NAN)})
        return flags

    monkeypatch.setattr(golden_mac._LazyState, "add_product", recording)
    u.golden(**stream)
    registers, current = [], {"sig": 0, "top": emin, "sign": 0, "zero": 1, "inf": 0, "nan": 0}
    updates = iter(updates)
    for valid in stream["in_valid"]:
        current = next(updates) if valid else current
        registers.append(current)
    return registers


@pytest.mark.parametrize("params", [
    dict(a="e5m2", acc="fp16", normalize="lazy:2"),
    dict(a="bf16", acc="e5m2", normalize="lazy:1", mul_approx="lmul", rounding="rup"),
], ids=_id)
def test_lazy_register_is_the_golden_state(tally, params, monkeypatch):
    """Amaranth simulation with expose_state against golden/mac.py's ``_LazyState`` after every
    cycle: ``sig`` is the golden significand on the grid and ``top`` the golden top clamped at
    the acc format's emin (rtl/lazy.py). These streams reach the grid floor, underflow and
    overflow (latency 0: the register after each edge); the emitted Verilog is checked on them
    too."""
    u = mpmac.unit("mac", **params)
    seq = _with_tiny_operands(u, sim.generate(u, 400, 9), seed=9)
    stream = {port: np.concatenate([c[port] for c in seq]) for port in seq[0]}
    want = golden_lazy_registers(u, stream, monkeypatch)
    dut = u.component(expose_state=True)
    got = []

    async def bench(ctx):
        for t in range(len(stream["a"])):
            for port in ("a", "b", "in_valid", "clear"):
                ctx.set(getattr(dut, port), int(stream[port][t]))
            await ctx.tick()
            got.append({f: ctx.get(getattr(dut.acc_state, f)) for f in want[0]})

    s = Simulator(dut)
    s.add_clock(1e-6)
    s.add_testbench(bench)
    s.run()
    mismatches = [(t, g, w) for t, (g, w) in enumerate(zip(got, want)) if g != w]
    assert len(got) == len(want) == len(stream["a"]) and not mismatches, mismatches[:3]
    monkeypatch.undo()
    check(tally, u, seq, expected=mac_expected(u, seq), label="tiny operands")


def test_lazy_mac_state_layout():
    """expose_state: the lazy registers (sig: W bits, top, sign, classes, flags; sr: last_rand)."""
    u = mpmac.unit("mac", a="bf16", acc="fp32", normalize="lazy:3", rounding="sr", rand_bits=5)
    layout = u.component(expose_state=True).signature.members["acc_state"].shape
    assert list(layout.members) == ["sig", "top", "sign", "zero", "inf", "nan", "flags",
                                    "last_rand"]
    assert layout.members["sig"] == 24 + 3


@pytest.mark.parametrize("kind,params", [
    ("mul", dict(a="e4m3", mul_approx="lmul", latency=1)),
    ("fma", dict(a="bf16", mul_approx="lmul")),
    ("mac", dict(a="e4m3", acc="fp32", normalize="lazy:4", mul_approx="lmul", latency=2)),
    ("mac", dict(a="bf16", acc="fp32", normalize="lazy:0", rounding="sr", rand_bits=4)),
], ids=lambda x: x if isinstance(x, str) else _id(x))
def test_lint_clean(kind, params):
    u = mpmac.unit(kind, **params)
    text = u.verilog()
    for result in (verilator_lint(text, u.name), icarus_compile(text, u.name)):
        assert result.clean, f"{result.tool} on {u.name}:\n" + "\n".join(result.messages)


# --- slow tier ------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("params", [dict(a=f, rounding=r) for f in SMALL
                                    for r in ("rtz", "rdn", "rup", "rmm")]
                         + [dict(a=f, out=o) for f in SMALL for o in ("bf16", "fp32")]
                         + [dict(a=f, subnormals=False) for f in SMALL]
                         + [dict(a=f, rounding="sr", rand_bits=3, latency=2) for f in SMALL],
                         ids=_id)
def test_slow_lmul_mul_exhaustive(tally, params):
    """Every input, ``rand`` included."""
    u = mpmac.unit("mul", mul_approx="lmul", **params)
    check(tally, u, exhaustive_vectors(u), expected=1 << input_bits(u))


SLOW_MAC_EXTRA = [
    dict(a="posit8_0", acc="fp32", normalize="lazy:2"),
    dict(a="posit16_1", acc="bf16", out="fp32", normalize="lazy:0", latency=1),
    dict(a="e5m2", b="e4m3", acc="fp16", normalize="lazy:3", subnormals=False),
    dict(a="e4m3", acc="fp32", mul_approx="lmul", subnormals=False, latency=1),
]


@pytest.mark.slow
@pytest.mark.parametrize("params", MAC_CASES + SLOW_MAC_EXTRA, ids=_id)
def test_slow_mac_sequences_long(tally, params):
    u = mpmac.unit("mac", **params)
    seqs = sim.generate(u, 100_000, 34)
    check(tally, u, seqs, simulator="verilator", expected=mac_expected(u, seqs), label="sequences")
