"""Analytic layer of the cost model: widths that follow from a unit's parameters, no tools.

:func:`analytic` returns ``analytic.*`` metrics:

``<role>_bits``       storage width of operand/result role ``a``, ``b``, ``c``, ``out`` (and ``acc``
                      for a mac with a rounded accumulator)
``<role>_precision``  significand precision of that role, hidden bit included (floats: man_bits + 1;
                      posits: the largest, at the shortest regime)
``<role>_exp_bits``   exponent field width (floats only)
``product_bits``      width of the exact significand product (a_precision + b_precision; mul, fma,
                      mac)
``acc_bits``          mac accumulator width: the fixed-point register of a ``kulisch``/``quire``
                      accumulator, or the accumulator format's width
``sigmul_bits``       width of the floor multiplier (see :mod:`mpmac.cost.floor`): the largest
                      precision of a and b
``in_port_bits``      data input bits (every input port but clk and rst)
``out_port_bits``     output bits (y and flags)
``latency``           pipeline depth in clock cycles (0: combinational; a mac always has its
                      accumulator register)
``sequential``        1 for a mac (state across operations), else 0
"""

from __future__ import annotations

from ..golden.formats import FloatFormat
from .floor import sigmul_width

__all__ = ["analytic"]


def analytic(unit) -> dict[str, int]:
    """Analytic widths of ``unit`` (a :class:`mpmac.Unit`) as ``{"analytic.<name>": int}``."""
    m: dict[str, int] = {}
    roles = list(unit.operands) + ["out"]
    accumulator = unit.accumulator if unit.kind == "mac" else None
    if accumulator is not None and not accumulator.exact:
        roles.append("acc")
    for role in roles:
        f = unit.fmt(role)
        m[f"{role}_bits"] = f.nbits
        m[f"{role}_precision"] = f.precision
        if isinstance(f, FloatFormat):
            m[f"{role}_exp_bits"] = f.exp_bits
    if unit.kind in ("mul", "fma", "mac"):
        m["product_bits"] = unit.fmt("a").precision + unit.fmt("b").precision
    if accumulator is not None:
        m["acc_bits"] = accumulator.width if accumulator.exact else accumulator.fmt.nbits
    m["sigmul_bits"] = sigmul_width(unit)
    m["in_port_bits"] = sum(w for p, (d, w) in unit.ports.items() if d == "in" and p not in ("clk", "rst"))
    m["out_port_bits"] = sum(w for d, w in unit.ports.values() if d == "out")
    m["latency"] = unit.latency
    m["sequential"] = int(unit.sequential)
    return {f"analytic.{k}": v for k, v in m.items()}
