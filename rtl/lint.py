"""Lint emitted Verilog: ``verilator --lint-only -Wall`` with the documented waivers, and Icarus."""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LintResult", "verilator_lint", "icarus_compile", "WAIVERS"]

#: the waiver file (rules and reasons in docs/lint.md)
WAIVERS = Path(__file__).with_name("lint_waivers.vlt")


@dataclass(frozen=True)
class LintResult:
    tool: str
    returncode: int
    messages: tuple[str, ...]

    @property
    def clean(self) -> bool:
        return self.returncode == 0 and not self.messages


def _run(cmd, env=None) -> tuple[int, list[str]]:
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [line for line in (r.stdout + r.stderr).splitlines() if line.startswith(("%", "error", "warning"))
             or ": error" in line or ": warning" in line]
    return r.returncode, lines


def verilator_lint(verilog: str, top: str) -> LintResult:
    """``verilator --lint-only -Wall`` on ``verilog`` (module ``top``) with the waivers applied."""
    from ..sim.runner import verilator_root
    root = verilator_root()
    env = dict(os.environ, VERILATOR_ROOT=str(root), PATH=f"{root / 'bin'}{os.pathsep}{os.environ['PATH']}")
    with tempfile.TemporaryDirectory(prefix="mpmac-lint-") as d:
        src = Path(d) / f"{top}.v"
        src.write_text(verilog)
        code, lines = _run(["verilator", "--lint-only", "-Wall", str(WAIVERS), str(src),
                            "--top-module", top], env)
    return LintResult("verilator", code, tuple(lines))


def icarus_compile(verilog: str, top: str) -> LintResult:
    """Compile with Icarus Verilog (``iverilog -g2012``); any warning or error counts."""
    with tempfile.TemporaryDirectory(prefix="mpmac-iverilog-") as d:
        src = Path(d) / f"{top}.v"
        src.write_text(verilog)
        code, lines = _run(["iverilog", "-g2012", "-Wall", "-o", str(Path(d) / "a.out"), "-s", top,
                            str(src)])
    return LintResult("iverilog", code, tuple(lines))
