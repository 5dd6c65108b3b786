"""Mixed-precision SIMD engine (golden/simd.py is the twin; docs/simd.md has the figure).

Datapath, one copy of each stage shared by every mode:

* **lane decode**: one unpacker per (mode, lane), its input gated to zero unless that mode is
  selected and ``in_valid`` is high (operand isolation: idle decoders do not toggle).
* **slots**: lane i of every mode feeds *slot* i. Each slot muxes its operands' sign, exponent and
  class (AND-OR over the one-hot mode) and owns one exponent adder and one product-class circuit.
* **one partitioned multiplier**: the lane significands of the selected mode sit side by side in
  two ``W``-bit words (lane i of a p-bit mode at bits [i*p, (i+1)*p)); partial products outside
  the mode's diagonal blocks are masked, so the one array yields every lane product at once, lane
  i at bits [2*i*p, 2*(i+1)*p) of the 2W-bit result (:class:`PartitionedMultiplier`).
* **exact lane sum**: the slot products align to the largest slot exponent and add in a window
  wide enough for any mode's exponent spread, so the sum is exact; it is normalized once.
* **accumulator**: the mac's rounded or Kulisch accumulate stage (rtl/mac.py), fed the lane sum as
  its product term: one rounding per update.

``reduce="lanes"`` rounds each slot product into its lane format instead and registers the packed
word.
"""

from fractions import Fraction

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..golden.mac import quantum_exp
from ..golden.rounding import Flags
from .layouts import TermLayout, check_knobs, exponent_magnitude, exponent_width, \
    unit_signature
from .mac import MacUnit, mac_state_layout
from .multiply import _product_class
from .normalize import Normalize, normalized_term
from .round import rounder
from .unpack import unpacker

__all__ = ["SimdUnit", "PartitionedMultiplier", "lane_fields", "sum_window"]


def lane_fields(spec) -> tuple[tuple[tuple[int, int], ...], ...]:
    """Per mode, the (offset, width) of each lane's significand in the multiplier operand words."""
    return tuple(tuple((i * lanes.fmt.precision, lanes.fmt.precision) for i in range(lanes.count))
                 for lanes in spec.lanes)


def multiplier_width(spec) -> int:
    """W, the width of the shared multiplier's operands: the widest mode's significands."""
    return max(lanes.count * lanes.fmt.precision for lanes in spec.lanes)


def _top_range(fmt) -> tuple[int, int]:
    """Smallest and largest exponent of a nonzero value's leading bit."""
    if fmt.is_posit:
        return -fmt.max_scale, fmt.max_scale
    return fmt.qmin, fmt.emax


def _spread(fmt) -> int:
    """Largest difference between the top exponents of two products in a format."""
    low, high = _top_range(fmt)
    return 2 * (high - low)


def _fixed_point_lsb(lanes) -> int:
    """Exponent of the LSB of a mode's fixed-point lane products: the product quantum (a one-lane
    mode keeps its product as it is, see :func:`_fixed_point_width`)."""
    return 2 * quantum_exp(lanes.fmt)


def _fixed_point_width(lanes) -> int:
    """Bits of one lane product of a mode in fixed point: up to the largest product, in units of
    the product quantum. Tapered posits make this much less than 2p plus the exponent spread
    (posit8_0: 25 bits, not 36). A one-lane mode's product is not moved: 2p bits."""
    if lanes.count == 1:
        return 2 * lanes.fmt.precision
    largest = Fraction(lanes.fmt.max_value) ** 2 / Fraction(2) ** _fixed_point_lsb(lanes)
    return int(largest).bit_length()


def sum_window(spec) -> int:
    """Bits of the exact lane sum below its carry bits: the widest mode's fixed point."""
    return max(_fixed_point_width(lanes) for lanes in spec.lanes)


def _widened(m, term, exp_width: int, name: str):
    """``term`` with its exponent sign-extended to ``exp_width`` bits."""
    wide = Signal(TermLayout(len(term.sig), exp_width), name=name)
    m.d.comb += [getattr(wide, f).eq(getattr(term, f))
                 for f in ("sign", "zero", "inf", "nan", "invalid", "exp", "sig")]
    return wide


