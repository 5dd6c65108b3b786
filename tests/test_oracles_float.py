"""The golden model against independent floating-point oracles (formats-reference §3).

Oracles (see float_oracles.py): MPFR via gmpy2 (rne rtz rdn rup: the operation runs in an emulation
context and rounds once; flags inexact / underflow-and-inexact / overflow), an exact integer rounder
(all five modes, the MPFR-independent oracle for rmm; its other four modes are checked too, which
validates it), gfloat (values, all five modes, sat on/off) and ml_dtypes (values, RNE, from float32 /
float16 / its own narrow types, never from float64).

Exact values fed to gfloat and to the integer rounder are float64 only where that is exact: conversion
inputs themselves, and products and sums of the <=8-bit formats (checked per run by
float_oracles.product_exact and twosum_exact); fma exact values come from MPFR at EXACT_PREC bits with
its inexact flag checked, so every oracle rounds exactly once.

What the oracles cannot say, mpmac's documented policy says (float_oracles.finish): canonical NaNs,
OCP overflow rules, saturation, NaN into a finite format -> +0 with invalid, Inf into a format without
Inf -> NaN / max with invalid. Invalid is derived from the operand classes by IEEE 754 / SoftFloat rules
(sNaN operand, 0*Inf also with a quiet-NaN addend, Inf-Inf).

Value comparisons with gfloat and ml_dtypes leave out NaN results in the finite formats (e3m2, e2m3,
e2m1): mpmac gives +0 with invalid, gfloat passes a NaN through and ml_dtypes gives -0. Those cases are
still checked, bit for bit with flags, against the MPFR / exact oracles plus the documented policy.

Default tier (about 1 minute on one core): mul/add over every operand pair of e4m3 e5m2 e3m2 e2m3 e2m1
into {a's format, b's format, bf16, fp32}; 200k-vector fma sets for five format mixes; 4000 fp64 fma;
fp32 -> narrow conversions on structured random sets; exhaustive conversions from fp16, bf16 and the
narrow formats. All in 5 modes x saturate off/on. ``-m slow`` adds the remaining output formats of the
pairs and 2M-vector fma sets.
"""

from __future__ import annotations

from functools import lru_cache

import gmpy2
import numpy as np
import pytest

import mpmac
import float_oracles as fo
from float_oracles import INVALID, MODES, MPFR_MODES, SMALL, SPECS

SATS = (False, True)
SEED = 20240611


# ---------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------

class Check:
    """One oracle's comparison, accumulated over several (mode, saturate) runs."""

    def __init__(self, label: str):
        self.label, self.n, self.bad, self.examples = label, 0, 0, []

    def add(self, where: str, ok: np.ndarray, describe):
        ok = np.asarray(ok, dtype=bool)
        self.n += ok.size
        idx = np.nonzero(~ok)[0]
        self.bad += idx.size
        for i in idx[:4]:
            if len(self.examples) < 24:
                self.examples.append(f"  [{where}] {describe(i)}")

    def report(self, tally, expected: int):
        tally(self.label, self.n, self.bad, expected=expected, detail="\n".join(self.examples))


def golden(kind, mode, sat, formats, **inputs):
    u = mpmac.unit(kind, **formats, rounding=mode, saturate=sat)
    r = u.golden(**inputs)
    return np.asarray(r["y"]).astype(np.uint64), np.asarray(r["flags"]).astype(np.uint8)


def describer(operands: dict, gy, gf, want_y=None, want_f=None, want_v=None, gv=None):
    def describe(i):
        ops = " ".join(f"{k}=0x{int(v[i]):X}({fmt_val(val[i])})" for k, (v, val) in operands.items())
        s = f"{ops}: golden y=0x{int(gy[i]):X} flags={int(gf[i]):02X}"
        if gv is not None:
            s += f" ({fmt_val(gv[i])})"
        if want_y is not None:
            s += f"; oracle y=0x{int(want_y[i]):X} flags={int(want_f[i]):02X}"
        if want_v is not None:
            s += f"; oracle value {fmt_val(want_v[i])}"
        return s
    return describe


