"""Independent oracles for floating-point results, written from formats-reference.md (no mpmac code).

What is here, and why each piece can be trusted on its own:

``SPECS``
    The formats' parameters, typed in from formats-reference §1 (not read from mpmac).
``decode`` / ``encode_exact`` / ``classify``
    Bit patterns <-> float64 through numpy / ml_dtypes views (exact for every format here), and the
    NaN/sNaN/Inf classes from the bit fields. ``encode_exact`` only accepts representable values and
    checks the round trip.
``mpfr_round``
    MPFR through gmpy2, with the context emulation of formats-reference §3: precision p,
    ``emin = emin_ieee - p + 2``, ``emax = emax_ieee + 1``, ``subnormalize=True``. The operation
    itself runs in that context, so MPFR computes it exactly and rounds once. Flags: inexact,
    underflow = MPFR's underflow *and* inexact (MPFR's underflow means "tiny", even when exact; this
    is IEEE tininess-after), overflow. No RMM in MPFR.
``exact_round``
    Rounds an exact dyadic value (sign, integer mantissa, exponent) in all five modes with Python
    integers; the only oracle for ``rmm`` besides gfloat. Tininess after rounding.
``finish``
    mpmac's documented policy for what a rounded result becomes in a format (golden/rounding.py,
    golden/arith.py docstrings): overflow per the IEEE mode table with Inf -> NaN for OCP "fn"
    (E4M3) and -> max for finite formats, ``saturate`` -> max everywhere, canonical NaNs, NaN into a
    finite format -> +0 with invalid, an exact Inf into a format without Inf -> that code + invalid
    (unless saturating). MPFR's E4M3 emulation also holds 480 (S.1111.111, the NaN code), so any
    result above 448 is an overflow here (formats-reference §3).
``gfloat_round`` / ``ml_cast``
    Thin wrappers: gfloat.round_ndarray on exact float64 values (one rounding), ml_dtypes casts from
    float32/float16 inputs (correctly rounded, RNE; never from float64, which double-rounds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import gmpy2
import ml_dtypes
import numpy as np
from gfloat import RoundMode, round_ndarray
from gfloat import formats as gf
from gmpy2 import mpfr

__all__ = ["INEXACT", "UNDERFLOW", "OVERFLOW", "INVALID", "MODES", "MPFR_MODES", "SMALL", "SPECS",
           "Spec", "decode", "encode_exact", "classify", "mpfr_round", "mpfr_operands", "exact_round",
           "exact_of_float64", "finish", "gfloat_round", "ml_cast", "same_value", "twosum_exact",
           "product_exact"]

INEXACT, UNDERFLOW, OVERFLOW, DIVBYZERO, INVALID = 1, 2, 4, 8, 16

MODES = ("rne", "rtz", "rdn", "rup", "rmm")
MPFR_MODES = {"rne": gmpy2.RoundToNearest, "rtz": gmpy2.RoundToZero, "rdn": gmpy2.RoundDown,
              "rup": gmpy2.RoundUp}
GFLOAT_MODES = {"rne": RoundMode.TiesToEven, "rtz": RoundMode.TowardZero,
                "rdn": RoundMode.TowardNegative, "rup": RoundMode.TowardPositive,
                "rmm": RoundMode.TiesToAway}


@dataclass(frozen=True)
class Spec:
    """One format, as formats-reference §1 describes it."""

    name: str
    exp_bits: int
    man_bits: int
    emin: int  # unbiased exponent of the smallest normal
    emax: int  # unbiased exponent of the largest finite value
    max_value: float
    specials: str  # "ieee" | "fn" (OCP E4M3) | "finite" (no Inf, no NaN)
    nan_code: int | None  # canonical NaN (positive, quiet)
    dtype: object  # numpy / ml_dtypes value type whose bits are this format
    gfloat: object  # gfloat FormatInfo

    @property
    def nbits(self) -> int:
        return 1 + self.exp_bits + self.man_bits

    @property
    def p(self) -> int:
        return self.man_bits + 1

    @property
    def qmin(self) -> int:
        """Exponent of the subnormal quantum."""
        return self.emin - self.man_bits

    @property
    def sign_mask(self) -> int:
        return 1 << (self.nbits - 1)

    @property
    def has_inf(self) -> bool:
        return self.specials == "ieee"

    @property
    def has_nan(self) -> bool:
        return self.specials != "finite"

    @property
    def inf_code(self) -> int | None:
        return ((1 << self.exp_bits) - 1) << self.man_bits if self.has_inf else None

    @property
    def code_dtype(self):
        return {8: np.uint8, 16: np.uint16, 32: np.uint32, 64: np.uint64}[max(8, 1 << (self.nbits - 1).bit_length())]

    @property
    def ncodes(self) -> int:
        return 1 << self.nbits

    def all_codes(self) -> np.ndarray:
        return np.arange(self.ncodes, dtype=np.uint64).astype(self.code_dtype)

    @property
    def max_code(self) -> int:
        return int(encode_exact(self, np.array([self.max_value]))[0])

    # exact max as sig * 2^q
    @property
    def max_sig_exp(self) -> tuple[int, int]:
        m, e = math.frexp(self.max_value)
        return int(m * (1 << self.p)), e - self.p


SPECS: dict[str, Spec] = {s.name: s for s in (
    Spec("e4m3", 4, 3, -6, 8, 448.0, "fn", 0x7F, ml_dtypes.float8_e4m3fn, gf.format_info_ocp_e4m3),
    Spec("e5m2", 5, 2, -14, 15, 57344.0, "ieee", 0x7E, ml_dtypes.float8_e5m2, gf.format_info_ocp_e5m2),
    Spec("e3m2", 3, 2, -2, 4, 28.0, "finite", None, ml_dtypes.float6_e3m2fn, gf.format_info_ocp_e3m2),
    Spec("e2m3", 2, 3, 0, 2, 7.5, "finite", None, ml_dtypes.float6_e2m3fn, gf.format_info_ocp_e2m3),
    Spec("e2m1", 2, 1, 0, 2, 6.0, "finite", None, ml_dtypes.float4_e2m1fn, gf.format_info_ocp_e2m1),
    Spec("bf16", 8, 7, -126, 127, float.fromhex("0x1.fep127"), "ieee", 0x7FC0, ml_dtypes.bfloat16,
         gf.format_info_bfloat16),
    Spec("fp16", 5, 10, -14, 15, 65504.0, "ieee", 0x7E00, np.float16, gf.format_info_binary16),
    Spec("fp32", 8, 23, -126, 127, float.fromhex("0x1.fffffep127"), "ieee", 0x7FC00000, np.float32,
         gf.format_info_binary32),
    Spec("fp64", 11, 52, -1022, 1023, float.fromhex("0x1.fffffffffffffp1023"), "ieee",
         0x7FF8000000000000, np.float64, gf.format_info_binary64),
)}

#: the 8-bit-or-smaller formats
SMALL = ("e4m3", "e5m2", "e3m2", "e2m3", "e2m1")


# ---------------------------------------------------------------------------------------------------
# bits <-> values
# ---------------------------------------------------------------------------------------------------

def decode(spec: Spec, codes) -> np.ndarray:
    """Bit patterns -> float64 (exact; NaN payloads are not kept)."""
    codes = np.asarray(codes)
    assert codes.size == 0 or int(codes.max()) < spec.ncodes
    with np.errstate(invalid="ignore"):  # NaN payloads
        return codes.astype(spec.code_dtype).view(spec.dtype).astype(np.float64)


def encode_exact(spec: Spec, values) -> np.ndarray:
    """Representable finite float64 values -> bit patterns (uint64), keeping the sign of zero."""
    values = np.asarray(values, dtype=np.float64)
    assert np.all(np.isfinite(values)), "encode_exact takes finite values only"
    codes = values.astype(spec.dtype).view(spec.code_dtype)
    if spec.nbits < 8:
        codes = codes & np.uint8(spec.ncodes - 1)
    back = decode(spec, codes)
    bad = ~same_value(back, values)
    assert not bad.any(), f"{spec.name}: not representable: {values[bad][:5]}"
    return codes.astype(np.uint64)


def classify(spec: Spec, codes):
    """(nan, snan, inf) boolean arrays from the bit fields."""
    codes = np.asarray(codes).astype(np.uint64)
    mag = codes & np.uint64(spec.sign_mask - 1)
    if spec.specials == "ieee":
        exp = mag >> np.uint64(spec.man_bits)
        man = mag & np.uint64((1 << spec.man_bits) - 1)
        top = exp == np.uint64((1 << spec.exp_bits) - 1)
        nan = top & (man != 0)
        snan = nan & ((man >> np.uint64(spec.man_bits - 1)) == 0)
        return nan, snan, top & (man == 0)
    false = np.zeros(codes.shape, dtype=bool)
    if spec.specials == "fn":
        return mag == np.uint64(spec.nan_code), false, false
    return false, false, false


def same_value(x, y) -> np.ndarray:
    """Elementwise: both NaN, or equal with the same sign (so +0 != -0)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return (np.isnan(x) & np.isnan(y)) | ((x == y) & (np.signbit(x) == np.signbit(y)))


