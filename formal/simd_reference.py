"""Reference SIMD engine: one mode of a ``simd`` spec, built from the scalar reference datapaths.

:class:`SimdReference` is the :class:`~mpmac.formal.reference.ReferenceUnit` mac with its product
term replaced by a dot product over the lanes of ONE mode (the proofs fix ``mode`` to it):

1. per lane an independent :func:`~mpmac.formal.reference.decode` of ``a`` and ``b`` and an
   :func:`~mpmac.formal.reference.exact_product` placed in one wide fixed-point register;
2. the lane products folded with :func:`~mpmac.formal.reference.exact_sum` (exact: the register
   has a carry bit per term; the two-term zero-sign rule folds to golden/simd.py's rule);
3. the reference mac's update (the accumulator added exactly, one rounding into ``acc`` with the
   reference rounder, or the exact Kulisch register), readout and sticky flags.

``reduce="lanes"``: each lane product rounded into its lane format, registered on ``in_valid``.

Nothing of rtl/simd.py is used: no slots, no partitioned multiplier, no alignment window. Shared
with the engine are only facts: the port contract, the mac state layout and, with
``product="port"``, the layout of the multiplier ports (lane i of a p-bit mode at bits [i*p,
(i+1)*p) of ``mul_x``/``mul_y`` and [2ip, 2(i+1)p) of ``mul_p``, p the lane format's precision).
"""

from __future__ import annotations

from dataclasses import replace

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..golden.rounding import Flags
from ..rtl.layouts import check_knobs, unit_signature
from ..rtl.mac import mac_state_layout
from ..rtl.emit import to_verilog
from .reference import (Exact, ReferenceUnit, Register, decode, exact_product, exact_sum, lsb_exponent,
                        round_to, significand_width, top_exponent, exp_width)

__all__ = ["SimdReference", "simd_reference_verilog", "port_width", "port_fields", "LaneProducts"]


def port_width(spec) -> int:
    """Width of ``mul_x``/``mul_y`` with ``product="port"``: the widest mode's lane significands
    side by side (the engine's port contract)."""
    return max(lanes.count * lanes.fmt.precision for lanes in spec.lanes)


def port_fields(lanes) -> tuple[tuple[int, int], ...]:
    """(offset, width) of each lane's significand in ``mul_x``/``mul_y`` of a mode (the port
    contract above); its product occupies [2*offset, 2*(offset + width)) of ``mul_p``."""
    p = lanes.fmt.precision
    return tuple((i * p, p) for i in range(lanes.count))


class LaneProducts(wiring.Component):
    """The block product of one mode, one Amaranth ``*`` per lane: the reference of the engine's
    partitioned multiplier in that mode (``simd_step``'s multiplier proof).

    Members
    -------
    x, y : In(W)
    select : In(modes)
        Read by nobody: the proof fixes it to the mode's one-hot value.
    p : Out(2W)
        Lane i's field of ``x`` times that of ``y``, at twice the field's offset; 0 elsewhere.
    """

    def __init__(self, spec, mode: int):
        w = port_width(spec)
        self.fields = port_fields(spec.lanes[mode])
        super().__init__({"x": In(w), "y": In(w), "select": In(len(spec.lanes)), "p": Out(2 * w)})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.p.eq(sum((self.x[o:o + w] * self.y[o:o + w]) << (2 * o)
                                  for o, w in self.fields))
        return m


def _held(m, x: Exact, name: str) -> Exact:
    """``x`` with its class and sign bits in signals of their own: the next fold reads each of
    them several times, and as expressions they would be copied into every use (the Verilog of a
    four-lane fold grew to megabytes)."""
    bits = {}
    for field in ("nan", "inf", "invalid", "sign"):
        bits[field] = Signal(name=f"{name}_{field}")
        m.d.comb += bits[field].eq(getattr(x, field))
    return Exact(mag=x.mag, lsb=x.lsb, **bits)