def fmt_val(x):
    x = float(x)
    return x.hex() if np.isfinite(x) and x != 0 else repr(x)


@lru_cache(maxsize=None)
def mp_table(name):
    """Exact mpfr value of every code of a format of at most 16 bits (index = code)."""
    return fo.mpfr_operands(fo.decode(SPECS[name], SPECS[name].all_codes()))


def mp_of(name, codes):
    spec = SPECS[name]
    if spec.nbits <= 16:
        table = mp_table(name)
        return [table[i] for i in np.asarray(codes).astype(np.int64).tolist()]
    return fo.mpfr_operands(fo.decode(spec, codes))


def classes(spec, codes):
    v = fo.decode(spec, codes)
    nan, snan, inf = fo.classify(spec, codes)
    # the value decoder and the bit-field classifier must agree
    assert np.array_equal(np.isnan(v), nan) and np.array_equal(np.isinf(v), inf)
    return v, nan, snan, inf


# ---------------------------------------------------------------------------------------------------
# formats: the oracle's table against mpmac's, and decoding
# ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(SPECS))
def test_format_parameters(name, tally):
    s, f = SPECS[name], mpmac.format(name)
    got = (f.nbits, f.exp_bits, f.man_bits, f.emin, f.emax, f.max_value, f.min_normal, f.min_subnormal,
           f.has_inf, f.has_nan, f.nan_code, f.max_code)
    want = (s.nbits, s.exp_bits, s.man_bits, s.emin, s.emax, s.max_value, 2.0 ** s.emin, 2.0 ** s.qmin,
            s.has_inf, s.has_nan, s.nan_code, s.max_code)
    assert got == want
    if s.nbits <= 16:
        from mpmac.golden.ops import decode
        codes = s.all_codes()
        ok = fo.same_value(decode(name, codes), fo.decode(s, codes))
        ch = Check(f"decode all {name} codes vs ml_dtypes/numpy")
        ch.add(name, ok, lambda i: f"code 0x{i:X}")
        ch.report(tally, expected=s.ncodes)


# ---------------------------------------------------------------------------------------------------
# mul and add: every operand pair of the 8-bit-or-smaller formats, 5 modes x saturate on/off
# ---------------------------------------------------------------------------------------------------

def _pair_params():
    params = []
    for op in ("mul", "add"):
        for fa in SMALL:
            for fb in SMALL:
                default = sorted({fa, fb, "bf16", "fp32"}, key=list(SPECS).index)
                for out in default:
                    params.append(pytest.param(op, fa, fb, out, id=f"{op}-{fa}-{fb}-{out}"))
                for out in SMALL + ("fp16",):
                    if out not in default:
                        params.append(pytest.param(op, fa, fb, out, id=f"{op}-{fa}-{fb}-{out}",
                                                   marks=pytest.mark.slow))
    return params


