"""Algebraic properties of the golden model: round trips, monotonic and sign-symmetric rounding,
commutativity. Exhaustive with plain numpy where the format has at most 16 bits, hypothesis (bounded
``max_examples``, no example database) above that.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mpmac
from mpmac.golden.ops import decode, encode
from mpmac.golden.rounding import RoundingContext

HYP = settings(max_examples=150, deadline=None, database=None, derandomize=True,
               suppress_health_check=[HealthCheck.too_slow])

SMALL = ["e4m3", "e5m2", "e3m2", "e2m3", "e2m1", "bf16", "fp16", "e4m3_ieee", "e4m3_fnuz",
         "e5m2_fnuz", "e3m4", "e6m9", "e5m2b10", "e4m3b4_fn", "fp16_ftz", "e4m3_ftz", "e2m1_ftz",
         "e8m0_finite", "e1m2_finite", "e3m0_fnuz", "e1m6_fn", "e2m0_finite",
         "posit8_0", "posit8_1", "posit8_2", "posit16_1", "posit16_2", "posit4_1", "posit6_1",
         "posit10_3", "posit12_4"]
LARGE = ["fp32", "posit32_2", "posit24_2", "posit20_3", "e5m20", "e11m20", "fp64"]
FLOAT_MODES = ["rne", "rtz", "rdn", "rup", "rmm"]


def fmt_of(name):
    return mpmac.format(name)


def dtype_of(f):
    return np.uint8 if f.nbits <= 8 else np.uint16 if f.nbits <= 16 else \
        np.uint32 if f.nbits <= 32 else np.uint64


def all_codes(f):
    return np.arange(1 << f.nbits, dtype=np.uint64).astype(dtype_of(f))


def is_nan_code(f, codes):
    return np.isnan(decode(f, codes))


def subnormal_codes(f, codes):
    """Nonzero codes with a zero exponent field (read as zero by an _ftz format)."""
    if f.is_posit:
        return np.zeros(codes.shape, bool)
    c = codes.astype(np.uint64)
    e = (c >> np.uint64(f.man_bits)) & np.uint64(f.exp_field_max)
    m = c & np.uint64((1 << f.man_bits) - 1)
    return (e == 0) & (m != 0)


def convert(src, dst, codes, mode="rne", **kw):
    r = mpmac.unit("convert", a=src, out=dst, rounding=mode, **kw).golden(a=codes)
    return r["y"], r["flags"]


# -----------------------------------------------------------------------------------------------
# round trips
# -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", SMALL)
def test_round_trip_exhaustive(name):
    """encode(decode(x)) == x (via float64), fmt -> fp32 -> fmt and fmt -> fmt are identities with no
    flags, for every non-NaN code; NaN codes stay NaN."""
    f = fmt_of(name)
    codes = all_codes(f)
    nan = is_nan_code(f, codes)
    keep = ~nan
    if not f.is_posit and not f.subnormals:
        # an _ftz format reads subnormal encodings as zero: they round trip to a zero, not to themselves
        sub = subnormal_codes(f, codes)
        assert np.all(decode(f, codes[sub]) == 0)
        keep &= ~sub
    good = codes[keep]
    assert good.size == (1 << f.nbits) - int(nan.sum()) - (0 if f.is_posit or f.subnormals
                                                              else int(subnormal_codes(f, codes).sum()))
    y, flags = encode(f, decode(f, good), RoundingContext("rne"))
    assert np.array_equal(y.astype(np.uint64), good.astype(np.uint64)), name
    assert not np.any(flags)
    fits32 = f.max_value < 2.0 ** 128 and f.min_subnormal >= 2.0 ** -149 and f.precision <= 24
    for mid in ("fp32" if fits32 else "fp64", name):
        y1, f1 = convert(name, mid, good)
        y2, f2 = convert(mid, name, y1)
        assert np.array_equal(y2.astype(np.uint64), good.astype(np.uint64)), (name, mid)
        assert not np.any(f1) and not np.any(f2), (name, mid)
    if nan.any():
        y, _ = convert(name, name, codes[nan])
        assert np.all(is_nan_code(f, y))


@pytest.mark.parametrize("name", LARGE)
def test_round_trip_hypothesis(name):
    f = fmt_of(name)
    seen = []

    @HYP
    @given(st.integers(0, (1 << f.nbits) - 1))
    def check(code):
        c = np.array([code], dtype=dtype_of(f))
        if is_nan_code(f, c)[0]:
            return
        seen.append(code)
        y, flags = encode(f, decode(f, c), RoundingContext("rne"))
        assert int(y[0]) == code and int(flags[0]) == 0
        y1, f1 = convert(name, name, c)
        assert int(y1[0]) == code and int(f1[0]) == 0
        if f.nbits <= 32 and not name.startswith("e11"):
            wide = "fp64"
            y2, f2 = convert(name, wide, c)
            y3, f3 = convert(wide, name, y2)
            assert int(y3[0]) == code and int(f2[0]) == 0 and int(f3[0]) == 0

    check()
    assert len(seen) >= 100


# -----------------------------------------------------------------------------------------------
# monotonicity and sign symmetry of rounding, from fp32 into each format and mode
# -----------------------------------------------------------------------------------------------

TARGETS = ["e4m3", "e5m2", "e3m2", "e2m3", "e2m1", "bf16", "fp16", "fp16_ftz", "e4m3_ftz",
           "e4m3_fnuz", "e5m2_fnuz", "e8m0_finite", "e1m2_finite",
           "posit8_0", "posit8_2", "posit16_1", "posit32_2", "posit6_1"]


def modes_for(name):
    return ["rne", "sr"] if fmt_of(name).is_posit else FLOAT_MODES + ["sr"]


def fp32_sweep(rng, count=100_000):
    """Sorted fp32 values: log-uniform over the whole fp32 range, both signs, zeros and infinities,
    plus runs of consecutive fp32 codes (to cross every rounding boundary of the narrow formats)."""
    mags = np.exp2(rng.uniform(-149, 127.99, count)).astype(np.float32)
    x = np.concatenate([mags, -mags, np.float32([0.0, -0.0, np.inf, -np.inf])])
    start = rng.integers(0x00000001, 0x7F000000, 40, dtype=np.uint64)
    runs = (start[:, None] + np.arange(2000, dtype=np.uint64)[None, :]).reshape(-1).astype(np.uint32)
    r = runs.view(np.float32)
    x = np.concatenate([x, r, -r])
    return np.sort(x, kind="stable")


def extended_values(f, x, y):
    """Decoded results, with an overflow-to-NaN (formats without Inf) read as +-Inf by the input sign."""
    v = decode(f, y)
    nan = np.isnan(v)
    return np.where(nan, np.where(np.signbit(x), -np.inf, np.inf), v)


@pytest.mark.parametrize("name", TARGETS)
def test_rounding_monotonic(name):
    rng = np.random.default_rng(5)
    x = fp32_sweep(rng)
    f = fmt_of(name)
    checked = 0
    for mode in modes_for(name):
        kw = dict(rand_bits=8) if mode == "sr" else {}
        if mode == "sr":  # with one fixed rand value sr is a deterministic, monotonic rounding too
            for r in (0, 1, 128, 255):
                y = mpmac.unit("convert", a="fp32", out=name, rounding="sr", **kw).golden(
                    a=x.view(np.uint32), rand=np.full(x.size, r))["y"]
                v = extended_values(f, x, y)
                bad = np.nonzero(v[1:] < v[:-1])[0]
                assert bad.size == 0, (name, mode, r, [(float(x[i]), float(x[i + 1]), v[i], v[i + 1])
                                                       for i in bad[:5]])
                checked += x.size
            continue
        y, _ = convert("fp32", name, x.view(np.uint32), mode)
        v = extended_values(f, x, y)
        bad = np.nonzero(v[1:] < v[:-1])[0]
        assert bad.size == 0, (name, mode, [(float(x[i]), float(x[i + 1]), v[i], v[i + 1])
                                            for i in bad[:5]])
        checked += x.size
    per_mode = x.size
    assert checked == per_mode * (len(modes_for(name)) + 3)


@pytest.mark.parametrize("name", ["e4m3", "bf16", "posit16_1", "e2m1"])
def test_rounding_monotonic_hypothesis(name):
    f = fmt_of(name)
    n = [0]

    @HYP
    @given(st.floats(width=32, allow_nan=False), st.floats(width=32, allow_nan=False),
           st.sampled_from(modes_for(name)))
    def check(a, b, mode):
        lo, hi = sorted([a, b])
        x = np.array([lo, hi], dtype=np.float32)
        kw = dict(rand_bits=4) if mode == "sr" else {}
        u = mpmac.unit("convert", a="fp32", out=name, rounding=mode, **kw)
        y = u.golden(a=x.view(np.uint32), **({"rand": 7} if mode == "sr" else {}))["y"]
        v = extended_values(f, x, y)
        assert v[0] <= v[1], (lo, hi, mode, v)
        n[0] += 1

    check()
    assert n[0] >= 100


def same_value(f, a, b):
    """Decoded equality incl. NaN == NaN and, where the format has -0, the sign of zero."""
    va, vb = decode(f, a), decode(f, b)
    both_nan = np.isnan(va) & np.isnan(vb)
    eq = (va == vb) | both_nan
    if not f.is_posit and f.has_negative_zero:
        eq &= (np.signbit(va) == np.signbit(vb)) | both_nan
    return eq


@pytest.mark.parametrize("name", TARGETS)
def test_rounding_sign_symmetry(name):
    """round(-x) == -round(x) for rne/rtz/rmm (and sr with the same rand); rup(-x) == -rdn(x)."""
    f = fmt_of(name)
    rng = np.random.default_rng(9)
    x = fp32_sweep(rng, 30_000)
    x = x[x > 0]
    pos, neg = x.view(np.uint32), (-x).view(np.uint32)
    checked = 0

    def negate(codes):
        # -round(x) as a code: flip the sign bit (floats) / two's complement (posits); NaN stays NaN
        c = codes.astype(np.uint64)
        if f.is_posit:
            return ((np.uint64(1 << f.nbits) - c) & np.uint64((1 << f.nbits) - 1)).astype(codes.dtype)
        flipped = c ^ np.uint64(f.sign_mask)
        if not f.has_negative_zero:  # fnuz: +0 stays +0 and the NaN code 10..0 stays NaN
            flipped = np.where((c == 0) | (c == np.uint64(f.sign_mask)), c, flipped)
        return flipped.astype(codes.dtype)

    pairs = [("rne", "rne"), ("sr", "sr")] if f.is_posit else \
        [("rne", "rne"), ("rtz", "rtz"), ("rmm", "rmm"), ("rup", "rdn"), ("rdn", "rup"), ("sr", "sr")]
    for m_neg, m_pos in pairs:
        if m_neg == "sr":
            rand = rng.integers(0, 1 << 6, x.size)
            u = mpmac.unit("convert", a="fp32", out=name, rounding="sr", rand_bits=6)
            yn, fn = u.golden(a=neg, rand=rand).values()
            yp, fp = u.golden(a=pos, rand=rand).values()
        else:
            yn, fn = convert("fp32", name, neg, m_neg)
            yp, fp = convert("fp32", name, pos, m_pos)
        ok = same_value(f, yn, negate(yp))
        assert ok.all(), (name, m_neg, m_pos, [(float(-x[i]), int(yn[i]), int(yp[i]))
                                               for i in np.nonzero(~ok)[0][:5]])
        assert np.array_equal(fn, fp), (name, m_neg, m_pos)
        checked += x.size
    assert checked == x.size * len(pairs)


# -----------------------------------------------------------------------------------------------
# commutativity
# -----------------------------------------------------------------------------------------------

COMM = [("e4m3", "e4m3", "e4m3"), ("e5m2", "e5m2", "fp16"), ("e4m3", "e5m2", "bf16"),
        ("fp16", "fp16", "fp16"), ("bf16", "bf16", "fp32"), ("e2m1", "e2m1", "e4m3"),
        ("posit8_0", "posit8_0", "posit8_0"), ("posit16_1", "posit16_1", "posit16_1"),
        ("posit8_2", "posit8_2", "posit16_2"), ("fp32", "fp32", "fp32"),
        ("posit32_2", "posit32_2", "posit32_2")]


@pytest.mark.parametrize("fa,fb,out", COMM, ids=["-".join(c) for c in COMM])
def test_commutative(fa, fb, out):
    """mul and add give identical bits and flags with the operands swapped (every mode), and so does
    fma with its two multiplicands swapped. Exhaustive for 8-bit pairs, 200k random pairs otherwise."""
    A, B = fmt_of(fa), fmt_of(fb)
    rng = np.random.default_rng(17)
    if A.nbits <= 8 and B.nbits <= 8:
        a = np.repeat(np.arange(1 << A.nbits), 1 << B.nbits)
        b = np.tile(np.arange(1 << B.nbits), 1 << A.nbits)
    else:
        a = rng.integers(0, 1 << A.nbits, 200_000, dtype=np.uint64)
        b = rng.integers(0, 1 << B.nbits, 200_000, dtype=np.uint64)
    a, b = a.astype(dtype_of(A)), b.astype(dtype_of(B))
    c = rng.integers(0, 1 << fmt_of(out).nbits, a.size, dtype=np.uint64).astype(dtype_of(fmt_of(out)))
    modes = ["rne"] if fmt_of(out).is_posit else FLOAT_MODES
    checked = 0
    for mode in modes:
        for op in ("mul", "add"):
            r1 = mpmac.unit(op, a=fa, b=fb, out=out, rounding=mode).golden(a=a, b=b)
            r2 = mpmac.unit(op, a=fb, b=fa, out=out, rounding=mode).golden(a=b, b=a)
            assert np.array_equal(r1["y"], r2["y"]) and np.array_equal(r1["flags"], r2["flags"]), \
                (op, mode, int(np.sum(r1["y"] != r2["y"])))
            checked += a.size
        r1 = mpmac.unit("fma", a=fa, b=fb, c=out, out=out, rounding=mode).golden(a=a, b=b, c=c)
        r2 = mpmac.unit("fma", a=fb, b=fa, c=out, out=out, rounding=mode).golden(a=b, b=a, c=c)
        assert np.array_equal(r1["y"], r2["y"]) and np.array_equal(r1["flags"], r2["flags"]), ("fma", mode)
        checked += a.size
    assert checked == a.size * 3 * len(modes)


@pytest.mark.parametrize("name", ["e4m3", "fp16", "posit16_1", "fp32"])
def test_commutative_hypothesis(name):
    f = fmt_of(name)
    n = [0]

    @HYP
    @given(st.integers(0, (1 << f.nbits) - 1), st.integers(0, (1 << f.nbits) - 1),
           st.sampled_from(["rne"] if f.is_posit else FLOAT_MODES), st.sampled_from(["mul", "add"]))
    def check(x, y, mode, op):
        u = mpmac.unit(op, a=name, rounding=mode)
        a = np.array([x, y], dtype=dtype_of(f))
        r = u.golden(a=a, b=a[::-1].copy())
        assert r["y"][0] == r["y"][1] and r["flags"][0] == r["flags"][1]
        n[0] += 1

    check()
    assert n[0] >= 100
