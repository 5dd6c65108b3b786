"""Vectorized exact-integer helpers shared by the golden model.

Arrays are ``int64`` when every intermediate fits in :data:`FAST_BITS` bits, else numpy ``object``
arrays of Python ints (exact at any width, slower). Callers pick with :func:`int_dtype` from the widths
they know, and every helper here works on both.
"""

from __future__ import annotations

import numpy as np

#: widest magnitude the int64 path carries; leaves room for a sign and one carry bit
FAST_BITS = 61

_bit_length_obj = np.frompyfunc(int.bit_length, 1, 1)


def int_dtype(max_bits: int):
    """int64 when magnitudes of up to ``max_bits`` bits are safe in it, else object."""
    return np.int64 if max_bits <= FAST_BITS else object


def is_wide(x) -> bool:
    return x.dtype == object


def bit_length(x):
    """Bit length of non-negative integers (0 for 0), elementwise."""
    if is_wide(x):
        return _bit_length_obj(x).astype(np.int64)
    # float64 rounding can push values just below 2^k up to 2^k; correct by one where it did
    _, e = np.frexp(x.astype(np.float64))
    e = e.astype(np.int64)
    big = x >= (1 << 53)
    if big.any():
        e -= big & ((x >> np.clip(e - 1, 0, 63)) == 0)
    return e


def shl(x, n):
    """x << n for n >= 0 (arrays or scalars)."""
    return x << n


def shr_jam(x, n):
    """Shift right by n >= 0 with round-to-odd: a nonzero shifted-out part sets the LSB.

    The result represents x / 2^n faithfully for any later rounding at least 2 bits coarser.
    """
    if is_wide(x):
        n = n.astype(object) if isinstance(n, np.ndarray) else n
        kept = x >> n
        return kept | ((kept << n) != x)
    n = np.minimum(n, 62)
    kept = x >> n
    return kept | ((kept << n) != x)


def clamp_shift(n, wide: bool):
    """Shift amounts for the int64 path are clamped to 62 (the operands are narrower than that)."""
    return n if wide else np.minimum(n, 62)


def as_int(x, dtype):
    """Convert an integer array to the working dtype."""
    if dtype is object:
        return np.asarray(x).astype(object)
    return np.asarray(x).astype(np.int64)
