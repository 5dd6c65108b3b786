"""The lazy mac accumulator (``normalize="lazy:G"``): golden/mac.py ``_LazyState`` in hardware.

The register holds an unnormalized float: a W-bit significand (W = p_acc + G), a sign, a top
exponent and class bits; its value is ``sig * 2^(top - W + 1)``. An update aligns the product to
the larger of the two tops, adds, and rounds onto that grid (one position up when the sum carries
out of the field, and again when the rounding carries). There is no leading-zero count and no left
shift in the loop: after cancellation the significand keeps its leading zeros and the top stays
(docs/approximate.md). The readout normalizes and rounds outside the loop (rtl/mac.py).

The register's top is the golden top clamped at ``emin`` of the acc format (= ``qmin - G + W - 1``),
so the grid ``2^(top - W + 1)`` never goes below the golden floor ``2^(qmin - G)`` and needs no
``max`` in the loop. The clamp changes no result: below ``emin`` the golden grid is that floor
anyway, its top cannot overflow, and ``max(top, emin)`` commutes with every later step (the max
with the product's top, the carries, the overflow test against ``emax >= emin``). A zero, Inf or
NaN accumulator holds ``sig = 0`` and ``top = emin``, so a zero needs no special case in the adder.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..golden.formats import FloatFormat
from ..golden.rounding import Flags, RoundingContext
from .layouts import TermLayout, as_signed, exp_bits_for
from .normalize import shift_right_sticky
from .round import increment

__all__ = ["LazyAccumulator", "lazy_state_layout", "lazy_width"]


def lazy_width(acc_fmt: FloatFormat, guard: int) -> int:
    """W, the significand bits of a lazy accumulator: the acc format's precision plus G."""
    return acc_fmt.precision + guard


def lazy_state_layout(acc_fmt: FloatFormat, guard: int) -> data.StructLayout:
    """The lazy accumulator's registers, from the LSB up: ``sig`` (W bits), ``top`` (signed, in
    [emin, emax] of the acc format), ``sign``, the classes ``zero``, ``inf``, ``nan``, and ``flags``
    (the OR of the update flags since the last clear)."""
    top_bits = max(exp_bits_for(acc_fmt.emin), exp_bits_for(acc_fmt.emax))
    return data.StructLayout({"sig": lazy_width(acc_fmt, guard), "top": signed(top_bits),
                              "sign": 1, "zero": 1, "inf": 1, "nan": 1, "flags": Flags.WIDTH})


