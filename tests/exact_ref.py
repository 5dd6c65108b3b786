"""Tiny scalar exact references (Fractions only), written from formats-reference.md and independent of
mpmac.golden: posit decode/encode on the bit string (§2.5), IEEE-style float decode and neighbours.

Nothing here is fast; the tests use it on samples or cache whole tables for small formats.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from math import floor

HALF = Fraction(1, 2)


def pow2(k: int) -> Fraction:
    return Fraction(1 << k) if k >= 0 else Fraction(1, 1 << -k)


def floor_log2(x: Fraction) -> int:
    """floor(log2(x)) for x > 0, exactly."""
    k = x.numerator.bit_length() - x.denominator.bit_length()
    if pow2(k) > x:
        k -= 1
    assert pow2(k) <= x < pow2(k + 1)
    return k


# ---------------------------------------------------------------------------------------------------
# posits (formats-reference §2.5)
# ---------------------------------------------------------------------------------------------------

def posit_decode(bits: int, n: int, es: int):
    """Exact value of a posit(n, es) bit pattern; None for NaR."""
    mask = (1 << n) - 1
    bits &= mask
    if bits == 0:
        return Fraction(0)
    if bits == 1 << (n - 1):
        return None
    negative = bits >> (n - 1)
    if negative:
        bits = (-bits) & mask  # negative patterns are the two's complement of the magnitude
    s = format(bits, f"0{n}b")[1:]  # the n-1 bits after the sign
    first = s[0]
    run = len(s) - len(s.lstrip(first))
    r = run - 1 if first == "1" else -run
    rest = s[run + 1:]  # after the regime's terminating bit (if any)
    ebits = rest[:es].ljust(es, "0")  # exponent bits cut off by the end of the word count as 0
    e = int(ebits, 2) if es else 0
    fbits = rest[es:]
    f = Fraction(int(fbits, 2), 2 ** len(fbits)) if fbits else Fraction(0)
    v = (1 + f) * pow2(r * 2 ** es + e)
    return -v if negative else v


def posit_maxpos(n: int, es: int) -> Fraction:
    return pow2((n - 2) * 2 ** es)


def posit_string(x: Fraction, n: int, es: int) -> Fraction:
    """Position of |x| on the posit bit string, in units of the last kept bit (n-1 bits after the sign).

    The integer part is the truncated body; the fractional part is the discarded tail (the infinite
    encoding bits). Valid for minpos <= |x| < maxpos.
    """
    x = abs(x)
    scale = floor_log2(x)
    r = scale >> es  # floor division by 2^es
    e = scale - (r << es)
    f = x / pow2(scale) - 1
    regime = "1" * (r + 1) + "0" if r >= 0 else "0" * (-r) + "1"
    prefix = regime + (format(e, f"0{es}b") if es else "")
    return (int(prefix, 2) + f) * pow2(n - 1 - len(prefix))


@lru_cache(maxsize=1 << 20)
def posit_encode(x: Fraction, n: int, es: int) -> int:
    """Round an exact value into posit(n, es): RNE on the bit string, saturating to minpos/maxpos."""
    if x == 0:
        return 0
    negative = x < 0
    x = abs(x)
    maxpos = posit_maxpos(n, es)
    if x >= maxpos:
        body = (1 << (n - 1)) - 1
    elif x <= 1 / maxpos:
        body = 1
    else:
        s = posit_string(x, n, es)
        kept = floor(s)
        rem = s - kept
        body = kept + (1 if rem > HALF or (rem == HALF and kept % 2 == 1) else 0)
    return ((-body) & ((1 << n) - 1)) if negative else body


def posit_body(bits: int, n: int) -> int:
    """Magnitude pattern (sign removed by two's complement) of a posit code."""
    bits &= (1 << n) - 1
    return ((-bits) & ((1 << n) - 1)) if bits >> (n - 1) else bits


# ---------------------------------------------------------------------------------------------------
# binary floats given by (exp_bits, man_bits, bias) -- finite values only
# ---------------------------------------------------------------------------------------------------

def float_decode_finite(bits: int, exp_bits: int, man_bits: int, bias: int) -> Fraction:
    """Exact value of a finite float pattern (the caller excludes Inf/NaN codes)."""
    sign = bits >> (exp_bits + man_bits) & 1
    e = (bits >> man_bits) & ((1 << exp_bits) - 1)
    m = bits & ((1 << man_bits) - 1)
    if e == 0:
        v = Fraction(m) * pow2(1 - bias - man_bits)
    else:
        v = Fraction((1 << man_bits) | m) * pow2(e - bias - man_bits)
    return -v if sign else v


def float_ulp(x: Fraction, precision: int, emin: int) -> Fraction:
    """Quantum of |x| in a float with this precision and smallest normal exponent (unbounded above)."""
    if x == 0:
        return pow2(emin - precision + 1)
    return pow2(max(floor_log2(abs(x)), emin) - precision + 1)


def float_neighbours(x: Fraction, precision: int, emin: int):
    """(lo, hi) magnitudes around |x| on the unbounded-above float grid (lo == hi when exact)."""
    ax = abs(x)
    q = float_ulp(ax, precision, emin)
    lo = floor(ax / q) * q
    return lo, (lo if lo == ax else lo + q)


def fraction_of_float(v: float) -> Fraction:
    return Fraction(v)
