"""Approximate-arithmetic parameters: the normalization variant and the multiplier variant.

``normalize`` (add, fma, mac) and ``mul_approx`` (mul, fma, mac) are unit parameters; this module is
the one place that parses and validates them. Their semantics are implemented in :mod:`.core`
(``round_term_at``, ``lmul_product``) and :mod:`.mac` (the lazy accumulator), and stated in
docs/approximate.md:

``exact``
    Today's units: the sum is normalized by its full leading-zero count and rounded once.
``coarse:K``
    The normalizing shift moves only by multiples of K positions: leading zeros below a multiple of
    K stay in the significand, which then keeps that many fewer bits (rounded, then packed).
``window:L``
    The leading-one search covers the top L positions of the sum window: a sum with L or more
    leading zeros is shifted by L only and rounded there, keeping fewer bits (0 when none is left).
``lazy`` / ``lazy:G`` (mac only)
    The accumulator keeps a fixed top exponent and an unnormalized significand G bits wider than
    the accumulator format (default :data:`LAZY_GUARD_BITS`); it moves up one position when a sum
    carries out and is normalized only by the readout into ``out``.

``lmul``
    L-Mul (Luo & Sun 2024): the product of two floats of one format computed as an integer add of
    their exponent-mantissa fields plus the offset 2^-l(m) (formats-reference.md 2.7).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import core

__all__ = ["Normalization", "parse_normalize", "MUL_APPROX", "check_mul_approx", "LAZY_GUARD_BITS"]

#: default extra significand bits of a lazy accumulator
LAZY_GUARD_BITS = 4

#: multiplier variants, in the order the CLI lists them
MUL_APPROX = ("exact", "lmul")

_NORMALIZE_RE = re.compile(r"(exact|coarse|window|lazy)(?::(\d+))?")
_KINDS = {"exact": core.N_EXACT, "coarse": core.N_COARSE, "window": core.N_WINDOW}


@dataclass(frozen=True)
class Normalization:
    """A parsed ``normalize`` parameter: ``kind`` and its number ``k`` (K, L or G)."""

    kind: str = "exact"
    k: int = 0

    @property
    def spec(self) -> str:
        """Canonical text, e.g. ``coarse:4`` (``exact`` has no number)."""
        return self.kind if self.kind == "exact" else f"{self.kind}:{self.k}"

    @property
    def exact(self) -> bool:
        return self.kind == "exact"

    @property
    def code(self) -> tuple[int, int]:
        """(kind, k) as the kernels see it (lazy is the mac model's own, not a kernel's)."""
        return _KINDS[self.kind], self.k


def parse_normalize(value) -> Normalization:
    """Parse ``exact``, ``coarse:K`` (K >= 2), ``window:L`` (L >= 1) or ``lazy[:G]`` (G >= 0).

    Raises
    ------
    ValueError
        Naming the bad value and the valid forms.
    """
    if isinstance(value, Normalization):
        return value
    valid = "valid: exact, coarse:K (K >= 2), window:L (L >= 1), lazy[:G] (mac; G >= 0)"
    text = value.strip().lower() if isinstance(value, str) else None
    match = _NORMALIZE_RE.fullmatch(text) if text else None
    if match is None:
        raise ValueError(f"normalize={value!r} is invalid; {valid}")
    kind, number = match[1], match[2]
    if kind == "exact":
        if number is not None:
            raise ValueError(f"normalize={value!r} is invalid: exact takes no number; {valid}")
        return Normalization()
    if kind == "lazy":
        return Normalization("lazy", LAZY_GUARD_BITS if number is None else int(number))
    if number is None:
        raise ValueError(f"normalize={value!r} is invalid: {kind} needs its number; {valid}")
    k = int(number)
    if k < (2 if kind == "coarse" else 1):
        raise ValueError(f"normalize={value!r} is invalid: {kind}:{k} is out of range; {valid}")
    return Normalization(kind, k)


def check_normalize(norm: Normalization, kind: str, out, tininess: str) -> None:
    """Raise ValueError when ``norm`` is not defined for this unit (see docs/approximate.md)."""
    if norm.exact:
        return
    if norm.kind == "lazy" and kind != "mac":
        raise ValueError(f"normalize={norm.spec!r} is a mac accumulator variant; {kind} takes "
                         f"exact, coarse:K or window:L")
    if out.is_posit:
        raise ValueError(f"normalize={norm.spec!r} is defined for floating-point results, not "
                         f"{out.name}; use normalize='exact'")
    if tininess != "after":
        raise ValueError(f"normalize={norm.spec!r} detects underflow after rounding only; "
                         f"tininess={tininess!r} needs normalize='exact'")


def check_mul_approx(mul_approx: str, fa, fb) -> int:
    """Validate ``mul_approx`` for operand formats fa, fb; returns the kernels' code."""
    if mul_approx not in MUL_APPROX:
        raise ValueError(f"mul_approx={mul_approx!r} is invalid; valid: {', '.join(MUL_APPROX)}")
    if mul_approx == "exact":
        return core.M_EXACT
    if fa.is_posit or fb.is_posit or fa != fb:
        raise ValueError(f"mul_approx='lmul' needs floating-point operands of one format "
                         f"(a={fa.name}, b={fb.name})")
    return core.M_LMUL
