"""Decode bit patterns into exact (sign, significand, exponent, class) fields.

This mirrors the hardware "unpack" stage: a finite value is ``(-1)^sign * sig * 2^exp`` with ``sig`` an
integer (hidden bit included), and ``cls`` says whether it is zero, finite, infinite or NaN. Posit NaR
decodes as a quiet NaN, so the arithmetic core treats both families alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .formats import FloatFormat, Format, PositFormat, Specials
from .intvec import bit_length

__all__ = ["Cls", "Unpacked", "unpack", "to_float64", "TABLE_MAX_BITS"]


class Cls:
    """Value classes (small ints so they vectorize)."""

    ZERO = 0
    FINITE = 1
    INF = 2
    QNAN = 3
    SNAN = 4


@dataclass(frozen=True)
class Unpacked:
    """Decoded operands: parallel arrays."""

    sign: np.ndarray  # int64, 0 or 1
    sig: np.ndarray  # int64 integer significand (0 for zero/specials)
    exp: np.ndarray  # int64 exponent of the significand's LSB
    cls: np.ndarray  # int64, a Cls value

    def is_nan(self):
        return self.cls >= Cls.QNAN


#: formats up to this width decode by table lookup
TABLE_MAX_BITS = 16


def unpack(fmt: Format, bits) -> Unpacked:
    """Decode an array of bit patterns of ``fmt``."""
    bits = np.asarray(bits)
    if bits.dtype.kind not in "ui":
        raise TypeError(f"bit patterns must be an integer array, got dtype {bits.dtype}")
    if fmt.nbits <= TABLE_MAX_BITS:
        table = _table(fmt)
        idx = bits.astype(np.intp) & ((1 << fmt.nbits) - 1)
        return Unpacked(*(t[idx] for t in table))
    bits = bits.astype(np.uint64) & np.uint64((1 << fmt.nbits) - 1)
    return _unpack_posit(fmt, bits) if fmt.is_posit else _unpack_float(fmt, bits)


@lru_cache(maxsize=None)
def _table(fmt: Format):
    codes = np.arange(1 << fmt.nbits, dtype=np.uint64)
    u = _unpack_posit(fmt, codes) if fmt.is_posit else _unpack_float(fmt, codes)
    return u.sign, u.sig, u.exp, u.cls


def _unpack_float(fmt: FloatFormat, bits: np.ndarray) -> Unpacked:
    mb = fmt.man_bits
    sign = (bits >> np.uint64(fmt.nbits - 1)).astype(np.int64)
    e = ((bits >> np.uint64(mb)) & np.uint64(fmt.exp_field_max)).astype(np.int64)
    f = (bits & np.uint64((1 << mb) - 1)).astype(np.int64)
    normal = e != 0
    sig = np.where(normal, f | (1 << mb), f)
    exp = np.where(normal, e, 1) - (fmt.bias + mb)
    if not fmt.subnormals:
        sig = np.where(normal, sig, 0)
    cls = np.where(sig == 0, Cls.ZERO, Cls.FINITE)
    if fmt.specials is Specials.IEEE:
        top = e == fmt.exp_field_max
        quiet = (f >> (mb - 1)) & 1
        cls = np.where(top, np.where(f == 0, Cls.INF, np.where(quiet == 1, Cls.QNAN, Cls.SNAN)), cls)
    elif fmt.specials is Specials.FN:
        mag = bits & np.uint64(fmt.sign_mask - 1)
        cls = np.where(mag == np.uint64(fmt.nan_code), Cls.QNAN, cls)
    elif fmt.specials is Specials.FNUZ:
        cls = np.where(bits == np.uint64(fmt.nan_code), Cls.QNAN, cls)
    special = cls >= Cls.INF
    sig = np.where(special, 0, sig)
    exp = np.where(special, 0, exp)
    return Unpacked(sign, sig.astype(np.int64), exp.astype(np.int64), cls.astype(np.int64))


def _unpack_posit(fmt: PositFormat, bits: np.ndarray) -> Unpacked:
    n, es = fmt.nbits, fmt.es
    x = bits.astype(np.int64)
    sign = x >> (n - 1)
    mag = np.where(sign == 1, (-x) & ((1 << n) - 1), x)
    body = mag & ((1 << (n - 1)) - 1)  # the n-1 bits after the sign
    lead = body >> (n - 2)
    # regime run length: leading ones (lead=1) or zeros (lead=0) of the (n-1)-bit body
    run_src = np.where(lead == 1, (~body) & ((1 << (n - 1)) - 1), body)
    run = (n - 1) - bit_length(run_src)
    regime = np.where(lead == 1, run - 1, -run)
    rest_len = np.maximum(n - 2 - run, 0)  # bits after the regime's terminating bit
    rest = body & ((1 << rest_len) - 1)
    frac_len = np.maximum(rest_len - es, 0)
    # exponent bits cut off by the end of the word count as zeros
    e_field = (rest >> frac_len) << np.maximum(es - rest_len, 0)
    frac = rest & ((1 << frac_len) - 1)
    sig = (1 << frac_len) | frac
    exp = (regime << es) + e_field - frac_len
    cls = np.where(x == 0, Cls.ZERO, np.where(x == fmt.nar_code, Cls.QNAN, Cls.FINITE))
    finite = cls == Cls.FINITE
    return Unpacked(np.where(finite, sign, 0).astype(np.int64), np.where(finite, sig, 0).astype(np.int64),
                    np.where(finite, exp, 0).astype(np.int64), cls.astype(np.int64))


def to_float64(fmt: Format, bits) -> np.ndarray:
    """Decode to float64 (exact wherever float64 can hold the value; NaR and NaN give nan)."""
    u = unpack(fmt, bits)
    with np.errstate(over="ignore"):
        mag = np.ldexp(u.sig.astype(np.float64), u.exp.astype(np.int32))
    mag = np.where(u.cls == Cls.INF, np.inf, mag)
    mag = np.where(u.cls >= Cls.QNAN, np.nan, mag)
    return np.where(u.sign == 1, -mag, mag)
