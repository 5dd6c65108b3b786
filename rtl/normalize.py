"""Leading-zero count and normalizing shift.

Normalization is a block of its own so that approximate variants can replace it (DESIGN.md). The exact
variant counts leading zeros with a logarithmic tree and shifts the significand left until its top
bit is set (or it is zero).
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["leading_zeros", "LeadingZeroCount", "Normalize"]


def leading_zeros(value, width: int):
    """Return ``(all_zero, count)`` expressions for the leading zeros of a ``width``-bit value.

    Recursive halving: the count of the upper half if it has a one, else half + the lower count.
    """
    if width == 1:
        return ~value[0], Const(0, 1)
    upper_width = 1 << ((width - 1).bit_length() - 1)  # largest power of two below width
    lower_width = width - upper_width
    hi_zero, hi_count = leading_zeros(value[lower_width:], upper_width)
    lo_zero, lo_count = leading_zeros(value[:lower_width], lower_width)
    count_width = width.bit_length()
    count = Mux(hi_zero, upper_width + lo_count, hi_count)
    return hi_zero & lo_zero, count.as_unsigned()[:count_width]


class LeadingZeroCount(wiring.Component):
    """``count`` = number of leading zeros of ``value`` (``width`` when it is zero).

    Parameters
    ----------
    width : int
        Input width, >= 1.
    """

    def __init__(self, width: int):
        if width < 1:
            raise ValueError(f"width={width} is invalid: it must be >= 1")
        self.width = width
        super().__init__({"value": In(width), "count": Out(width.bit_length()), "zero": Out(1)})

    def elaborate(self, platform):
        m = Module()
        zero, count = leading_zeros(self.value, self.width)
        m.d.comb += [self.zero.eq(zero), self.count.eq(Mux(zero, self.width, count))]
        return m


class Normalize(wiring.Component):
    """Exact normalization: ``sig_out = sig_in << shift`` with ``shift`` = leading zeros of ``sig_in``.

    Parameters
    ----------
    width : int
        Significand width.

    Members
    -------
    sig_in : In(width)
    sig_out : Out(width)
        Top bit set unless the input is zero.
    shift : Out
        Leading-zero count, subtracted from the exponent by the caller.
    """

    def __init__(self, width: int):
        self.width = width
        super().__init__({"sig_in": In(width), "sig_out": Out(width),
                          "shift": Out(width.bit_length())})

    def elaborate(self, platform):
        m = Module()
        m.submodules.lzc = lzc = LeadingZeroCount(self.width)
        m.d.comb += [lzc.value.eq(self.sig_in), self.shift.eq(lzc.count),
                     self.sig_out.eq((self.sig_in << lzc.count)[:self.width])]
        return m


def shift_right_sticky(m, value, amount, width: int, max_shift: int):
    """``(value >> amount)`` truncated to ``width`` bits, and the OR of every bit shifted out.

    ``amount`` is clamped at ``max_shift`` (which must be >= width: everything is then shifted out).
    """
    clamped = Signal(unsigned(max(max_shift, 1).bit_length()))
    m.d.comb += clamped.eq(Mux(amount > max_shift, max_shift, amount))
    extended = Cat(Const(0, max_shift), value)  # room below for the shifted-out bits
    shifted = (extended >> clamped)
    kept = shifted[max_shift:max_shift + width]
    sticky = shifted[:max_shift].any()
    return kept, sticky