@pytest.mark.parametrize("op, fa, fb, out", _pair_params())
def test_pairs_exhaustive(op, fa, fb, out, tally):
    A, B, O = SPECS[fa], SPECS[fb], SPECS[out]
    ca = np.repeat(A.all_codes(), B.ncodes)
    cb = np.tile(B.all_codes(), A.ncodes)
    n = ca.size
    va, nan_a, snan_a, inf_a = classes(A, ca)
    vb, nan_b, snan_b, inf_b = classes(B, cb)
    if op == "mul":
        exact = fo.product_exact(va, vb)
        invalid = snan_a | snan_b | (inf_a & (vb == 0)) | (inf_b & (va == 0))
    else:
        exact = fo.twosum_exact(va, vb)
        invalid = snan_a | snan_b | (inf_a & inf_b & (np.signbit(va) != np.signbit(vb)))
    nan, inf = np.isnan(exact), np.isinf(exact)
    assert not (invalid & ~nan).any()
    mpa, mpb = mp_of(fa, ca), mp_of(fb, cb)
    ops = {"a": (ca, va), "b": (cb, vb)}

    c_mpfr = Check(f"vs MPFR ({'/'.join(MPFR_MODES)}) x sat, y+flags")
    c_exact = Check("vs exact integer rounder (5 modes incl. rmm) x sat, y+flags")
    c_gfloat = Check("vs gfloat round_ndarray (5 modes) x sat, values")
    gfloat_keep = ~(nan & (O.specials == "finite"))
    for mode in MODES:
        ex = exact
        if op == "add" and mode == "rdn":
            # IEEE 754 §6.3: an exact zero sum of opposite-signed operands is -0 when rounding down
            ex = np.where((exact == 0) & (np.signbit(va) != np.signbit(vb)), -0.0, exact)
        m = mpfr = None
        if mode in MPFR_MODES:
            mpfr = fo.mpfr_round(out, mode, op, mpa, mpb)
        ev, ef = fo.exact_round_float64(O, mode, ex)
        gv_all = {sat: fo.gfloat_round(O, mode, sat, np.where(gfloat_keep, ex, 0.0)) for sat in SATS}
        for sat in SATS:
            gy, gf = golden(op, mode, sat, dict(a=fa, b=fb, out=out), a=ca, b=cb)
            where = f"{mode} sat={sat}"
            if mpfr is not None:
                wy, wf = fo.finish(O, mode, sat, mpfr[0], mpfr[1], nan, inf, invalid)
                c_mpfr.add(where, (gy == wy) & (gf == wf), describer(ops, gy, gf, wy, wf))
            wy, wf = fo.finish(O, mode, sat, ev, ef, nan, inf, invalid)
            c_exact.add(where, (gy == wy) & (gf == wf), describer(ops, gy, gf, wy, wf))
            gval = fo.decode(O, gy)
            ok = fo.same_value(gval, gv_all[sat])[gfloat_keep]
            c_gfloat.add(where, ok, lambda i: describer(ops, gy, gf, want_v=gv_all[sat], gv=gval)(
                np.nonzero(gfloat_keep)[0][i]))
    runs = len(SATS)
    c_mpfr.report(tally, expected=n * len(MPFR_MODES) * runs)
    c_exact.report(tally, expected=n * len(MODES) * runs)
    c_gfloat.report(tally, expected=int(gfloat_keep.sum()) * len(MODES) * runs)
    assert gfloat_keep.sum() > n // 2


# ---------------------------------------------------------------------------------------------------
# random operands
# ---------------------------------------------------------------------------------------------------

def special_codes(spec) -> np.ndarray:
    """Zeros, subnormal/normal edges, 1.0, max, Inf and NaNs (quiet and signaling), both signs."""
    mb = spec.man_bits
    mags = [0, 1, (1 << mb) - 1, 1 << mb, int(fo.encode_exact(spec, np.array([1.0]))[0]),
            spec.max_code, spec.max_code - 1]
    if spec.has_inf:
        mags += [spec.inf_code, spec.nan_code, spec.inf_code | 1, spec.inf_code | ((1 << mb) - 1)]
    elif spec.has_nan:
        mags += [spec.nan_code]
    mags = np.array(sorted(set(mags)), dtype=np.uint64)
    return np.concatenate([mags, mags | np.uint64(spec.sign_mask)])


