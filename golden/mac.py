"""Multiply-accumulate golden model: a cycle-by-cycle twin of the ``mac`` hardware contract.

On a rising edge with ``in_valid``: ``acc <- round_acc((clear ? 0 : acc) + a*b)``; ``rst`` (the start
of a sequence) clears ``acc`` to +0. ``y[t]``/``flags[t]`` are the outputs readable after edge ``t``.

Accumulators
    format name (rounded accumulation)
        ``acc`` is held in that format; each update is one fma with a single rounding (the unit's
        rounding mode; with ``sr`` each update uses the ``rand`` sampled with it).
    ``kulisch`` / ``kulisch:W``
        Exact two's-complement fixed point. LSB = the smallest product quantum (LSB of a's smallest
        value times that of b's); the default width holds the largest product plus
        :data:`KULISCH_CARRY_BITS` carry bits and a sign; ``W`` sets the total width.
    ``quire`` / ``quire:W``
        The posit quire for posit a == b: LSB = minpos^2, 16n bits by default (2022 standard; wider
        where es > 2 needs it, see PositFormat.quire_bits); ``W`` sets the total width.

Readout: ``y`` is the accumulator rounded to ``out`` (the acc bits themselves when out is the acc
format; with ``sr`` the readout uses the ``rand`` registered with the last update).
``flags`` = the OR of the flags of every update since the last clear (or rst), OR the readout's flags.
An exact accumulator that leaves its W-bit range wraps and raises a sticky overflow: until the next
clear, ``y`` is NaN (NaR for posits; +0 for formats without NaN) with the overflow flag (and inexact).
An exact accumulator also tracks NaN and +-Inf products (Inf + -Inf is NaN with invalid); its zero is +0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from . import core, kernels
from .formats import FloatFormat, Format, parse_format
from .ops import bits_dtype, sum_window
from .rounding import RoundingContext
from .variants import Normalization

__all__ = ["Accumulator", "parse_accumulator", "rounded_accumulator", "quantum_exp", "run",
           "KULISCH_CARRY_BITS"]

#: carry bits above the largest product in a default Kulisch accumulator (2^16 max-size products)
KULISCH_CARRY_BITS = 16

_EXACT_RE = re.compile(r"(kulisch|quire)(?::(\d+))?")


@dataclass(frozen=True)
class Accumulator:
    """A mac accumulator: rounded (``fmt``) or exact fixed point (``width`` bits, LSB ``2^lsb_exp``)."""

    spec: str
    fmt: Format | None = None
    width: int = 0
    lsb_exp: int = 0

    @property
    def exact(self) -> bool:
        return self.fmt is None


def quantum_exp(fmt: Format) -> int:
    """Exponent of a format's quantum, the smallest nonzero magnitude's LSB: every value is a
    multiple of it (a float's subnormal LSB, a posit's minpos)."""
    return -fmt.max_scale if fmt.is_posit else fmt.qmin


def _product_bits(fa: Format, fb: Format, lsb_exp: int) -> int:
    """Bits of the largest product magnitude in units of 2^lsb_exp."""
    largest = Fraction(fa.max_value) * Fraction(fb.max_value) / Fraction(2) ** lsb_exp
    return int(largest).bit_length()


def rounded_accumulator(spec, expected: str, subnormals: bool = True) -> Accumulator:
    """A rounded accumulator of format ``spec`` (ValueError naming ``expected`` otherwise)."""
    try:
        fmt = parse_format(spec)
    except ValueError as e:
        raise ValueError(f"acc={spec!r} is invalid: expected {expected} ({e})") from None
    if isinstance(fmt, FloatFormat) and not subnormals:
        fmt = fmt.without_subnormals()
    return Accumulator(spec=fmt.name, fmt=fmt)


def parse_accumulator(spec, fa: Format, fb: Format, subnormals: bool = True) -> Accumulator:
    """Parse a mac ``acc`` parameter (a format, ``kulisch[:W]`` or ``quire[:W]``).

    Raises
    ------
    ValueError
        Unknown spec, a quire for non-posit or mixed operands, or a width too small for one product.
    """
    if isinstance(spec, Accumulator):
        return spec
    text = spec.strip().lower() if isinstance(spec, str) else None
    match = _EXACT_RE.fullmatch(text) if text else None
    if match is None:
        return rounded_accumulator(spec, "a format, 'kulisch[:W]' or 'quire[:W]'", subnormals)
    kind, given = match[1], match[2]
    if kind == "quire":
        if not (fa.is_posit and fa == fb):
            raise ValueError(f"acc={spec!r} needs posit operands of one format (a={fa.name}, "
                             f"b={fb.name}); use 'kulisch[:W]' for other mixes")
        lsb, default = fa.quire_lsb_exp, fa.quire_bits
    else:
        lsb = quantum_exp(fa) + quantum_exp(fb)
        default = _product_bits(fa, fb, lsb) + KULISCH_CARRY_BITS + 1
    smallest = _product_bits(fa, fb, lsb) + 1  # one largest product and a sign
    width = int(given) if given else default
    if width < smallest:
        raise ValueError(f"acc={spec!r}: width {width} cannot hold one product of {fa.name} x "
                         f"{fb.name}; at least {smallest} bits are needed")
    return Accumulator(spec=text, width=width, lsb_exp=lsb)


class _ExactState:
    """A W-bit two's-complement fixed-point register plus NaN/Inf/overflow tracking."""

    def __init__(self, acc: Accumulator):
        self.acc = acc
        self.clear()

    def clear(self):
        self.value = 0
        self.nan = self.pos_inf = self.neg_inf = self.overflow = False
        self.invalid = 0

    def add_product(self, term):
        cls, sign, mag, exp, invalid = term
        self.invalid |= invalid
        if cls == core.NAN:
            self.nan = True
        elif cls == core.INF:
            self.pos_inf |= sign == 0
            self.neg_inf |= sign == 1
        elif cls == core.FINITE:
            shift = exp - self.acc.lsb_exp
            assert shift >= 0, "product below the accumulator LSB"  # guaranteed by quantum_exp
            self.value += -(mag << shift) if sign else (mag << shift)
            half = 1 << (self.acc.width - 1)
            if not -half <= self.value < half:
                self.overflow = True
                self.value = (self.value + half) % (2 * half) - half

    def readout_term(self):
        """The accumulator as a core term, and the extra flags it carries."""
        clash = self.pos_inf and self.neg_inf
        extra = core.INVALID if (self.invalid or clash) else 0
        if self.nan or clash:
            return (core.NAN, 0, 0, 0, 0), extra
        if self.pos_inf or self.neg_inf:
            return (core.INF, 1 if self.neg_inf else 0, 0, 0, 0), extra
        if self.overflow:
            return (core.NAN, 0, 0, 0, 0), extra | core.OVERFLOW | core.INEXACT
        if self.value == 0:
            return (core.ZERO, 0, 0, 0, 0), extra
        return (core.FINITE, int(self.value < 0), abs(self.value), self.acc.lsb_exp, 0), extra


