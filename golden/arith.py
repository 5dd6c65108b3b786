"""Exact arithmetic core: products and sums of decoded operands, then one rounding.

Special values follow IEEE 754-2019 with Berkeley SoftFloat's choices (the conformance oracle):
an sNaN operand, 0 * Inf (also when the addend is a quiet NaN) and Inf - Inf raise invalid; NaN
results are the output format's canonical NaN. Posit NaR behaves as a quiet NaN on input and is the
result for every NaN or Inf that lands in a posit (Inf -> NaR also raises invalid).
An exact zero sum of opposite-signed operands is +0, or -0 when rounding toward -inf (rdn).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .formats import Format
from .intvec import as_int, bit_length, int_dtype
from .rounding import Flags, RoundingContext, guard_bits_needed, infinite_code, round_exact
from .unpack import Cls, Unpacked, unpack

__all__ = ["Term", "operand", "product", "add", "round_term", "significand_bits"]

#: classes of a Term (NaN merges quiet and signaling; signaling shows up as ``invalid``)
ZERO, FINITE, INF, NAN = Cls.ZERO, Cls.FINITE, Cls.INF, Cls.QNAN

_FAR_BELOW = -(1 << 40)  # the "MSB position" of a zero term: below any real exponent


def significand_bits(fmt: Format) -> int:
    """Widest integer significand an operand of ``fmt`` decodes to."""
    return fmt.precision


@dataclass(frozen=True)
class Term:
    """An exact intermediate value: ``(-1)^sign * mag * 2^exp`` when ``cls`` is ZERO or FINITE.

    ``mag`` may be a round-to-odd representative (see intvec.shr_jam); ``width`` bounds its bits.
    """

    sign: np.ndarray
    mag: np.ndarray
    exp: np.ndarray
    cls: np.ndarray
    invalid: np.ndarray  # bool: an invalid operation happened on the way here
    width: int


def operand(fmt: Format, bits) -> Term:
    """Decode bit patterns into a Term."""
    return term_of(unpack(fmt, bits), significand_bits(fmt))


def term_of(u: Unpacked, width: int) -> Term:
    cls = np.minimum(u.cls, NAN)
    return Term(u.sign, u.sig, u.exp, cls, u.cls == Cls.SNAN, width)


def product(a: Term, b: Term) -> Term:
    """Exact product a*b."""
    width = a.width + b.width
    dtype = int_dtype(width)
    mag = as_int(a.mag, dtype) * as_int(b.mag, dtype)
    nan = (a.cls == NAN) | (b.cls == NAN)
    inf = (a.cls == INF) | (b.cls == INF)
    zero = (a.cls == ZERO) | (b.cls == ZERO)
    inf_times_zero = inf & zero
    cls = np.where(nan | inf_times_zero, NAN, np.where(inf, INF, np.where(zero, ZERO, FINITE)))
    return Term(a.sign ^ b.sign, mag, a.exp + b.exp, cls, a.invalid | b.invalid | inf_times_zero, width)


def add(a: Term, b: Term, out: Format, ctx: RoundingContext) -> Term:
    """a + b, exact where the result is representable and otherwise faithful for rounding into ``out``.

    Both terms are placed in a window of W bits below the larger MSB. A term that reaches below the
    window can only be the smaller one, and then the sum's MSB is at most one position lower than the
    larger term's, so folding its low bits into an odd "sticky" LSB (one extra bit, so that it sits
    strictly between two window values even under subtraction) cannot change any rounding of the sum
    to ``guard_bits_needed(out)`` bits.
    """
    window = max(a.width, b.width, guard_bits_needed(out, ctx)) + 1
    wide = int_dtype(window + 1) is object
    dtype = object if wide else np.int64
    ma, mb = as_int(a.mag, dtype), as_int(b.mag, dtype)
    top_a = np.where(ma != 0, a.exp + bit_length(ma) - 1, _FAR_BELOW)
    top_b = np.where(mb != 0, b.exp + bit_length(mb) - 1, _FAR_BELOW)
    lsb = np.maximum(top_a, top_b) - window + 1
    sa = _place(ma, a.exp - lsb, wide)
    sb = _place(mb, b.exp - lsb, wide)
    total = np.where(a.sign == 1, -sa, sa) + np.where(b.sign == 1, -sb, sb)
    negative = total < 0
    mag = np.where(negative, -total, total)
    exact_zero_sign = np.where((a.sign == b.sign) & (ma == 0) & (mb == 0), a.sign,
                               1 if ctx.mode == "rdn" else 0)
    sign = np.where(mag == 0, exact_zero_sign, negative.astype(np.int64))

    nan = (a.cls == NAN) | (b.cls == NAN)
    inf_a, inf_b = a.cls == INF, b.cls == INF
    inf_clash = inf_a & inf_b & (a.sign != b.sign)
    inf = (inf_a | inf_b) & ~inf_clash
    sign = np.where(inf, np.where(inf_a, a.sign, b.sign), sign)
    cls = np.where(nan | inf_clash, NAN, np.where(inf, INF, np.where(mag == 0, ZERO, FINITE)))
    return Term(sign.astype(np.int64), mag, lsb - 1, cls, a.invalid | b.invalid | (inf_clash & ~nan),
                window + 2)


def _place(mag, offset, wide):
    """mag * 2^(offset+1), or for offset < 0 a round-to-odd representative with one extra bit."""
    up = np.maximum(offset, 0) + 1
    down = np.maximum(-offset, 0)
    if wide:
        up, down = up.astype(object), down.astype(object)
    else:
        down = np.minimum(down, 62)
    kept = mag >> down
    sticky = (kept << down) != mag
    return np.where(offset >= 0, mag << up, (kept << 1) | sticky)


def round_term(out: Format, t: Term, ctx: RoundingContext, rand=None):
    """Round a Term into ``out``: the final stage of every operation. Returns (bits, flags)."""
    finite = (t.cls == FINITE) | (t.cls == ZERO)
    bits, flags = round_exact(out, t.sign, np.where(finite, t.mag, 0), t.exp, ctx, rand)
    nan, inf = t.cls == NAN, t.cls == INF
    invalid = t.invalid
    if out.is_posit:
        bits = np.where(nan | inf, np.uint64(out.nar_code), bits)
        invalid = invalid | inf
    else:
        inf_code = infinite_code(out, ctx)
        inf_sign = (t.sign == 1) & (inf_code != out.nan_code)
        inf_bits = np.uint64(inf_code) | np.where(inf_sign, np.uint64(out.sign_mask), np.uint64(0))
        bits = np.where(inf, inf_bits, bits)
        if not out.has_inf and not ctx.saturate:
            invalid = invalid | inf  # an exact infinity that this format cannot hold
        bits = np.where(nan, np.uint64(out.nan_code if out.has_nan else 0), bits)
        if not out.has_nan:
            invalid = invalid | nan
    flags = np.where(finite, flags, 0) | np.where(invalid, Flags.INVALID, 0)
    return bits, flags.astype(np.int64)


def fma_terms(a: Term, b: Term, c: Term, out: Format, ctx: RoundingContext) -> Term:
    """a*b + c with a single rounding left to do."""
    return add(product(a, b), c, out, ctx)