def random_codes(spec, n, rng, exp_lo=None, exp_hi=None) -> np.ndarray:
    """1/2 uniform bit patterns, 3/8 random sign / biased exponent in [exp_lo, exp_hi] / mantissa
    (a quarter of them an edge pattern), 1/8 special codes; shuffled."""
    nb, mb = spec.nbits, spec.man_bits
    k1, k3 = n // 2, n // 8
    k2 = n - k1 - k3
    uni = rng.integers(0, 1 << nb, k1, dtype=np.uint64, endpoint=False) if nb < 64 else \
        rng.integers(0, np.iinfo(np.uint64).max, k1, dtype=np.uint64, endpoint=True)
    lo = 0 if exp_lo is None else exp_lo
    hi = (1 << spec.exp_bits) - 1 if exp_hi is None else exp_hi
    sign = rng.integers(0, 2, k2).astype(np.uint64)
    be = rng.integers(lo, hi + 1, k2).astype(np.uint64)
    man = rng.integers(0, 1 << mb, k2, dtype=np.uint64) if mb < 63 else \
        rng.integers(0, np.iinfo(np.uint64).max, k2, dtype=np.uint64) >> np.uint64(64 - mb)
    edges = np.array([0, (1 << mb) - 1, 1, 1 << (mb - 1) if mb else 0], dtype=np.uint64)
    pick = rng.random(k2) < 0.25
    man = np.where(pick, edges[rng.integers(0, 4, k2)], man)
    struct = (sign << np.uint64(nb - 1)) | (be << np.uint64(mb)) | man
    spc = rng.choice(special_codes(spec), k3)
    codes = np.concatenate([uni, struct, spc])
    rng.shuffle(codes)
    return codes.astype(spec.code_dtype)


def nearby_codes(spec, target, rng, spread=3) -> np.ndarray:
    """Codes within ``spread`` steps of the nearest representable value of float64 ``target``."""
    with np.errstate(over="ignore", invalid="ignore"):
        base = np.asarray(target, dtype=np.float64).astype(spec.dtype).view(spec.code_dtype)
    base = base.astype(np.uint64) & np.uint64(spec.ncodes - 1)
    sign = base & np.uint64(spec.sign_mask)
    mag = (base & np.uint64(spec.sign_mask - 1)).astype(np.int64)
    mag = np.clip(mag + rng.integers(-spread, spread + 1, mag.size), 0, spec.max_code)
    return (sign | mag.astype(np.uint64)).astype(spec.code_dtype)


def fma_addends(C, O, prod, rng) -> np.ndarray:
    """Addends for a*b+c: 1/4 random codes, 5/16 near -a*b (cancellation, exact zeros), 3/16 at an
    exponent within precision+4 of a*b (alignment and sticky bits), 1/16 near +a*b, 3/16 such that
    a*b+c lands near a threshold of the output format O (2^emin: tininess before/after; max: overflow;
    the smallest subnormal)."""
    n = prod.size
    kind = rng.integers(0, 16, n)
    usable = np.isfinite(prod) & (prod != 0)
    p = np.where(usable, prod, 1.0)
    with np.errstate(over="ignore"):
        shifted = p * np.ldexp(1.0 + rng.random(n), rng.integers(-C.p - 4, C.p + 5, n))
        shifted *= np.where(rng.random(n) < 0.5, -1.0, 1.0)
        thresholds = np.array([2.0 ** O.emin, 2.0 ** O.emin * (1 - 2.0 ** -O.p), O.max_value,
                               2.0 ** O.qmin, 1.5 * 2.0 ** O.qmin])
        t = thresholds[rng.integers(0, thresholds.size, n)] * np.where(rng.random(n) < 0.5, -1.0, 1.0)
        near_t = t - p
    cands = [random_codes(C, n, rng), nearby_codes(C, -p, rng), nearby_codes(C, shifted, rng),
             nearby_codes(C, p, rng), nearby_codes(C, near_t, rng)]
    choice = np.select([kind < 4, kind < 9, kind < 12, kind < 13], [0, 1, 2, 3], 4)
    choice = np.where(usable, choice, 0)
    return np.choose(choice, cands).astype(C.code_dtype)


# ---------------------------------------------------------------------------------------------------
# fma: large random sets against MPFR (one rounding) and the exact rounder
# ---------------------------------------------------------------------------------------------------

