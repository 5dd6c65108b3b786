"""Reference datapath: a deliberately simple second implementation of every unit, for proofs.

:class:`ReferenceUnit` computes what a unit spec (:mod:`mpmac.units`) asks for, written separately
from the optimized datapath in rtl/ and as plainly as possible (docs/formal-reference.md):

1. decode: each operand becomes a class (zero, Inf, NaN; posit NaR reads as NaN), a sign and its
   exact magnitude ``sig * 2^exp`` (``sig`` has a fixed width with the top bit set: subnormals are
   normalised by a plain loop; posits keep their fraction left-aligned below the hidden bit);
2. exact core: every term is placed into ONE wide unsigned fixed-point integer whose LSB weighs the
   smallest weight any exact result can have (for a product ``lsb_a + lsb_b``), and sums are formed
   exactly in two's complement: no alignment window, no sticky bits, no leading-zero anticipation;
3. one rounder per output family: a priority loop finds the leading one, the quantum follows from
   its position, a right shift keeps the result bits and the discarded bits decide the increment per
   mode; overflow, tininess, flush-to-zero, saturation and specials follow golden/rounding.py.
   Posit outputs build their regime/exponent/fraction bit string and round on it.

Approximate variants (docs/approximate.md), from the same exact sum: coarse:K / window:L round at
p bits below ``anchor - s(lz)`` (``s`` from a table of constants per leading-zero count), L-Mul adds
the operands' bit fields instead of multiplying, and a lazy mac keeps the unnormalized accumulator
of golden/mac.py ``_LazyState`` in the register encoding of rtl/lazy.py.

Shared with the optimized datapath: only *facts* (golden/ formats and rounding contexts, the port
contract of :func:`mpmac.rtl.layouts.unit_signature`, the mac state layout of
:func:`mpmac.rtl.mac.mac_state_layout`) and, with ``product="internal"``, the integer multiplier
:class:`mpmac.rtl.multiply.SignificandMultiplier`. With ``product="port"`` the significand product
comes from the input ``mul_p`` instead, and ``mul_x``/``mul_y`` carry the significands the reference
would multiply: the same operands (widths, normalisation) the optimized unit feeds its multiplier.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import Cat, Const, Module, Mux, Shape, Signal, Value, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import Out

from ..golden.formats import Specials
from ..golden.variants import Normalization
from ..golden.rounding import Flags
from ..rtl.emit import to_verilog
from ..rtl.layouts import check_knobs, product_signature, unit_signature
from ..rtl.mac import mac_state_layout
from ..rtl.multiply import SignificandMultiplier

__all__ = ["ReferenceUnit", "reference_verilog", "significand_width", "lsb_exponent",
           "top_exponent", "state_invariant"]


# -- facts about a format's values ---------------------------------------------------------------
def significand_width(fmt) -> int:
    """Width of a decoded significand, hidden bit included.

    Floats: the precision. Posits: the hidden bit and every bit after the sign and the shortest
    regime except the exponent (fraction bits that a longer regime pushes out read as zeros).
    """
    return fmt.nbits - fmt.es if fmt.is_posit else fmt.precision


def lsb_exponent(fmt) -> int:
    """Exponent of the smallest nonzero magnitude: every finite value is a multiple of 2^this."""
    return -fmt.max_scale if fmt.is_posit else fmt.qmin


def top_exponent(fmt) -> int:
    """Exponent of the top bit of the largest finite magnitude."""
    return fmt.max_scale if fmt.is_posit else fmt.emax


# -- values in flight -----------------------------------------------------------------------------
@dataclass
class Operand:
    """A decoded operand: exactly ``(-1)^sign * sig * 2^exp`` unless a special class is set.

    ``sig`` is 0 for zero, Inf and NaN (so a product of it is 0), else its top bit is set.
    ``invalid``: a signaling NaN.
    """

    fmt: object
    zero: Value
    inf: Value
    nan: Value
    invalid: Value
    sign: Value
    sig: Value
    exp: Value

    @property
    def lowest_exp(self) -> int:
        """Smallest ``exp`` a finite nonzero value of this format decodes to."""
        return lsb_exponent(self.fmt) - (len(self.sig) - 1)


@dataclass
class Exact:
    """An exact value: ``(-1)^sign * mag * 2^lsb`` (a signed zero when ``mag`` is 0), or NaN/Inf.

    ``lsb`` is a Python int: the register's fixed LSB weight. ``invalid`` records an invalid
    operation on the way (sNaN operand, 0 * Inf, Inf - Inf).
    """

    nan: Value
    inf: Value
    invalid: Value
    sign: Value
    mag: Value
    lsb: int


@dataclass(frozen=True)
class Register:
    """Shape of a wide fixed-point register: LSB weight ``2^lsb``, room up to bit ``2^top``."""

    lsb: int
    top: int

    @property
    def width(self) -> int:
        return self.top - self.lsb + 1

    @staticmethod
    def of_format(fmt) -> "Register":
        return Register(lsb_exponent(fmt), top_exponent(fmt))

    def times(self, other: "Register") -> "Register":
        """Register of a product: values below 2^(top+1) each multiply to below 2^(top+top'+2)."""
        return Register(self.lsb + other.lsb, self.top + other.top + 1)

    def plus(self, other: "Register") -> "Register":
        """Register of a sum (one carry bit above the larger term)."""
        return Register(min(self.lsb, other.lsb), max(self.top, other.top) + 1)


def exp_width(*bounds: int) -> int:
    """Signed width that holds every exponent and shift computed from these Python bounds."""
    return (4 * sum(abs(b) for b in bounds) + 4).bit_length() + 1


# -- decode ---------------------------------------------------------------------------------------
def decode(m, fmt, bits, name: str, ew: int) -> Operand:
    """Decode a float or posit bit pattern into an :class:`Operand`."""
    return (decode_posit if fmt.is_posit else decode_float)(m, fmt, bits, name, ew)


def decode_float(m, fmt, bits, name, ew) -> Operand:
    mb, p = fmt.man_bits, fmt.precision
    man, field, sign = bits[:mb], bits[mb:mb + fmt.exp_bits], bits[-1]
    top_field = field == fmt.exp_field_max
    nan = inf = snan = Const(0)
    if fmt.specials is Specials.IEEE:
        inf = top_field & (man == 0)
        nan = top_field & (man != 0)
        snan = nan & ~man[-1]
    elif fmt.specials is Specials.FN:  # only S.1...1.1...1, either sign
        nan = bits[:-1] == fmt.nan_code
    elif fmt.specials is Specials.FNUZ:  # 1000...0, whose exponent field reads as zero
        nan = bits == fmt.nan_code
    subnormal = (field == 0) & (man != 0) & Const(int(fmt.subnormals)) if mb else Const(0)
    zero = (field == 0) & ~subnormal & ~nan
    normal = ~(field == 0) & ~nan & ~inf

    sig = Signal(p, name=f"{name}_sig")
    exp = Signal(signed(ew), name=f"{name}_exp")
    with m.If(normal):
        m.d.comb += [sig.eq(Cat(man, Const(1, 1))), exp.eq(field - fmt.bias - mb)]
    # A subnormal's leading one at man[j] moves up to the hidden bit (shift by mb - j); the loop
    # runs upwards, so the highest set bit has the last word.
    for j in range(mb):
        with m.If(subnormal & man[j]):
            m.d.comb += [sig.eq(man << (mb - j)), exp.eq(fmt.qmin - (mb - j))]
    return Operand(fmt, zero, inf, nan, snan, sign, sig, exp)


def decode_posit(m, fmt, bits, name, ew) -> Operand:
    n, es = fmt.nbits, fmt.es
    sign = bits[-1]
    zero = bits == 0
    nar = bits == fmt.nar_code
    magnitude = Signal(n, name=f"{name}_magnitude")
    m.d.comb += magnitude.eq(Mux(sign, -bits, bits))
    body = magnitude[:n - 1]  # regime, terminator, exponent, fraction
    lead = body[-1]
    # regime run length: how many bits from the top equal the first one (plain loop)
    run = Signal(range(n), name=f"{name}_run")
    in_run = Const(1)
    count = Const(0, range(n))
    for i in reversed(range(n - 1)):
        in_run = in_run & (body[i] == lead)
        count = count + in_run
    m.d.comb += run.eq(count)
    regime = Signal(signed(ew), name=f"{name}_regime")
    m.d.comb += regime.eq(Mux(lead, run - 1, -run))
    # the bits after the terminator: exponent on top (bits past the word end read as 0), fraction
    rest = Signal(n - 1, name=f"{name}_rest")
    m.d.comb += rest.eq(body << (run + 1))
    frac_bits = n - 1 - es
    e_field = rest[frac_bits:] if es else Const(0, 1)
    finite = ~zero & ~nar
    sig = Signal(frac_bits + 1, name=f"{name}_sig")
    exp = Signal(signed(ew), name=f"{name}_exp")
    with m.If(finite):
        m.d.comb += [sig.eq(Cat(rest[:frac_bits], Const(1, 1))),
                     exp.eq(regime * (1 << es) + e_field - frac_bits)]
    return Operand(fmt, zero, Const(0), nar, Const(0), sign, sig, exp)


# -- exact core -----------------------------------------------------------------------------------
def place(m, name: str, sig, exp, lowest_exp: int, reg: Register) -> Signal:
    """``sig * 2^exp`` as an integer in units of ``2^reg.lsb`` (``reg.width`` bits).

    ``exp >= lowest_exp`` for every nonzero ``sig``. When ``lowest_exp < reg.lsb`` (normalised
    subnormals), the bits that land below the LSB are zeros, since every value is a multiple of
    ``2^reg.lsb``: the value is placed one ``slack`` wider and those bits are dropped.
    """
    slack = max(reg.lsb - lowest_exp, 0)
    wide = Signal(reg.width + slack, name=f"{name}_wide")
    shift = Signal(range(reg.width + slack + 1), name=f"{name}_shift")
    m.d.comb += [shift.eq(exp - (reg.lsb - slack)), wide.eq(sig << shift)]
    return wide[slack:]


def exact_operand(m, name: str, op: Operand, reg: Register) -> Exact:
    mag = place(m, name, op.sig, op.exp, op.lowest_exp, reg)
    return Exact(op.nan, op.inf, op.invalid, op.sign, mag, reg.lsb)


def exact_product(m, a: Operand, b: Operand, product, reg: Register) -> Exact:
    """a * b from the significand product ``product`` (= a.sig * b.sig)."""
    inf_times_zero = (a.inf | b.inf) & (a.zero | b.zero)
    nan = a.nan | b.nan | inf_times_zero
    exp = Signal(signed(len(a.exp) + 1), name="product_exp")
    m.d.comb += exp.eq(a.exp + b.exp)
    mag = place(m, "product", product, exp, a.lowest_exp + b.lowest_exp, reg)
    return Exact(nan, (a.inf | b.inf) & ~nan, a.invalid | b.invalid | inf_times_zero,
                 a.sign ^ b.sign, mag, reg.lsb)


def exact_sum(m, x: Exact, y: Exact, round_down: bool) -> Exact:
    """x + y, both in the same register; the register has a spare top bit for the carry."""
    assert x.lsb == y.lsb and len(x.mag) == len(y.mag)
    width = len(x.mag)
    opposite_inf = x.inf & y.inf & (x.sign != y.sign)
    nan = x.nan | y.nan | opposite_inf
    inf = (x.inf | y.inf) & ~nan
    total = Signal(signed(width + 1), name="sum_total")
    m.d.comb += total.eq(Mux(x.sign, -x.mag, x.mag) + Mux(y.sign, -y.mag, y.mag))
    mag = Signal(width, name="sum_mag")
    m.d.comb += mag.eq(Mux(total < 0, -total, total))
    # an exact zero keeps a sign both terms share, else it is +0 (-0 when rounding down)
    zero_sign = Mux(x.sign == y.sign, x.sign, int(round_down))
    sign = Mux(inf, Mux(x.inf, x.sign, y.sign), Mux(total == 0, zero_sign, total < 0))
    return Exact(nan, inf, x.invalid | y.invalid | opposite_inf, sign, mag, x.lsb)


# -- rounding -------------------------------------------------------------------------------------
def leading_one(m, value, name: str) -> Signal:
    """Position of the highest set bit of ``value`` (0 when it is 0): a plain priority loop."""
    pos = Signal(range(max(len(value), 2)), name=name)
    for i in range(len(value)):
        with m.If(value[i]):
            m.d.comb += pos.eq(i)
    return pos


def round_shift(m, ctx, name: str, mag, shift, sign, rand, width: int):
    """``mag / 2^shift`` rounded to an integer per ``ctx`` (golden/core.round_int).

    Returns ``(rounded, inexact)``, ``rounded`` ``width`` bits wide (the caller guarantees it fits).
    ``shift >= 0``. The guard bit, and for sr the top ``rand_bits`` discarded bits, are read
    explicitly; the bits below them only matter through their OR.
    """
    top_bits = max(ctx.rand_bits, 1)
    kept = mag >> shift
    top = Signal(top_bits, name=f"{name}_top")
    m.d.comb += top.eq(Cat(Const(0, top_bits), mag) >> shift)
    below = Signal(name=f"{name}_below")  # any discarded bit under the top ones
    m.d.comb += below.eq(Cat(mag[i] & (shift > i + top_bits) for i in range(len(mag))).any())
    guard = top[-1]
    rest = (top[:-1] != 0) | below if top_bits > 1 else below
    inexact = (top != 0) | below
    mode = ctx.mode
    if mode == "rne":
        up = guard & (rest | kept[0])
    elif mode == "rmm":
        up = guard
    elif mode == "rtz":
        up = Const(0)
    elif mode == "rup":
        up = inexact & ~sign
    elif mode == "rdn":
        up = inexact & sign
    else:  # sr: rand is added to the top rand_bits discarded bits; a carry out rounds away
        up = (top + rand)[top_bits]
    rounded = Signal(width, name=f"{name}_rounded")
    m.d.comb += rounded.eq(kept + up)
    return rounded, inexact


def round_float(m, fmt, ctx, x: Exact, rand, name: str, ew: int) -> dict:
    """Round the finite magnitude of ``x`` into a float format (golden/core.round_float).

    Returns a dict of signals: ``magnitude`` (the encoding without sign, valid unless flushed or
    overflowed), ``inexact``, ``tiny`` (per the context's tininess rule), ``overflow`` (beyond the
    largest finite value) and ``flush`` (tiny in a format without subnormals).
    """
    p, mb = fmt.precision, fmt.man_bits
    pad = p - 1  # the quantum never sits more than p-1 bits below the register's LSB
    mag = Cat(Const(0, pad), x.mag)
    base = x.lsb - pad  # weight of mag's LSB
    k = leading_one(m, x.mag, f"{name}_lead")
    top = Signal(signed(ew), name=f"{name}_top_exp")
    m.d.comb += top.eq(k + x.lsb)

    # quantum q = top - (p - 1), raised to the subnormal quantum; shift = q - base = k, or the
    # constant qmin - base when raised
    q = Signal(signed(ew), name=f"{name}_q")
    shift = Signal(range(max(len(mag), fmt.qmin - base) + 1), name=f"{name}_shift")
    m.d.comb += [q.eq(top - (p - 1)), shift.eq(k)]
    if fmt.subnormals and fmt.qmin > base:  # else every value is above the subnormal range
        with m.If(top - (p - 1) < fmt.qmin):
            m.d.comb += [q.eq(fmt.qmin), shift.eq(fmt.qmin - base)]
    rounded, inexact = round_shift(m, ctx, name, mag, shift, x.sign, rand, p + 1)

    # a carry to 2^p renormalises: one more binade, significand 1.000
    carry = rounded[p]
    sig = Mux(carry, rounded[1:], rounded[:p])
    e = Signal(signed(ew), name=f"{name}_e")  # exponent of the result's top bit if normal
    m.d.comb += e.eq(q + carry + (p - 1))
    normal = sig[p - 1]
    max_sig = fmt.max_code & ((1 << mb) - 1) | (1 << mb)
    overflow = normal & ((e > fmt.emax) | ((e == fmt.emax) & (sig > max_sig)))

    if ctx.tininess == "before":
        tiny = top < fmt.emin
    elif not fmt.subnormals:
        tiny = e < fmt.emin
    else:
        # tiny after rounding: below 2^emin even when rounded with an unbounded exponent range.
        # Only a value in [2^(emin-1), 2^emin) can round up to 2^emin, at quantum emin - p.
        shift_u = fmt.emin - p - base
        if shift_u >= 0:
            rounded_u, _ = round_shift(m, ctx, f"{name}_unbounded", mag, Const(shift_u), x.sign,
                                       rand, p + 1)
            reaches = (top == fmt.emin - 1) & rounded_u[p]
        else:  # the register cannot hold such a value
            reaches = Const(0)
        tiny = (top < fmt.emin) & ~reaches

    e_field = Mux(normal, e + fmt.bias, 0)[:fmt.exp_bits]
    magnitude = Cat(sig[:mb], e_field)
    return dict(magnitude=magnitude, inexact=inexact, tiny=tiny, overflow=overflow,
                flush=tiny if not fmt.subnormals else Const(0))


# -- approximate variants (docs/approximate.md) ----------------------------------------------------
def lmul_offset(man_bits: int) -> int:
    """L-Mul's constant 2^-l(m) in units of the mantissa LSB 2^-m: l(m) is m up to m = 3, 3 for
    m = 4 and 4 above."""
    l = man_bits if man_bits <= 3 else (3 if man_bits == 4 else 4)
    return 1 << (man_bits - l)


def lmul_register(fmt) -> Register:
    """Register of an L-Mul product: normal operands only, exponent carry up to 2."""
    return Register(2 * fmt.emin - fmt.man_bits, 2 * fmt.emax + 2)


def lmul_product(m, fmt, a_bits, b_bits, a: Operand, b: Operand, reg: Register, ew: int):
    """The L-Mul product of two floats of one format, from their bit fields (not from a
    multiplier): exponent fields and mantissa fields (plus the offset) add as integers, a mantissa
    sum of c * 2^m carries c into the exponent. Subnormal operands read as zero.

    Returns ``(exact, top)``: the product in ``reg`` and its exponent (= its field top).
    """
    mb = fmt.man_bits
    fields = {}
    for name, bits, op in (("a", a_bits, a), ("b", b_bits, b)):
        field = bits[mb:mb + fmt.exp_bits]
        # zero or subnormal: no hidden one to add below (a fnuz NaN's field is 0 too: NaN wins)
        fields[name] = (bits[:mb], field, (field == 0) & ~op.nan)
    (ma, ea, a_zero), (mb_, eb, b_zero) = fields["a"], fields["b"]
    total = Signal(mb + 2, name="lmul_mantissa_sum")
    m.d.comb += total.eq(ma + mb_ + lmul_offset(mb))
    carry = total[mb:]  # c = 0, 1 or 2
    top = Signal(signed(ew), name="lmul_top")
    m.d.comb += top.eq(ea + eb - 2 * fmt.bias + carry)
    sig = Cat(total[:mb], Const(1, 1))  # 1.(M - c 2^m)
    zero = a_zero | b_zero
    inf_times_zero = (a.inf | b.inf) & zero
    nan = a.nan | b.nan | inf_times_zero
    finite = ~zero & ~a.inf & ~b.inf & ~nan
    placed = place(m, "lmul", sig, top - mb, 2 * fmt.emin - mb, reg)
    mag = Signal(reg.width, name="lmul_mag")
    m.d.comb += mag.eq(Mux(finite, placed, 0))
    return Exact(nan, (a.inf | b.inf) & ~nan, a.invalid | b.invalid | inf_times_zero,
                 a.sign ^ b.sign, mag, reg.lsb), top


def lazy_register(fmt, guard: int) -> Register:
    """Register of a lazy accumulator's value: W = p + G significand bits on a grid never finer
    than 2^(qmin - G), its top at most emax."""
    return Register(fmt.qmin - guard, fmt.emax)


def operand_top(op: Operand, fields: bool = False):
    """Field top of a finite nonzero operand: the exponent of its leading one (``sig`` is
    normalised); with ``fields`` (window:L units, which take subnormal operands unnormalized) at
    least a float's emin, the top of a subnormal's field."""
    top = op.exp + (len(op.sig) - 1)
    if fields and not op.fmt.is_posit:
        return Mux(top < op.fmt.emin, op.fmt.emin, top)
    return top


def product_top(a: Operand, b: Operand, fields: bool = False):
    """Field top of an exact product: the two significand fields side by side."""
    return operand_top(a, fields) + operand_top(b, fields) + 1


def anchor(m, x: Exact, x_top, y: Exact, y_top, ew: int) -> Signal:
    """One above the larger field top of the nonzero terms of ``x + y``: leading zeros of the
    sum count from here (only meaningful for a finite nonzero sum)."""
    result = Signal(signed(ew), name="anchor")
    with m.If(x.mag == 0):
        m.d.comb += result.eq(y_top + 1)
    with m.Elif(y.mag == 0):
        m.d.comb += result.eq(x_top + 1)
    with m.Else():
        m.d.comb += result.eq(Mux(x_top > y_top, x_top, y_top) + 1)
    return result


def allowed_shift(norm: Normalization, zone: int, lz: int) -> int | None:
    """The normalizing shift an approximate unit applies for ``lz`` leading zeros (a Python int):
    all of them within the top ``zone`` positions; below, whole steps of K (coarse) or up to L
    more (window; None beyond: the sum is lost)."""
    if lz <= zone:
        return lz
    if norm.kind == "coarse":
        return zone + (lz - zone) // norm.k * norm.k
    return lz if lz <= zone + norm.k else None


def window_top(m, norm: Normalization, zone: int, x: Exact, anchor_exp, ew: int):
    """``(top, lost)``: the exponent of the top of the approximately normalized window,
    ``anchor - s(lz)`` with ``s`` looked up per possible leading-zero count (a table of constants),
    and whether the sum is lost (window:L, lz > Z + L: flushed to zero)."""
    k = leading_one(m, x.mag, "approx_lead")
    lz = Signal(signed(ew), name="approx_lz")
    m.d.comb += lz.eq(anchor_exp - (k + x.lsb))
    shift = Signal(signed(ew), name="approx_shift")
    lost = Signal(name="approx_lost")
    m.d.comb += shift.eq(lz)
    for count in range(len(x.mag) + 2):
        allowed = allowed_shift(norm, zone, count)
        with m.If(lz == count):
            if allowed is None:
                m.d.comb += lost.eq(1)
            else:
                m.d.comb += shift.eq(allowed)
    top = Signal(signed(ew), name="approx_top")
    m.d.comb += top.eq(anchor_exp - shift)
    return top, lost


def round_float_at(m, fmt, ctx, x: Exact, rand, name: str, ew: int, window) -> dict:
    """Round ``x`` at ``p`` bits below the exponent ``top`` (at or above x's leading one), then
    pack the result normalized (golden/core.round_float_at): the dict of :func:`round_float`.
    ``window`` is ``(top, lost)`` of :func:`window_top`; a lost sum is flushed.

    Tininess is that of the delivered value (below 2^emin; a nonzero x rounded to 0 included).
    """
    top, lost = window
    p, mb = fmt.precision, fmt.man_bits
    pad = p - 1
    mag = Cat(Const(0, pad), x.mag)
    base = x.lsb - pad
    q = Signal(signed(ew), name=f"{name}_q")
    m.d.comb += q.eq(top - (p - 1))
    if fmt.subnormals:
        with m.If(top - (p - 1) < fmt.qmin):
            m.d.comb += q.eq(fmt.qmin)
    shift = Signal(range(max(len(mag), fmt.qmin - base) + 2), name=f"{name}_shift")
    m.d.comb += shift.eq(q - base)
    rounded, inexact = round_shift(m, ctx, name, mag, shift, x.sign, rand, p + 1)

    # renormalize the rounded value: its top bit moves to the hidden position (down to qmin)
    k = leading_one(m, rounded, f"{name}_rounded_lead")
    top_v = Signal(signed(ew), name=f"{name}_top_v")
    m.d.comb += top_v.eq(q + k)
    q2 = Signal(signed(ew), name=f"{name}_q2")
    m.d.comb += q2.eq(top_v - (p - 1))
    if fmt.subnormals:
        with m.If(top_v - (p - 1) < fmt.qmin):
            m.d.comb += q2.eq(fmt.qmin)
    sig = Signal(p, name=f"{name}_sig")
    up = Signal(range(p + 1), name=f"{name}_up")
    with m.If(q2 > q):  # a carry to 2^p: exactly 2^p, one binade up
        m.d.comb += sig.eq(rounded[1:])
    with m.Else():
        m.d.comb += [up.eq(q - q2), sig.eq(rounded << up)]
    e = Signal(signed(ew), name=f"{name}_e")
    m.d.comb += e.eq(q2 + (p - 1))
    normal = sig[p - 1]
    max_sig = fmt.max_code & ((1 << mb) - 1) | (1 << mb)
    overflow = normal & ((e > fmt.emax) | ((e == fmt.emax) & (sig > max_sig)))
    tiny = (rounded == 0) | (top_v < fmt.emin)
    e_field = Mux(normal, e + fmt.bias, 0)[:fmt.exp_bits]
    flush = tiny if not fmt.subnormals else (rounded == 0)
    return dict(magnitude=Cat(sig[:mb], e_field), inexact=inexact, tiny=tiny,
                overflow=overflow, flush=flush | lost)


def float_codes(fmt, ctx, sign):
    """Codes of the special results of a float format: (signed zero, max finite, infinite result,
    lost: whether an infinite result raises invalid, NaN)."""
    sign_bit = Mux(sign, fmt.sign_mask, 0)
    zero = Const(0, fmt.nbits) if fmt.specials is Specials.FNUZ else sign_bit
    max_finite = fmt.max_code | sign_bit
    if ctx.saturate or fmt.specials is Specials.FINITE:
        infinite, lost = max_finite, not ctx.saturate
    elif fmt.has_inf:
        infinite, lost = fmt.inf_code | sign_bit, False
    else:
        infinite, lost = Const(fmt.nan_code, fmt.nbits), True
    nan = fmt.nan_code if fmt.has_nan else 0
    return zero, max_finite, infinite, lost, nan


def round_float_result(m, fmt, ctx, x: Exact, rand, name, ew, bits, flags, top=None):
    """Drive ``bits``/``flags`` with ``x`` rounded into float format ``fmt`` (at ``p`` bits below
    the exponent ``top`` when given: approximate normalization)."""
    if top is None:
        r = round_float(m, fmt, ctx, x, rand, name, ew)
    else:
        r = round_float_at(m, fmt, ctx, x, rand, name, ew, top)
    zero, max_finite, infinite, lost, nan = float_codes(fmt, ctx, x.sign)
    mode = ctx.mode
    to_inf = {"rne": 1, "rmm": 1, "sr": 1, "rtz": 0, "rup": ~x.sign, "rdn": x.sign}[mode]
    invalid = Mux(x.invalid, Flags.INVALID, 0)
    with m.If(x.nan):
        m.d.comb += [bits.eq(nan), flags.eq(Mux(x.invalid | (not fmt.has_nan), Flags.INVALID, 0))]
    with m.Elif(x.inf):
        m.d.comb += [bits.eq(infinite), flags.eq(Mux(x.invalid | lost, Flags.INVALID, 0))]
    with m.Elif(x.mag == 0):
        m.d.comb += [bits.eq(zero), flags.eq(invalid)]
    with m.Elif(r["flush"]):
        m.d.comb += [bits.eq(zero), flags.eq(Flags.UNDERFLOW | Flags.INEXACT | invalid)]
    with m.Elif(r["overflow"]):
        m.d.comb += [bits.eq(Mux(to_inf, infinite, max_finite)),
                     flags.eq(Flags.OVERFLOW | Flags.INEXACT | invalid)]
    with m.Else():
        m.d.comb += [bits.eq(Mux(r["magnitude"] == 0, zero, Cat(r["magnitude"], x.sign))),
                     flags.eq(Mux(r["inexact"], Flags.INEXACT, 0)
                              | Mux(r["inexact"] & r["tiny"], Flags.UNDERFLOW, 0) | invalid)]


def round_posit_result(m, fmt, ctx, x: Exact, rand, name, ew, bits, flags):
    """Drive ``bits``/``flags`` with ``x`` rounded into posit format ``fmt`` (golden round_posit).

    The bit string after the sign is the regime (a run of ``regime + 1`` ones and a 0, or
    ``-regime`` zeros and a 1), ``es`` exponent bits and the fraction; the top n-1 bits are kept and
    the rest round them, on the string. Magnitudes from maxpos up give maxpos, below minpos minpos.
    """
    n, es = fmt.nbits, fmt.es
    width = len(x.mag)
    k = leading_one(m, x.mag, f"{name}_lead")
    scale = Signal(signed(ew), name=f"{name}_scale")
    m.d.comb += scale.eq(k + x.lsb)
    regime = Signal(signed(ew), name=f"{name}_regime")
    m.d.comb += regime.eq(scale >> es)  # floor division: an arithmetic shift
    e_bits = scale[:es] if es else Const(0, 0)
    # the fraction, left-aligned in frac_len bits (at least n so that the string is never short)
    frac_len = max(width - 1, n)
    up_shift = Signal(range(width), name=f"{name}_up_shift")
    normalized = Signal(width, name=f"{name}_normalized")
    m.d.comb += [up_shift.eq(width - 1 - k), normalized.eq(x.mag << up_shift)]
    fraction = Cat(Const(0, frac_len - (width - 1)), normalized[:width - 1])
    # regime bits as a number: 2^(regime+2) - 2 (ones, then 0), or 1 (zeros, then 1); only
    # meaningful inside the representable range, where the length is 2..n-1
    prefix = Signal(n - 1, name=f"{name}_regime_bits")
    prefix_len = Signal(range(n + 1), name=f"{name}_regime_len")
    m.d.comb += prefix_len.eq(Mux(regime >= 0, regime + 2, 1 - regime))
    m.d.comb += prefix.eq(Mux(regime >= 0, (Const(1, 1) << prefix_len) - 2, 1))
    string = Cat(fraction, e_bits, prefix)
    shift = Signal(range(len(string) + 1), name=f"{name}_shift")
    m.d.comb += shift.eq(prefix_len + es + frac_len - (n - 1))
    rounded, inexact = round_shift(m, ctx, name, string, shift, Const(0), rand, n - 1)

    body = Signal(n - 1, name=f"{name}_body")
    body_inexact = Signal(name=f"{name}_inexact")
    power_of_two = (x.mag & (x.mag - 1)) == 0
    with m.If(regime >= fmt.max_regime):
        m.d.comb += [body.eq(fmt.max_code),
                     body_inexact.eq(~((scale == fmt.max_scale) & power_of_two))]
    with m.Elif(regime < -fmt.max_regime):
        m.d.comb += [body.eq(1), body_inexact.eq(1)]
    with m.Else():
        m.d.comb += [body.eq(rounded), body_inexact.eq(inexact)]
    code = Mux(x.sign, -Cat(body, Const(0, 1)), Cat(body, Const(0, 1)))[:n]
    invalid = Mux(x.invalid, Flags.INVALID, 0)
    with m.If(x.nan | x.inf):
        m.d.comb += [bits.eq(fmt.nar_code), flags.eq(Mux(x.invalid | x.inf, Flags.INVALID, 0))]
    with m.Elif(x.mag == 0):
        m.d.comb += [bits.eq(0), flags.eq(invalid)]
    with m.Else():
        m.d.comb += [bits.eq(code), flags.eq(Mux(body_inexact, Flags.INEXACT, 0) | invalid)]


def round_to(m, fmt, ctx, x: Exact, rand, name: str, ew: int, top=None):
    """Round ``x`` into ``fmt``; returns (bits, flags) signals. ``top``: see
    :func:`round_float_result` (approximate normalization, float formats only)."""
    bits = Signal(fmt.nbits, name=f"{name}_bits")
    flags = Signal(Flags.WIDTH, name=f"{name}_flags")
    if fmt.is_posit:
        assert top is None, "approximate normalization delivers floats only"
        round_posit_result(m, fmt, ctx, x, rand, name, ew, bits, flags)
    else:
        round_float_result(m, fmt, ctx, x, rand, name, ew, bits, flags, top)
    return bits, flags


# -- the units ------------------------------------------------------------------------------------
class ReferenceUnit(wiring.Component):
    """The reference implementation of a unit spec, combinational (a mac: one register stage).

    Parameters
    ----------
    spec : mpmac.units.Unit
        Any unit spec. Its latency is ignored: the reference has the ports of the spec at latency 0.
    product : {"internal", "port"}
        ``"internal"``: significands are multiplied by :class:`~mpmac.rtl.multiply.SignificandMultiplier`
        (the one block shared with the optimized units). ``"port"``: no multiplier; outputs
        ``mul_x``, ``mul_y`` carry the significands and input ``mul_p`` takes their product (mul,
        fma and mac only).
    expose_state : bool
        mac only: add output ``acc_state``, the accumulator state in the layout of
        :func:`mpmac.rtl.mac.mac_state_layout` (the same encoding as the optimized MacUnit's).

    Raises
    ------
    ValueError
        Unknown ``product``, ``product="port"`` for a kind without a multiplier, or ``expose_state``
        for a kind other than mac.
    """

    def __init__(self, spec, *, product: str = "internal", expose_state: bool = False):
        check_knobs(spec, product, expose_state)
        self.spec = spec
        self.product = product
        self.expose_state = expose_state
        members = unit_signature(spec)
        if product == "port":
            members.update(product_signature(significand_width(spec.fmt("a")),
                                             significand_width(spec.fmt("b"))))
        if expose_state:
            members["acc_state"] = Out(mac_state_layout(spec))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        kind = self.spec.kind
        if kind == "mac":
            self._mac(m)
            return m
        y, flags = getattr(self, f"_{kind}")(m)
        m.d.comb += [self.y.eq(y), self.flags.eq(flags)]
        return m

    # -- helpers -------------------------------------------------------------------------------
    @property
    def _rand(self):
        return self.rand if self.spec.ctx.sr else None

    def _ew(self, *registers: Register) -> int:
        spec = self.spec
        formats = [spec.fmt(r) for r in spec.outputs_rounded() + spec.operands]
        bounds = [b for reg in registers for b in (reg.lsb, reg.top, reg.width)]
        bounds += [b for f in formats for b in (lsb_exponent(f), top_exponent(f), f.nbits)]
        return exp_width(*bounds)

    def _decode(self, m, role, ew, bits=None, name=None):
        """Decode port ``role`` (or ``bits`` in that role's format)."""
        fmt = self.spec.fmt(role)
        held = Signal(fmt.nbits, name=f"{name or role}_bits")
        m.d.comb += held.eq(getattr(self, role) if bits is None else bits)
        return decode(m, fmt, held, name or role, ew)

    def _significand_product(self, m, a: Operand, b: Operand):
        """a.sig * b.sig: the shared integer multiplier, or the product ports."""
        if self.product == "port":
            m.d.comb += [self.mul_x.eq(a.sig), self.mul_y.eq(b.sig)]
            return self.mul_p
        m.submodules.multiplier = mul = SignificandMultiplier(len(a.sig), len(b.sig))
        m.d.comb += [mul.a.eq(a.sig), mul.b.eq(b.sig)]
        return mul.product

    def _round(self, m, x: Exact, ew, fmt=None, rand=None, name="out", top=None):
        spec = self.spec
        return round_to(m, fmt or spec.fmt("out"), spec.ctx, x,
                        self._rand if rand is None else rand, name, ew, top)

    def _registers(self):
        return {role: Register.of_format(self.spec.fmt(role)) for role in self.spec.operands}

    # -- approximate variants (docs/approximate.md) ---------------------------------------------
    @property
    def _lmul(self) -> bool:
        return getattr(self.spec, "mul_approx", "exact") == "lmul"

    @property
    def _normalization(self) -> Normalization:
        return getattr(self.spec, "normalization", Normalization())

    @property
    def _unnormalized_operands(self) -> bool:
        """window:L units take subnormal operands unnormalized (field top emin)."""
        return self._normalization.kind == "window"

    def _product_register(self, regs) -> Register:
        if self._lmul:
            return lmul_register(self.spec.fmt("a"))
        return regs["a"].times(regs["b"])

    def _product(self, m, reg: Register, ew):
        """The product term of a, b in ``reg`` (exact or L-Mul) and its field top."""
        a, b = self._decode(m, "a", ew), self._decode(m, "b", ew)
        if self._lmul:
            return lmul_product(m, self.spec.fmt("a"), self.a, self.b, a, b, reg, ew)
        fields = self._unnormalized_operands
        return (exact_product(m, a, b, self._significand_product(m, a, b), reg),
                product_top(a, b, fields))

    def _sum_window_top(self, m, total: Exact, terms, zone: int, ew):
        """For coarse:K / window:L the exponent at whose ``p`` bits below ``total`` (the sum of the
        ``(term, field top)`` pairs ``terms``) is rounded; None for exact normalization."""
        norm = self._normalization
        if norm.kind not in ("coarse", "window"):
            return None
        (x, x_top), (y, y_top) = terms
        return window_top(m, norm, zone, total, anchor(m, x, x_top, y, y_top, ew), ew)

    @property
    def _product_zone(self) -> int:
        """Top positions of a sum with a product that are always normalized exactly: the carry and
        the exact product's two integer positions, or the carry and an L-Mul product's top."""
        return 1 if self._lmul else 2

    # -- kinds ---------------------------------------------------------------------------------
    def _mul(self, m):
        reg = self._product_register(self._registers())
        ew = self._ew(reg)
        p, _ = self._product(m, reg, ew)
        return self._round(m, p, ew)

    def _add(self, m):
        regs = self._registers()
        reg = regs["a"].plus(regs["b"])
        ew = self._ew(reg)
        a_op, b_op = self._decode(m, "a", ew), self._decode(m, "b", ew)
        a = exact_operand(m, "a", a_op, reg)
        b = exact_operand(m, "b", b_op, reg)
        total = exact_sum(m, a, b, self.spec.ctx.mode == "rdn")
        fields = self._unnormalized_operands
        top = self._sum_window_top(m, total, [(a, operand_top(a_op, fields)),
                                              (b, operand_top(b_op, fields))], 1, ew)
        return self._round(m, total, ew, top=top)

    def _fma(self, m):
        regs = self._registers()
        product_reg = self._product_register(regs)
        reg = product_reg.plus(regs["c"])
        ew = self._ew(reg, product_reg)
        p, p_top = self._product(m, reg, ew)
        c_op = self._decode(m, "c", ew)
        c = exact_operand(m, "c", c_op, reg)
        total = exact_sum(m, p, c, self.spec.ctx.mode == "rdn")
        fields = self._unnormalized_operands
        top = self._sum_window_top(m, total, [(p, p_top), (c, operand_top(c_op, fields))],
                                   self._product_zone, ew)
        return self._round(m, total, ew, top=top)

    def _convert(self, m):
        reg = self._registers()["a"]
        ew = self._ew(reg)
        return self._round(m, exact_operand(m, "a", self._decode(m, "a", ew), reg), ew)

    def _mac(self, m):
        spec = self.spec
        acc = spec.accumulator
        regs = self._registers()
        product_reg = self._product_register(regs)
        lazy = self._normalization.kind == "lazy"
        acc_reg = None
        if acc.exact:
            reg = Register(acc.lsb_exp, acc.lsb_exp + acc.width - 1)
        elif lazy:
            acc_reg = lazy_register(acc.fmt, self._normalization.k)
            reg = product_reg.plus(acc_reg)
        else:
            acc_reg = Register.of_format(acc.fmt)
            reg = product_reg.plus(acc_reg)
        ew = self._ew(reg, product_reg)
        product, product_top_exp = self._product(m, reg, ew)
        init = {"top": acc.fmt.emin, "zero": 1} if lazy else {}
        state = Signal(mac_state_layout(spec), name="state", init=init)
        if spec.ctx.sr:  # the readout rounds with the rand of the last update
            with m.If(self.in_valid):
                m.d.sync += state.last_rand.eq(self.rand)
        if acc.exact:
            self._mac_exact(m, product, state, ew)
        elif lazy:
            self._mac_lazy(m, product, product_top_exp, state, reg, acc_reg, ew)
        else:
            self._mac_rounded(m, product, product_top_exp, state, reg, acc_reg, ew)
        if self.expose_state:
            m.d.comb += self.acc_state.eq(state)

    def _mac_rounded(self, m, product: Exact, product_top_exp, state, reg, acc_reg, ew):
        spec = self.spec
        acc_fmt, out = spec.fmt("acc"), spec.fmt("out")
        current = self._decode(m, "acc", ew, bits=Mux(self.clear, 0, state.acc))
        base = exact_operand(m, "acc", current, reg)
        total = exact_sum(m, product, base, spec.ctx.mode == "rdn")
        fields = self._unnormalized_operands
        top = self._sum_window_top(m, total, [(product, product_top_exp),
                                              (base, operand_top(current, fields))],
                                   self._product_zone, ew)
        new_acc, step_flags = self._round(m, total, ew, fmt=acc_fmt, name="step", top=top)
        with m.If(self.in_valid):
            m.d.sync += [state.acc.eq(new_acc),
                         state.flags.eq(Mux(self.clear, 0, state.flags) | step_flags)]
        if out == acc_fmt:
            m.d.comb += [self.y.eq(state.acc), self.flags.eq(state.flags)]
            return
        held = exact_operand(m, "held", self._decode(m, "acc", ew, bits=state.acc, name="held"),
                             acc_reg)
        y, read_flags = self._round(m, held, ew, rand=state.last_rand if spec.ctx.sr else None,
                                    name="readout")
        m.d.comb += [self.y.eq(y), self.flags.eq(state.flags | read_flags)]

    def _mac_lazy(self, m, product: Exact, product_top_exp, state, reg, acc_reg, ew):
        """The lazy accumulator (golden/mac.py _LazyState): ``sig * 2^(top - W + 1)``.

        The state holds the top clamped at the acc format's emin (the grid 2^(top - W + 1) is then
        never finer than the floor 2^(qmin - G), as the golden rule ``max(top - W + 1, qmin - G)``
        says); a zero, Inf or NaN state holds ``sig = 0`` and ``top = emin`` (the state encoding of
        rtl/lazy.py, asserted by the mac_step proof). An update adds the product exactly, takes the
        larger top (the product's field top), one more when the sum carries above it, rounds onto
        the grid, and one more when the rounding carries to 2^W.
        """
        spec = self.spec
        fmt = spec.fmt("acc")
        width = fmt.precision + self._normalization.k
        emin = fmt.emin
        clear = self.clear
        # the accumulator before this update (+0 after clear), exactly, in ``reg``
        finite_state = ~state.zero & ~state.inf & ~state.nan & ~clear
        held = Signal(width, name="lazy_held_sig")
        m.d.comb += held.eq(Mux(finite_state, state.sig, 0))
        held_top = Signal(signed(ew), name="lazy_held_top")
        m.d.comb += held_top.eq(Mux(finite_state, state.top, emin))
        held_exp = Signal(signed(ew), name="lazy_held_exp")
        m.d.comb += held_exp.eq(held_top - (width - 1))
        base = Exact(state.nan & ~clear, state.inf & ~clear, Const(0), state.sign & ~clear,
                     place(m, "lazy_base", held, held_exp, acc_reg.lsb, reg), reg.lsb)
        total = exact_sum(m, product, base, spec.ctx.mode == "rdn")

        # the new top, the grid below it and the rounding onto it
        top = Signal(signed(ew), name="lazy_top")
        m.d.comb += top.eq(Mux(product_top_exp > held_top, product_top_exp, held_top))
        sum_top = leading_one(m, total.mag, "lazy_sum_lead") + reg.lsb
        carried = Signal(signed(ew), name="lazy_carried_top")
        m.d.comb += carried.eq(Mux(sum_top > top, top + 1, top))
        shift = Signal(range(reg.width + 1), name="lazy_shift")
        m.d.comb += shift.eq(carried - (width - 1) - reg.lsb)
        rounded, inexact = round_shift(m, spec.ctx, "lazy", total.mag, shift, total.sign,
                                       self._rand, width + 1)
        round_carry = rounded[width]  # exactly 2^W
        new_sig = Mux(round_carry, rounded[1:], rounded[:width])
        new_top = carried + round_carry

        product_finite = (product.mag != 0) & ~product.nan & ~product.inf
        nxt = Signal(mac_state_layout(spec), name="lazy_next")
        flags = Signal(Flags.WIDTH, name="lazy_step_flags")
        m.d.comb += [nxt.top.eq(emin), nxt.sig.eq(0)]
        with m.If(total.nan):
            m.d.comb += [nxt.nan.eq(1), flags.eq(Mux(total.invalid, Flags.INVALID, 0))]
        with m.Elif(total.inf):
            m.d.comb += [nxt.inf.eq(1), nxt.sign.eq(total.sign),
                         flags.eq(Mux(total.invalid, Flags.INVALID, 0))]
        with m.Elif(~product_finite & finite_state):  # a zero product changes nothing
            m.d.comb += [nxt.sig.eq(state.sig), nxt.top.eq(state.top), nxt.sign.eq(state.sign)]
        with m.Elif(total.mag == 0):  # both zero, or an exact cancellation
            m.d.comb += [nxt.zero.eq(1), nxt.sign.eq(total.sign)]
        with m.Elif(rounded == 0):
            m.d.comb += [nxt.zero.eq(1), nxt.sign.eq(total.sign),
                         flags.eq(Flags.UNDERFLOW | Flags.INEXACT)]
        with m.Elif(new_top > fmt.emax):
            m.d.comb += [nxt.inf.eq(1), nxt.sign.eq(total.sign),
                         flags.eq(Flags.OVERFLOW | Flags.INEXACT)]
        with m.Else():
            m.d.comb += [nxt.sig.eq(new_sig), nxt.top.eq(new_top), nxt.sign.eq(total.sign),
                         flags.eq(Mux(inexact, Flags.INEXACT, 0))]
        with m.If(self.in_valid):
            m.d.sync += [state.sig.eq(nxt.sig), state.top.eq(nxt.top), state.sign.eq(nxt.sign),
                         state.zero.eq(nxt.zero), state.inf.eq(nxt.inf), state.nan.eq(nxt.nan),
                         state.flags.eq(Mux(clear, 0, state.flags) | flags)]

        # readout: the accumulator rounded into out with full normalization
        finite_now = ~state.zero & ~state.inf & ~state.nan
        now_exp = Signal(signed(ew), name="lazy_now_exp")
        m.d.comb += now_exp.eq(state.top - (width - 1))
        now_sig = Signal(width, name="lazy_now_sig")
        m.d.comb += now_sig.eq(Mux(finite_now, state.sig, 0))
        held_now = Exact(state.nan, state.inf, Const(0), state.sign,
                         place(m, "lazy_now", now_sig, now_exp, acc_reg.lsb, acc_reg), acc_reg.lsb)
        y, read_flags = self._round(m, held_now, ew, rand=state.last_rand if spec.ctx.sr else None,
                                    name="readout")
        m.d.comb += [self.y.eq(y), self.flags.eq(state.flags | read_flags)]

    def _mac_exact(self, m, product: Exact, state, ew):
        spec = self.spec
        acc = spec.accumulator
        width = acc.width
        clear = self.clear
        signed_product = Mux(product.sign, -product.mag, product.mag)
        total = Signal(signed(width + 2), name="acc_total")
        m.d.comb += total.eq(Mux(clear, 0, state.value) + signed_product)
        fits = (total >= -(1 << (width - 1))) & (total < (1 << (width - 1)))

        def sticky(field, new):
            return getattr(state, field).eq(Mux(clear, 0, getattr(state, field)) | new)

        finite = ~product.nan & ~product.inf
        with m.If(self.in_valid):
            m.d.sync += [
                state.value.eq(total[:width]),  # wraps: two's complement modulo 2^width
                sticky("nan", product.nan),
                sticky("pos_inf", product.inf & ~product.sign),
                sticky("neg_inf", product.inf & product.sign),
                sticky("overflow", finite & ~fits),
                sticky("invalid", product.invalid),
            ]
        # readout (golden/mac.py _ExactState.readout_term): NaN, then Inf, then overflow, then value
        value = state.value.as_signed()
        clash = state.pos_inf & state.neg_inf
        nan = state.nan | clash
        inf = ~nan & (state.pos_inf | state.neg_inf)
        wrapped = ~nan & ~inf & state.overflow
        magnitude = Signal(width, name="acc_magnitude")
        m.d.comb += magnitude.eq(Mux(value < 0, -value, value))
        held = Exact(nan | wrapped, inf, Const(0), Mux(inf, state.neg_inf, value < 0),
                     magnitude, acc.lsb_exp)
        y, read_flags = self._round(m, held, ew, rand=state.last_rand if spec.ctx.sr else None,
                                    name="readout")
        extra = Mux(state.invalid | clash, Flags.INVALID, 0) | \
            Mux(wrapped, Flags.OVERFLOW | Flags.INEXACT, 0)
        m.d.comb += [self.y.eq(y), self.flags.eq(read_flags | extra)]


def state_invariant(spec, signal: str) -> str | None:
    """A Verilog condition that the mac state ``signal`` (``acc_state``) is well-formed, or None
    when every encoding is a state the reference handles (rounded and exact accumulators).

    Lazy accumulator: at most one class bit; a finite state has a nonzero significand and a top
    in [emin, emax]; a zero, Inf or NaN state has ``sig = 0`` and ``top = emin``; NaN is
    positive. These are the states the reference and rtl/lazy.py produce; on the others (which
    no input sequence reaches) the two need not agree.
    """
    if spec.kind != "mac" or getattr(spec, "normalization", Normalization()).kind != "lazy":
        return None
    layout = mac_state_layout(spec)
    emin, emax = spec.fmt("acc").emin, spec.fmt("acc").emax

    def field(name, signed_value=False):
        f = layout[name]
        width = Shape.cast(f.shape).width
        bits = f"{signal}[{f.offset + width - 1}:{f.offset}]" if width > 1 else \
            f"{signal}[{f.offset}]"
        return f"$signed({bits})" if signed_value else bits

    sig, top = field("sig"), field("top", True)
    zero, inf, nan, sign = field("zero"), field("inf"), field("nan"), field("sign")
    return (f"({{1'b0, {zero}}} + {{1'b0, {inf}}} + {{1'b0, {nan}}} <= 2'd1) && "
            f"((!{zero} && !{inf} && !{nan}) ? ({sig} != 0 && {top} >= {emin} && {top} <= {emax})"
            f" : ({sig} == 0 && {top} == {emin})) && (!{nan} || !{sign})")


def reference_verilog(spec, *, name: str | None = None, product: str = "internal",
                      expose_state: bool = False) -> str:
    """Verilog of :class:`ReferenceUnit` as module ``name`` (default ``f"{spec.name}_ref"``)."""
    unit = ReferenceUnit(spec, product=product, expose_state=expose_state)
    return to_verilog(unit, name or f"{spec.name}_ref")
