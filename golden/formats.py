"""Number formats: the one place where encodings, ranges and names are defined.

Everything else (golden model, RTL generators, testbenches, cost model) asks a format object for its
widths, special codes and limits; nothing re-derives them.

Format name grammar (case-insensitive), as accepted by :func:`parse_format` and the CLI::

    named     e4m3 e5m2 e3m2 e2m3 e2m1 bf16 fp16 fp32 fp64
    float     e<E>m<M>[b<BIAS>][_ieee|_fn|_finite|_fnuz][_ftz]
    posit     posit<N>_<ES>

``e<E>m<M>`` alone is IEEE-style (all-ones exponent encodes Inf/NaN) unless it is one of the named
formats: ``e4m3`` is OCP E4M3 ("fn": no Inf, only S.1111.111 is NaN) and ``e3m2``/``e2m3``/``e2m1`` are
the OCP MX element formats (finite: no Inf, no NaN). Write ``e4m3_ieee`` for the IEEE-shaped E4M3.
``b<BIAS>`` overrides the default bias (2^(E-1)-1, or 2^(E-1) for fnuz), ``_ftz`` removes subnormals
(inputs read as zero, results flushed to zero).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import Enum
from fractions import Fraction
from functools import cached_property

__all__ = ["Specials", "FloatFormat", "PositFormat", "Format", "parse_format", "NAMED_FORMATS",
           "format_names"]


class Specials(str, Enum):
    """Encoding policy for the special values of a :class:`FloatFormat`."""

    #: all-ones exponent: mantissa 0 is Inf, anything else NaN (MSB 1 quiet, MSB 0 signaling)
    IEEE = "ieee"
    #: OCP "fn" (E4M3): no Inf; only S.1...1.1...1 is NaN; the rest of the top binade is finite
    FN = "fn"
    #: no Inf and no NaN (OCP MX E2M1, E2M3, E3M2)
    FINITE = "finite"
    #: no Inf, no negative zero; the single NaN is 1000...0 (ml_dtypes "fnuz")
    FNUZ = "fnuz"


MAX_FLOAT_BITS = 64


@dataclass(frozen=True)
class FloatFormat:
    """A binary floating-point format: sign, ``exp_bits`` exponent bits, ``man_bits`` mantissa bits.

    Parameters
    ----------
    exp_bits : int
        Exponent field width, >= 1 (>= 2 for IEEE specials).
    man_bits : int
        Stored mantissa (trailing significand) width, >= 0; the precision is ``man_bits + 1``.
    bias : int, optional
        Exponent bias; default 2^(exp_bits-1)-1 (2^(exp_bits-1) for FNUZ).
    specials : Specials or str
        Special-value policy: ``"ieee"``, ``"fn"``, ``"finite"`` or ``"fnuz"``.
    subnormals : bool
        False reads subnormal encodings as zero and flushes results below the smallest normal to zero.

    Raises
    ------
    ValueError
        For out-of-range widths, an unknown policy, or a format with no finite nonzero value.
    """

    exp_bits: int
    man_bits: int
    bias: int | None = None
    specials: Specials = Specials.IEEE
    subnormals: bool = True

    def __post_init__(self):
        for field in ("exp_bits", "man_bits"):
            if not isinstance(getattr(self, field), int) or isinstance(getattr(self, field), bool):
                raise TypeError(f"{field} must be an int, not {getattr(self, field)!r}")
        if self.exp_bits < 1:
            raise ValueError(f"exp_bits={self.exp_bits} is invalid: a float format needs 1 or more "
                             f"exponent bits (valid: 1..11)")
        if self.exp_bits > 11:
            raise ValueError(f"exp_bits={self.exp_bits} is invalid: at most 11 exponent bits are "
                             f"supported (valid: 1..11)")
        if self.man_bits < 0:
            raise ValueError(f"man_bits={self.man_bits} is invalid: it must be >= 0")
        if 1 + self.exp_bits + self.man_bits > MAX_FLOAT_BITS:
            raise ValueError(f"e{self.exp_bits}m{self.man_bits} has {1 + self.exp_bits + self.man_bits} "
                             f"bits; at most {MAX_FLOAT_BITS} are supported")
        try:
            specials = Specials(self.specials)
        except ValueError:
            raise ValueError(f"specials={self.specials!r} is invalid; valid: "
                             f"{', '.join(s.value for s in Specials)}") from None
        object.__setattr__(self, "specials", specials)
        if specials is Specials.IEEE and (self.exp_bits < 2 or self.man_bits < 1):
            raise ValueError(f"IEEE specials need exp_bits >= 2 and man_bits >= 1 to encode both "
                             f"Inf and NaN; got e{self.exp_bits}m{self.man_bits}")
        if self.bias is None:
            default = 2 ** (self.exp_bits - 1) - (0 if specials is Specials.FNUZ else 1)
            object.__setattr__(self, "bias", default)
        elif not isinstance(self.bias, int) or isinstance(self.bias, bool):
            raise TypeError(f"bias must be an int, not {self.bias!r}")
        if not isinstance(self.subnormals, bool):
            raise TypeError(f"subnormals must be a bool, not {self.subnormals!r}")
        if self.max_code <= (0 if self.subnormals else (1 << self.man_bits) - 1):
            raise ValueError(f"e{self.exp_bits}m{self.man_bits} with specials={specials.value} and "
                             f"subnormals={self.subnormals} has no finite nonzero value")

    # -- widths ---------------------------------------------------------------------------------
    @property
    def nbits(self) -> int:
        """Total width in bits (sign + exponent + mantissa)."""
        return 1 + self.exp_bits + self.man_bits

    @property
    def precision(self) -> int:
        """Significand precision p including the hidden bit."""
        return self.man_bits + 1

    @property
    def is_posit(self) -> bool:
        return False

    # -- special codes (magnitudes without the sign bit unless stated) ----------------------------
    @property
    def sign_mask(self) -> int:
        return 1 << (self.nbits - 1)

    @property
    def exp_field_max(self) -> int:
        return (1 << self.exp_bits) - 1

    @property
    def has_inf(self) -> bool:
        return self.specials is Specials.IEEE

    @property
    def has_nan(self) -> bool:
        return self.specials is not Specials.FINITE

    @property
    def has_negative_zero(self) -> bool:
        return self.specials is not Specials.FNUZ

    @cached_property
    def max_code(self) -> int:
        """Encoding (sign 0) of the largest finite value."""
        all_ones = (1 << (self.exp_bits + self.man_bits)) - 1
        if self.specials is Specials.IEEE:
            return (self.exp_field_max << self.man_bits) - 1
        if self.specials is Specials.FN:
            return all_ones - 1
        return all_ones

    @property
    def inf_code(self) -> int | None:
        """Encoding of +Inf, or None."""
        return self.exp_field_max << self.man_bits if self.has_inf else None

    @property
    def nan_code(self) -> int | None:
        """Canonical NaN encoding: positive quiet NaN (IEEE), S.1...1 (fn), 10...0 (fnuz), or None."""
        if self.specials is Specials.IEEE:
            return (self.exp_field_max << self.man_bits) | (1 << (self.man_bits - 1))
        if self.specials is Specials.FN:
            return (1 << (self.nbits - 1)) - 1
        if self.specials is Specials.FNUZ:
            return self.sign_mask
        return None

    # -- exponent range ---------------------------------------------------------------------------
    @property
    def emin(self) -> int:
        """Unbiased exponent of the smallest normal."""
        return 1 - self.bias

    @property
    def emax(self) -> int:
        """Unbiased exponent of the largest finite value."""
        return (self.max_code >> self.man_bits) - self.bias

    @property
    def qmin(self) -> int:
        """Exponent of the subnormal quantum (the LSB weight of the smallest binade)."""
        return self.emin - self.man_bits

    # -- values -----------------------------------------------------------------------------------
    def exact_value(self, code: int) -> Fraction | None:
        """Exact value of a (non-special, non-negative) magnitude code."""
        e, f = code >> self.man_bits, code & ((1 << self.man_bits) - 1)
        if e == 0:
            return Fraction(f) * Fraction(2) ** self.qmin if self.subnormals else Fraction(0)
        return Fraction((1 << self.man_bits) | f) * Fraction(2) ** (e - self.bias - self.man_bits)

    @property
    def max_value(self) -> float:
        """Largest finite value."""
        return float(self.exact_value(self.max_code))

    @property
    def min_normal(self) -> float:
        """Smallest positive normal value, 2^emin."""
        return 2.0 ** self.emin

    @property
    def min_subnormal(self) -> float:
        """Smallest positive value (the min normal when subnormals are off)."""
        return 2.0 ** self.qmin if self.subnormals and self.man_bits else self.min_normal

    # -- names ------------------------------------------------------------------------------------
    @cached_property
    def name(self) -> str:
        """Shortest name that parses back to this format."""
        for candidate in self._name_candidates():
            try:
                if parse_format(candidate) == self:
                    return candidate
            except ValueError:  # e.g. bare e8m0 is no valid IEEE format; a longer name follows
                continue
        raise AssertionError(f"no name for {self!r}")  # unreachable: the last candidate is complete

    def _name_candidates(self):
        base = f"e{self.exp_bits}m{self.man_bits}"
        default_bias = 2 ** (self.exp_bits - 1) - (0 if self.specials is Specials.FNUZ else 1)
        if self.bias != default_bias:
            base += f"b{self.bias}"
        ftz = "" if self.subnormals else "_ftz"
        for key, fmt in NAMED_FORMATS.items():
            if fmt == self:
                yield key
            elif replace(fmt, subnormals=False) == self:
                yield key + "_ftz"
        yield base + ftz
        yield f"{base}_{self.specials.value}{ftz}"

    def without_subnormals(self) -> "FloatFormat":
        return replace(self, subnormals=False)

    def __str__(self):
        return self.name


@dataclass(frozen=True)
class PositFormat:
    """A posit(nbits, es) format: NaR = 10...0, a single zero, no Inf.

    Parameters
    ----------
    nbits : int
        Total width, 3..32.
    es : int
        Exponent field width, 0..4 and at most ``nbits - 3`` (so that the exponent can follow the
        sign and the shortest regime).

    Raises
    ------
    ValueError
        For out-of-range ``nbits`` or ``es``.
    """

    nbits: int
    es: int

    MIN_BITS = 3
    MAX_BITS = 32
    MAX_ES = 4

    def __post_init__(self):
        for field in ("nbits", "es"):
            v = getattr(self, field)
            if not isinstance(v, int) or isinstance(v, bool):
                raise TypeError(f"{field} must be an int, not {v!r}")
        if not self.MIN_BITS <= self.nbits <= self.MAX_BITS:
            raise ValueError(f"posit nbits={self.nbits} is invalid (valid: "
                             f"{self.MIN_BITS}..{self.MAX_BITS})")
        if not 0 <= self.es <= self.MAX_ES:
            raise ValueError(f"posit es={self.es} is invalid (valid: 0..{self.MAX_ES})")
        if self.es > self.nbits - 3:
            raise ValueError(f"posit es={self.es} is too large for nbits={self.nbits}: at most "
                             f"nbits-3 = {self.nbits - 3} exponent bits fit after the sign and the "
                             f"shortest regime")

    @property
    def is_posit(self) -> bool:
        return True

    @property
    def sign_mask(self) -> int:
        return 1 << (self.nbits - 1)

    @property
    def nar_code(self) -> int:
        return self.sign_mask

    nan_code = nar_code

    @property
    def max_code(self) -> int:
        """Encoding of maxpos."""
        return self.sign_mask - 1

    @property
    def max_regime(self) -> int:
        """Largest regime value r (that of maxpos); minpos has regime -max_regime."""
        return self.nbits - 2

    @property
    def max_scale(self) -> int:
        """log2(maxpos) = (nbits - 2) * 2^es."""
        return self.max_regime << self.es

    @property
    def max_fraction_bits(self) -> int:
        """Fraction bits of a posit with the shortest regime (e.g. near 1.0)."""
        return max(self.nbits - 3 - self.es, 0)

    @property
    def precision(self) -> int:
        """Largest significand precision including the hidden bit."""
        return self.max_fraction_bits + 1

    @property
    def max_value(self) -> float:
        return 2.0 ** self.max_scale

    @property
    def min_value(self) -> float:
        return 2.0 ** -self.max_scale

    #: posits have no subnormals: minpos is both the smallest "normal" and the smallest value
    min_normal = min_value
    min_subnormal = min_value

    @property
    def quire_bits(self) -> int:
        """Default quire width: 16n (2022 standard), or wider where es > 2 needs it.

        The quire LSB weighs minpos^2; the default width holds maxpos^2 with 31 carry bits and a
        sign: 2*log2(maxpos/minpos) + 32, which is exactly 16n for es = 2.
        """
        return max(16 * self.nbits, 4 * self.max_scale + 32)

    @property
    def quire_lsb_exp(self) -> int:
        """Exponent of the quire LSB: log2(minpos^2)."""
        return -2 * self.max_scale

    @property
    def name(self) -> str:
        return f"posit{self.nbits}_{self.es}"

    def __str__(self):
        return self.name


Format = FloatFormat | PositFormat

NAMED_FORMATS: dict[str, FloatFormat] = {
    "e4m3": FloatFormat(4, 3, specials=Specials.FN),
    "e5m2": FloatFormat(5, 2),
    "e3m2": FloatFormat(3, 2, specials=Specials.FINITE),
    "e2m3": FloatFormat(2, 3, specials=Specials.FINITE),
    "e2m1": FloatFormat(2, 1, specials=Specials.FINITE),
    "bf16": FloatFormat(8, 7),
    "fp16": FloatFormat(5, 10),
    "fp32": FloatFormat(8, 23),
    "fp64": FloatFormat(11, 52),
}

#: example posits listed by ``mpmac formats`` (any posit<N>_<ES> parses)
LISTED_POSITS = ("posit4_1", "posit8_0", "posit8_1", "posit8_2", "posit16_1", "posit16_2", "posit32_2")

GRAMMAR = ("named: " + " ".join(NAMED_FORMATS) + "; float: e<E>m<M>[b<BIAS>][_ieee|_fn|_finite|_fnuz]"
           "[_ftz]; posit: posit<N>_<ES> (e.g. posit8_0, posit16_1)")

_POSIT_RE = re.compile(r"posit(\d+)_(\d+)")
_FLOAT_RE = re.compile(r"e(\d+)m(\d+)(?:b(-?\d+))?((?:_(?:ieee|fn|finite|fnuz))?)(_ftz)?")
_NAMED_RE = re.compile(r"(" + "|".join(NAMED_FORMATS) + r")(_ftz)?")


def format_names() -> list[str]:
    """Names listed by ``mpmac formats``."""
    return list(NAMED_FORMATS) + list(LISTED_POSITS)


def parse_format(spec) -> Format:
    """Return the format for a name (see the module docstring's grammar) or a format object.

    Raises
    ------
    ValueError
        If the name does not follow the grammar or names an invalid format; the message lists the
        valid choices.
    """
    if isinstance(spec, (FloatFormat, PositFormat)):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"a format is a name or a FloatFormat/PositFormat, not {spec!r}")
    text = spec.strip().lower()
    if m := _NAMED_RE.fullmatch(text):
        fmt = NAMED_FORMATS[m[1]]
        return fmt.without_subnormals() if m[2] else fmt
    if m := _POSIT_RE.fullmatch(text):
        return PositFormat(int(m[1]), int(m[2]))
    if m := _FLOAT_RE.fullmatch(text):
        specials = m[4][1:] if m[4] else Specials.IEEE
        bias = int(m[3]) if m[3] is not None else None
        return FloatFormat(int(m[1]), int(m[2]), bias=bias, specials=specials, subnormals=not m[5])
    raise ValueError(f"unknown format {spec!r}; valid formats: {GRAMMAR}")