EXACT_PREC = 4400  # bits: holds any a*b + c of these formats exactly (fp64: < 2^2100 / 2^-2150 span)


def exact_fma(mpa, mpb, mpc, rnd):
    """Exact a*b+c per element: (nan, inf, sign, M, E) with value (-1)^sign * M * 2^E."""
    ctx = gmpy2.context(precision=EXACT_PREC, round=rnd)
    n = len(mpa)
    nan, inf = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    sign, M, E = np.zeros(n, dtype=np.int64), [0] * n, [0] * n
    for i, (x, y, z) in enumerate(zip(mpa, mpb, mpc)):
        ctx.clear_flags()
        r = ctx.fma(x, y, z)
        assert not ctx.inexact, "exact fma context rounded"
        if gmpy2.is_nan(r):
            nan[i] = True
            continue
        sign[i] = gmpy2.is_signed(r)
        if gmpy2.is_infinite(r):
            inf[i] = True
            continue
        m, e = r.as_mantissa_exp()
        M[i], E[i] = abs(int(m)), int(e)
    return nan, inf, sign, M, E


def check_fma(fa, fb, fc, out, ca, cb, cc, tally, sats=SATS):
    A, B, C, O = SPECS[fa], SPECS[fb], SPECS[fc], SPECS[out]
    n = ca.size
    va, nan_a, snan_a, inf_a = classes(A, ca)
    vb, nan_b, snan_b, inf_b = classes(B, cb)
    vc, nan_c, snan_c, inf_c = classes(C, cc)
    zero_inf = (inf_a & (vb == 0)) | ((va == 0) & inf_b)
    prod_inf = (inf_a | inf_b) & ~nan_a & ~nan_b & ~zero_inf
    prod_neg = np.signbit(va) ^ np.signbit(vb)
    # SoftFloat: 0*Inf is invalid even with a quiet-NaN addend; Inf - Inf is invalid
    invalid = snan_a | snan_b | snan_c | zero_inf | (prod_inf & inf_c & (prod_neg != np.signbit(vc)))
    mpa, mpb, mpc = mp_of(fa, ca), mp_of(fb, cb), mp_of(fc, cc)
    nan, inf, sign, M, E = exact_fma(mpa, mpb, mpc, gmpy2.RoundToNearest)
    assert np.array_equal(nan, nan_a | nan_b | nan_c | invalid)
    zero_idx = [i for i in range(n) if not nan[i] and not inf[i] and M[i] == 0]
    _, _, sign_rdn, _, _ = exact_fma([mpa[i] for i in zero_idx], [mpb[i] for i in zero_idx],
                                     [mpc[i] for i in zero_idx], gmpy2.RoundDown)
    inf_value = np.where(sign == 1, -np.inf, np.inf)
    formats = dict(a=fa, b=fb, c=fc, out=out)
    ops = {"a": (ca, va), "b": (cb, vb), "c": (cc, vc)}

    c_mpfr = Check(f"vs MPFR fma ({'/'.join(MPFR_MODES)}) x sat, y+flags")
    c_exact = Check("vs exact value + integer rounder (5 modes incl. rmm) x sat, y+flags")
    for mode in MODES:
        s = sign.copy()
        if mode == "rdn":  # IEEE 754 §6.3: the sign of an exact zero sum depends on the mode
            s[zero_idx] = sign_rdn
        ev = np.empty(n, dtype=np.float64)
        ef = np.zeros(n, dtype=np.uint8)
        for i in range(n):
            if nan[i] or inf[i]:
                ev[i] = np.nan if nan[i] else inf_value[i]
            else:
                ev[i], ef[i] = fo.exact_round(O, mode, int(s[i]), M[i], E[i])
        mpfr = fo.mpfr_round(out, mode, "fma", mpa, mpb, mpc) if mode in MPFR_MODES else None
        for sat in sats:
            gy, gf = golden("fma", mode, sat, formats, a=ca, b=cb, c=cc)
            where = f"{mode} sat={sat}"
            if mpfr is not None:
                wy, wf = fo.finish(O, mode, sat, mpfr[0], mpfr[1], nan, inf, invalid)
                c_mpfr.add(where, (gy == wy) & (gf == wf), describer(ops, gy, gf, wy, wf))
            wy, wf = fo.finish(O, mode, sat, ev, ef, nan, inf, invalid)
            c_exact.add(where, (gy == wy) & (gf == wf), describer(ops, gy, gf, wy, wf))
            if mode == "rne" and not sat:
                stats = {name: int(((wf & bit) != 0).sum()) for name, bit in
                         (("inexact", fo.INEXACT), ("underflow", fo.UNDERFLOW),
                          ("overflow", fo.OVERFLOW), ("invalid", INVALID))}
                stats["zero"] = int((~nan & ~inf & (np.array([m == 0 for m in M]))).sum())
                stats["nan"] = int(nan.sum())
                # exact value below 2^emin that rounds (unbounded) to 2^emin: tininess before != after
                stats["tiny_before_not_after"] = sum(
                    1 for i in range(n) if M[i] and E[i] + M[i].bit_length() - 1 < O.emin
                    and not wf[i] & fo.UNDERFLOW and wf[i] & fo.INEXACT)
    print(f"fma {fa}*{fb}+{fc}->{out}: {n} vectors, rne result classes {stats}")
    c_mpfr.report(tally, expected=n * len(MPFR_MODES) * len(sats))
    c_exact.report(tally, expected=n * len(MODES) * len(sats))
    return stats


