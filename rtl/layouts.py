"""Data layouts shared by the datapath stages.

A *term* is an unpacked value in flight: sign, class flags, an exponent and a significand. Its value is
``(-1)^sign * sig * 2^(exp - (width(sig) - 1))``: ``exp`` is the exponent of the significand's top bit
position (the top bit itself may be 0, e.g. in a product in [1, 4) or a sum after cancellation).
This is the hardware twin of golden/core.py's terms.
"""

from amaranth.hdl import Cat, Const, signed
from amaranth.lib import data
from amaranth.lib.wiring import In, Out

__all__ = ["Term", "TermLayout", "exponent_width", "exponent_magnitude", "as_signed", "exp_bits_for",
           "unit_signature", "rounder_signature", "PRODUCT_SOURCES", "MULTIPLYING_KINDS",
           "check_knobs", "product_signature"]

#: where a unit's significand product comes from: its own multiplier, or ports (for proofs that
#: share or cut the multiplier between two designs)
PRODUCT_SOURCES = ("internal", "port")
#: unit kinds that multiply significands (the only ones with product="port")
MULTIPLYING_KINDS = ("mul", "fma", "mac", "simd")


class Term(data.View):
    """View of a :class:`TermLayout` with value-class predicates."""

    def is_special(self):
        return self.inf | self.nan

    def is_finite_nonzero(self):
        return ~(self.zero | self.inf | self.nan)


class TermLayout(data.StructLayout):
    """Layout of a term with a ``sig_width``-bit significand and a signed ``exp_width``-bit exponent.

    Fields: ``sign``; ``zero``, ``inf``, ``nan`` (class, at most one set); ``invalid`` (an invalid
    operation happened on the way: sNaN operand, 0*Inf, Inf-Inf); ``exp``; ``sig``.
    """

    def __init__(self, sig_width: int, exp_width: int):
        self.sig_width = sig_width
        self.exp_width = exp_width
        super().__init__({
            "sign": 1, "zero": 1, "inf": 1, "nan": 1, "invalid": 1,
            "exp": signed(exp_width), "sig": sig_width,
        })

    def __call__(self, target):
        return Term(self, target)


def exponent_width(*magnitudes: int) -> int:
    """Signed width that holds every exponent of magnitude up to ``sum(magnitudes)``, with margin.

    Callers pass the largest exponent magnitudes of the formats involved plus datapath widths; the
    sum bounds every intermediate (products add exponents, normalization subtracts a shift).
    """
    bound = sum(abs(m) for m in magnitudes) + 2
    return bound.bit_length() + 1


def as_signed(value):
    """Zero-extend an unsigned value by one bit and read it as signed (so arithmetic stays exact)."""
    return Cat(value, Const(0, 1)).as_signed()


def exp_bits_for(value: int) -> int:
    """Width of a signed constant that holds ``value``."""
    return max(value.bit_length(), (-value - 1).bit_length() if value < 0 else 0) + 1


def exponent_magnitude(fmt) -> int:
    """Largest exponent magnitude of a format's values (float: subnormal quantum or emax; posit: the
    scale of maxpos)."""
    return fmt.max_scale if fmt.is_posit else max(abs(fmt.qmin), abs(fmt.emax))


def unit_signature(spec) -> dict:
    """Component members from a unit spec's port contract (clk/rst come from the sync domain)."""
    return {name: (In if direction == "in" else Out)(width)
            for name, (direction, width) in spec.ports.items() if name not in ("clk", "rst")}


def rounder_signature(out, ctx, in_layout: "TermLayout") -> dict:
    """Members of a round/pack stage: the term in, the bit pattern and flags out, rand for sr."""
    members = {"term": In(in_layout), "bits": Out(out.nbits), "flags": Out(5)}
    if ctx.sr:
        members["rand"] = In(ctx.rand_bits)
    return members


def check_knobs(spec, product: str, expose_state: bool):
    """Validate the proof knobs of a unit component (optimized or reference).

    Raises
    ------
    ValueError
        ``product`` not in :data:`PRODUCT_SOURCES`, ``product="port"`` for a kind or a
        ``mul_approx`` without a significand multiplier, or ``expose_state=True`` for a kind other
        than mac.
    TypeError
        ``expose_state`` is not a bool.
    """
    if product not in PRODUCT_SOURCES:
        raise ValueError(f"product={product!r} is invalid; valid: {', '.join(PRODUCT_SOURCES)}")
    if product == "port" and spec.kind not in MULTIPLYING_KINDS:
        raise ValueError(f"product='port' is invalid for {spec.kind}: it has no significand "
                         f"multiplier (kinds with one: {', '.join(MULTIPLYING_KINDS)})")
    if product == "port" and getattr(spec, "mul_approx", "exact") != "exact":
        raise ValueError(f"product='port' is invalid with mul_approx={spec.mul_approx!r}: L-Mul "
                         f"adds the operand fields and has no significand multiplier to cut")
    if not isinstance(expose_state, bool):
        raise TypeError(f"expose_state must be True or False, not {expose_state!r}")
    if expose_state and not spec.sequential:
        raise ValueError(f"expose_state=True is invalid for {spec.kind}: only a mac or a simd "
                         f"engine has accumulator state")


def product_signature(a_width: int, b_width: int) -> dict:
    """Members that replace a unit's significand multiplier with product="port": the two unsigned
    significands out (``mul_x``, ``mul_y``), their product in (``mul_p``)."""
    return {"mul_x": Out(a_width), "mul_y": Out(b_width), "mul_p": In(a_width + b_width)}
