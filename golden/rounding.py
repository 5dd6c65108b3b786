"""Rounding semantics and the rounding context (the implementation is :func:`.core.round_term`).

Rounding modes
    ``rne`` ties to even, ``rtz`` toward zero, ``rdn`` toward -inf, ``rup`` toward +inf, ``rmm`` ties away
    from zero, ``sr`` stochastic: the ``rand_bits``-bit input ``rand`` is added to the top ``rand_bits``
    discarded bits (lower discarded bits are ignored); a carry out rounds away from zero. Over all rand
    values the mean result is the exact value minus at most ``2^-rand_bits`` ULP (the truncated bits).

Floating-point outputs follow IEEE 754-2019: round as if the exponent range were unbounded but quantised
at the subnormal quantum, then apply overflow. Tininess is detected ``after`` (default) or ``before``
rounding; underflow is raised when the result is tiny and inexact. Formats without subnormals flush tiny
results (per the tininess rule) to zero with underflow and inexact. Overflow yields Inf where the mode
rounds away (rne, rmm, sr; rup for +, rdn for -) and the largest finite value otherwise; a format without
Inf yields its canonical NaN there (fn, fnuz: the positive NaN code, whatever the sign) or its largest
value (finite). ``saturate`` replaces every infinite result by the largest finite value of the same
sign; an exact infinity clamped that way raises no flag (an overflow still raises overflow|inexact).

Posit outputs round on the bit string (rne, or sr as an extension) and saturate to minpos/maxpos, never
to zero or NaR; only inexact and invalid are ever raised for them.

Special operands follow IEEE 754-2019 with Berkeley SoftFloat's choices (the conformance oracle): an
sNaN operand, 0 * Inf (also when the fma addend is a quiet NaN) and Inf - Inf raise invalid; every NaN
result is the output format's canonical NaN (positive quiet NaN; S.1111.111 for fn; 1000...0 for fnuz).
An exact zero sum of opposite-signed operands is +0, or -0 when rounding toward -inf (rdn); same-signed
zeros keep their sign. Posit NaR reads as a quiet NaN; a NaN or Inf result in a posit output is NaR (an
Inf also raises invalid). An Inf result in a format without Inf raises invalid unless ``saturate`` asked
for clamping; a NaN result in a format without NaN (finite formats) is +0 with invalid.
"""

from __future__ import annotations

from dataclasses import dataclass

from .formats import Format

__all__ = ["MODES", "POSIT_MODES", "TININESS", "Flags", "RoundingContext", "guard_bits_needed"]

MODES = ("rne", "rtz", "rdn", "rup", "rmm", "sr")
POSIT_MODES = ("rne", "sr")
TININESS = ("after", "before")
MAX_RAND_BITS = 32


class Flags:
    """Exception flag bits, Berkeley SoftFloat/TestFloat order."""

    INEXACT = 1
    UNDERFLOW = 2
    OVERFLOW = 4
    DIVBYZERO = 8
    INVALID = 16
    WIDTH = 5


@dataclass(frozen=True)
class RoundingContext:
    """How results are rounded.

    Parameters
    ----------
    mode : str
        One of ``rne rtz rdn rup rmm sr``.
    rand_bits : int
        Width of the ``rand`` input for ``sr`` (1..32); must be 0 for the other modes.
    saturate : bool
        Infinite results become the largest finite value.
    tininess : str
        ``after`` (default) or ``before`` rounding.
    """

    mode: str = "rne"
    rand_bits: int = 0
    saturate: bool = False
    tininess: str = "after"

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"rounding={self.mode!r} is invalid; valid: {', '.join(MODES)}")
        if self.tininess not in TININESS:
            raise ValueError(f"tininess={self.tininess!r} is invalid; valid: {', '.join(TININESS)}")
        if not isinstance(self.rand_bits, int) or isinstance(self.rand_bits, bool):
            raise TypeError(f"rand_bits must be an int, not {self.rand_bits!r}")
        if self.mode == "sr" and not 1 <= self.rand_bits <= MAX_RAND_BITS:
            raise ValueError(f"rand_bits={self.rand_bits} is invalid for rounding='sr' "
                             f"(valid: 1..{MAX_RAND_BITS})")
        if self.mode != "sr" and self.rand_bits != 0:
            raise ValueError(f"rand_bits={self.rand_bits} is only meaningful with rounding='sr' "
                             f"(rounding={self.mode!r})")

    def check_output(self, fmt: Format):
        """Raise ValueError if this context cannot round into ``fmt``."""
        if fmt.is_posit and self.mode not in POSIT_MODES:
            raise ValueError(f"rounding={self.mode!r} is not available for posit output {fmt.name}; "
                             f"valid: {', '.join(POSIT_MODES)}")
        if fmt.is_posit and self.rand_bits > 61 - fmt.nbits:
            raise ValueError(f"rand_bits={self.rand_bits} is too wide for posit output {fmt.name} "
                             f"(valid: 1..{61 - fmt.nbits})")

    @property
    def sr(self) -> bool:
        return self.mode == "sr"


def guard_bits_needed(fmt: Format, ctx: RoundingContext) -> int:
    """Bits an exact-or-round-to-odd magnitude must carry so that rounding it into ``fmt`` is exact.

    Round-to-odd intermediates are faithful for any rounding at least 2 bits coarser; sr needs
    ``rand_bits`` exact discarded bits above the sticky bit; posits may spend 2 more bits on the
    regime terminator and a cut exponent.
    """
    return fmt.precision + 2 + ctx.rand_bits + (2 if fmt.is_posit else 0)