FMA_CONFIGS = [("e4m3", "e4m3", "fp32", "fp32"), ("e5m2", "e4m3", "fp16", "fp16"),
               ("e2m1", "e2m1", "bf16", "bf16"), ("bf16", "bf16", "bf16", "bf16"),
               ("fp16", "fp16", "fp16", "fp16")]
N_FMA = 200_000


@pytest.mark.parametrize("fa, fb, fc, out", FMA_CONFIGS, ids=lambda x: x)
def test_fma_random(fa, fb, fc, out, tally):
    rng = np.random.default_rng([SEED, FMA_CONFIGS.index((fa, fb, fc, out))])
    A, B, C = SPECS[fa], SPECS[fb], SPECS[fc]
    ca, cb = random_codes(A, N_FMA, rng), random_codes(B, N_FMA, rng)
    with np.errstate(invalid="ignore"):
        prod = fo.decode(A, ca) * fo.decode(B, cb)
    cc = fma_addends(C, SPECS[out], prod, rng)
    stats = check_fma(fa, fb, fc, out, ca, cb, cc, tally)
    # the operand mix must reach every result class the formats allow
    assert stats["inexact"] > N_FMA // 10 and stats["zero"] > 100 and stats["nan"] > 100
    assert stats["invalid"] > 100 or not (SPECS[fa].has_inf or SPECS[fb].has_inf)
    if out in ("bf16", "fp16") and fa == out:  # products can reach the output's subnormal range
        assert stats["underflow"] > 100 and stats["tiny_before_not_after"] > 10
    if out == "fp16":
        assert stats["overflow"] > 100


def test_fma_fp64(tally):
    """fp64 fma (the wide-integer path) on a few thousand vectors vs a 53-bit MPFR context."""
    rng = np.random.default_rng([SEED, 64])
    D = SPECS["fp64"]
    n = 4000
    bias = 1023
    ca = random_codes(D, n, rng, bias - 60, bias + 60)
    cb = random_codes(D, n, rng, bias - 60, bias + 60)
    # a quarter of the products land near the subnormal range or near overflow
    k = n // 4
    ea = ((ca[:k] >> np.uint64(52)) & np.uint64(0x7FF)).astype(np.int64)
    target = np.where(rng.random(k) < 0.6, rng.integers(-1080, -1015, k) + 2 * bias,
                      rng.integers(1015, 1025, k) + 2 * bias)
    eb = np.clip(target - ea, 1, 2046).astype(np.uint64)
    cb[:k] = (cb[:k] & np.uint64(0x800FFFFFFFFFFFFF)) | (eb << np.uint64(52))
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        prod = fo.decode(D, ca) * fo.decode(D, cb)
    cc = fma_addends(D, D, prod, rng)
    stats = check_fma("fp64", "fp64", "fp64", "fp64", ca, cb, cc, tally)
    assert min(stats["inexact"], stats["underflow"], stats["overflow"], stats["zero"]) > 20


