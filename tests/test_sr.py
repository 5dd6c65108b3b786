"""Stochastic rounding (rounding="sr") against its exact definition (DESIGN.md, formats-reference §2.6).

Definition: the ``rand`` input (rand_bits = R bits) is added to the top R discarded bits; a carry out
rounds away from zero; lower discarded bits are ignored. So, with d in [0, 1) the discarded fraction
(in units of the kept LSB: an ULP of a float, one step of the bit string of a posit), exactly
floor(d * 2^R) of the 2^R rand values round up, and the mean over all rand values is
``exact - bias`` (in magnitude) with ``0 <= bias <= 2^-R ulp`` (truncation bias). This file checks the
bound (and the exact count), with Fractions, over ALL 2^R rand values per input; that results are one
of the two neighbours; determinism; agreement with gfloat's ``StochasticFastest`` (the same
definition, an independent implementation); and overflow / saturation with sr.

Posits round on the bit string: where the discarded bits include exponent or regime bits the string
is not affine in the value, so the bound is checked on the string position (code domain) for every
input, and in the value domain wherever the two neighbours bracket the value affinely.
"""

from __future__ import annotations

from fractions import Fraction
from math import floor

import numpy as np
import pytest
from gfloat import RoundMode, round_float
from gfloat.formats import (format_info_bfloat16, format_info_binary16, format_info_ocp_e2m1,
                            format_info_ocp_e2m3, format_info_ocp_e3m2, format_info_ocp_e4m3,
                            format_info_ocp_e5m2)

import mpmac
from mpmac.golden.ops import decode
from exact_ref import (float_decode_finite, float_neighbours, floor_log2, posit_body, posit_decode,
                       posit_string, pow2)

INEXACT, UNDERFLOW, OVERFLOW = 1, 2, 4

# float formats from formats-reference §1.1/§1.2: (exp_bits, man_bits, bias, max finite)
FLOATS = {
    "e4m3": (4, 3, 7, Fraction(448)),
    "e5m2": (5, 2, 15, Fraction(57344)),
    "e2m1": (2, 1, 1, Fraction(6)),
    "e3m2": (3, 2, 3, Fraction(28)),
    "e2m3": (2, 3, 1, Fraction(15, 2)),
    "bf16": (8, 7, 127, (2 - pow2(-7)) * pow2(127)),
    "fp16": (5, 10, 15, Fraction(65504)),
    "fp32": (8, 23, 127, (2 - pow2(-23)) * pow2(127)),
}
POSITS = {"posit8_0": (8, 0), "posit16_1": (16, 1), "posit8_2": (8, 2), "posit32_2": (32, 2)}
GFLOAT = {"e4m3": format_info_ocp_e4m3, "e5m2": format_info_ocp_e5m2, "e2m1": format_info_ocp_e2m1,
          "e3m2": format_info_ocp_e3m2, "e2m3": format_info_ocp_e2m3, "bf16": format_info_bfloat16,
          "fp16": format_info_binary16}

MEAN_FORMATS = ["e4m3", "bf16", "fp16", "e2m1", "posit8_0", "posit16_1"]
RAND_BITS = [1, 3, 8, 12]


