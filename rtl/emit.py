"""Verilog emission: deterministic text from a component (no source locations, fixed name)."""

from amaranth.back import verilog

__all__ = ["to_verilog"]


def to_verilog(component, name: str) -> str:
    """Verilog for ``component`` as module ``name``.

    Source-location attributes are left out, so the same parameters give byte-identical Verilog on
    any machine and from any checkout path.
    """
    return verilog.convert(component, name=name, emit_src=False)
