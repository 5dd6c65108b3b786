"""Where an external tool's executable is: one rule for every layer that runs tools."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

__all__ = ["find"]


def find(exe: str) -> str | None:
    """Path of ``exe``: the running interpreter's bin/ first (a venv used without activation puts
    its console scripts there but not on PATH), then PATH; None if absent."""
    here = Path(sys.executable).parent / exe
    if here.exists():
        return str(here)
    return shutil.which(exe)