# ---------------------------------------------------------------------------------------------------
# conversions
# ---------------------------------------------------------------------------------------------------

def fp32_inputs(dst, rng) -> np.ndarray:
    """float32 bit patterns for conversions into ``dst``: representable values of dst, midpoints
    (ties) and the overflow threshold, each with its float32 neighbours (+-3 ulps), both signs;
    random bit patterns; log-uniform values over dst's range; float32 specials."""
    D = SPECS[dst]
    codes = D.all_codes()
    if D.ncodes > 256:
        codes = np.concatenate([rng.choice(codes, 4096), special_codes(D).astype(D.code_dtype)])
    vals = fo.decode(D, codes)
    vals = np.unique(np.abs(vals[np.isfinite(vals)]))
    ulp_max = np.ldexp(1.0, D.emax - D.man_bits)
    edges = np.array([D.max_value + ulp_max / 2, D.max_value + ulp_max, 2 * D.max_value,
                      2.0 ** D.qmin / 2, 2.0 ** D.qmin / 4, 2.0 ** D.emin])
    want = np.concatenate([vals, (vals[:-1] + vals[1:]) / 2, edges])
    with np.errstate(over="ignore"):
        base = want.astype(np.float32)
    exact = base.astype(np.float64) == want
    assert exact.sum() >= want.size - 3  # only edges beyond float32 (bf16) drop out
    base = base[exact]
    bits = base.view(np.uint32).astype(np.int64)
    near = (bits[:, None] + np.arange(-3, 4)[None, :]).ravel()
    near = near[(near >= 0) & (near < 0x7F800000)].astype(np.uint32)
    near = np.concatenate([near, near | np.uint32(0x80000000)])
    uni = rng.integers(0, 1 << 32, 20000, dtype=np.uint64).astype(np.uint32)
    with np.errstate(over="ignore"):  # bf16: the top of the range is beyond float32 (-> Inf inputs)
        mag = np.exp2(rng.uniform(D.qmin - 4, D.emax + 3, 20000)).astype(np.float32)
    logu = (mag * np.where(rng.random(20000) < 0.5, -1, 1).astype(np.float32)).view(np.uint32)
    spc = np.array([0, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000, 0x7F800001,
                    0xFF800001, 0x7FBFFFFF, 0x7FFFFFFF, 1, 0x80000001, 0x007FFFFF, 0x00800000,
                    0x7F7FFFFF, 0xFF7FFFFF, 0x3F800000], dtype=np.uint32)
    return np.concatenate([near, uni, logu, spc])


def _convert_params():
    params = [("fp32", d) for d in SMALL + ("bf16", "fp16")]
    params += [("fp16", d) for d in SMALL + ("bf16",)]
    params += [("bf16", d) for d in SMALL + ("fp16",)]
    params += [(s, d) for s in SMALL for d in SMALL + ("bf16", "fp16", "fp32")]
    return [pytest.param(s, d, id=f"{s}-to-{d}") for s, d in params]