class _LazyState:
    """The lazy accumulator (normalize="lazy:G"): a value on the grid 2^(top - W + 1).

    W = the acc format's precision + G. ``top`` (the field top) is the larger of its own and the
    product's field top, plus one when the sum carries out: it never moves down while the value is
    nonzero, so after cancellation the significand keeps leading zeros (and the grid stays coarse).
    Each step rounds the exact sum onto the grid (the unit's rounding mode), never finer than
    2^(qmin - G). A top above the acc format's emax overflows to +-Inf; a nonzero sum rounded to 0
    raises underflow. NaN and Inf follow the float rules.
    """

    def __init__(self, fmt: FloatFormat, guard: int):
        self.width = fmt.precision + guard
        self.floor = fmt.qmin - guard
        self.emax = fmt.emax
        self.clear()

    def clear(self):
        self.term = (core.ZERO, 0, 0, 0, 0)
        self.top = None

    def add_product(self, prod, prod_top, cx, rand) -> int:
        """acc <- lazy_round(acc + prod); returns the step's flags."""
        k = kernels.python
        state = self.term
        if prod[0] == core.FINITE and state[0] == core.FINITE:
            self.top = max(self.top, prod_top)
            exp = min(prod[3], state[3])
            value = ((-1) ** prod[1] * (prod[2] << (prod[3] - exp))
                     + (-1) ** state[1] * (state[2] << (state[3] - exp)))
            if value == 0:
                self.clear()
                self.term = (core.ZERO, int(cx[core.C_MODE] == core.RDN), 0, 0, 0)
                return 0
            return self._store((core.FINITE, int(value < 0), abs(value), exp, 0), cx, rand)
        if prod[0] == core.FINITE and state[0] == core.ZERO:
            self.top = prod_top
            return self._store(prod, cx, rand)
        # zero products leave a finite accumulator as it is; specials and zeros follow add_terms
        total = k.add_terms(prod, state, 2, cx[core.C_MODE])
        if total[0] != core.FINITE:
            self.term, self.top = (total[0], total[1], 0, 0, 0), None
        return core.INVALID if total[4] else 0

    def _store(self, term, cx, rand) -> int:
        """Round a FINITE term onto the grid below ``self.top`` (moved up on a carry)."""
        _, sign, mag, exp, _ = term
        k = kernels.python
        if exp + k.bitlen(mag) - 1 > self.top:  # the sum carried out of the field
            self.top += 1
        q = max(self.top - self.width + 1, self.floor)
        rounded, inexact = k.round_int(mag, q - exp, sign, cx, rand)
        if rounded >> self.width:  # a rounding carry: 2^W exactly
            self.top += 1
            rounded, q = rounded >> 1, q + 1
        flags = core.INEXACT if inexact else 0
        if rounded == 0:
            self.term, self.top = (core.ZERO, sign, 0, 0, 0), None
            return core.UNDERFLOW | core.INEXACT
        if self.top > self.emax:
            self.term, self.top = (core.INF, sign, 0, 0, 0), None
            return core.OVERFLOW | core.INEXACT
        self.term = (core.FINITE, sign, rounded, q, 0)
        return flags


