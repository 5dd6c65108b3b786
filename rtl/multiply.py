"""Multiply stage: the significand multiplier, the exact product term and the L-Mul product term.

The integer multiplier is a component of its own so that a SIMD engine can partition one wide array
into lanes, and so that proofs can share or cut it between two designs (DESIGN.md). A unit with
``mul_approx="lmul"`` has no multiplier at all: :class:`LMulProduct` adds the operands' fields
(docs/approximate.md).
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..golden.core import lmul_offset
from .layouts import TermLayout, product_signature
from .unpack import unpack_term_width

__all__ = ["SignificandMultiplier", "Product", "LMulProduct", "forward_product_ports",
           "product_stage", "product_width", "multiplier_operand_format", "is_lmul"]


def is_lmul(spec) -> bool:
    """Whether a unit spec forms its product by L-Mul (``mul_approx="lmul"``)."""
    return getattr(spec, "mul_approx", "exact") == "lmul"


def multiplier_operand_format(spec, role: str):
    """The format a multiplier operand is unpacked in.

    L-Mul adds mantissa fields below an implicit one, so it reads subnormal operands as zero (the
    golden model's rule): unpacking them in the format without subnormals does exactly that, and
    spares the unpacker's subnormal normalizer.
    """
    fmt = spec.fmt(role)
    return fmt.without_subnormals() if is_lmul(spec) else fmt


def product_width(spec) -> int:
    """Significand width of a multiplying unit's product term: the two operand significands side
    by side (exact), or the L-Mul product's m + 1 bits."""
    if is_lmul(spec):
        return spec.fmt("a").man_bits + 1
    return unpack_term_width(spec.fmt("a")) + unpack_term_width(spec.fmt("b"))


def product_stage(spec, a_layout: TermLayout, b_layout: TermLayout, exp_width: int,
                  product: str = "internal"):
    """The product stage of a mul, fma or mac spec: :class:`LMulProduct` or :class:`Product`.

    ``product="port"`` is refused for L-Mul by :func:`~.layouts.check_knobs` (nothing to cut).
    """
    if is_lmul(spec):
        return LMulProduct(spec.fmt("a").man_bits, a_layout, b_layout, exp_width)
    return Product(a_layout, b_layout, exp_width, product)


def _product_class(a, b, p):
    """Sign, class and invalid of a product (golden/core.product): NaN wins, 0 * Inf is invalid.
    Returns (statements driving them, whether the product is finite and nonzero)."""
    inf = a.inf | b.inf
    zero = a.zero | b.zero
    inf_times_zero = inf & zero
    nan = a.nan | b.nan | inf_times_zero
    return [
        p.sign.eq((a.sign ^ b.sign) & ~nan),
        p.nan.eq(nan),
        p.inf.eq(inf & ~nan),
        p.zero.eq(zero & ~nan & ~inf),
        p.invalid.eq(a.invalid | b.invalid | inf_times_zero),
    ], ~(zero | inf | nan)


class SignificandMultiplier(wiring.Component):
    """Unsigned ``a_width`` x ``b_width`` integer multiplier: ``product = a * b``."""

    def __init__(self, a_width: int, b_width: int):
        self.a_width, self.b_width = a_width, b_width
        super().__init__({"a": In(a_width), "b": In(b_width), "product": Out(a_width + b_width)})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.product.eq(self.a * self.b)
        return m


class Product(wiring.Component):
    """Exact product of two terms (same semantics as golden/core.product).

    The product of two normalized significands lies in [1, 4) of the top-bit unit, so the result's
    ``exp`` is ``a.exp + b.exp + 1`` for its top bit (which may be 0).

    Parameters
    ----------
    a_layout, b_layout : TermLayout
    exp_width : int
    product : {"internal", "port"}
        ``"port"``: no :class:`SignificandMultiplier`; the significands leave on ``mul_x``/``mul_y``
        and their product comes back on ``mul_p`` (:func:`~.layouts.product_signature`).
    """

    def __init__(self, a_layout: TermLayout, b_layout: TermLayout, exp_width: int,
                 product: str = "internal"):
        self.out_layout = TermLayout(a_layout.sig_width + b_layout.sig_width, exp_width)
        self.product = product
        members = {"a": In(a_layout), "b": In(b_layout), "p": Out(self.out_layout)}
        if product == "port":
            members.update(product_signature(a_layout.sig_width, b_layout.sig_width))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        a, b, p = self.a, self.b, self.p
        if self.product == "port":
            mul_a, mul_b, product = self.mul_x, self.mul_y, self.mul_p
        else:
            m.submodules.multiplier = mul = SignificandMultiplier(len(a.sig), len(b.sig))
            mul_a, mul_b, product = mul.a, mul.b, mul.product
        product_class, _ = _product_class(a, b, p)
        m.d.comb += [
            mul_a.eq(a.sig), mul_b.eq(b.sig),
            p.sig.eq(product),
            p.exp.eq(a.exp + b.exp + 1),
            *product_class,
        ]
        return m


class LMulProduct(wiring.Component):
    """L-Mul product of two floats of one format (golden/core.lmul_product): no multiplier.

    The mantissa fields add as integers with L-Mul's offset, ``M = mx + my + offset`` (m + 2 bits);
    its top bits ``c = M >> m`` (0, 1 or 2) carry into the exponent and the rest is the fraction
    below a new hidden one: the product is ``2^(ex + ey + c) * (1 + (M mod 2^m) / 2^m)``, so its
    significand leaves normalized (``exp`` is its top bit's exponent, the golden field top).
    Zero, Inf, NaN and invalid follow the exact :class:`Product`; non-finite products carry a zero
    significand (the align-add stage reads the significand of a zero term).

    Parameters
    ----------
    man_bits : int
        m, the mantissa bits of the (common) operand format.
    a_layout, b_layout : TermLayout
        Unpacked operands; subnormal operands must arrive as zeros
        (:func:`multiplier_operand_format`).
    exp_width : int
    """

    def __init__(self, man_bits: int, a_layout: TermLayout, b_layout: TermLayout, exp_width: int):
        for name, layout in (("a", a_layout), ("b", b_layout)):
            if layout.sig_width != man_bits + 1:
                raise ValueError(f"LMulProduct: operand {name} has a {layout.sig_width}-bit "
                                 f"significand, expected man_bits + 1 = {man_bits + 1}")
        self.man_bits = man_bits
        self.out_layout = TermLayout(man_bits + 1, exp_width)
        super().__init__({"a": In(a_layout), "b": In(b_layout), "p": Out(self.out_layout)})

    def elaborate(self, platform):
        m = Module()
        a, b, p = self.a, self.b, self.p
        mb = self.man_bits
        product_class, finite = _product_class(a, b, p)
        m.d.comb += product_class
        fields = Signal(mb + 2)  # < 3 * 2^m: the offset is at most 2^(m-4) for m > 4
        m.d.comb += fields.eq(a.sig[:mb] + b.sig[:mb] + lmul_offset(mb))
        carry = fields[mb:]
        m.d.comb += [
            p.sig.eq(Mux(finite, Cat(fields[:mb], Const(1, 1)), 0)),
            p.exp.eq(a.exp + b.exp + carry),
        ]
        return m


def forward_product_ports(m, unit, product: Product):
    """Bring a port-mode Product's ``mul_x``/``mul_y``/``mul_p`` out to the unit's own ports."""
    m.d.comb += [unit.mul_x.eq(product.mul_x), unit.mul_y.eq(product.mul_y),
                 product.mul_p.eq(unit.mul_p)]
