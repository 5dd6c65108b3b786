"""mpmac: low-precision floating-point and posit arithmetic hardware generators.

Public API: :func:`unit` builds a unit spec (golden model now; Verilog, simulation, proofs and cost in
later releases), :func:`format` parses a number format name.
"""

from .golden.formats import FloatFormat, PositFormat, Specials
from .golden.formats import parse_format as format
from .units import KINDS, Unit, unit

__all__ = ["unit", "format", "Unit", "KINDS", "FloatFormat", "PositFormat", "Specials"]
__version__ = "0.1.0"