class LazyAccumulator(wiring.Component):
    """The accumulation loop of a lazy mac: ``acc <- lazy_round((clear ? +0 : acc) + product)``.

    Parameters
    ----------
    acc_fmt : FloatFormat
        The accumulator format (its precision, emin, emax; the golden floor is ``qmin - guard``).
    guard : int
        G, extra significand bits (>= 0).
    ctx : RoundingContext
        The unit's rounding (sr: ``rand`` rounds the update it comes with).
    product_layout : TermLayout
        The product term (``exp``: its field top, the golden ``product_top``).
    exp_width : int
        Width of the readout term's exponent (holds every exponent of the product path).

    Members
    -------
    product : In(product_layout)
    in_valid, clear : In(1)
    rand : In(ctx.rand_bits)   (only with rounding="sr")
    state : Out(lazy_state_layout(acc_fmt, guard))
        The registers (``rst`` gives +0 with no flags).
    value : Out(TermLayout(W, exp_width))
        The accumulator as a term, for the readout (not normalized).
    """

    def __init__(self, acc_fmt: FloatFormat, guard: int, ctx: RoundingContext,
                 product_layout: TermLayout, exp_width: int):
        if not isinstance(acc_fmt, FloatFormat):
            raise TypeError(f"LazyAccumulator needs a FloatFormat accumulator, not {acc_fmt!r}")
        if not isinstance(guard, int) or guard < 0:
            raise ValueError(f"guard={guard!r} is invalid: it must be an int >= 0")
        self.acc_fmt, self.guard, self.ctx = acc_fmt, guard, ctx
        self.width = lazy_width(acc_fmt, guard)
        self.state_layout = lazy_state_layout(acc_fmt, guard)
        self.product_width = product_layout.sig_width
        members = {"product": In(product_layout), "in_valid": In(1), "clear": In(1),
                   "state": Out(self.state_layout),
                   "value": Out(TermLayout(self.width, exp_width))}
        if ctx.sr:
            members["rand"] = In(ctx.rand_bits)
        super().__init__(members)

    @property
    def window_guard(self) -> int:
        """Adder bits below the grid (besides the sticky bit): one for the rounding modes, the
        ``rand`` bits for sr (they must be exact), and enough that an unshifted product fits."""
        return max(1, self.ctx.rand_bits if self.ctx.sr else 0,
                   self.product_width - self.width)

    def elaborate(self, platform):
        m = Module()
        fmt = self.acc_fmt
        emin = fmt.emin
        state = Signal(self.state_layout, init={"top": emin, "zero": 1}, name="lazy")
        m.d.comb += self.state.eq(state)

        # the base of this update: +0 after clear (sig 0, top emin, as every non-finite state)
        p = self.product
        clear = self.clear
        base_sig = Mux(clear, 0, state.sig)
        base_top = Mux(clear, emin, state.top)
        base_sign = state.sign & ~clear
        base_zero = state.zero | clear
        base_inf = state.inf & ~clear
        base_nan = state.nan & ~clear

        step = self._add_round(m, p, base_sig, base_top, base_sign)
        new, flags = self._update(m, p, step, base_sign, base_zero, base_inf, base_nan)
        with m.If(self.in_valid):
            m.d.sync += [state.sig.eq(new["sig"]), state.top.eq(new["top"]),
                         state.sign.eq(new["sign"]), state.zero.eq(new["zero"]),
                         state.inf.eq(new["inf"]), state.nan.eq(new["nan"]),
                         state.flags.eq(Mux(clear, 0, state.flags) | flags)]

        v = self.value
        m.d.comb += [v.sig.eq(state.sig), v.exp.eq(state.top), v.sign.eq(state.sign),
                     v.zero.eq(state.zero), v.inf.eq(state.inf), v.nan.eq(state.nan)]
        return m

    def _add_round(self, m, p, base_sig, base_top, base_sign) -> dict:
        """Finite product + finite-or-zero base, rounded onto the grid below the new top.

        Window positions from the LSB: a sticky bit, ``g`` guard bits, the W-bit field (grid
        2^(t0 - W + 1), top bit 2^t0 with t0 the larger top) and a carry bit. The term with the
        larger top enters unshifted and exact; the other is shifted right by the difference of the
        tops, its lost bits ORed into the sticky bit (round to odd: the sum then rounds like the
        exact sum at the grid and one position above it, the sr bits included).
        """
        W, g = self.width, self.window_guard
        n = W + g + 1  # sticky, guards, field
        ew = len(p.exp) + 2
        placed_acc = Cat(Const(0, g + 1), base_sig)
        placed_prod = Cat(Const(0, n - len(p.sig)), p.sig)  # its top bit at the field's top

        diff = Signal(signed(ew))
        m.d.comb += diff.eq(base_top - p.exp)
        acc_big = diff >= 0
        top0 = Signal(signed(ew))
        m.d.comb += top0.eq(Mux(acc_big, base_top, p.exp))
        distance = Mux(acc_big, diff, -diff).as_unsigned()
        big, small = Mux(acc_big, placed_acc, placed_prod), Mux(acc_big, placed_prod, placed_acc)
        big_sign = Mux(acc_big, base_sign, p.sign)
        small_sign = Mux(acc_big, p.sign, base_sign)
        shifted, lost = shift_right_sticky(m, small, distance, n, n)
        small_j = shifted | lost

        total = Signal(signed(n + 2))
        m.d.comb += total.eq(Mux(big_sign ^ small_sign, as_signed(big) - as_signed(small_j),
                                 as_signed(big) + as_signed(small_j)))
        negative = total < 0
        magnitude = Signal(n + 1)
        m.d.comb += magnitude.eq(Mux(negative, -total, total).as_unsigned()[:n + 1])
        sign = big_sign ^ negative

        # a carry out of the field moves the grid up one position (the shifted-out bit jams)
        carry = magnitude[n]
        aligned = Signal(n)
        m.d.comb += aligned.eq(Mux(carry, Cat(magnitude[0] | magnitude[1], magnitude[2:]),
                                   magnitude[:n]))
        kept, below = aligned[g + 1:], aligned[:g + 1]
        rand = self.rand if self.ctx.sr else None
        up, inexact = increment(self.ctx, sign, kept[0], below, Const(0), rand)
        rounded = Signal(W + 1)
        m.d.comb += rounded.eq(kept + up)
        round_carry = rounded[W]  # exactly 2^W: the grid moves up once more
        top = Signal(signed(ew))
        m.d.comb += top.eq(top0 + carry + round_carry)
        return {"sig": Mux(round_carry, rounded[1:], rounded[:W]), "top": top, "sign": sign,
                "exact_zero": magnitude == 0, "rounded_zero": rounded == 0, "inexact": inexact}

    def _update(self, m, p, step, base_sign, base_zero, base_inf, base_nan):
        """The next state and the step's flags: specials as golden add_terms, a finite product
        through the adder (exact zero, rounded to zero, overflow above emax, or a finite value)."""
        fmt = self.acc_fmt
        emin = fmt.emin
        rdn = int(self.ctx.mode == "rdn")
        clash = p.inf & base_inf & (p.sign != base_sign)
        nan = p.nan | base_nan | clash
        inf = (p.inf | base_inf) & ~nan
        finite_product = ~(p.zero | p.inf | p.nan)
        new = {"sig": Signal(self.width, name="lazy_next_sig"),
               "top": Signal(self.state_layout["top"].shape, name="lazy_next_top"),
               "sign": Signal(name="lazy_next_sign"), "zero": Signal(name="lazy_next_zero"),
               "inf": Signal(name="lazy_next_inf"), "nan": Signal(name="lazy_next_nan")}
        flags = Signal(Flags.WIDTH, name="lazy_step_flags")
        m.d.comb += new["top"].eq(emin)  # every non-finite state
        with m.If(nan):
            m.d.comb += [new["nan"].eq(1),
                         flags.eq(Mux(p.invalid | clash, Flags.INVALID, 0))]
        with m.Elif(inf):
            m.d.comb += [new["inf"].eq(1), new["sign"].eq(Mux(p.inf, p.sign, base_sign)),
                         flags.eq(Mux(p.invalid, Flags.INVALID, 0))]
        with m.Elif(p.zero & base_zero):
            m.d.comb += [new["zero"].eq(1),
                         new["sign"].eq(Mux(p.sign == base_sign, base_sign, rdn))]
        with m.Elif(~finite_product):  # a zero product leaves a finite accumulator as it is
            m.d.comb += [new["sig"].eq(self.state.sig), new["top"].eq(self.state.top),
                         new["sign"].eq(base_sign)]
        with m.Elif(step["exact_zero"]):
            m.d.comb += [new["zero"].eq(1), new["sign"].eq(rdn)]
        with m.Elif(step["rounded_zero"]):
            m.d.comb += [new["zero"].eq(1), new["sign"].eq(step["sign"]),
                         flags.eq(Flags.UNDERFLOW | Flags.INEXACT)]
        with m.Elif(step["top"] > fmt.emax):
            m.d.comb += [new["inf"].eq(1), new["sign"].eq(step["sign"]),
                         flags.eq(Flags.OVERFLOW | Flags.INEXACT)]
        with m.Else():
            m.d.comb += [new["sig"].eq(step["sig"]), new["top"].eq(step["top"]),
                         new["sign"].eq(step["sign"]), flags.eq(step["inexact"])]
        return new, flags