def fp32(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


def sr_convert(fmt, xs32, rand, rand_bits, saturate=False, src="fp32"):
    u = mpmac.unit("convert", a=src, out=fmt, rounding="sr", rand_bits=rand_bits, saturate=saturate)
    raw = xs32.view(np.uint32) if src == "fp32" else xs32
    r = u.golden(a=raw, rand=rand)
    return r["y"].astype(np.uint64), r["flags"].astype(np.uint64)


def float_params(fmt):
    e, m, bias, mx = FLOATS[fmt]
    return m + 1, 1 - bias, mx  # precision, emin, max


def value_of(fmt, code):
    """Exact value of an output code (finite codes only)."""
    if fmt in POSITS:
        return posit_decode(int(code), *POSITS[fmt])
    e, m, bias, _ = FLOATS[fmt]
    return float_decode_finite(int(code), e, m, bias)


def in_range_inputs(fmt, rng, count):
    """fp32 values spread log-uniformly over the format's finite range (and a bit below its smallest
    value), random signs; a quarter with their low mantissa bits cleared (few discarded bits)."""
    if fmt in POSITS:
        n, es = POSITS[fmt]
        top = (n - 2) * 2 ** es
        lo_e, hi_e = -top, top - 0.01  # [minpos, maxpos): below/above saturates (own test)
    else:
        p, emin, mx = float_params(fmt)
        lo_e, hi_e = emin - p - 1, float(np.log2(float(mx)))
    mag = np.exp2(rng.uniform(lo_e, hi_e, count))
    x = fp32(mag * rng.choice([-1.0, 1.0], count))
    raw = x.view(np.uint32).copy()
    k = count // 4
    clear = rng.integers(0, 24, k).astype(np.uint32)
    raw[:k] &= ~((np.uint32(1) << clear) - np.uint32(1))
    x = raw.view(np.float32)
    if fmt in POSITS:
        n, es = POSITS[fmt]
        x = x[np.abs(x.astype(np.float64)) >= 2.0 ** -((n - 2) * 2 ** es)]
    else:
        x = x[np.abs(x.astype(np.float64)) <= float(float_params(fmt)[2])]
    return x[x != 0]


def neighbours(fmt, v: Fraction):
    """(lo, hi, d) for |v|: the two neighbouring magnitudes and the discarded fraction d in [0, 1).

    Floats: value grid (unbounded above). Posits: lo/hi are the bit-string neighbours' values and d is
    the fractional part of the string position.
    """
    if fmt in POSITS:
        n, es = POSITS[fmt]
        t = posit_string(v, n, es)
        k = floor(t)
        lo = posit_decode(k, n, es)
        hi = posit_decode(k + 1, n, es) if t != k else lo
        return lo, hi, t - k, t
    p, emin, _ = float_params(fmt)
    lo, hi = float_neighbours(v, p, emin)
    d = (abs(v) - lo) / (hi - lo) if hi != lo else Fraction(0)
    return lo, hi, d, None


# -----------------------------------------------------------------------------------------------
# the mean over all rand values
# -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("rand_bits", RAND_BITS)
@pytest.mark.parametrize("fmt", MEAN_FORMATS)
def test_sr_mean_over_all_rand(fmt, rand_bits):
    R = rand_bits
    rng = np.random.default_rng(1000 * R + len(fmt) + MEAN_FORMATS.index(fmt))
    count = 400 if R <= 8 else 160
    xs = in_range_inputs(fmt, rng, count)
    nx = xs.size
    rand = np.tile(np.arange(1 << R, dtype=np.uint32), nx)
    y, flags = sr_convert(fmt, np.repeat(xs, 1 << R), rand, R)
    y, flags = y.reshape(nx, 1 << R), flags.reshape(nx, 1 << R)
    stats = dict(inputs=0, exact=0, biased=0, value_domain=0, code_domain=0)
    bad = []
    for i, x in enumerate(xs):
        v = Fraction(float(x))
        lo, hi, d, t = neighbours(fmt, v)
        stats["inputs"] += 1
        codes, counts = np.unique(y[i], return_counts=True)
        vals = {int(c): value_of(fmt, c) for c in codes}
        mags = {c: abs(val) for c, val in vals.items()}
        # 1. every result is one of the two neighbours, with the sign of the input
        if not all(m in (lo, hi) for m in mags.values()) or \
                any(val != 0 and (val < 0) != (v < 0) for val in vals.values()):
            bad.append(("outside neighbours", float(v), float(lo), float(hi),
                        sorted(map(float, vals.values()))))
            continue
        n_up = sum(int(cnt) for c, cnt in zip(codes, counts) if mags[int(c)] == hi and hi != lo)
        # 2. exactly floor(d * 2^R) rand values round up
        if n_up != floor(d * 2 ** R):
            bad.append(("round-up count", float(v), float(d), n_up, floor(d * 2 ** R)))
        # 3. mean = exact - bias, 0 <= bias <= 2^-R ulp (value domain where affine)
        mean = sum(mags[int(c)] * int(cnt) for c, cnt in zip(codes, counts)) / 2 ** R
        ulp = hi - lo
        if lo + d * ulp == abs(v):  # the neighbours bracket |v| affinely: value domain applies
            stats["value_domain"] += 1
            bias = abs(v) - mean
            if not 0 <= bias <= ulp * pow2(-R):
                bad.append(("value-domain bias", float(v), float(bias), float(ulp)))
        elif fmt not in POSITS:
            bad.append(("float neighbours not affine (test bug)", float(v)))
        if t is not None:  # posit: the bound on the string position (codes of the magnitude)
            stats["code_domain"] += 1
            n, es = POSITS[fmt]
            mean_code = Fraction(sum(posit_body(int(c), n) * int(cnt) for c, cnt in zip(codes, counts)),
                                 2 ** R)
            bias_c = t - mean_code
            if not 0 <= bias_c <= pow2(-R):
                bad.append(("code-domain bias", float(v), float(t), float(mean_code)))
        # 4. flags: inexact iff not representable; no overflow in range
        want_inexact = d != 0
        if np.any((flags[i] & INEXACT) != want_inexact) or np.any(flags[i] & OVERFLOW):
            bad.append(("flags", float(v), sorted(set(flags[i].tolist()))))
        stats["exact" if d == 0 else "biased"] += 1
    assert stats["inputs"] == nx and nx >= count * 0.6, stats
    assert stats["exact"] > 0 and stats["biased"] > 0.5 * nx, stats
    assert stats["value_domain"] > 0.5 * nx, stats
    if fmt in POSITS:
        assert stats["code_domain"] == nx
    assert not bad, f"sr {fmt} R={R}: {len(bad)}/{nx} inputs wrong; {stats}; first: {bad[:6]}"


@pytest.mark.parametrize("fmt", ["posit32_2", "fp32", "fp16"])
def test_sr_mean_wide_rand_from_fp64(fmt):
    """rand_bits = 16 (2^16 rand values per input), fp64 inputs with up to 53 significant bits."""
    R = 16
    rng = np.random.default_rng(16)
    if fmt in POSITS:
        top = (POSITS[fmt][0] - 2) * 2 ** POSITS[fmt][1]
        mags = np.exp2(rng.uniform(-top, top - 0.01, 24))
    else:
        p, emin, mx = float_params(fmt)
        mags = np.exp2(rng.uniform(emin - p, np.log2(float(mx)) - 0.01, 24))
    xs = mags * rng.choice([-1.0, 1.0], mags.size)
    y, flags = sr_convert(fmt, np.repeat(xs, 1 << R).view(np.uint64), np.tile(np.arange(1 << R), xs.size),
                         R, src="fp64")
    y = y.reshape(xs.size, -1)
    checked = 0
    for x, yi in zip(xs, y):
        v = Fraction(float(x))
        lo, hi, d, t = neighbours(fmt, v)
        codes, counts = np.unique(yi, return_counts=True)
        mags_ = {int(c): abs(value_of(fmt, c)) for c in codes}
        assert set(mags_.values()) <= {lo, hi}, (float(v), float(lo), float(hi))
        n_up = sum(int(k) for c, k in zip(codes, counts) if mags_[int(c)] == hi and hi != lo)
        assert n_up == floor(d * 2 ** R), (float(v), n_up, float(d))
        if t is not None:
            n = POSITS[fmt][0]
            mean_code = Fraction(sum(posit_body(int(c), n) * int(k) for c, k in zip(codes, counts)), 1 << R)
            assert 0 <= t - mean_code <= pow2(-R)
        else:
            mean = sum(mags_[int(c)] * int(k) for c, k in zip(codes, counts)) / (1 << R)
            assert 0 <= abs(v) - mean <= (hi - lo) * pow2(-R)
        checked += 1
    assert checked == 24


def test_sr_posit_bias_needs_code_domain():
    """posit16_1 near maxpos: the exponent bit is discarded, so the value-domain mean is *not* exact -
    bias, but the string position is. Pins the reason the mean test uses the code domain for posits."""
    # 1.5*2^26: regime 14 ones + terminator fill the 15 kept bits; exponent bit 0 and fraction .1 are
    # discarded (d = 0.25) between 2^26 and maxpos 2^28, whose affine point would be 1.75*2^26
    v = Fraction(3) * pow2(25)
    lo, hi, d, t = neighbours("posit16_1", v)
    assert lo + d * (hi - lo) != v  # not affine: the regime/exponent bits are being cut
    R = 8
    y, _ = sr_convert("posit16_1", np.repeat(fp32([float(v)]), 1 << R), np.arange(1 << R), R)
    mean_code = Fraction(int(sum(int(c) for c in y)), 1 << R)
    assert 0 <= t - mean_code <= pow2(-R)


# -----------------------------------------------------------------------------------------------
# determinism and the neighbour property on random rand values
# -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["e4m3", "e5m2", "bf16", "fp16", "e2m1", "posit8_0", "posit16_1",
                                 "posit32_2"])
