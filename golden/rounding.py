"""The one rounder: exact (sign, magnitude, exponent) -> bit pattern + flags, for every output format.

Rounding modes
    ``rne`` ties to even, ``rtz`` toward zero, ``rdn`` toward -inf, ``rup`` toward +inf, ``rmm`` ties away
    from zero, ``sr`` stochastic: the ``rand_bits``-bit input ``rand`` is added to the top ``rand_bits``
    discarded bits (lower discarded bits are ignored); a carry out rounds away from zero. Over all rand
    values the mean result is the exact value minus at most ``2^-rand_bits`` ULP (the truncated bits).

Floating-point outputs follow IEEE 754-2019: round as if the exponent range were unbounded but quantised
at the subnormal quantum, then apply overflow. Tininess is detected ``after`` (default) or ``before``
rounding; underflow is raised when the result is tiny and inexact. Formats without subnormals flush tiny
results (per the tininess rule) to zero with underflow and inexact. Overflow yields Inf where the mode
rounds away (rne, rmm, sr; rup for +, rdn for -) and the largest finite value otherwise; a format without
Inf yields NaN there (fn, fnuz) or its largest value (finite). ``saturate`` replaces every infinite result
by the largest finite value of the same sign.

Posit outputs round on the bit string (rne, or sr as an extension) and saturate to minpos/maxpos, never
to zero or NaR; only inexact and invalid are ever raised for them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .formats import FloatFormat, Format, PositFormat
from .intvec import FAST_BITS, bit_length, clamp_shift, is_wide, shr_jam

__all__ = ["MODES", "TININESS", "Flags", "RoundingContext", "round_exact", "guard_bits_needed"]

MODES = ("rne", "rtz", "rdn", "rup", "rmm", "sr")
POSIT_MODES = ("rne", "sr")
TININESS = ("after", "before")
MAX_RAND_BITS = 32


class Flags:
    """Exception flag bits, Berkeley SoftFloat/TestFloat order."""

    INEXACT = 1
    UNDERFLOW = 2
    OVERFLOW = 4
    DIVBYZERO = 8
    INVALID = 16
    WIDTH = 5


@dataclass(frozen=True)
class RoundingContext:
    """How results are rounded.

    Parameters
    ----------
    mode : str
        One of ``rne rtz rdn rup rmm sr``.
    rand_bits : int
        Width of the ``rand`` input for ``sr`` (1..32); must be 0 for the other modes.
    saturate : bool
        Infinite results become the largest finite value.
    tininess : str
        ``after`` (default) or ``before`` rounding.
    """

    mode: str = "rne"
    rand_bits: int = 0
    saturate: bool = False
    tininess: str = "after"

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"rounding={self.mode!r} is invalid; valid: {', '.join(MODES)}")
        if self.tininess not in TININESS:
            raise ValueError(f"tininess={self.tininess!r} is invalid; valid: {', '.join(TININESS)}")
        if not isinstance(self.rand_bits, int) or isinstance(self.rand_bits, bool):
            raise TypeError(f"rand_bits must be an int, not {self.rand_bits!r}")
        if self.mode == "sr" and not 1 <= self.rand_bits <= MAX_RAND_BITS:
            raise ValueError(f"rand_bits={self.rand_bits} is invalid for rounding='sr' "
                             f"(valid: 1..{MAX_RAND_BITS})")
        if self.mode != "sr" and self.rand_bits != 0:
            raise ValueError(f"rand_bits={self.rand_bits} is only meaningful with rounding='sr' "
                             f"(rounding={self.mode!r})")

    def check_output(self, fmt: Format):
        """Raise ValueError if this context cannot round into ``fmt``."""
        if fmt.is_posit and self.mode not in POSIT_MODES:
            raise ValueError(f"rounding={self.mode!r} is not available for posit output {fmt.name}; "
                             f"valid: {', '.join(POSIT_MODES)}")
        if fmt.is_posit and self.rand_bits > 61 - fmt.nbits:
            raise ValueError(f"rand_bits={self.rand_bits} is too wide for posit output {fmt.name} "
                             f"(valid: 1..{61 - fmt.nbits})")

    @property
    def sr(self) -> bool:
        return self.mode == "sr"


def guard_bits_needed(fmt: Format, ctx: RoundingContext) -> int:
    """Bits an exact-or-round-to-odd input magnitude must carry for :func:`round_exact` to be exact.

    Round-to-odd ("jammed") intermediates are faithful for any rounding that is at least 2 bits
    coarser, and sr needs ``rand_bits`` exact discarded bits above the jam.
    """
    return fmt.precision + 2 + ctx.rand_bits + (2 if fmt.is_posit else 0)


def round_exact(fmt: Format, sign, mag, exp, ctx: RoundingContext, rand=None):
    """Round ``(-1)^sign * mag * 2^exp`` (mag >= 0 integers, possibly round-to-odd) into ``fmt``.

    A zero ``mag`` gives a zero of the given sign (+0 where the format has no -0).

    Returns
    -------
    (bits, flags) : uint64 codes and int64 flags
    """
    if ctx.sr and rand is None:
        raise ValueError("rounding='sr' needs the rand input")
    if fmt.is_posit:
        return _round_posit(fmt, sign, mag, exp, ctx, rand)
    return _round_float(fmt, sign, mag, exp, ctx, rand)


def _increment(kept_lsb, rem, half, sign, sh, ctx: RoundingContext, rand):
    """Round-up decision (0/1) given the discarded remainder ``rem`` of a shift by ``sh`` >= 0 bits."""
    mode = ctx.mode
    if mode == "rne":
        return (rem > half) | ((rem == half) & (half > 0) & (kept_lsb == 1))
    if mode == "rmm":
        return (rem >= half) & (half > 0)
    if mode == "rtz":
        return np.zeros(np.shape(rem), dtype=bool)
    if mode == "rup":
        return (rem != 0) & (sign == 0)
    if mode == "rdn":
        return (rem != 0) & (sign == 1)
    r = ctx.rand_bits
    top = np.where(sh >= r, rem >> clamp_shift(np.maximum(sh - r, 0), is_wide(rem)),
                   rem << np.maximum(r - sh, 0))
    return ((top + rand) >> r) != 0


def _round_at(mag, sh, sign, ctx, rand):
    """Round ``mag`` to a multiple of 2^sh (sh may be <= 0: exact). Returns (kept + up, inexact)."""
    wide = is_wide(mag)
    pos = np.maximum(sh, 0)
    pc = clamp_shift(pos, wide)
    if wide:
        pc = pc.astype(object)
    kept = mag >> pc
    rem = mag - (kept << pc)
    half = np.where(pos > 0, 1 << np.maximum(pc - 1, 0), 0)
    up = _increment(kept & 1, rem, half, sign, pos, ctx, rand)
    rounded = np.where(sh >= 0, kept + up, mag << clamp_shift(np.maximum(-sh, 0), wide))
    return rounded, rem != 0


def _round_float(fmt: FloatFormat, sign, mag, exp, ctx, rand):
    p, qmin = fmt.precision, fmt.qmin
    nonzero = mag != 0
    top = exp + bit_length(mag) - 1  # exponent of the exact value's MSB
    q_unbounded = top - (p - 1)
    q = np.maximum(q_unbounded, qmin) if fmt.subnormals else q_unbounded
    rounded, inexact = _round_at(mag, q - exp, sign, ctx, rand)
    tiny = _tiny(fmt, top, mag, exp, q, q_unbounded, rounded, sign, ctx, rand)
    flags = np.where(inexact, Flags.INEXACT, 0) | np.where(tiny & inexact, Flags.UNDERFLOW, 0)

    # encode without renormalising: a carry into the next binade lands in the exponent field by itself
    biased = np.clip(q - qmin, 0, fmt.exp_field_max)
    if fmt.nbits > FAST_BITS:
        biased = biased.astype(object)
    code = (biased << fmt.man_bits) + rounded
    if is_wide(code):
        code = np.minimum(code, fmt.max_code + 1).astype(np.int64)
    over = nonzero & (code > fmt.max_code)
    code = np.where(over, _overflow_code(fmt, sign, ctx), code)
    flags = flags | np.where(over, Flags.OVERFLOW | Flags.INEXACT, 0)

    if not fmt.subnormals:
        flush = nonzero & tiny
        code = np.where(flush, 0, code)
        flags = np.where(flush, Flags.UNDERFLOW | Flags.INEXACT, flags)
    code = np.where(nonzero, code, 0)
    return _apply_sign(fmt, sign, code), flags.astype(np.int64)


def _tiny(fmt, top, mag, exp, q, q_unbounded, rounded, sign, ctx, rand):
    """Tininess per ctx.tininess; 'after' re-rounds at unbounded precision where it matters."""
    emin = fmt.emin
    if ctx.tininess == "before":
        return top < emin
    if not fmt.subnormals:
        # q == q_unbounded here, so the rounded value's MSB tells directly
        return (q + bit_length(rounded) - 1) < emin
    tiny = top < emin - 1
    edge = np.nonzero(top == emin - 1)[0]
    if edge.size:
        r_edge = None if rand is None else np.broadcast_to(rand, np.shape(mag))[edge]
        s_edge = np.broadcast_to(sign, np.shape(mag))[edge]
        ub, _ = _round_at(mag[edge], (q_unbounded - exp)[edge], s_edge, ctx, r_edge)
        tiny[edge] = ub < (1 << fmt.precision)  # no carry to 2^emin at unbounded exponent
    return tiny


def _overflow_code(fmt: FloatFormat, sign, ctx: RoundingContext):
    """Magnitude code of an overflowed result, per mode, sign, saturation and the format's policy."""
    mode = ctx.mode
    if mode in ("rne", "rmm", "sr"):
        to_inf = np.ones(np.shape(sign), dtype=bool)
    elif mode == "rtz":
        to_inf = np.zeros(np.shape(sign), dtype=bool)
    else:
        to_inf = sign == (0 if mode == "rup" else 1)
    return np.where(to_inf, infinite_code(fmt, ctx), fmt.max_code)


