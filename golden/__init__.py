"""Number formats and the bit-exact golden model: the single source of semantic truth."""

from .formats import NAMED_FORMATS, FloatFormat, Format, PositFormat, Specials, parse_format
from .ops import add, convert, decode, encode, fma, mul
from .rounding import MODES, Flags, RoundingContext

__all__ = ["NAMED_FORMATS", "FloatFormat", "Format", "PositFormat", "Specials", "parse_format",
           "add", "convert", "decode", "encode", "fma", "mul", "MODES", "Flags", "RoundingContext"]