def test_sr_deterministic(fmt):
    rng = np.random.default_rng(7)
    R = 8
    raw = rng.integers(0, 1 << 32, 50_000, dtype=np.uint64).astype(np.uint32)
    x = raw.view(np.float32)
    rand = rng.integers(0, 1 << R, raw.size)
    y1, f1 = sr_convert(fmt, x, rand, R)
    y2, f2 = sr_convert(fmt, x.copy(), rand.copy(), R)
    assert y1.size == 50_000
    assert np.array_equal(y1, y2) and np.array_equal(f1, f2)
    perm = rng.permutation(raw.size)  # element-wise: order and batch composition do not matter
    y3, f3 = sr_convert(fmt, x[perm], rand[perm], R)
    assert np.array_equal(y3, y1[perm]) and np.array_equal(f3, f1[perm])
    y4, f4 = sr_convert(fmt, x[:1000], np.int64(77), R)  # a scalar rand broadcasts
    y5, f5 = sr_convert(fmt, x[:1000], np.full(1000, 77), R)
    assert np.array_equal(y4, y5) and np.array_equal(f4, f5)
    # rand is a rand_bits-wide port: wider values are rejected, not masked
    with pytest.raises(ValueError):
        sr_convert(fmt, x[:10], np.full(10, 1 << R), R)