def infinite_code(fmt: FloatFormat, ctx: RoundingContext) -> int:
    """Magnitude code (or NaN code) an infinite result takes in ``fmt``."""
    if ctx.saturate or fmt.specials.value == "finite":
        return fmt.max_code
    if fmt.has_inf:
        return fmt.inf_code
    return fmt.nan_code  # fn / fnuz: no Inf, NaN is the only non-finite code


def _apply_sign(fmt: FloatFormat, sign, code):
    """Attach the sign to magnitude codes (no -0 in FNUZ; NaN codes keep their own sign bit)."""
    negative = sign == 1
    if fmt.has_nan:
        negative = negative & (code != fmt.nan_code)
    if not fmt.has_negative_zero:
        negative = negative & (code != 0)
    return code.astype(np.uint64) | np.where(negative, np.uint64(fmt.sign_mask), np.uint64(0))


def _round_posit(fmt: PositFormat, sign, mag, exp, ctx, rand):
    n, es = fmt.nbits, fmt.es
    nonzero = mag != 0
    mag = np.where(nonzero, mag, 1)  # keeps the shifts below well-defined; zeros are restored last
    L = bit_length(mag)
    scale = exp + L - 1
    regime = scale >> es
    e_field = scale & ((1 << es) - 1)
    over = regime >= fmt.max_regime  # |x| >= maxpos
    under = regime < -fmt.max_regime  # |x| < minpos
    reg = np.clip(regime, -fmt.max_regime, fmt.max_regime - 1)
    reg_len = np.where(reg >= 0, reg + 2, 1 - reg)
    reg_bits = np.where(reg >= 0, ((1 << np.maximum(reg + 1, 0)) - 1) << 1, 1)
    # keep enough fraction bits for n-1 kept bits, rand_bits exact discarded bits and a jam bit
    frac_keep = np.maximum(n + 1 + ctx.rand_bits - reg_len - es, 2)
    frac_len = L - 1
    cut = np.maximum(frac_len - frac_keep, 0)
    frac = shr_jam(mag, cut)
    frac = frac.astype(np.int64) - (1 << (frac_len - cut))  # drop the hidden bit
    frac_len = frac_len - cut
    string = (((reg_bits << es) | e_field) << frac_len) | frac
    string_len = reg_len + es + frac_len
    body, inexact = _round_at(string, string_len - (n - 1), np.zeros_like(string), ctx, rand)
    exact_max = over & (regime == fmt.max_regime) & (mag == (1 << (L - 1))) & (e_field == 0)
    body = np.where(over, fmt.max_code, np.where(under, 1, body))
    inexact = np.where(over, ~exact_max, np.where(under, True, inexact))
    body = np.where(nonzero, body, 0)
    inexact &= nonzero
    code = np.where(sign == 1, (-body) & ((1 << n) - 1), body)
    return code.astype(np.uint64), np.where(inexact, Flags.INEXACT, 0).astype(np.int64)