def twosum_exact(a, b) -> np.ndarray:
    """a + b in float64, asserting (TwoSum error term == 0) that it is exact where finite."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        s = a + b
        bb = s - a
        err = (a - (s - bb)) + (b - bb)
    finite = np.isfinite(a) & np.isfinite(b)
    assert np.all(err[finite] == 0) and np.all(np.isfinite(s[finite])), "float64 sum is not exact"
    return s


def _sig_bits(x):
    """Significant bits of nonzero normal float64 values: 53 minus the significand's trailing zeros."""
    bits = np.abs(np.asarray(x, dtype=np.float64)).view(np.uint64)
    sig = (bits & np.uint64((1 << 52) - 1)) | np.uint64(1 << 52)
    low = sig & (~sig + np.uint64(1))  # lowest set bit
    tz = np.frexp(low.astype(np.float64))[1] - 1
    return 53 - tz


def product_exact(a, b) -> np.ndarray:
    """a * b in float64, asserting that it is exact (operand significands fit in 53 bits together,
    and no float64 under/overflow)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        p = a * b
    finite = np.isfinite(a) & np.isfinite(b) & (a != 0) & (b != 0)
    assert np.all(_sig_bits(a[finite]) + _sig_bits(b[finite]) <= 53), "float64 product may round"
    tiny = np.abs(p[finite]) < 2.0 ** -1022
    assert np.all(np.isfinite(p[finite])) and not tiny.any(), "float64 product out of normal range"
    return p


# ---------------------------------------------------------------------------------------------------
# MPFR
# ---------------------------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def mpfr_context(name: str, mode: str):
    spec = SPECS[name]
    return gmpy2.context(precision=spec.p, emin=spec.emin - spec.p + 2, emax=spec.emax + 1,
                         subnormalize=True, round=MPFR_MODES[mode])


def mpfr_operands(values) -> list:
    """float64 values -> exact mpfr operands (53-bit precision, default exponent range)."""
    return [mpfr(float(v), 53) for v in np.asarray(values, dtype=np.float64)]


def mpfr_round(name: str, mode: str, op: str, *operands):
    """Run ``op`` (``plus``, ``mul``, ``add``, ``fma``) in the emulation context of format ``name``.

    ``operands`` are equal-length lists of mpfr values. Returns (float64 values, uint8 flags); a
    value is the correctly rounded result in the emulated format (±inf on MPFR overflow, NaN).
    """
    ctx = mpfr_context(name, mode)
    fn = getattr(ctx, op)
    n = len(operands[0])
    vals = np.empty(n, dtype=np.float64)
    flags = np.empty(n, dtype=np.uint8)
    clear = ctx.clear_flags
    for i, args in enumerate(zip(*operands)):
        clear()
        r = fn(*args)
        vals[i] = float(r)
        inexact = ctx.inexact
        flags[i] = inexact | ((ctx.underflow and inexact) << 1) | (ctx.overflow << 2)
    return vals, flags


# ---------------------------------------------------------------------------------------------------
# exact integer rounding (all five modes)
# ---------------------------------------------------------------------------------------------------

def _round_int(M: int, shift: int, sign: int, mode: str):
    """Round M / 2^shift (M >= 0) to an integer. Returns (n, inexact)."""
    if shift <= 0:
        return M << -shift, False
    n = M >> shift
    rem = M - (n << shift)
    if rem == 0:
        return n, False
    half = 1 << (shift - 1)
    if mode == "rne":
        up = rem > half or (rem == half and n & 1)
    elif mode == "rmm":
        up = rem >= half
    elif mode == "rtz":
        up = False
    elif mode == "rup":
        up = sign == 0
    elif mode == "rdn":
        up = sign == 1
    else:
        raise ValueError(mode)
    return n + up, True


def exact_round(spec: Spec, mode: str, sign: int, M: int, E: int):
    """Round (-1)^sign * M * 2^E (M >= 0 an int) into ``spec`` as IEEE 754 does, tininess after.

    Returns (value, flags): value is the rounded float64 (signed zero kept), or ±inf on overflow
    (flags then hold OVERFLOW | INEXACT).
    """
    if M == 0:
        return (-0.0 if sign else 0.0), 0
    top = E + M.bit_length() - 1
    q = max(top - (spec.p - 1), spec.qmin)
    n, inexact = _round_int(M, q - E, sign, mode)
    # tininess after rounding: round at precision p with an unbounded exponent range
    q_unb = top - (spec.p - 1)
    n_unb, _ = _round_int(M, q_unb - E, sign, mode)
    tiny = top < spec.emin and not (top == spec.emin - 1 and n_unb == 1 << spec.p)
    msig, mexp = spec.max_sig_exp
    lo = min(q, mexp)
    if (n << (q - lo)) > (msig << (mexp - lo)):
        return (-math.inf if sign else math.inf), OVERFLOW | INEXACT
    value = math.ldexp(n, q)
    flags = (INEXACT if inexact else 0) | (UNDERFLOW if inexact and tiny else 0)
    return (-value if sign else value), flags


def exact_of_float64(x: float):
    """float64 -> (sign, M, E) exactly."""
    sign = 1 if math.copysign(1.0, x) < 0 else 0
    if x == 0:
        return sign, 0, 0
    num, den = abs(x).as_integer_ratio()
    return sign, num, -(den.bit_length() - 1)


def exact_round_float64(spec: Spec, mode: str, values):
    """:func:`exact_round` over an array of exactly known float64 values (NaN/Inf pass through);
    evaluated once per distinct value."""
    values = np.asarray(values, dtype=np.float64)
    uniq, inv = np.unique(values.view(np.uint64), return_inverse=True)
    uvals = uniq.view(np.float64)
    out_v = np.empty(uvals.shape, dtype=np.float64)
    out_f = np.zeros(uvals.shape, dtype=np.uint8)
    for i, v in enumerate(uvals.tolist()):
        if math.isfinite(v):
            out_v[i], out_f[i] = exact_round(spec, mode, *exact_of_float64(v))
        else:
            out_v[i] = v
    return out_v[inv].reshape(values.shape), out_f[inv].reshape(values.shape)


# ---------------------------------------------------------------------------------------------------
# mpmac's documented policy for specials, overflow and saturation
# ---------------------------------------------------------------------------------------------------

def finish(spec: Spec, mode: str, saturate: bool, value, flags, nan, inf, invalid):
    """Turn rounded results into expected (codes, flags).

    value : float64 rounded results (±inf or |value| > max_value mean overflow) for finite exact
        results; ignored where ``nan`` (the exact result is NaN) or ``inf`` (it is an exact ±Inf, whose
        sign is ``value``'s).
    flags : uint8 flags of the rounding (inexact, underflow, overflow).
    invalid : bool, an invalid operation happened (from the operand classes).
    """
    value = np.asarray(value, dtype=np.float64)
    flags = np.asarray(flags, dtype=np.uint8).copy()
    nan, inf, invalid = (np.asarray(x, dtype=bool) for x in (nan, inf, invalid))
    neg = np.signbit(value)
    finite = ~nan & ~inf
    over = finite & (np.isinf(value) | (np.abs(value) > spec.max_value) | ((flags & OVERFLOW) != 0))
    if mode in ("rne", "rmm"):
        to_inf = np.ones(value.shape, dtype=bool)
    elif mode == "rtz":
        to_inf = np.zeros(value.shape, dtype=bool)
    elif mode == "rup":
        to_inf = ~neg
    else:
        to_inf = neg
    sign_bits = np.where(neg, np.uint64(spec.sign_mask), np.uint64(0))
    max_code = np.uint64(spec.max_code)

    if saturate:
        inf_code = max_code | sign_bits  # infinite results become the largest finite value
    elif spec.specials == "ieee":
        inf_code = np.uint64(spec.inf_code) | sign_bits
    elif spec.specials == "fn":
        inf_code = np.full(value.shape, np.uint64(spec.nan_code))  # no Inf: NaN (canonical, +)
    else:
        inf_code = max_code | sign_bits  # finite formats: the largest value

    codes = np.zeros(value.shape, dtype=np.uint64)
    normal = finite & ~over
    if normal.any():
        codes[normal] = encode_exact(spec, value[normal])
    codes = np.where(over, np.where(to_inf, inf_code, max_code | sign_bits), codes)
    flags = np.where(over, flags | OVERFLOW | INEXACT, flags)
    codes = np.where(inf, inf_code, codes)
    codes = np.where(nan, np.uint64(spec.nan_code if spec.has_nan else 0), codes)
    flags = np.where(finite, flags, 0)
    invalid = invalid | (nan & (not spec.has_nan)) | (inf & (not spec.has_inf) & (not saturate))
    flags = flags | np.where(invalid, INVALID, 0)
    return codes, flags.astype(np.uint8)


# ---------------------------------------------------------------------------------------------------
# gfloat and ml_dtypes
# ---------------------------------------------------------------------------------------------------

def gfloat_round(spec: Spec, mode: str, saturate: bool, values) -> np.ndarray:
    """gfloat's rounding of exact float64 values. Finite formats never overflow to anything but their
    largest value in mpmac, which is gfloat's ``sat=True`` (gfloat raises on sat=False there)."""
    sat = saturate or spec.specials == "finite"
    return round_ndarray(spec.gfloat, np.asarray(values, dtype=np.float64), GFLOAT_MODES[mode], sat)


def ml_cast(spec: Spec, values) -> np.ndarray:
    """ml_dtypes' (RNE) conversion of float32 or float16 values, as float64."""
    values = np.asarray(values)
    assert values.dtype in (np.float32, np.float16), "ml_dtypes double-rounds float64 inputs"
    with np.errstate(over="ignore", invalid="ignore"):
        return values.astype(spec.dtype).astype(np.float64)