class PartitionedMultiplier(wiring.Component):
    """One ``W`` x ``W`` array that multiplies every lane of the selected mode at once.

    Row j of the array adds ``x & mask_j`` where ``mask_j`` holds the x bits of the lane that bit j
    of y belongs to in the selected mode (and nothing when bit j is in no lane), so only the
    partial products on the mode's diagonal blocks survive. A lane's product never carries out of
    its 2p-bit block, so the blocks do not interfere.

    Parameters
    ----------
    width : int
        W.
    fields : tuple
        Per mode, the (offset, width) of each lane (:func:`lane_fields`).

    Members
    -------
    x, y : In(W)
    select : In(len(fields))
        One-hot mode.
    p : Out(2W)
    """

    def __init__(self, width: int, fields):
        self.width = width
        self.fields = fields
        super().__init__({"x": In(width), "y": In(width), "select": In(len(fields)),
                          "p": Out(2 * width)})

    def lane_mask(self, mode: int, bit: int) -> int:
        """The x bits that multiply y's bit ``bit`` in mode ``mode``."""
        for offset, width in self.fields[mode]:
            if offset <= bit < offset + width:
                return ((1 << width) - 1) << offset
        return 0

    def elaborate(self, platform):
        m = Module()
        W = self.width
        rows = []
        for j in range(W):
            masks = [self.lane_mask(k, j) for k in range(len(self.fields))]
            if all(mask == masks[0] for mask in masks):
                mask = Const(masks[0], W)  # the same in every mode: no gating
            else:
                mask = 0
                for k, lane in enumerate(masks):
                    if lane:
                        mask = mask | Mux(self.select[k], lane, 0)
            rows.append(Mux(self.y[j], self.x & mask, 0) << j)
        total = Signal(2 * W)
        m.d.comb += total.eq(sum(rows))
        m.d.comb += self.p.eq(total)
        return m