def _inputs(a, b, in_valid, clear, rand, ctx):
    arrays = [np.asarray(x) for x in (a, b, 1 if in_valid is None else in_valid,
                                      0 if clear is None else clear, 0 if rand is None else rand)]
    shape = np.broadcast_shapes(*(x.shape for x in arrays))
    if len(shape) != 1:
        raise ValueError(f"mac inputs are sequences (1-D over cycles); got shape {shape}")
    if ctx.sr and rand is None:
        raise ValueError("rounding='sr' needs a rand input")
    mask = (1 << ctx.rand_bits) - 1
    return [[int(v) for v in np.broadcast_to(x, shape)] for x in arrays[:4]] + \
        [[int(v) & mask for v in np.broadcast_to(arrays[4], shape)]]


def run(fa: Format, fb: Format, acc: Accumulator, out: Format, ctx: RoundingContext,
        a, b, in_valid=None, clear=None, rand=None, *, mul_approx: int = core.M_EXACT,
        normalize: Normalization = Normalization()):
    """Run a mac over a sequence of cycles. Returns (y, flags) arrays, one entry per rising edge.

    ``mul_approx`` (a core.M_* code) picks the multiplier; ``normalize`` the rounded
    accumulator's normalization (coarse/window: each update as core.round_term_at; lazy: the
    :class:`_LazyState` accumulator, rounded into ``out`` by the readout).
    """
    a, b, valid, clr, rnd = _inputs(a, b, in_valid, clear, rand, ctx)
    k = kernels.python
    da, db, do = (kernels.describe(f, wide=True) for f in (fa, fb, out))
    cx = kernels.context(ctx)
    y = np.zeros(len(a), dtype=bits_dtype(out))
    flags = np.zeros(len(a), dtype=np.uint8)
    sticky, last_rand = 0, 0
    lazy = normalize.kind == "lazy"
    nkind, nk = (core.N_EXACT, 0) if lazy else normalize.code
    fields = core.unnormalized_operands(nkind)
    if acc.exact:
        state = _ExactState(acc)
    elif lazy:
        state = _LazyState(acc.fmt, normalize.k)
    else:
        dacc = kernels.describe(acc.fmt, wide=True)
        window = sum_window((fa.precision + fb.precision, acc.fmt.precision), acc.fmt, ctx)
        acc_code = 0  # +0 in every format
    for t in range(len(a)):
        if valid[t]:
            last_rand = rnd[t]
            if clr[t]:
                sticky = 0
            prod, prod_top = k.product_top(da, db, a[t], b[t], mul_approx, fields)
            if acc.exact or lazy:
                if clr[t]:
                    state.clear()
                if lazy:
                    sticky |= state.add_product(prod, prod_top, cx, last_rand)
                else:
                    state.add_product(prod)
            else:
                base = k.operand(dacc, 0 if clr[t] else acc_code)
                anchor = k.sum_anchor(prod, prod_top, base, k.field_top(dacc, base, fields))
                term = k.add_terms(prod, base, window, cx[core.C_MODE])
                acc_code, step_flags = k.round_term_at(dacc, term, anchor, nkind, nk,
                                                       k.product_zone(mul_approx), cx, last_rand)
                sticky |= step_flags
        if acc.exact:
            term, extra = state.readout_term()
            code, read_flags = k.round_term(do, term, cx, last_rand)
            read_flags |= extra
        elif lazy:
            code, read_flags = k.round_term(do, state.term, cx, last_rand)
        elif out == acc.fmt:
            code, read_flags = acc_code, 0
        else:
            code, read_flags = k.round_term(do, k.operand(dacc, acc_code), cx, last_rand)
        y[t] = code
        flags[t] = sticky | read_flags
    return y, flags
