"""Unpack stage: bit pattern -> term (sign, class, exponent of the top bit, normalized significand).

Subnormal significands are normalized here (leading-zero count and shift), so that every finite
nonzero term leaves with its top bit set; later stages then align by exponent alone.
"""

from amaranth.hdl import Cat, Const, Module, Mux, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..golden.formats import FloatFormat, Specials
from .layouts import TermLayout, as_signed, exp_bits_for
from .normalize import leading_zeros

__all__ = ["FloatUnpack", "unpack_term_width"]


def unpack_term_width(fmt) -> int:
    """Significand width of an unpacked operand: the precision, hidden bit included."""
    return fmt.precision


class FloatUnpack(wiring.Component):
    """Decode a :class:`FloatFormat` bit pattern.

    Parameters
    ----------
    fmt : FloatFormat
        The operand format (its ``subnormals`` flag decides between gradual underflow and DAZ).
    exp_width : int
        Width of the term's signed exponent.

    Members
    -------
    bits : In(fmt.nbits)
    term : Out(TermLayout(fmt.precision, exp_width))
    """

    def __init__(self, fmt: FloatFormat, exp_width: int):
        if not isinstance(fmt, FloatFormat):
            raise TypeError(f"FloatUnpack needs a FloatFormat, not {fmt!r}")
        self.fmt = fmt
        super().__init__({"bits": In(fmt.nbits),
                          "term": Out(TermLayout(fmt.precision, exp_width))})

    def elaborate(self, platform):
        m = Module()
        f, t = self.fmt, self.term
        mb = f.man_bits
        man = self.bits[:mb]
        exp = self.bits[mb:mb + f.exp_bits]
        sign = self.bits[-1]
        exp_zero = exp == 0
        exp_ones = exp == f.exp_field_max

        is_nan = Const(0)
        is_snan = Const(0)
        is_inf = Const(0)
        if f.specials is Specials.IEEE:
            is_inf = exp_ones & (man == 0)
            is_nan = exp_ones & (man != 0)
            is_snan = is_nan & ~man[-1]
        elif f.specials is Specials.FN:
            is_nan = self.bits[:-1] == f.nan_code
        elif f.specials is Specials.FNUZ:
            is_nan = self.bits == f.nan_code
        subnormal = exp_zero & (man != 0) & Const(int(f.subnormals))
        zero = exp_zero & ~subnormal

        normal_sig = Cat(man, Const(1, 1))
        normal_exp = as_signed(exp) - f.bias
        if mb:
            _, lz = leading_zeros(man, mb)
            sub_sig = (man << (lz + 1))[:f.precision]  # the leading one lands on the hidden bit
            sub_exp = Const(f.emin - 1, signed(exp_bits_for(f.emin - 1))) - lz
        else:
            sub_sig, sub_exp = normal_sig, normal_exp
        m.d.comb += [
            t.sign.eq(sign & ~is_nan),
            t.nan.eq(is_nan),
            t.inf.eq(is_inf),
            t.invalid.eq(is_snan),
            t.zero.eq(zero & ~is_nan),
            t.sig.eq(Mux(subnormal, sub_sig, Mux(zero | is_nan | is_inf, 0, normal_sig))),
            t.exp.eq(Mux(subnormal, sub_exp, normal_exp)),
        ]
        return m
