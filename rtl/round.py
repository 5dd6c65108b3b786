"""Round-and-pack stage for floating-point outputs (golden/core.round_float + round_term).

Input: a normalized term (top significand bit set unless zero; ``exp`` is that bit's exponent).
The significand is shifted right into the subnormal range where needed (gradual underflow), the top p
bits are kept and the discarded bits decide the increment per rounding mode; a carry out of the
significand moves into the exponent field by itself. Overflow, tininess (after or before rounding),
flush-to-zero, saturation and the specials of the format's policy follow golden/rounding.py.

With ``renormalize`` the term comes from an approximate normalizer (docs/approximate.md,
golden/core.round_float_at): its top bit may be 0. The same rounding keeps p bits below its top
position, then a small shifter renormalizes the rounded significand (clamped at emin) before packing.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from ..golden.formats import FloatFormat, PositFormat, Specials
from ..golden.rounding import Flags, RoundingContext
from .layouts import TermLayout, rounder_signature
from .normalize import leading_zeros, shift_right_sticky

__all__ = ["FloatRound", "PositRound", "increment", "rounder"]


def increment(ctx: RoundingContext, sign, kept_lsb, below, extra_sticky, rand):
    """Round-up decision and inexactness for discarded bits ``below`` (MSB first is the guard bit).

    ``extra_sticky`` is the OR of bits already shifted out further down.
    """
    guard = below[-1]
    rest = below[:-1].any() | extra_sticky if len(below) > 1 else extra_sticky
    inexact = guard | rest
    mode = ctx.mode
    if mode == "rne":
        up = guard & (rest | kept_lsb)
    elif mode == "rmm":
        up = guard
    elif mode == "rtz":
        up = Const(0)
    elif mode == "rup":
        up = inexact & ~sign
    elif mode == "rdn":
        up = inexact & sign
    else:  # sr: rand is added to the top rand_bits discarded bits; the carry rounds up
        r = ctx.rand_bits
        up = (below[-r:] + rand)[r]
    return up, inexact


class FloatRound(wiring.Component):
    """Round a normalized term into ``out`` and pack it with flags.

    Parameters
    ----------
    out : FloatFormat
    ctx : RoundingContext
    in_layout : TermLayout
    renormalize : int or None
        None: the term is normalized. R >= 0: the term is unnormalized, with at most R leading
        zeros left in its rounded p-bit significand while that lies in the normal range
        (:attr:`~.normalize.ApproximateNormalize.residual_zeros`). It is rounded at p bits below
        ``exp`` (floor qmin), renormalized and packed; underflow is tininess after rounding on the
        delivered value (a nonzero value rounded to 0 included), and only that (ctx.tininess is
        "after" for these units). Such a rounder has the input ``lost``: the normalizer gave up
        on the term (window:L), which is then delivered as a signed zero with underflow and
        inexact.

    Members
    -------
    term : In(in_layout)
    rand : In(ctx.rand_bits)   (only with rounding="sr")
    bits : Out(out.nbits)
    flags : Out(5)
    """

    def __init__(self, out: FloatFormat, ctx: RoundingContext, in_layout: TermLayout,
                 renormalize: int | None = None):
        if renormalize is not None and not 0 <= renormalize < out.precision:
            raise ValueError(f"renormalize={renormalize} is invalid for {out.name}: a rounded "
                             f"significand keeps 0..{out.precision - 1} leading zeros")
        self.out, self.ctx, self.renormalize = out, ctx, renormalize
        members = rounder_signature(out, ctx, in_layout)
        if renormalize is not None:
            members["lost"] = In(1)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        f, ctx, t = self.out, self.ctx, self.term
        p, mb, r = f.precision, f.man_bits, ctx.rand_bits
        rand = self.rand if ctx.sr else None
        width = max(len(t.sig), p + r + 2)
        sig = Cat(Const(0, width - len(t.sig)), t.sig)  # pad below: same value, room for guard bits
        e = Signal(signed(len(t.exp) + 1))
        m.d.comb += e.eq(t.exp)
        emin = f.emin

        if f.subnormals:
            denorm = Mux(e < emin, emin - e, 0).as_unsigned()
            shifted, shifted_out = shift_right_sticky(m, sig, denorm, width, width + 1)
        else:
            shifted, shifted_out = sig, Const(0)
        kept = shifted[width - p:]
        up, inexact = increment(ctx, t.sign, kept[0], shifted[:width - p], shifted_out, rand)
        rounded = Signal(p + 1)
        m.d.comb += rounded.eq(kept + up)

        # exponent field without renormalising: a carry out of the significand lands there by itself.
        # Below emin: the subnormal binade (field 0), or without subnormals one binade below that a
        # rounding carry can lift to emin (anything lower is tiny and flushed).
        if self.renormalize is None:
            base = Mux(e - emin > f.exp_field_max, f.exp_field_max, e - emin)
            if f.subnormals:
                base = Mux(e < emin, 0, base)
            packed = rounded
        else:
            base, packed, renormalized_tiny = self._renormalized(m, e, rounded)
        e_field = Signal(signed(f.exp_bits + 3))
        m.d.comb += e_field.eq(base + packed[mb:])
        m_field = packed[:mb]
        max_e, max_m = f.max_code >> mb, f.max_code & ((1 << mb) - 1)
        nonzero = ~t.zero
        over_top = (e_field == max_e) & (m_field > max_m) if max_m < (1 << mb) - 1 else Const(0)
        overflow = nonzero & ((e_field > max_e) | over_top)

        if self.renormalize is not None:
            tiny = renormalized_tiny
        elif ctx.tininess == "before":
            tiny = e < emin
        elif f.subnormals:
            unbounded_up, _ = increment(ctx, t.sign, sig[width - p], sig[:width - p], Const(0), rand)
            carry = sig[width - p:].all() & unbounded_up
            tiny = (e < emin - 1) | ((e == emin - 1) & ~carry)
        else:
            tiny = (e < emin - 1) | ((e == emin - 1) & ~rounded[p])
        flush = Const(0) if f.subnormals else (tiny & nonzero)
        if self.renormalize is not None:
            flush = flush | (self.lost & nonzero)

        sign_bit = Const(f.sign_mask, f.nbits)
        signed_zero = Const(0, f.nbits) if f.specials is Specials.FNUZ else Mux(t.sign, sign_bit, 0)
        finite = Cat(m_field, e_field[:f.exp_bits], t.sign)
        finite_code = Mux(Cat(m_field, e_field[:f.exp_bits]) == 0, signed_zero, finite)
        max_code = Cat(Const(f.max_code, f.nbits - 1), t.sign)
        inf_code, inf_lost = self._infinite(t.sign, max_code)
        mode = ctx.mode
        if mode in ("rne", "rmm", "sr"):
            overflow_code = inf_code
        elif mode == "rtz":
            overflow_code = max_code
        else:
            away = ~t.sign if mode == "rup" else t.sign
            overflow_code = Mux(away, inf_code, max_code)
        nan_code = Const(f.nan_code if f.has_nan else 0, f.nbits)

        with m.If(t.nan):
            m.d.comb += [self.bits.eq(nan_code),
                         self.flags.eq(Mux(t.invalid | (not f.has_nan), Flags.INVALID, 0))]
        with m.Elif(t.inf):
            m.d.comb += [self.bits.eq(inf_code),
                         self.flags.eq(Mux(t.invalid | inf_lost, Flags.INVALID, 0))]
        with m.Elif(t.zero):
            m.d.comb += [self.bits.eq(signed_zero), self.flags.eq(Mux(t.invalid, Flags.INVALID, 0))]
        with m.Elif(flush):
            m.d.comb += [self.bits.eq(signed_zero), self.flags.eq(Flags.UNDERFLOW | Flags.INEXACT)]
        with m.Elif(overflow):
            m.d.comb += [self.bits.eq(overflow_code), self.flags.eq(Flags.OVERFLOW | Flags.INEXACT)]
        with m.Else():
            m.d.comb += [self.bits.eq(finite_code),
                         self.flags.eq(Cat(inexact, tiny & inexact, Const(0, 3)))]
        return m

    def _renormalized(self, m, e, rounded):
        """Renormalize the rounded significand of an unnormalized term.

        The rounded value's top may sit up to R positions below the hidden bit; shifting it up
        lowers the exponent, down to emin at most (below that it stays subnormal). Returns the
        exponent field without the hidden bit (0 for a value below 2^emin), the packed
        significand, and tininess: the delivered magnitude is below 2^emin.
        """
        f = self.out
        p, emin, most = f.precision, f.emin, self.renormalize
        carry = rounded[p]  # rounded to 2^p: already normalized, one binade up
        room = Signal(signed(len(e) + 1))  # how far the top can move down to reach emin
        m.d.comb += room.eq(Mux(e < emin, 0, e - emin) if f.subnormals else e - emin)
        packed = Signal(p + 1)
        if most:
            none, count = leading_zeros(rounded[p - most:p], most)
            zeros = Mux(none, most, count)
            amount = Signal(range(most + 1))
            m.d.comb += [amount.eq(Mux(carry | (room <= 0), 0, Mux(room < zeros, room, zeros))),
                         packed.eq(rounded << amount)]
        else:
            amount = Const(0)
            m.d.comb += packed.eq(rounded)
        normal = packed[p - 1] | carry
        exponent = room - amount
        base = Mux(normal, Mux(exponent > f.exp_field_max, f.exp_field_max, exponent), 0)
        tiny = ~normal
        if not f.subnormals:  # the top itself may lie below emin; a carry lifts it by one
            tiny = tiny | (room + carry < 0)
        return base, packed, tiny

    def _infinite(self, sign, max_code):
        """Code of an infinite result and whether the format lost it (raises invalid)."""
        f, ctx = self.out, self.ctx
        if ctx.saturate or f.specials is Specials.FINITE:
            return max_code, Const(int(not ctx.saturate))
        if f.has_inf:
            return Cat(Const(f.inf_code, f.nbits - 1), sign), Const(0)
        return Const(f.nan_code, f.nbits), Const(1)


class PositRound(wiring.Component):
    """Round a normalized term into a posit on its bit string (golden/core.round_posit).

    The scale ``exp`` splits into regime ``exp >> es`` and exponent bits ``exp mod 2^es``. The string
    after the sign is: a run of regime bits, its terminating bit, the exponent bits, the fraction.
    It is built by placing the tail (exponent, fraction) below n copies of the run bit and the
    terminator, and shifting left until only the run length of run bits remains. The top n-1 bits are
    kept; the rest round them (rne, or sr). Magnitudes from maxpos up give maxpos, below minpos give
    minpos: never 0 or NaR.

    Members
    -------
    term : In(in_layout)
    rand : In(ctx.rand_bits)   (only with rounding="sr")
    bits : Out(out.nbits)
    flags : Out(5)   (inexact and invalid only)
    """

    def __init__(self, out: PositFormat, ctx: RoundingContext, in_layout: TermLayout):
        self.out, self.ctx = out, ctx
        super().__init__(rounder_signature(out, ctx, in_layout))

    def elaborate(self, platform):
        m = Module()
        f, ctx, t = self.out, self.ctx, self.term
        n, es, r = f.nbits, f.es, ctx.rand_bits
        fraction = t.sig[:-1]  # below the hidden bit
        guard_room = max(r + 2, 2)
        tail = Cat(Const(0, guard_room), fraction, t.exp[:es] if es else Const(0, 0))
        scale = Signal(signed(len(t.exp) + 1))
        m.d.comb += scale.eq(t.exp)
        regime = scale >> es
        max_regime = f.max_regime
        run_bit = regime >= 0
        run_length = Mux(run_bit, regime + 1, -regime)  # 1..n-1 inside the representable range
        template = Cat(tail, ~run_bit, run_bit.replicate(n))
        width = len(template)
        string = Signal(width)
        shift = Signal(range(n + 1))
        m.d.comb += [shift.eq(Mux((regime >= max_regime) | (regime < -max_regime), 0,
                                  n - run_length.as_unsigned()[:len(shift)])),
                     string.eq(template << shift)]
        kept = string[width - (n - 1):]
        below = string[:width - (n - 1)]
        up, inexact = increment(ctx, Const(0), kept[0], below, Const(0), self.rand if ctx.sr else None)
        rounded = Signal(n - 1)
        m.d.comb += rounded.eq(kept + up)

        at_max = scale == f.max_scale
        exact_max = at_max & (fraction == 0)
        body = Signal(n - 1)
        body_inexact = Signal()
        with m.If(regime >= max_regime):
            m.d.comb += [body.eq(f.max_code), body_inexact.eq(~exact_max)]
        with m.Elif(regime < -max_regime):
            m.d.comb += [body.eq(1), body_inexact.eq(1)]
        with m.Else():
            m.d.comb += [body.eq(rounded), body_inexact.eq(inexact)]
        code = Mux(t.sign, -Cat(body, Const(0, 1)), Cat(body, Const(0, 1)))[:n]
        with m.If(t.nan | t.inf):
            m.d.comb += [self.bits.eq(f.nar_code),
                         self.flags.eq(Mux(t.invalid | t.inf, Flags.INVALID, 0))]
        with m.Elif(t.zero):
            m.d.comb += [self.bits.eq(0), self.flags.eq(Mux(t.invalid, Flags.INVALID, 0))]
        with m.Else():
            m.d.comb += [self.bits.eq(code),
                         self.flags.eq(Cat(body_inexact, Const(0, 3), t.invalid))]
        return m


def rounder(out, ctx: RoundingContext, in_layout: TermLayout, renormalize: int | None = None):
    """The round/pack component for a float or posit output (``renormalize``: see
    :class:`FloatRound`; floats only)."""
    if out.is_posit:
        if renormalize is not None:
            raise ValueError(f"an unnormalized term cannot be rounded into {out.name}: approximate "
                             f"normalization delivers floating-point results only")
        return PositRound(out, ctx, in_layout)
    return FloatRound(out, ctx, in_layout, renormalize)