@pytest.mark.parametrize("src, dst", _convert_params())
def test_convert(src, dst, tally):
    """fp32 sources: structured random sets; every other source: all codes (exhaustive)."""
    S, D = SPECS[src], SPECS[dst]
    if src == "fp32":
        codes = fp32_inputs(dst, np.random.default_rng([SEED, list(SPECS).index(dst)]))
    else:
        codes = S.all_codes()
    n = codes.size
    v, nan, snan, inf = classes(S, codes)
    uniq, first, inv = np.unique(v.view(np.uint64), return_index=True, return_inverse=True)
    mp_u = fo.mpfr_operands(v[first])
    ops = {"a": (codes, v)}
    finite_dst = D.specials == "finite"
    keep = ~(nan & finite_dst)  # gfloat / ml_dtypes: NaN into a finite format differs by design

    c_mpfr = Check(f"vs MPFR ({'/'.join(MPFR_MODES)}) x sat, y+flags")
    c_exact = Check("vs exact integer rounder (5 modes incl. rmm) x sat, y+flags")
    c_gfloat = Check("vs gfloat round_ndarray (5 modes) x sat, values")
    c_ml = Check("vs ml_dtypes cast (rne, saturate=False), values")
    for mode in MODES:
        mpfr = None
        if mode in MPFR_MODES:
            mv, mf = fo.mpfr_round(dst, mode, "plus", mp_u)
            mpfr = mv[inv], mf[inv]
        ev, ef = fo.exact_round_float64(D, mode, v)
        for sat in SATS:
            gy, gf = golden("convert", mode, sat, dict(a=src, out=dst), a=codes)
            where = f"{mode} sat={sat}"
            if mpfr is not None:
                wy, wf = fo.finish(D, mode, sat, mpfr[0], mpfr[1], nan, inf, snan)
                c_mpfr.add(where, (gy == wy) & (gf == wf), describer(ops, gy, gf, wy, wf))
            wy, wf = fo.finish(D, mode, sat, ev, ef, nan, inf, snan)
            c_exact.add(where, (gy == wy) & (gf == wf), describer(ops, gy, gf, wy, wf))
            gv = fo.gfloat_round(D, mode, sat, np.where(keep, v, 0.0))
            gval = fo.decode(D, gy)
            kidx = np.nonzero(keep)[0]
            c_gfloat.add(where, fo.same_value(gval, gv)[keep],
                         lambda i: describer(ops, gy, gf, want_v=gv, gv=gval)(kidx[i]))
            if mode == "rne" and not sat:
                if src in ("fp32", "fp16"):
                    ml = fo.ml_cast(D, codes.view(S.dtype))
                else:
                    with np.errstate(over="ignore", invalid="ignore"):
                        ml = codes.view(S.dtype).astype(D.dtype).astype(np.float64)
                c_ml.add(where, fo.same_value(gval, ml)[keep],
                         lambda i: describer(ops, gy, gf, want_v=ml, gv=gval)(kidx[i]))
    runs = len(SATS)
    c_mpfr.report(tally, expected=n * len(MPFR_MODES) * runs)
    c_exact.report(tally, expected=n * len(MODES) * runs)
    c_gfloat.report(tally, expected=int(keep.sum()) * len(MODES) * runs)
    c_ml.report(tally, expected=int(keep.sum()))
    assert keep.sum() > n // 2


@pytest.mark.slow
@pytest.mark.parametrize("fa, fb, fc, out", FMA_CONFIGS, ids=lambda x: x)
def test_fma_random_large(fa, fb, fc, out, tally):
    """Ten times the default fma sets, with other seeds."""
    rng = np.random.default_rng([SEED, 1000 + FMA_CONFIGS.index((fa, fb, fc, out))])
    n = 10 * N_FMA
    A, B, C = SPECS[fa], SPECS[fb], SPECS[fc]
    ca, cb = random_codes(A, n, rng), random_codes(B, n, rng)
    with np.errstate(invalid="ignore"):
        prod = fo.decode(A, ca) * fo.decode(B, cb)
    cc = fma_addends(C, SPECS[out], prod, rng)
    stats = check_fma(fa, fb, fc, out, ca, cb, cc, tally)
    assert stats["inexact"] > n // 10
