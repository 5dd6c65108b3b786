"""Multiply stage: the significand multiplier and the exact product term.

The integer multiplier is a component of its own so that a SIMD engine can partition one wide array
into lanes, and so that proofs can share or cut it between two designs (DESIGN.md).
"""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .layouts import TermLayout, product_signature

__all__ = ["SignificandMultiplier", "Product", "forward_product_ports"]


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
        inf = a.inf | b.inf
        zero = a.zero | b.zero
        inf_times_zero = inf & zero
        nan = a.nan | b.nan | inf_times_zero
        m.d.comb += [
            mul_a.eq(a.sig), mul_b.eq(b.sig),
            p.sig.eq(product),
            p.exp.eq(a.exp + b.exp + 1),
            p.sign.eq((a.sign ^ b.sign) & ~nan),
            p.nan.eq(nan),
            p.inf.eq(inf & ~nan),
            p.zero.eq(zero & ~nan & ~inf),
            p.invalid.eq(a.invalid | b.invalid | inf_times_zero),
        ]
        return m


def forward_product_ports(m, unit, product: Product):
    """Bring a port-mode Product's ``mul_x``/``mul_y``/``mul_p`` out to the unit's own ports."""
    m.d.comb += [unit.mul_x.eq(product.mul_x), unit.mul_y.eq(product.mul_y),
                 product.mul_p.eq(unit.mul_p)]
