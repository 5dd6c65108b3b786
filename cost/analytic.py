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
``sequential``        1 for a mac or simd engine (state across operations), else 0

A ``simd`` engine has no operand formats a/b of its own: ``a_bits``/``b_bits`` are its word width,
``out``/``acc`` as for a mac (``reduce="dot"``), ``product_bits`` the shared multiplier's product
(2W), and per mode (named as in ``modes``, see :func:`mode_keys`) ``lanes.<mode>`` and
``macs_per_cycle.<mode>`` (the lane count: one multiply-accumulate per lane and cycle, or one
lane-wise product with ``reduce="lanes"``), ``lane_bits.<mode>``, ``lane_precision.<mode>``;
``modes`` and ``mode_bits`` (width of the ``mode`` input).
"""

from __future__ import annotations

from ..golden.formats import FloatFormat
from .floor import sigmul_width

__all__ = ["analytic", "mode_keys"]


def mode_keys(unit) -> list[str]:
    """The metric-name suffix of each mode of a simd engine, in ``mode`` index order: the mode's
    name (``4xe2m1``), with ``@<index>`` added to a name that an earlier mode already has. Names
    do not depend on the position, so an engine's mode and the single-mode unit of the same lanes
    report under the same key."""
    keys: list[str] = []
    for k, lanes in enumerate(unit.lanes):
        keys.append(lanes.name if lanes.name not in keys else f"{lanes.name}@{k}")
    return keys


def _simd(unit) -> dict[str, int]:
    """The simd-only widths (see the module docstring)."""
    from ..rtl.simd import multiplier_width
    m = {"a_bits": unit.width, "b_bits": unit.width, "modes": len(unit.lanes),
         "mode_bits": unit.mode_bits, "product_bits": 2 * multiplier_width(unit)}
    for key, lanes in zip(mode_keys(unit), unit.lanes):
        m[f"lanes.{key}"] = lanes.count
        m[f"macs_per_cycle.{key}"] = lanes.count
        m[f"lane_bits.{key}"] = lanes.fmt.nbits
        m[f"lane_precision.{key}"] = lanes.fmt.precision
    return m


def analytic(unit) -> dict[str, int]:
    """Analytic widths of ``unit`` (a :class:`mpmac.Unit`) as ``{"analytic.<name>": int}``."""
    m: dict[str, int] = {}
    simd = unit.kind == "simd"
    # a simd engine's operands are words of lanes: their widths come from _simd
    roles = ([] if simd else list(unit.operands)) + \
        ([] if simd and unit.reduce == "lanes" else ["out"])
    accumulator = unit.accumulator if unit.kind in ("mac", "simd") else None
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
    if simd:
        m.update(_simd(unit))
    if accumulator is not None:
        m["acc_bits"] = accumulator.width if accumulator.exact else accumulator.fmt.nbits
    m["sigmul_bits"] = sigmul_width(unit)
    m["in_port_bits"] = sum(w for p, (d, w) in unit.ports.items() if d == "in" and p not in ("clk", "rst"))
    m["out_port_bits"] = sum(w for d, w in unit.ports.values() if d == "out")
    m["latency"] = unit.latency
    m["sequential"] = int(unit.sequential)
    return {f"analytic.{k}": v for k, v in m.items()}