class SimdReference(ReferenceUnit):
    """The reference of mode ``mode`` of a ``simd`` spec (see the module docstring).

    It has the engine's ports (``mode`` is read by nobody: the proof fixes it to ``mode``).

    Parameters
    ----------
    spec : mpmac.units.Simd
    mode : int
        Index into ``spec.lanes``.
    product : {"internal", "port"}
        ``"internal"``: each lane's significands are multiplied by an Amaranth ``*`` of their own.
        ``"port"``: lane i's significands go out on ``mul_x``/``mul_y`` and its product comes in on
        ``mul_p`` (layout in the module docstring).
    expose_state : bool
        reduce="dot" only: output ``acc_state`` in :func:`~mpmac.rtl.mac.mac_state_layout`.

    Raises
    ------
    ValueError
        ``spec`` is not a simd spec, ``mode`` is not an index of its modes, or a bad knob.
    """

    def __init__(self, spec, *, mode: int, product: str = "internal",
                 expose_state: bool = False):
        if getattr(spec, "kind", None) != "simd":
            raise ValueError(f"SimdReference needs a simd spec, not {getattr(spec, 'kind', spec)!r}")
        if not isinstance(mode, int) or isinstance(mode, bool) or not 0 <= mode < len(spec.lanes):
            raise ValueError(f"mode={mode!r} is invalid: {spec.name} has modes 0..{len(spec.lanes) - 1}"
                             f" ({spec.modes})")
        check_knobs(spec, product, expose_state)
        if expose_state and spec.reduce == "lanes":
            raise ValueError("expose_state=True is invalid with reduce='lanes': no accumulator")
        self.spec, self.product, self.expose_state = spec, product, expose_state
        self.mode_index = mode  # (``mode`` is the port)
        self.lanes = spec.lanes[mode]
        members = unit_signature(spec)
        if product == "port":
            w = port_width(spec)
            members.update({"mul_x": Out(w), "mul_y": Out(w), "mul_p": In(2 * w)})
        if expose_state:
            members["acc_state"] = Out(mac_state_layout(spec))
        wiring.Component.__init__(self, members)

    def elaborate(self, platform):
        m = Module()
        if self.spec.reduce == "lanes":
            self._lanes(m)
        else:
            self._mac(m)
        return m

    # -- what the mac reference asks of its product term ---------------------------------------
    def _registers(self):
        return {}

    def _lane_register(self) -> Register:
        one = Register.of_format(self.lanes.fmt)
        return one.times(one)

    def _product_register(self, regs) -> Register:
        """The register of the lane sum: a lane product's, one carry bit more per further lane."""
        reg = self._lane_register()
        for _ in range(self.lanes.count - 1):
            reg = reg.plus(self._lane_register())
        return reg

    def _ew(self, *registers: Register) -> int:
        spec = self.spec
        formats = [self.lanes.fmt] + [spec.fmt(r) for r in spec.outputs_rounded()]
        bounds = [b for reg in registers for b in (reg.lsb, reg.top, reg.width)]
        bounds += [b for f in formats for b in (lsb_exponent(f), top_exponent(f), f.nbits)]
        return exp_width(*bounds)

    def _product(self, m, reg: Register, ew):
        """The exact dot product of the lanes in ``reg`` (no field top: exact normalization)."""
        terms = self._lane_products(m, reg, ew)
        total = terms[0]
        for i, term in enumerate(terms[1:], 1):
            total = _held(m, exact_sum(m, total, term, self.spec.ctx.mode == "rdn"), f"dot{i}")
        # a NaN or infinite dot product has magnitude 0, as a scalar product of a special does
        # (its significand is 0): the Kulisch register then keeps its value
        mag = Signal(len(total.mag), name="dot_mag")
        m.d.comb += mag.eq(Mux(total.nan | total.inf, 0, total.mag))
        return replace(total, mag=mag), None

    # -- lanes ----------------------------------------------------------------------------------
    def _lane_products(self, m, reg: Register, ew) -> list:
        fmt, n = self.lanes.fmt, self.lanes.fmt.nbits
        products = []
        for i in range(self.lanes.count):
            ops = []
            for role in "ab":
                bits = Signal(n, name=f"{role}{i}_bits")
                m.d.comb += bits.eq(getattr(self, role)[i * n:(i + 1) * n])
                ops.append(decode(m, fmt, bits, f"{role}{i}", ew))
            a, b = ops
            products.append(exact_product(m, a, b, self._lane_significand_product(m, i, a, b), reg))
        return products

    def _lane_significand_product(self, m, i: int, a, b):
        """a.sig * b.sig of lane i: a multiplier of its own, or the product ports.

        Both multiply p-bit significands (p the format's precision): a posit's decoded sig has
        s - p more bits at the bottom, which its shortest regime always leaves zero (the fraction
        is shifted up by at least two regime bits), so they are dropped here and restored as
        zeros of the product. (Multiplying all s bits gives the same value, but a proof would
        then have to find that the extra rows are zero before it could match the lane blocks of
        the partitioned multiplier.)
        """
        p, s = self.lanes.fmt.precision, significand_width(self.lanes.fmt)
        x, y = a.sig[s - p:], b.sig[s - p:]
        narrow = Signal(2 * p, name=f"lane{i}_narrow_product")
        if self.product == "internal":
            m.d.comb += narrow.eq(x * y)
        else:
            # without in_valid nothing is multiplied (the product is not used): the port shows 0
            m.d.comb += [self.mul_x[i * p:(i + 1) * p].eq(Mux(self.in_valid, x, 0)),
                         self.mul_y[i * p:(i + 1) * p].eq(Mux(self.in_valid, y, 0)),
                         narrow.eq(self.mul_p[2 * i * p:2 * (i + 1) * p])]
        product = Signal(2 * s, name=f"lane{i}_sig_product")
        m.d.comb += product.eq(narrow << (2 * (s - p)))
        return product

    def _lanes(self, m):
        """reduce="lanes": every lane product rounded into the lane format, packed, registered."""
        fmt = self.lanes.fmt
        reg = self._lane_register()
        ew = self._ew(reg)
        words, flags = [], 0
        for i, product in enumerate(self._lane_products(m, reg, ew)):
            bits, lane_flags = round_to(m, fmt, self.spec.ctx, product, None, f"lane{i}", ew)
            words.append(bits)
            flags = flags | lane_flags
        y = Signal(self.spec.width, name="lanes_y")
        y_flags = Signal(Flags.WIDTH, name="lanes_flags")
        with m.If(self.in_valid):
            m.d.sync += [y.eq(Cat(*words)), y_flags.eq(flags)]
        m.d.comb += [self.y.eq(y), self.flags.eq(y_flags)]


def simd_reference_verilog(spec, mode: int, *, name: str | None = None,
                           product: str = "internal", expose_state: bool = False) -> str:
    """Verilog of :class:`SimdReference` as module ``name`` (default ``<spec.name>_ref_m<mode>``)."""
    unit = SimdReference(spec, mode=mode, product=product, expose_state=expose_state)
    return to_verilog(unit, name or f"{spec.name}_ref_m{mode}")
