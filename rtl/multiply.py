"""Multiply stage: the significand multiplier and the exact product term.

The integer multiplier is a component of its own so that a SIMD engine can partition one wide array
into lanes, and so that proofs can share or cut it between two designs (DESIGN.md).
"""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .layouts import TermLayout

__all__ = ["SignificandMultiplier", "Product"]


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
    """

    def __init__(self, a_layout: TermLayout, b_layout: TermLayout, exp_width: int):
        self.out_layout = TermLayout(a_layout.sig_width + b_layout.sig_width, exp_width)
        super().__init__({"a": In(a_layout), "b": In(b_layout), "p": Out(self.out_layout)})

    def elaborate(self, platform):
        m = Module()
        a, b, p = self.a, self.b, self.p
        m.submodules.multiplier = mul = SignificandMultiplier(len(a.sig), len(b.sig))
        inf = a.inf | b.inf
        zero = a.zero | b.zero
        inf_times_zero = inf & zero
        nan = a.nan | b.nan | inf_times_zero
        m.d.comb += [
            mul.a.eq(a.sig), mul.b.eq(b.sig),
            p.sig.eq(mul.product),
            p.exp.eq(a.exp + b.exp + 1),
            p.sign.eq((a.sign ^ b.sign) & ~nan),
            p.nan.eq(nan),
            p.inf.eq(inf & ~nan),
            p.zero.eq(zero & ~nan & ~inf),
            p.invalid.eq(a.invalid | b.invalid | inf_times_zero),
        ]
        return m
