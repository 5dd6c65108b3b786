"""Deliberately wrong Verilog for a unit, to prove that the simulation benches can fail.

:func:`flip_output_bit` wraps the unit's real Verilog (renamed ``<name>_inner``) in a module with the
unit's name and ports that inverts one output bit, optionally only when a Verilog condition holds.
The fault-injection layer (DESIGN.md, verification layer 4) can build on the same wrapper.
"""

from __future__ import annotations

__all__ = ["flip_output_bit", "replace_input", "wrapper"]


def _esc(name: str) -> str:
    return f"\\{name} "


def _decl(direction: str, name: str, width: int) -> str:
    rng = f"[{width - 1}:0] " if width > 1 else ""
    return f"  {'input' if direction == 'in' else 'output'} {rng}{_esc(name)};"


def wrapper(unit, inner_verilog: str, inner_name: str, assigns: dict[str, str]) -> str:
    """A module named ``unit.name`` with the unit's ports around ``inner_name``.

    ``assigns`` maps an output port to a Verilog expression of ``inner_<port>`` (the inner module's
    output) and the inputs, or an input port to the expression the inner module receives instead of
    it (a fault on the way in, e.g. a mis-decoded operand field); other ports pass through.
    """
    ports = unit.ports
    lines = [inner_verilog, "",
             f"module {_esc(unit.name)}({', '.join(_esc(p) for p in ports)});"]
    lines += [_decl(d, p, w) for p, (d, w) in ports.items()]
    conns = []
    for p, (d, w) in ports.items():
        if d == "out":
            lines.append(f"  wire [{w - 1}:0] inner_{p};")
            conns.append(f".{_esc(p)}(inner_{p})")
        else:
            conns.append(f".{_esc(p)}({assigns.get(p, _esc(p))})")
    lines.append(f"  {_esc(inner_name)}inner ({', '.join(conns)});")
    for p, (d, w) in ports.items():
        if d == "out":
            lines.append(f"  assign {_esc(p)}= {assigns.get(p, f'inner_{p}')};")
    lines += ["endmodule", ""]
    return "\n".join(lines)


def flip_output_bit(unit, port: str = "y", bit: int = 0, when: str = "1'b1",
                    verilog: str | None = None) -> str:
    """Verilog of ``unit`` with bit ``bit`` of output ``port`` inverted whenever ``when`` holds.

    ``when`` is a Verilog expression over the input ports (escaped names are not needed for plain
    ones), e.g. ``"a[0]"``. ``verilog``: the inner Verilog, by default ``unit.verilog(name=...)``.
    """
    if port not in unit.ports or unit.ports[port][0] != "out":
        raise ValueError(f"{port!r} is not an output of {unit.name}: {list(unit.ports)}")
    width = unit.ports[port][1]
    if not 0 <= bit < width:
        raise ValueError(f"bit={bit} is outside output {port} ({width} bits)")
    inner = f"{unit.name}_inner"
    text = unit.verilog(name=inner) if verilog is None else verilog
    mask = f"{width}'d{1 << bit}"
    return wrapper(unit, text, inner, {port: f"inner_{port} ^ (({when}) ? {mask} : {width}'d0)"})


def replace_input(unit, port: str, value: str, when: str, verilog: str | None = None) -> str:
    """Verilog of ``unit`` whose inner module sees input ``port`` as ``value`` whenever ``when``
    holds (both Verilog expressions over the input ports), e.g. one lane's code read as another."""
    if port not in unit.ports or unit.ports[port][0] != "in":
        raise ValueError(f"{port!r} is not an input of {unit.name}: {list(unit.ports)}")
    inner = f"{unit.name}_inner"
    text = unit.verilog(name=inner) if verilog is None else verilog
    return wrapper(unit, text, inner, {port: f"(({when}) ? ({value}) : {_esc(port)})"})
