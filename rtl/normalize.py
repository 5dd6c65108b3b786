"""Leading-zero count and normalizing shift.

Normalization is a block of its own so that approximate variants can replace it (DESIGN.md). The exact
variant counts leading zeros with a logarithmic tree and shifts the significand left until its top
bit is set (or it is zero). The approximate variants (docs/approximate.md, golden/core.norm_shift)
shift by less: ``coarse:K`` in steps of K below the exactly normalized top ``zone`` positions,
``window:L`` by at most ``zone + L``; the rounder then rounds at p bits below the shifted top and
renormalizes the few leading zeros that are left (:class:`~.round.FloatRound` with ``renormalize``).
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..golden.variants import Normalization
from .layouts import TermLayout

__all__ = ["leading_zeros", "LeadingZeroCount", "Normalize", "ApproximateNormalize",
           "normalized_term"]


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


class ApproximateNormalize(wiring.Component):
    """``coarse:K`` or ``window:L`` normalization of a sum whose top bit is the anchor
    (golden/core.norm_shift with ``zone`` = Z exactly normalized top positions).

    * ``coarse:K``: a leading-zero count over the top Z bits, and below them over groups of K bits
      (one OR per group); the shift is the exact count within the top Z, else Z plus K times the
      leading zero groups: a shifter by 0..Z, then one by multiples of K (log2(K) fewer levels).
    * ``window:L``: the leading-one search covers the top Z + 1 + L bits only (the exact zone's
      lz = 0..Z and L positions below it); the shift is the count, a shifter with Z + L + 1
      amounts; a sum with no one there is ``lost`` (the rounder delivers a signed zero with
      underflow and inexact).

    The rounder needs only the top ``precision + rand_bits + 1`` bits of the shifted significand
    exactly (the kept bits, the guard or the sr bits) and the OR of the rest; so only those bits
    are shifted, and the bits that land below them are OR-ed from the unshifted input (a sticky LSB,
    round to odd). Up to :attr:`residual_zeros` leading zeros stay in the result.

    Parameters
    ----------
    width : int
        Significand width of the sum (its top bit is the anchor).
    normalization : Normalization
        ``coarse:K`` or ``window:L``.
    zone : int
        Z >= 1 (golden/core.product_zone; 1 for an add).
    precision : int
        p of the format the result is rounded into.
    rand_bits : int
        Bits of ``rand`` (sr), else 0.

    Members
    -------
    sig_in : In(width)
    sig_out : Out(out_width)
        The top bits of ``sig_in << shift``, with a sticky LSB when narrower than ``width``.
    shift : Out
        The shift, subtracted from the exponent by the caller.
    lost : Out(1)
        window:L only: the sum has more than Z + L leading zeros and is flushed.

    Raises
    ------
    ValueError
        ``normalization`` is not coarse or window, or ``zone`` < 1.
    """

    def __init__(self, width: int, normalization: Normalization, zone: int, precision: int,
                 rand_bits: int = 0):
        if normalization.kind not in ("coarse", "window"):
            raise ValueError(f"normalization={normalization.spec!r} is invalid for "
                             f"ApproximateNormalize: it builds coarse:K and window:L")
        if zone < 1:
            raise ValueError(f"zone={zone} is invalid: at least the carry position is normalized")
        self.width, self.normalization, self.zone = width, normalization, zone
        self.precision = precision
        self.keep = precision + rand_bits + 1  # kept bits, then guard or the sr bits
        self.out_width = min(width, self.keep + 1)
        super().__init__({"sig_in": In(width), "sig_out": Out(self.out_width),
                          "shift": Out(width.bit_length()), "lost": Out(1)})

    @property
    def residual_zeros(self) -> int:
        """Most leading zeros a nonzero rounded significand of p bits keeps in the normal range:
        coarse: fewer than K (the leading one lies in the group the shift stopped at); window:
        none (a sum whose leading one lies below the window is lost, not shifted)."""
        if self.normalization.kind == "coarse":
            return min(self.normalization.k - 1, self.precision - 1)
        return 0

    def elaborate(self, platform):
        m = Module()
        if self.normalization.kind == "coarse":
            shifted, choices = self._coarse(m)
        else:
            shifted, choices = self._window(m)
        top = shifted[:self.width]
        if self.out_width == self.width:
            m.d.comb += self.sig_out.eq(top)
        else:
            below = self.width - self.keep  # bits under the kept part before the shift
            lows = _low_ors(m, self.sig_in, [below - s for _, s in choices if below > s])
            sticky = Const(0)
            for condition, s in choices:
                if below > s:
                    sticky |= condition & lows[below - s]
            m.d.comb += self.sig_out.eq(Cat(sticky, top[self.width - self.keep:]))
        return m

    def _window(self, m):
        """Shift by lz when lz <= Z + L (else lost): a leading-one search over the top Z + L + 1
        bits and a shifter by 0 .. Z + L."""
        w = self.width
        reach = min(self.zone + self.normalization.k + 1, w)
        none, count = leading_zeros(self.sig_in[w - reach:], reach)
        m.d.comb += [self.shift.eq(Mux(none, 0, count)), self.lost.eq(none)]
        choices = [(self.shift == s, s) for s in range(reach)]
        return self.sig_in << self.shift, choices

    def _coarse(self, m):
        """Shift by lz within the top Z bits, else by Z + K * (leading all-zero K-bit groups)."""
        w, z, k = self.width, self.zone, self.normalization.k
        rest = w - z
        groups = -(-rest // k)  # the lowest group may be partial
        top_none, top_count = leading_zeros(self.sig_in[rest:], z)
        group_any = Cat(self.sig_in[max(rest - (j + 1) * k, 0):rest - j * k].any()
                        for j in reversed(range(groups)))  # Cat is LSB first: top group last
        _, group_count = leading_zeros(group_any, groups)
        fine = Signal(range(z + 1))
        skipped = Signal(range(max(groups, 2)))
        m.d.comb += [fine.eq(Mux(top_none, z, top_count)),
                     skipped.eq(Mux(top_none, group_count, 0)),
                     self.shift.eq(fine + skipped * k)]
        shifted = (self.sig_in << fine)[:w]
        for b in range(len(skipped)):  # only multiples of K: log2(K) levels fewer
            shifted = Mux(skipped[b], (shifted << (k << b))[:w], shifted)
        choices = [(~top_none & (fine == s), s) for s in range(z)]
        choices += [(top_none & (skipped == j), z + j * k) for j in range(groups)]
        return shifted, choices


def _low_ors(m, value, cuts):
    """{c: OR of value[:c]} for each cut c >= 1, as one chain of ORs (cumulative from bit 0)."""
    ors = {}
    below, done = Const(0), 0
    for c in sorted(set(cuts)):
        part = Signal(name=f"low_or_{c}")
        m.d.comb += part.eq(below | value[done:c].any())
        ors[c], below, done = part, part, c
    return ors


def normalized_term(m, normalizer, term, exp_width: int, name: str):
    """The term ``term`` normalized by ``normalizer`` (:class:`Normalize` or
    :class:`ApproximateNormalize`, already a submodule of ``m``): a Signal named ``name``."""
    width = len(normalizer.sig_out)
    normalized = Signal(TermLayout(width, exp_width), name=name)
    m.d.comb += normalizer.sig_in.eq(term.sig)
    if width == len(term.sig):
        m.d.comb += normalized.eq(term)
    else:
        m.d.comb += [getattr(normalized, f).eq(getattr(term, f))
                     for f in ("sign", "zero", "inf", "nan", "invalid")]
    m.d.comb += [normalized.sig.eq(normalizer.sig_out),
                 normalized.exp.eq(term.exp - normalizer.shift)]
    return normalized


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
