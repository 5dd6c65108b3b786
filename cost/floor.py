"""Floor references of the cost model, synthesized by the same flows as the unit.

Every design point is also reported relative to two floors (``<metric>/sigmul``,
``<metric>/int8mac`` in :func:`mpmac.cost.model.evaluate`):

``sigmul``
    a bare unsigned ``w x w -> 2w`` integer multiplier, combinational, where ``w`` is the unit's
    significand width: the largest precision (hidden bit included) of operands a and b (a alone for
    a convert). No FP/posit unit with that significand product can be smaller, so
    ``cost / cost(sigmul)`` is the overhead of everything around the multiplier (cost-notes.md 3.2).
``int8mac``
    an INT8 MAC: ``y <= rst ? 0 : y + a * b`` with signed 8-bit a, b and a 32-bit accumulator
    register: the usual integer baseline of the minifloat-vs-integer comparisons.

The generators return small plain Verilog texts (one port per declaration, so the nextpnr flows
can read the ports).
"""

from __future__ import annotations

__all__ = ["sigmul_width", "sigmul", "int8mac", "floors", "FLOOR_NAMES"]

FLOOR_NAMES = ("sigmul", "int8mac")


def sigmul_width(unit) -> int:
    """Significand width of ``unit``: the largest precision of its operands a and b (a simd
    engine: its shared multiplier's width)."""
    if unit.kind == "simd":
        from ..rtl.simd import multiplier_width
        return multiplier_width(unit)
    roles = [r for r in ("a", "b") if r in unit.operands]
    return max(unit.fmt(r).precision for r in roles)


def sigmul(width: int) -> tuple[str, str]:
    """``(verilog, top)`` of a combinational unsigned ``width x width`` multiplier."""
    if not isinstance(width, int) or width < 1:
        raise ValueError(f"multiplier width {width!r} is invalid: it must be an int >= 1")
    top = f"mpmac_floor_umul{width}"
    text = (f"module {top}(a, b, y);\n"
            f"  input [{width - 1}:0] a;\n"
            f"  input [{width - 1}:0] b;\n"
            f"  output [{2 * width - 1}:0] y;\n"
            f"  assign y = a * b;\n"
            f"endmodule\n")
    return text, top


def int8mac(acc_bits: int = 32) -> tuple[str, str]:
    """``(verilog, top)`` of an INT8 MAC: signed 8x8 product into an ``acc_bits`` accumulator
    register with synchronous reset."""
    top = "mpmac_floor_int8mac" + ("" if acc_bits == 32 else f"_acc{acc_bits}")
    text = (f"module {top}(clk, rst, a, b, y);\n"
            f"  input clk;\n"
            f"  input rst;\n"
            f"  input [7:0] a;\n"
            f"  input [7:0] b;\n"
            f"  output reg [{acc_bits - 1}:0] y;\n"
            f"  always @(posedge clk)\n"
            f"    if (rst) y <= 0;\n"
            f"    else y <= $signed(y) + $signed(a) * $signed(b);\n"
            f"endmodule\n")
    return text, top


def floors(unit) -> dict[str, tuple[str, str]]:
    """The floor designs of ``unit``: ``{"sigmul": (verilog, top), "int8mac": (verilog, top)}``."""
    return {"sigmul": sigmul(sigmul_width(unit)), "int8mac": int8mac()}
