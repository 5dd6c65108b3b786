"""Unpack stage: bit pattern -> term (sign, class, exponent of the top bit, normalized significand).

Subnormal significands are normalized here (leading-zero count and shift), so that every finite
nonzero term leaves with its top bit set; later stages then align by exponent alone.
"""

from amaranth.hdl import Cat, Const, Module, Mux, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..golden.formats import FloatFormat, PositFormat, Specials
from .layouts import TermLayout, as_signed, exp_bits_for
from .normalize import leading_zeros

__all__ = ["FloatUnpack", "PositUnpack", "unpack_term_width", "unpacker", "normalizes_subnormals"]


def unpack_term_width(fmt) -> int:
    """Significand width of an unpacked operand, hidden bit included.

    Floats: the precision. Posits: every bit after the sign and the shortest regime (n - es - 1
    fraction positions, some of them zero padding) plus the hidden bit.
    """
    return fmt.nbits - fmt.es if fmt.is_posit else fmt.precision


def normalizes_subnormals(spec) -> bool:
    """Whether a unit's operand unpackers normalize subnormal significands: not for window:L units,
    whose sum window ends Z + L + p + guard bits below the anchor whatever the operands' leading
    zeros (a sum reaching below is flushed), so the anchor is then a subnormal field's top, emin
    (docs/approximate.md). coarse:K may round at p bits below any leading one, which the window
    holds only for normalized operands."""
    normalization = getattr(spec, "normalization", None)
    return normalization is None or normalization.kind != "window"


def unpacker(fmt, exp_width: int, normalize_subnormals: bool = True):
    """The unpack component for a float or posit format (``normalize_subnormals``: see
    :class:`FloatUnpack`; posits are always normalized)."""
    if fmt.is_posit:
        return PositUnpack(fmt, exp_width)
    return FloatUnpack(fmt, exp_width, normalize_subnormals)


class FloatUnpack(wiring.Component):
    """Decode a :class:`FloatFormat` bit pattern.

    Parameters
    ----------
    fmt : FloatFormat
        The operand format (its ``subnormals`` flag decides between gradual underflow and DAZ).
    exp_width : int
        Width of the term's signed exponent.
    normalize_subnormals : bool
        True: a subnormal significand is shifted up to the hidden bit (leading-zero count and
        shifter). False: it stays as it is, with exponent emin (its field's top); the units with
        approximate normalization take it that way (docs/approximate.md).

    Members
    -------
    bits : In(fmt.nbits)
    term : Out(TermLayout(fmt.precision, exp_width))
    """

    def __init__(self, fmt: FloatFormat, exp_width: int, normalize_subnormals: bool = True):
        if not isinstance(fmt, FloatFormat):
            raise TypeError(f"FloatUnpack needs a FloatFormat, not {fmt!r}")
        self.fmt = fmt
        self.normalize_subnormals = normalize_subnormals
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
        if mb and not self.normalize_subnormals:
            sub_sig = Cat(man, Const(0, 1))
            sub_exp = Const(f.emin, signed(exp_bits_for(f.emin)))
        elif mb:
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


class PositUnpack(wiring.Component):
    """Decode a :class:`PositFormat` bit pattern (golden/core.decode_posit).

    The regime is the run of bits equal to the first bit after the sign; its length comes from a
    leading-zero count of the body (inverted when the run is of ones). Shifting the body left past
    the regime and its terminating bit leaves the exponent bits on top (bits cut off by the end of
    the word read as zeros) and the fraction below. NaR decodes as a quiet NaN.

    Members
    -------
    bits : In(fmt.nbits)
    term : Out(TermLayout(fmt.nbits - fmt.es, exp_width))
    """

    def __init__(self, fmt: PositFormat, exp_width: int):
        if not isinstance(fmt, PositFormat):
            raise TypeError(f"PositUnpack needs a PositFormat, not {fmt!r}")
        self.fmt = fmt
        super().__init__({"bits": In(fmt.nbits),
                          "term": Out(TermLayout(unpack_term_width(fmt), exp_width))})

    def elaborate(self, platform):
        m = Module()
        f, t = self.fmt, self.term
        n, es = f.nbits, f.es
        x = self.bits
        sign = x[-1]
        nar = x == f.nar_code
        zero = x == 0
        magnitude = Mux(sign, -x, x)[:n]
        body = magnitude[:n - 1]
        lead = body[-1]
        # the run is never empty (lead is in it); it spans the whole body for maxpos and minpos
        whole, partial = leading_zeros(Mux(lead, ~body, body), n - 1)
        run = Mux(whole, n - 1, partial)
        regime = Mux(lead, as_signed(run) - 1, -as_signed(run))
        rest = (body << (run + 1))[:n - 1]  # exponent bits on top, then the fraction
        exponent = rest[n - 1 - es:] if es else Const(0, 1)
        fraction = rest[:n - 1 - es]
        m.d.comb += [
            t.sign.eq(sign & ~nar),
            t.nan.eq(nar),
            t.zero.eq(zero),
            t.sig.eq(Mux(nar | zero, 0, Cat(fraction, Const(1, 1)))),
            t.exp.eq(regime * (1 << es) + exponent),
        ]
        return m
