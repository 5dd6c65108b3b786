"""Align-and-add stage: the sum of two terms in a window, with a sticky bit (golden/core.add_terms).

Both significands are left-aligned in an L-bit window, the one with the smaller top exponent is shifted
right by the exponent difference, and bits shifted out collapse into a round-to-odd sticky LSB one
position below the window. L exceeds both significand widths and the output's precision plus guard
bits by at least two, so the sum is exact when it fits and otherwise faithful for the final rounding,
also under subtraction (the larger term sits on even positions, the sticky representative on an odd one).
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .layouts import TermLayout, as_signed
from .normalize import shift_right_sticky

__all__ = ["AlignAdd", "approximate_window"]


def approximate_window(window: int, term_widths, normalization, zone: int, precision: int,
                       rand_bits: int) -> int:
    """The align/add window a normalization variant needs (``window``: the exact unit's).

    ``window:L`` shifts the sum by at most Z + L, so its rounding keeps bits down to Z + L + p - 1
    positions below the anchor. The sum is faithful one position below the window (the sticky
    LSB), so a window of Z + L + p bits under the anchor leaves the guard bit exact and the rest to
    the sticky, and sr's ``rand_bits`` discarded bits stay exact with Z + L + p + rand_bits - 1.
    Rounding never goes finer than that (the subnormal floor only coarsens it), so the result is
    the rounding of the exact sum. The larger term still fits whole (its low bits cannot be
    jammed: under subtraction the borrow between two jammed tails is unknown), hence the floor
    max(term_widths) + 2. ``exact`` and ``coarse:K`` (whose shift reaches the bottom after deep
    cancellation) keep ``window``.
    """
    if normalization.kind != "window":
        return window
    needed = zone + normalization.k + precision + max(rand_bits - 1, 0)
    return max(max(term_widths) + 2, min(window, needed))


class AlignAdd(wiring.Component):
    """``s = a + b``.

    Parameters
    ----------
    a_layout, b_layout : TermLayout
    window : int
        L, the alignment window in bits (>= both significand widths + 2).
    exp_width : int
        Exponent width of the result term.
    round_down : bool
        The unit rounds toward -inf: an exact zero sum of opposite signs is then -0.

    Members
    -------
    s : Out(TermLayout(window + 2, exp_width))
        Its top bit weighs 2^(exp); the result is not normalized.
    """

    def __init__(self, a_layout: TermLayout, b_layout: TermLayout, window: int, exp_width: int,
                 round_down: bool = False):
        if window < max(a_layout.sig_width, b_layout.sig_width) + 2:
            raise ValueError(f"window={window} is too narrow for significands of "
                             f"{a_layout.sig_width} and {b_layout.sig_width} bits")
        self.window = window
        self.round_down = round_down
        self.out_layout = TermLayout(window + 2, exp_width)
        super().__init__({"a": In(a_layout), "b": In(b_layout), "s": Out(self.out_layout)})

    def elaborate(self, platform):
        m = Module()
        a, b, s = self.a, self.b, self.s
        L = self.window
        a_sig = Cat(Const(0, L - len(a.sig)), a.sig)  # left-aligned in the window
        b_sig = Cat(Const(0, L - len(b.sig)), b.sig)

        diff = Signal.like(a.exp - b.exp)
        m.d.comb += diff.eq(a.exp - b.exp)
        a_big = Mux(a.zero, 0, Mux(b.zero, 1, diff >= 0))
        distance = Mux(a.zero | b.zero, L + 2, Mux(diff >= 0, diff, -diff).as_unsigned())
        big, small = Mux(a_big, a_sig, b_sig), Mux(a_big, b_sig, a_sig)
        big_sign, small_sign = Mux(a_big, a.sign, b.sign), Mux(a_big, b.sign, a.sign)
        big_exp = Mux(a_big, a.exp, b.exp)

        # one extra bit below the window: the larger term is even there, the sticky makes the other odd
        shifted, sticky = shift_right_sticky(m, Cat(Const(0, 1), small), distance, L + 1, L + 2)
        small_j = shifted | sticky
        big_x = as_signed(Cat(Const(0, 1), big))
        small_x = as_signed(small_j)
        total = Signal(signed(L + 3))
        m.d.comb += total.eq(Mux(big_sign ^ small_sign, big_x - small_x, big_x + small_x))
        negative = total < 0
        magnitude = Mux(negative, -total, total).as_unsigned()[:L + 2]
        zero_sum = magnitude == 0

        both_zero = a.zero & b.zero
        zero_sign = Mux(both_zero & (a.sign == b.sign), a.sign, int(self.round_down))
        inf_clash = a.inf & b.inf & (a.sign != b.sign)
        nan = a.nan | b.nan | inf_clash
        inf = (a.inf | b.inf) & ~nan
        m.d.comb += [
            s.sig.eq(magnitude),
            s.exp.eq(big_exp + 1),
            s.nan.eq(nan),
            s.inf.eq(inf),
            s.zero.eq(zero_sum & ~nan & ~inf),
            s.invalid.eq(a.invalid | b.invalid | inf_clash),
            s.sign.eq(Mux(nan, 0, Mux(inf, Mux(a.inf, a.sign, b.sign),
                                      Mux(zero_sum, zero_sign, big_sign ^ negative)))),
        ]
        return m