@pytest.mark.parametrize("rand_bits", RAND_BITS)
@pytest.mark.parametrize("fmt", ["e4m3", "e5m2", "e2m1", "e3m2", "e2m3", "bf16", "fp16"])
def test_sr_vs_gfloat_stochastic_fastest(fmt, rand_bits):
    """gfloat's StochasticFastest (d + R*2^-r >= 1 rounds away) is the same definition.

    Includes the overflow region, both saturation modes, Inf/NaN and signed zeros."""
    R = rand_bits
    rng = np.random.default_rng(R * 31 + len(fmt))
    fi = GFLOAT[fmt]
    p, emin, mx = float_params(fmt)
    count = 3000
    mag = np.exp2(rng.uniform(emin - p - 2, min(float(np.log2(float(mx))) + 1.5, 127.99), count))
    x = fp32(mag * rng.choice([-1.0, 1.0], count))
    x[:6] = fp32([np.inf, -np.inf, 0.0, -0.0, float(mx), -float(mx)])
    if fi.num_nans:
        x[6] = np.nan
    rand = rng.integers(0, 1 << R, count)
    checked = 0
    bad = []
    for sat in (False, True):
        # finite formats (no Inf, no NaN) always saturate; gfloat would raise instead
        sat_oracle = sat or fmt in ("e2m1", "e3m2", "e2m3")
        y, _ = sr_convert(fmt, x, rand, R, saturate=sat)
        got = decode(fmt, y)
        for xi, ri, gi in zip(x, rand, got):
            if np.isnan(xi) and fi.num_nans == 0:
                continue
            want = round_float(fi, float(xi), RoundMode.StochasticFastest, sat=sat_oracle,
                               srbits=int(ri), srnumbits=R)
            checked += 1
            same = (np.isnan(want) and np.isnan(gi)) or \
                   (want == gi and (not fi.has_nz or np.signbit(want) == np.signbit(gi)))
            if not same:
                bad.append((float(xi), int(ri), sat, float(want), float(gi)))
    assert checked == 2 * count
    assert not bad, f"sr {fmt} R={R} vs gfloat: {len(bad)}/{checked} mismatches: {bad[:8]}"