class SimdUnit(MacUnit):
    """The SIMD engine from a ``mpmac.units.Simd`` spec (see the module docstring).

    Parameters
    ----------
    spec : mpmac.units.Simd
    product : {"internal", "port"}
        ``"port"``: the partitioned multiplier is replaced by ports ``mul_x``, ``mul_y`` (out: the
        operand words), ``mul_select`` (out: the one-hot mode) and ``mul_p`` (in: the block
        product, see :class:`PartitionedMultiplier`).
    expose_state : bool
        reduce="dot": add output ``acc_state`` (the mac's :func:`~.mac.mac_state_layout`).
    """

    def __init__(self, spec, *, product: str = "internal", expose_state: bool = False):
        check_knobs(spec, product, expose_state)
        if expose_state and spec.reduce == "lanes":
            raise ValueError("expose_state=True is invalid with reduce='lanes': no accumulator")
        self.spec = spec
        self.product = product
        self.expose_state = expose_state
        self.cuts = spec.stage_boundaries()
        members = unit_signature(spec)
        if product == "port":
            W = multiplier_width(spec)
            members.update({"mul_x": Out(W), "mul_y": Out(W), "mul_select": Out(len(spec.lanes)),
                            "mul_p": In(2 * W)})
        if expose_state:
            members["acc_state"] = Out(mac_state_layout(spec))
        super(MacUnit, self).__init__(members)

    @property
    def slots(self) -> int:
        return max(lanes.count for lanes in self.spec.lanes)

    def _exponent_width(self) -> int:
        spec = self.spec
        formats = [lanes.fmt for lanes in spec.lanes]
        if spec.reduce == "dot":
            formats.append(spec.fmt("out"))
            if not spec.accumulator.exact:
                formats.append(spec.fmt("acc"))
        magnitudes = [exponent_magnitude(f) for f in formats]
        acc_width = spec.accumulator.width if spec.reduce == "dot" else 0
        return exponent_width(*magnitudes, *magnitudes, 4 * (acc_width or 0),
                              4 * (sum_window(spec) + 64))

    def _lane_exponent_width(self) -> int:
        """Exponent width of the lane decoders, slot products and lane sum: the lane formats'
        range (products double it), narrower than the accumulate stage's."""
        largest = max(exponent_magnitude(lanes.fmt) for lanes in self.spec.lanes)
        return exponent_width(largest, largest, self.slots + 1)

    def elaborate(self, platform):
        m = Module()
        ew = self._exponent_width()
        products, ctrl = self._lane_products(m, self._lane_exponent_width())
        if self.spec.reduce == "lanes":
            terms, ctrl = self._cut(m, "product", dict(enumerate(products)), ctrl)
            self._lanes(m, list(terms.values()), ctrl, ew)
            return m
        if self.slots > 1:
            total = self._lane_sum(m, products, ctrl["select"], ew)
        else:
            total = _widened(m, products[0], ew, "lane_product")
        terms, ctrl = self._cut(m, "product", {"p": total}, ctrl)
        self._accumulate(m, terms["p"], ctrl, ew)
        return m

    # -- front end -----------------------------------------------------------------------------
    def _select(self, m):
        """One-hot mode select and the effective in_valid (a mode beyond the list is a no-op)."""
        n = len(self.spec.lanes)
        select = Signal(n, name="mode_select")
        m.d.comb += select.eq(Cat(self.mode == k for k in range(n)))
        return select, self.in_valid & select.any()

    def _lane_products(self, m, ew):
        """Decode every lane, mux them into slots, multiply on the shared array: the slot product
        terms (left-aligned significands) and the control signals at the accumulator side."""
        spec = self.spec
        select, valid = self._select(m)
        ctrl = {"in_valid": valid, "clear": self.clear, "select": select}
        slot_terms = {}
        for i in range(self.slots):
            for role in "ab":
                slot_terms[f"{role}{i}"] = self._slot_operand(m, role, i, select, valid, ew)
        slot_terms, ctrl = self._cut(m, "unpacked", slot_terms, ctrl)
        select = ctrl["select"]

        W = multiplier_width(spec)
        fields = lane_fields(spec)
        words = {}
        for role in "ab":
            word = 0
            for k, lanes in enumerate(spec.lanes):
                for i, (offset, width) in enumerate(fields[k]):
                    sig = slot_terms[f"{role}{i}"].sig
                    word = word | (Mux(select[k], sig[len(sig) - width:], 0) << offset)
            words[role] = Signal(W, name=f"mul_{role}_word")
            m.d.comb += words[role].eq(word)
        if self.product == "port":
            m.d.comb += [self.mul_x.eq(words["a"]), self.mul_y.eq(words["b"]),
                         self.mul_select.eq(select)]
            block_product = self.mul_p
        else:
            m.submodules.multiplier = mul = PartitionedMultiplier(W, fields)
            m.d.comb += [mul.x.eq(words["a"]), mul.y.eq(words["b"]), mul.select.eq(select)]
            block_product = mul.p

        products = []
        for i in range(self.slots):
            a, b = slot_terms[f"a{i}"], slot_terms[f"b{i}"]
            width = 2 * self._slot_precision(i)
            p = Signal(TermLayout(width, ew), name=f"slot{i}_product")
            statements, _ = _product_class(a, b, p)
            sig = 0
            for k, lanes in enumerate(spec.lanes):
                if i < lanes.count:
                    offset, w = fields[k][i]
                    lane = block_product[2 * offset:2 * (offset + w)]
                    sig = sig | Mux(select[k], Cat(Const(0, width - 2 * w), lane), 0)
            m.d.comb += [*statements, p.exp.eq(a.exp + b.exp + 1), p.sig.eq(sig)]
            products.append(p)
        return products, ctrl

    def _slot_precision(self, i: int) -> int:
        return max(lanes.fmt.precision for lanes in self.spec.lanes if lanes.count > i)

    def _slot_active(self, i: int, select):
        return Cat(select[k] for k, lanes in enumerate(self.spec.lanes) if lanes.count > i).any()

    def _slot_operand(self, m, role, i, select, valid, ew):
        """Operand ``role`` of slot i: the decoded lane i of the selected mode (a zero term when no
        mode has a lane i)."""
        spec = self.spec
        width = self._slot_precision(i)
        t = Signal(TermLayout(width, ew), name=f"slot{i}_{role}")
        fields = {"sign": 0, "zero": 0, "inf": 0, "nan": 0, "invalid": 0, "exp": 0, "sig": 0}
        for k, lanes in enumerate(spec.lanes):
            if i >= lanes.count:
                continue
            n, p = lanes.fmt.nbits, lanes.fmt.precision
            name = f"unpack_{role}_m{k}_l{i}"
            m.submodules[name] = u = unpacker(lanes.fmt, ew)
            bits = getattr(self, role)[i * n:(i + 1) * n]
            on = select[k] & valid  # operand isolation: an idle decoder sees constant zeros
            m.d.comb += u.bits.eq(Mux(on, bits, 0))
            sig = u.term.sig[len(u.term.sig) - p:]  # a posit's shortest regime pads the bottom
            for f in ("sign", "zero", "inf", "nan", "invalid", "exp"):
                fields[f] = fields[f] | Mux(select[k], getattr(u.term, f), 0)
            fields["sig"] = fields["sig"] | Mux(select[k], Cat(Const(0, width - p), sig), 0)
        idle = ~self._slot_active(i, select)
        m.d.comb += [getattr(t, f).eq(v) for f, v in fields.items() if f != "zero"]
        m.d.comb += t.zero.eq(fields["zero"] | idle)
        return t

    # -- exact lane sum ------------------------------------------------------------------------
    def _lane_sum(self, m, slot_products, select, ew):
        """The exact sum of the slot products, normalized: a term for the accumulate stage.

        A mode with several lanes sums in fixed point: each lane product moves left by its
        exponent above the mode's smallest product exponent, so the sum's LSB weighs a constant
        per mode and no largest exponent is searched. A one-lane mode's product passes through.
        """
        spec = self.spec
        products = [(p, self._slot_active(i, select)) for i, p in enumerate(slot_products)]
        finite = [active & ~(p.zero | p.inf | p.nan) for p, active in products]
        multi = [k for k, lanes in enumerate(spec.lanes) if lanes.count > 1]
        single = [k for k, lanes in enumerate(spec.lanes) if lanes.count == 1]
        carry = (len(products) - 1).bit_length()
        width = sum_window(spec) + carry

        # two's complement without sign extension: x ^ -s with ~s on top is v + 2^k - s, so
        # sum_i (that + s_i) - sum_i 2^k_i is the signed sum
        addends, offset = [], 0
        for i, ((p, _), f) in enumerate(zip(products, finite)):
            modes = [k for k in multi if spec.lanes[k].count > i]
            if not modes:
                continue
            x = self._fixed_point(m, i, p, f, modes, select)
            negative = p.sign & f
            addends += [Cat(x ^ negative.replicate(len(x)), ~negative), negative]
            offset += 1 << len(x)
        total = Signal(signed(width + 1), name="lane_total")
        if addends:
            m.d.comb += total.eq(sum(addends) - offset)
        one_lane = Cat(select[k] for k in single).any() if single else Const(0)
        p0 = slot_products[0]
        through = Cat(Const(0, width - len(p0.sig)), Mux(finite[0], p0.sig, 0))
        exp = p0.exp  # a one-lane mode's product keeps its exponent (top-placed)
        for k in multi:
            exp = Mux(select[k], _fixed_point_lsb(spec.lanes[k]) + width - 1, exp)

        active_signs = [(p.sign, active) for p, active in products]
        if spec.ctx.mode == "rdn":
            zero_sign = Cat(s & a for s, a in active_signs).any()
        else:
            zero_sign = Cat(s | ~a for s, a in active_signs).all()
        pos_inf = Cat(p.inf & ~p.sign for p, _ in products).any()
        neg_inf = Cat(p.inf & p.sign for p, _ in products).any()
        clash = pos_inf & neg_inf
        nan = Cat(p.nan for p, _ in products).any() | clash
        inf = (pos_inf | neg_inf) & ~nan
        zero_sum = Mux(one_lane, ~finite[0], total == 0)
        negative_sum = Mux(one_lane, p0.sign, total < 0)
        s = Signal(TermLayout(width, ew), name="lane_sum")
        m.d.comb += [
            s.sig.eq(Mux(nan | inf, 0, Mux(one_lane, through,
                                             Mux(total < 0, -total, total).as_unsigned()))),
            s.exp.eq(exp),
            s.nan.eq(nan),
            s.inf.eq(inf),
            s.zero.eq(zero_sum & ~nan & ~inf),
            s.invalid.eq(Cat(p.invalid for p, _ in products).any() | clash),
            s.sign.eq(Mux(nan, 0, Mux(inf, neg_inf, Mux(zero_sum, zero_sign, negative_sum)))),
        ]
        m.submodules.normalize_lanes = norm = Normalize(len(s.sig))
        return normalized_term(m, norm, s, ew, "lane_sum_normalized")

    def _fixed_point(self, m, i, p, finite, modes, select):
        """Slot i's product in its mode's fixed point (LSB :func:`_fixed_point_lsb`): the lane's
        2p-bit significand moved left by its top exponent above the mode's smallest."""
        spec = self.spec
        span = max(_fixed_point_width(spec.lanes[k]) for k in modes)
        # lane << distance keeps its bits from `below` up (lower ones are below the product
        # quantum, so zero); one shifter serves every mode by shifting `top - below` further
        # and keeping the bits from `top` up
        below = {}
        for k in modes:
            fmt = spec.lanes[k].fmt
            lowest = 2 * _top_range(fmt)[0] + 1  # the smallest product's top exponent
            below[k] = _fixed_point_lsb(spec.lanes[k]) - (lowest - 2 * fmt.precision + 1)
        top = max(below.values())
        sig, amount = 0, 0
        for k in modes:
            fmt = spec.lanes[k].fmt
            lane = p.sig[len(p.sig) - 2 * fmt.precision:]  # slot products are top-aligned
            lowest = 2 * _top_range(fmt)[0] + 1
            distance = (p.exp - lowest)[:_spread(fmt).bit_length()] + (top - below[k])
            sig = sig | Mux(select[k], lane, 0)
            amount = amount | Mux(select[k], distance, 0)
        shift = Signal(range(max(_spread(spec.lanes[k].fmt) + top - below[k] for k in modes) + 1),
                       name=f"slot{i}_shift")
        m.d.comb += shift.eq(amount)
        fixed = Signal(span, name=f"slot{i}_fixed")
        m.d.comb += fixed.eq((Mux(finite, sig, 0) << shift)[top:top + span])
        return fixed

        # -- reduce="lanes" ------------------------------------------------------------------------
    def _lanes(self, m, products, ctrl, ew):
        """Round each slot product into its lane format; register the packed word on in_valid."""
        spec = self.spec
        word, flags = 0, 0
        for k, lanes in enumerate(spec.lanes):
            mode_word, mode_flags = [], 0
            for i in range(lanes.count):
                p = _widened(m, products[i], ew, f"product_m{k}_l{i}_wide")
                m.submodules[f"normalize_m{k}_l{i}"] = norm = Normalize(len(p.sig))
                term = normalized_term(m, norm, p, ew, f"product_m{k}_l{i}")
                m.submodules[f"round_m{k}_l{i}"] = rnd = rounder(lanes.fmt, spec.ctx, term.shape())
                m.d.comb += rnd.term.eq(term)
                mode_word.append(rnd.bits)
                mode_flags = mode_flags | rnd.flags
            on = ctrl["select"][k]
            word = word | Mux(on, Cat(*mode_word), 0)
            flags = flags | Mux(on, mode_flags, 0)
        y = Signal(spec.width)
        y_flags = Signal(Flags.WIDTH)
        with m.If(ctrl["in_valid"]):
            m.d.sync += [y.eq(word), y_flags.eq(flags)]
        m.d.comb += [self.y.eq(y), self.flags.eq(y_flags)]
