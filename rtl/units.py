"""Unit components: the datapath stages wired per unit kind, with pipeline registers at cut points.

Datapath (DESIGN.md): unpack -> multiply -> align/add -> normalize -> round/pack. Each kind uses the
stages it needs. A unit with latency N registers the stage outputs at the first N of its cut points in
:data:`CUT_PRIORITY` order (kept in datapath order); ``rand`` travels with the operands.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring

from ..golden import core
from ..golden.rounding import guard_bits_needed
from ..golden.variants import Normalization
from .add import AlignAdd, approximate_window
from .layouts import (check_knobs, exponent_magnitude, exponent_width, product_signature,
                      unit_signature)
from .multiply import (forward_product_ports, is_lmul, multiplier_operand_format, product_stage,
                       product_width)
from .normalize import ApproximateNormalize, Normalize, normalized_term
from .round import rounder
from .unpack import normalizes_subnormals, unpack_term_width, unpacker

__all__ = ["ArithmeticUnit", "cut_points", "CUT_PRIORITY"]

#: which stage boundaries get a register first as latency grows
CUT_PRIORITY = ("sum", "product", "normalized", "unpacked")

#: stage boundaries each kind has, in datapath order
STAGES = {
    "mul": ("unpacked", "product", "normalized"),
    "add": ("unpacked", "sum", "normalized"),
    "fma": ("unpacked", "product", "sum", "normalized"),
    "convert": ("unpacked", "normalized"),
}


def cut_points(kind: str, latency: int) -> tuple[str, ...]:
    """The stage boundaries that carry a register for ``latency`` (raises ValueError if too deep)."""
    stages = STAGES[kind]
    if latency > len(stages):
        raise ValueError(f"latency={latency} is invalid for {kind}: it has {len(stages)} stage "
                         f"boundaries ({', '.join(stages)}), so 0..{len(stages)}")
    chosen = [c for c in CUT_PRIORITY if c in stages][:latency]
    return tuple(c for c in stages if c in chosen)


class ArithmeticUnit(wiring.Component):
    """mul, add, fma or convert for floating-point formats, from a unit spec (mpmac.units).

    Parameters
    ----------
    spec : mpmac.units.Unit
        Formats, rounding context and latency; its ``ports`` are this component's signature.
    product : {"internal", "port"}
        ``"port"`` (mul, fma): the Product stage's :class:`~.multiply.SignificandMultiplier` is
        replaced by ports ``mul_x``, ``mul_y`` (out: the unpacked significands, after the
        ``unpacked`` register if the latency puts one there) and ``mul_p`` (in: their product).
    expose_state : bool
        Accepted for a uniform interface; must be False (only a mac has state to expose).
    """

    def __init__(self, spec, *, product: str = "internal", expose_state: bool = False):
        check_knobs(spec, product, expose_state)
        self.spec = spec
        self.product = product
        self.cuts = spec.stage_boundaries()
        members = unit_signature(spec)
        if product == "port":
            members.update(product_signature(*(unpack_term_width(spec.fmt(r)) for r in "ab")))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        spec = self.spec
        ctx = spec.ctx
        out = spec.fmt("out")
        fmts = {role: spec.fmt(role) for role in spec.operands}
        widths = [unpack_term_width(f) for f in fmts.values()] + [guard_bits_needed(out, ctx)]
        if spec.kind in ("mul", "fma"):
            widths.append(product_width(spec))
        window = max(widths) + 2
        magnitudes = [exponent_magnitude(f) for f in list(fmts.values()) + [out]]
        ew = exponent_width(*magnitudes, *magnitudes, 4 * window)

        rand = self.rand if ctx.sr else None
        terms = {}
        for role, f in fmts.items():
            if spec.kind in ("mul", "fma") and role in "ab":
                f = multiplier_operand_format(spec, role)
            m.submodules[f"unpack_{role}"] = u = unpacker(f, ew, normalizes_subnormals(spec))
            m.d.comb += u.bits.eq(getattr(self, role))
            terms[role] = u.term
        terms, rand = self._cut(m, "unpacked", terms, rand)

        if spec.kind in ("mul", "fma"):
            m.submodules.product = prod = product_stage(spec, terms["a"].shape(),
                                                        terms["b"].shape(), ew, self.product)
            m.d.comb += [prod.a.eq(terms["a"]), prod.b.eq(terms["b"])]
            if self.product == "port":
                forward_product_ports(m, self, prod)
            terms = {"p": prod.p, **({"c": terms["c"]} if "c" in terms else {})}
            terms, rand = self._cut(m, "product", terms, rand)

        if spec.kind in ("add", "fma"):
            x, y = (terms["a"], terms["b"]) if spec.kind == "add" else (terms["p"], terms["c"])
            add_window = approximate_window(window, (len(x.sig), len(y.sig)), self.normalization,
                                            self.zone, out.precision, ctx.rand_bits)
            m.submodules.add = adder = AlignAdd(x.shape(), y.shape(), add_window, ew,
                                                round_down=ctx.mode == "rdn")
            m.d.comb += [adder.a.eq(x), adder.b.eq(y)]
            terms = {"s": adder.s}
            terms, rand = self._cut(m, "sum", terms, rand)

        (value,) = terms.values()
        renormalize, lost = None, None
        if spec.kind == "mul" and is_lmul(spec):  # an L-Mul product leaves normalized
            normalized = value
        else:
            if self.normalization.exact:
                m.submodules.normalize = norm = Normalize(len(value.sig))
            else:
                m.submodules.normalize = norm = ApproximateNormalize(
                    len(value.sig), self.normalization, self.zone, out.precision, ctx.rand_bits)
                renormalize, lost = norm.residual_zeros, norm.lost
            normalized = normalized_term(m, norm, value, ew, "normalized")
        terms = {"n": normalized, **({"lost": lost} if lost is not None else {})}
        terms, rand = self._cut(m, "normalized", terms, rand)

        m.submodules.round = rnd = rounder(out, ctx, terms["n"].shape(), renormalize)
        m.d.comb += [rnd.term.eq(terms["n"]), self.y.eq(rnd.bits), self.flags.eq(rnd.flags)]
        if lost is not None:
            m.d.comb += rnd.lost.eq(terms["lost"])
        if ctx.sr:
            m.d.comb += rnd.rand.eq(rand)
        return m

    @property
    def normalization(self) -> Normalization:
        """The sum's normalization variant (exact for the kinds without a sum)."""
        return self.spec.normalization if self.spec.kind in ("add", "fma") else Normalization()

    @property
    def zone(self) -> int:
        """Top positions of the sum window that every variant normalizes exactly: the carry, plus
        the product's integer positions (golden/core.product_zone) or an add operand's leading
        one."""
        return core.product_zone(self.spec.mul_code) if self.spec.kind == "fma" else 1

    def _cut(self, m, name, terms: dict, rand):
        """Register ``terms`` (and rand) at cut point ``name`` if this latency puts one there."""
        if name not in self.cuts:
            return terms, rand
        registered = {}
        for key, value in terms.items():
            reg = Signal(value.shape(), name=f"{name}_{key}")
            m.d.sync += reg.eq(value)
            registered[key] = reg
        if rand is not None:
            rand_reg = Signal.like(rand, name=f"{name}_rand")
            m.d.sync += rand_reg.eq(rand)
            rand = rand_reg
        return registered, rand