# -----------------------------------------------------------------------------------------------
# overflow and saturation with sr
# -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("saturate", [False, True])
@pytest.mark.parametrize("fmt", ["e4m3", "e5m2", "bf16", "fp16", "e2m1", "e3m2"])
def test_sr_overflow(fmt, saturate):
    """Between max and max+ulp: floor(d*2^R) rand values overflow (Inf, or NaN for e4m3, or max when
    saturating / for finite formats), the rest give max; overflowed results raise overflow+inexact.
    At or beyond max+ulp every rand value overflows."""
    R = 8
    f = mpmac.format(fmt)
    p, emin, mx = float_params(fmt)
    ulp = pow2(floor_log2(mx) - p + 1)
    rng = np.random.default_rng(3)
    # values in (max, max+ulp) that fp32 holds, plus a few at/above max+ulp
    frac = rng.integers(1, 1 << 12, 40)
    inside = [mx + ulp * Fraction(int(k), 1 << 12) for k in frac]
    beyond = [mx + ulp, mx + 2 * ulp, mx * 4]
    vals = [v for v in inside + beyond if Fraction(float(v)) == v]
    assert len(vals) == len(inside) + len(beyond)
    xs = np.array([float(s * v) for v in vals for s in (1, -1)])  # fp64 source: holds bf16's max+ulp
    y, flags = sr_convert(fmt, np.repeat(xs, 1 << R).view(np.uint64), np.tile(np.arange(1 << R), xs.size),
                         R, saturate=saturate, src="fp64")
    y, flags = y.reshape(xs.size, -1), flags.reshape(xs.size, -1)
    if saturate or not (f.has_inf or f.has_nan):
        over_code = f.max_code
    elif f.has_inf:
        over_code = f.inf_code
    else:
        over_code = f.nan_code
    checked = 0
    for x, yi, fi in zip(xs, y, flags):
        v = Fraction(float(x))
        d = (abs(v) - mx) / ulp
        n_over = 1 << R if d >= 1 else floor(d * 2 ** R)
        mag = yi & np.uint64(f.sign_mask - 1)
        is_over = fi & np.uint64(OVERFLOW) != 0
        assert int(is_over.sum()) == n_over, (float(v), int(is_over.sum()), n_over)
        assert np.all(fi[is_over] == OVERFLOW | INEXACT) and np.all(fi[~is_over] == INEXACT)
        assert np.all(mag[is_over] == (over_code & (f.sign_mask - 1)))
        assert np.all(mag[~is_over] == f.max_code)
        if over_code != f.nan_code:  # Inf / max keep the sign (a NaN code carries its own)
            assert np.all((yi >> np.uint64(f.nbits - 1)) == (1 if v < 0 else 0))
        checked += 1
    assert checked == xs.size == 2 * (40 + 3)


