"""Multiply-accumulate units (golden/mac.py is the twin; DESIGN.md has the contract).

On a rising edge with ``in_valid``: ``acc <- round_acc((clear ? 0 : acc) + a*b)``; ``rst`` clears acc
to +0. ``y`` is the accumulator rounded to ``out``; ``flags`` is the OR of the update flags since the
last clear, OR the readout's flags. With latency N the product path (a*b, in_valid, clear, rand) is
registered at N cut points before the accumulator, so the stream reaches it N cycles later.

Rounded accumulation reuses the fma stages with the accumulator as addend. Exact (Kulisch)
accumulation adds each product, shifted to the accumulator's LSB, into a two's-complement register;
NaN, +Inf, -Inf, invalid and overflow are sticky state bits read out with the value. Lazy
accumulation (``normalize="lazy:G"``) keeps an unnormalized register (rtl/lazy.py) and normalizes
only in the readout.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import Out

from ..golden import core
from ..golden.rounding import Flags, guard_bits_needed
from ..golden.variants import Normalization
from .add import AlignAdd, approximate_window
from .layouts import (TermLayout, check_knobs, exponent_magnitude, exponent_width, product_signature,
                      unit_signature)
from .lazy import LazyAccumulator, lazy_state_layout
from .multiply import forward_product_ports, multiplier_operand_format, product_stage
from .normalize import ApproximateNormalize, Normalize, normalized_term
from .round import rounder
from .unpack import normalizes_subnormals, unpack_term_width, unpacker

__all__ = ["MacUnit", "MAC_STAGES", "mac_cut_points", "mac_state_layout"]

#: cut points on the product path, in datapath order
MAC_STAGES = ("unpacked", "product")


def mac_cut_points(latency: int) -> tuple[str, ...]:
    """Cut points registered for ``latency`` (the ones nearest the accumulator first)."""
    if not 0 <= latency <= len(MAC_STAGES):
        raise ValueError(f"latency={latency} is invalid for mac: its product path has "
                         f"{len(MAC_STAGES)} stage boundaries ({', '.join(MAC_STAGES)}), so "
                         f"0..{len(MAC_STAGES)}")
    return MAC_STAGES[len(MAC_STAGES) - latency:] if latency else ()


def mac_state_layout(spec) -> data.StructLayout:
    """The accumulator state of a mac, fields from the LSB up (``acc_state`` with expose_state).

    Rounded accumulation: ``acc`` (the accumulator's bit pattern in its format), ``flags`` (the
    OR of the update flags since the last clear). Exact: ``value`` (the signed fixed-point
    register, LSB ``2^acc.lsb_exp``), then the sticky ``nan``, ``pos_inf``, ``neg_inf``,
    ``overflow`` and ``invalid`` bits. Lazy (``normalize="lazy:G"``): the fields of
    :func:`~.lazy.lazy_state_layout`. With sr all end with ``last_rand`` (the ``rand`` of the
    last update, which the readout rounds with).
    """
    acc = spec.accumulator
    if _is_lazy(spec):
        fields = dict(lazy_state_layout(acc.fmt, spec.normalization.k).members)
    elif acc.exact:
        fields = {"value": signed(acc.width), "nan": 1, "pos_inf": 1, "neg_inf": 1, "overflow": 1,
                  "invalid": 1}
    else:
        fields = {"acc": acc.fmt.nbits, "flags": Flags.WIDTH}
    if spec.ctx.sr:
        fields["last_rand"] = spec.rand_bits
    return data.StructLayout(fields)


def _is_lazy(spec) -> bool:
    return spec.normalization.kind == "lazy"


class MacUnit(wiring.Component):
    """A mac from a ``mpmac.units.Mac`` spec (floating-point operands and output).

    Parameters
    ----------
    spec : mpmac.units.Mac
    product : {"internal", "port"}
        ``"port"``: the Product stage's multiplier is replaced by ports ``mul_x``, ``mul_y`` (out)
        and ``mul_p`` (in), as in :class:`~.units.ArithmeticUnit`.
    expose_state : bool
        Add output ``acc_state``: the accumulator registers in :func:`mac_state_layout` order.
    """

    def __init__(self, spec, *, product: str = "internal", expose_state: bool = False):
        check_knobs(spec, product, expose_state)
        self.spec = spec
        self.product = product
        self.expose_state = expose_state
        self.cuts = mac_cut_points(spec.latency)
        members = unit_signature(spec)
        if product == "port":
            members.update(product_signature(*(unpack_term_width(spec.fmt(r)) for r in "ab")))
        if expose_state:
            members["acc_state"] = Out(mac_state_layout(spec))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        ew = self._exponent_width()
        product, ctrl = self._product_path(m, ew)
        self._accumulate(m, product, ctrl, ew)
        return m

    def _exponent_width(self) -> int:
        spec = self.spec
        acc = spec.accumulator
        fa, fb, out = spec.fmt("a"), spec.fmt("b"), spec.fmt("out")
        formats = [fa, fb, out] + ([] if acc.exact else [acc.fmt])
        magnitudes = [exponent_magnitude(f) for f in formats]
        return exponent_width(*magnitudes, *magnitudes, 4 * (acc.width or 0),
                              4 * (fa.precision + fb.precision + 64))

    def _product_path(self, m, ew):
        """Unpack a and b and multiply them: the product term and the control signals (in_valid,
        clear, rand) as they reach the accumulator, after the cut points' registers."""
        spec = self.spec
        ctrl = {"in_valid": self.in_valid, "clear": self.clear}
        if spec.ctx.sr:
            ctrl["rand"] = self.rand
        terms = {}
        for role in "ab":
            f = multiplier_operand_format(spec, role)
            m.submodules[f"unpack_{role}"] = u = unpacker(f, ew, normalizes_subnormals(spec))
            m.d.comb += u.bits.eq(getattr(self, role))
            terms[role] = u.term
        terms, ctrl = self._cut(m, "unpacked", terms, ctrl)
        m.submodules.product = prod = product_stage(spec, terms["a"].shape(), terms["b"].shape(),
                                                    ew, self.product)
        m.d.comb += [prod.a.eq(terms["a"]), prod.b.eq(terms["b"])]
        if self.product == "port":
            forward_product_ports(m, self, prod)
        terms, ctrl = self._cut(m, "product", {"p": prod.p}, ctrl)
        return terms["p"], ctrl

    def _accumulate(self, m, product, ctrl, ew):
        """The accumulator (rounded, lazy or exact) fed by ``product`` terms, and the readout."""
        spec = self.spec
        last_rand = None
        if spec.ctx.sr:
            last_rand = Signal(spec.rand_bits)
            with m.If(ctrl["in_valid"]):
                m.d.sync += last_rand.eq(ctrl["rand"])
        if spec.accumulator.exact:
            self._exact(m, product, ctrl, ew, last_rand)
        elif _is_lazy(spec):
            self._lazy(m, product, ctrl, ew, last_rand)
        else:
            self._rounded(m, product, ctrl, ew, last_rand)

    @property
    def zone(self) -> int:
        """Exactly normalized top positions of the update's sum window (golden/core.product_zone)."""
        return core.product_zone(self.spec.mul_code)

    def _cut(self, m, name, terms: dict, ctrl: dict):
        """Register the product path at cut point ``name`` when the latency puts one there."""
        if name not in self.cuts:
            return terms, ctrl
        registered = {}
        for key, value in {**terms, **ctrl}.items():
            registered[key] = reg = Signal(value.shape(), name=f"{name}_{key}")
            m.d.sync += reg.eq(value)
        return {k: registered[k] for k in terms}, {k: registered[k] for k in ctrl}

    def _expose(self, m, *registers):
        """Drive ``acc_state`` (with expose_state) from the state registers, in layout order."""
        if self.expose_state:
            m.d.comb += self.acc_state.eq(Cat(r for r in registers if r is not None))

    def _round(self, m, name, fmt, term, ew, rand, normalization=Normalization()):
        """Normalize (exactly, or coarse/window for a sum: ``normalization``) and round ``term``
        into ``fmt``; returns (bits, flags)."""
        renormalize = None
        if normalization.exact:
            m.submodules[f"normalize_{name}"] = norm = Normalize(len(term.sig))
        else:
            m.submodules[f"normalize_{name}"] = norm = ApproximateNormalize(
                len(term.sig), normalization, self.zone, fmt.precision, self.spec.ctx.rand_bits)
            renormalize = norm.residual_zeros
        normalized = normalized_term(m, norm, term, ew, f"{name}_normalized")
        m.submodules[f"round_{name}"] = rnd = rounder(fmt, self.spec.ctx, normalized.shape(),
                                                      renormalize)
        m.d.comb += rnd.term.eq(normalized)
        if renormalize is not None:
            m.d.comb += rnd.lost.eq(norm.lost)
        if self.spec.ctx.sr:
            m.d.comb += rnd.rand.eq(rand)
        return rnd.bits, rnd.flags

    def _rounded(self, m, product, ctrl, ew, last_rand):
        spec = self.spec
        acc_fmt, out, ctx = spec.fmt("acc"), spec.fmt("out"), spec.ctx
        acc = Signal(acc_fmt.nbits)
        sticky = Signal(Flags.WIDTH)
        m.submodules.unpack_acc = ua = unpacker(acc_fmt, ew, normalizes_subnormals(spec))
        m.d.comb += ua.bits.eq(Mux(ctrl["clear"], 0, acc))
        window = max(len(product.sig), len(ua.term.sig), guard_bits_needed(acc_fmt, ctx)) + 2
        # coarse:K and window:L act on each update (the readout below is exact)
        window = approximate_window(window, (len(product.sig), len(ua.term.sig)),
                                    spec.normalization, self.zone, acc_fmt.precision, ctx.rand_bits)
        m.submodules.add = adder = AlignAdd(product.shape(), ua.term.shape(), window, ew,
                                            round_down=ctx.mode == "rdn")
        m.d.comb += [adder.a.eq(product), adder.b.eq(ua.term)]
        new_acc, step_flags = self._round(m, "acc", acc_fmt, adder.s, ew, ctrl.get("rand"),
                                          spec.normalization)
        with m.If(ctrl["in_valid"]):
            m.d.sync += [acc.eq(new_acc),
                         sticky.eq(Mux(ctrl["clear"], 0, sticky) | step_flags)]
        self._expose(m, acc, sticky, last_rand)
        if out == acc_fmt:
            m.d.comb += [self.y.eq(acc), self.flags.eq(sticky)]
        else:
            m.submodules.unpack_readout = ur = unpacker(acc_fmt, ew)
            m.d.comb += ur.bits.eq(acc)
            y, read_flags = self._round(m, "readout", out, ur.term, ew, last_rand)
            m.d.comb += [self.y.eq(y), self.flags.eq(sticky | read_flags)]

    def _lazy(self, m, product, ctrl, ew, last_rand):
        """The lazy accumulator (rtl/lazy.py) and its readout: normalized and rounded into out."""
        spec = self.spec
        m.submodules.lazy = lazy = LazyAccumulator(spec.fmt("acc"), spec.normalization.k,
                                                   spec.ctx, product.shape(), ew)
        m.d.comb += [lazy.product.eq(product), lazy.in_valid.eq(ctrl["in_valid"]),
                     lazy.clear.eq(ctrl["clear"])]
        if spec.ctx.sr:
            m.d.comb += lazy.rand.eq(ctrl["rand"])
        self._expose(m, lazy.state.as_value(), last_rand)
        y, read_flags = self._round(m, "readout", spec.fmt("out"), lazy.value, ew, last_rand)
        m.d.comb += [self.y.eq(y), self.flags.eq(lazy.state.flags | read_flags)]

    def _exact(self, m, product, ctrl, ew, last_rand):
        spec = self.spec
        acc = spec.accumulator
        W, lsb = acc.width, acc.lsb_exp
        value = Signal(signed(W))
        nan, pos_inf, neg_inf, overflow, invalid = (Signal(name=n) for n in
                                                    ("acc_nan", "acc_pinf", "acc_ninf", "acc_ovf",
                                                     "acc_invalid"))
        # The product's LSB weighs 2^(exp - width + 1). Normalized subnormal operands leave zeros at
        # the bottom of the product, so that LSB may sit below the accumulator's (by less than the
        # product width): shift right then, dropping only zeros.
        wp = len(product.sig)
        raw_offset = Signal(signed(len(product.exp) + 2))
        m.d.comb += raw_offset.eq(product.exp - (wp - 1) - lsb)
        up = Signal(range(W + 1))
        down = Signal(range(wp + 1))
        m.d.comb += [up.eq(Mux(raw_offset < 0, 0, Mux(raw_offset > W, W, raw_offset))),
                     down.eq(Mux(raw_offset < 0, Mux(-raw_offset > wp, wp, -raw_offset), 0))]
        placed = Signal(W + 1)
        m.d.comb += placed.eq(Mux(product.zero | product.nan | product.inf, 0,
                                  (product.sig >> down) << up))
        magnitude = Cat(placed, Const(0, 1)).as_signed()
        signed_product = Mux(product.sign, -magnitude, magnitude)
        base = Mux(ctrl["clear"], 0, value)
        total = Signal(signed(W + 3))
        m.d.comb += total.eq(base + signed_product)
        fits = (total >= -(1 << (W - 1))) & (total < (1 << (W - 1)))
        clear = ctrl["clear"]
        with m.If(ctrl["in_valid"]):
            m.d.sync += [
                value.eq(total[:W]),
                nan.eq(Mux(clear, 0, nan) | product.nan),
                pos_inf.eq(Mux(clear, 0, pos_inf) | (product.inf & ~product.sign)),
                neg_inf.eq(Mux(clear, 0, neg_inf) | (product.inf & product.sign)),
                overflow.eq(Mux(clear, 0, overflow) | ~fits),
                invalid.eq(Mux(clear, 0, invalid) | product.invalid),
            ]
        self._expose(m, value, nan, pos_inf, neg_inf, overflow, invalid, last_rand)
        clash = pos_inf & neg_inf
        readout = Signal(TermLayout(W, ew))
        negative = value < 0
        m.d.comb += [
            readout.sign.eq(Mux(nan | clash, 0, Mux(pos_inf | neg_inf, neg_inf, negative))),
            readout.nan.eq(nan | clash | (overflow & ~(pos_inf | neg_inf))),
            readout.inf.eq(~(nan | clash) & (pos_inf | neg_inf)),
            readout.zero.eq(~(nan | clash | pos_inf | neg_inf | overflow) & (value == 0)),
            readout.sig.eq(Mux(negative, -value, value).as_unsigned()[:W]),
            readout.exp.eq(lsb + W - 1),
        ]
        y, read_flags = self._round(m, "readout", spec.fmt("out"), readout, ew, last_rand)
        extra = Mux(invalid | clash, Flags.INVALID, 0) | \
            Mux(~(nan | clash | pos_inf | neg_inf) & overflow, Flags.OVERFLOW | Flags.INEXACT, 0)
        m.d.comb += [self.y.eq(y), self.flags.eq(read_flags | extra)]