@pytest.mark.parametrize("fmt", ["posit8_0", "posit16_1", "posit8_2", "posit32_2"])
def test_sr_posit_saturation(fmt):
    """Posits never round to 0 or NaR under sr either: beyond maxpos -> maxpos and below minpos ->
    minpos for every rand value; between the last two codes, both occur."""
    R = 8
    f = mpmac.format(fmt)
    n = f.nbits
    mask = (1 << n) - 1
    maxpos, minpos = pow2(f.max_scale), pow2(-f.max_scale)
    below = posit_decode(f.max_code - 1, n, f.es)
    above_min = posit_decode(2, n, f.es)
    cases = [(maxpos * 3, {f.max_code}), (maxpos * 2 ** 10, {f.max_code}), (maxpos, {f.max_code}),
             (minpos * 3 / 8, {1}), (minpos * pow2(-20), {1}), (minpos, {1}),
             (below + (maxpos - below) * 5 / 8, {f.max_code - 1, f.max_code}),
             (minpos + (above_min - minpos) * 5 / 8, {1, 2})]
    checked = 0
    for v, want in cases:
        assert Fraction(float(v)) == v  # exact in the fp64 source
        for s in (1, -1):
            x = np.array([float(s * v)] * (1 << R), dtype=np.float64)
            y, flags = sr_convert(fmt, x.view(np.uint64), np.arange(1 << R), R, src="fp64")
            got = {posit_body(int(c), n) for c in y}
            assert got == want, (fmt, float(s * v), got, want)
            assert all((int(c) >> (n - 1)) == (s < 0) for c in y)
            assert np.all(flags == (0 if v in (maxpos, minpos) else INEXACT))
            assert 0 not in {int(c) & mask for c in y} and (1 << (n - 1)) not in {int(c) for c in y}
            checked += 1
    assert checked == 2 * len(cases)


# -----------------------------------------------------------------------------------------------
# sr in arithmetic (mul/add/fma round once, with the same rand semantics)
# -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("op,fmt", [("mul", "e4m3"), ("mul", "posit8_0"), ("add", "bf16"),
                                    ("add", "posit16_1"), ("fma", "e4m3"), ("fma", "posit8_0")])
def test_sr_arith_mean(op, fmt):
    R = 6
    rng = np.random.default_rng(11)
    f = mpmac.format(fmt)
    n = f.nbits
    count = 300
    ops = [rng.integers(0, 1 << n, count, dtype=np.uint64) for _ in range(3 if op == "fma" else 2)]
    decode = (lambda c: posit_decode(int(c), n, f.es)) if fmt in POSITS else \
        (lambda c: value_of(fmt, c))
    keep = []
    for i in range(count):
        vals = [decode(o[i]) for o in ops]
        specials = [int(o[i]) & (f.sign_mask - 1) for o in ops]
        if fmt in POSITS and any(v is None for v in vals):
            continue
        if fmt not in POSITS and any(s >= (f.inf_code if f.has_inf else f.nan_code) for s in specials):
            continue
        exact = vals[0] * vals[1] if op == "mul" else vals[0] + vals[1] if op == "add" else \
            vals[0] * vals[1] + vals[2]
        if exact == 0:
            continue
        if fmt in POSITS and not pow2(-f.max_scale) <= abs(exact) < pow2(f.max_scale):
            continue
        if fmt not in POSITS and abs(exact) > float_params(fmt)[2]:
            continue
        keep.append((i, exact))
    idx = np.array([i for i, _ in keep])
    u = mpmac.unit(op, a=fmt, rounding="sr", rand_bits=R)
    args = {k: np.repeat(o[idx], 1 << R).astype(np.uint32) for k, o in zip("abc", ops)}
    r = u.golden(**args, rand=np.tile(np.arange(1 << R), idx.size))
    y = r["y"].reshape(idx.size, -1)
    bad, inexact = [], 0
    for (i, exact), yi in zip(keep, y):
        lo, hi, d, t = neighbours(fmt, exact)
        mags = [abs(decode(c)) for c in yi]
        if not all(m in (lo, hi) for m in mags):
            bad.append(("outside", float(exact), sorted(set(map(float, mags)))))
            continue
        n_up = sum(1 for m in mags if m == hi and hi != lo)
        if n_up != floor(d * 2 ** R):
            bad.append(("count", float(exact), float(d), n_up))
        if t is not None:
            mean_code = Fraction(sum(posit_body(int(c), n) for c in yi), 1 << R)
            ok = 0 <= t - mean_code <= pow2(-R)
        else:
            ok = 0 <= abs(exact) - sum(mags) / (1 << R) <= (hi - lo) * pow2(-R)
        if not ok:
            bad.append(("bias", float(exact)))
        inexact += d != 0
    assert len(keep) >= count // 3 and inexact > len(keep) // 4, (len(keep), inexact)
    assert not bad, f"sr {op} {fmt}: {len(bad)}/{len(keep)} wrong: {bad[:6]}"
