"""Simulation of emitted Verilog against the golden model (verification layer 2 of DESIGN.md).

:func:`verify` takes a unit object, builds its Verilog for Icarus Verilog (default) or Verilator, runs
vectors through it and compares every output with ``unit.golden``:

    >>> import mpmac, mpmac.sim
    >>> r = mpmac.sim.verify(mpmac.unit("mul", a="e4m3"), engine="stream")   # exhaustive: 2^16
    >>> r.checked, r.mismatches, r.first[:1]

Engines
    ``cocotb``: the generic cocotb testbench :mod:`mpmac.sim.tb_unit` (cocotb 2 runner API); Python
    drives every step. ``stream``: a generated Verilog testbench streams a vector file through the
    unit (:mod:`mpmac.sim.stream`), several times to orders of magnitude faster; the path for
    exhaustive regressions. Both take the same :class:`~mpmac.sim.plan.Plan` and report alike.

Vectors come from :func:`mpmac.sim.vectors.generate` unless given: exhaustive when the input space
has at most 2^16 points, else corner cases, targeted ties/overflow operands and random patterns;
mac units get random sequences with ``in_valid``/``clear`` mode switches and ``rst`` between them.

Builds are cached (see :mod:`mpmac.sim.runner`): the first run of a unit compiles it, later runs
only simulate.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import numpy as np

from . import runner, stream
from .plan import Plan
from .runner import SIMULATORS, SimulatorError
from .vectors import generate

__all__ = ["verify", "Result", "ENGINES", "SIMULATORS", "SimulatorError", "Plan", "generate"]

ENGINES = ("cocotb", "stream")


@dataclass
class Result:
    """Outcome of :func:`verify`.

    Attributes
    ----------
    unit : str
        Module name of the unit.
    sim, engine : str
    checked : int
        Steps whose outputs were compared (vectors; mac: cycles, rst cycles included).
    mismatches : int
    first : list of str
        The first few mismatches, decoded (inputs, expected and observed outputs, flag names).
    seconds : float
        Wall time of the whole call (vectors, golden model, Verilog, build, simulation).
    build_seconds : float
        Build time (0 when a cached build was reused: see ``built``).
    sim_seconds : float
        Wall time of the simulator process (cocotb: simulator start and the Python bench included).
    loop_seconds : float or None
        cocotb: time of the testbench's vector loop alone (steady-state throughput).
    notes : list of str
        Diagnoses, e.g. outputs matching at another latency than the declared one.
    """

    unit: str
    sim: str
    engine: str
    checked: int
    mismatches: int
    first: list = field(default_factory=list)
    seconds: float = 0.0
    build_seconds: float = 0.0
    sim_seconds: float = 0.0
    loop_seconds: float | None = None
    built: bool = False
    notes: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.mismatches == 0 and self.checked > 0

    @property
    def vectors_per_second(self) -> float:
        """Checked vectors per second of simulator run time (builds excluded)."""
        return self.checked / self.sim_seconds if self.sim_seconds > 0 else float("nan")

    def summary(self) -> str:
        return (f"{self.unit} [{self.sim}/{self.engine}]: {self.checked:,} vectors checked, "
                f"{self.mismatches:,} mismatches")


def verify(unit, vectors=None, *, n: int = 10_000, seed: int = 0, sim: str = "icarus",
           engine: str = "cocotb", exhaustive: bool | None = None, verilog: str | None = None,
           keep: bool = False, max_reported: int = 3) -> Result:
    """Simulate ``unit``'s Verilog against its golden model.

    Parameters
    ----------
    unit : mpmac.Unit
        Any unit object (``ports``, ``latency``, ``golden``, ``verilog``, ``name``).
    vectors : dict or list of dict, optional
        Input bit patterns: port -> array (stateless units); for mac one dict per sequence. Default:
        :func:`mpmac.sim.vectors.generate` with ``n``, ``seed`` and ``exhaustive``.
    n : int
        Vectors to generate (mac: cycles) when not exhaustive.
    seed : int
        Seed of the vector generator.
    sim : {"icarus", "verilator"}
    engine : {"cocotb", "stream"}
    exhaustive : bool or None
        None: exhaustive when the input space is at most 2^16; True: required (up to 2^24).
    verilog : str, optional
        Verilog to simulate instead of ``unit.verilog()`` (a module named ``unit.name`` with the
        unit's ports), e.g. a deliberately corrupted copy.
    keep : bool
        Keep the run directory (vector, result and log files) under the build root's ``runs/``.
    max_reported : int
        Mismatches decoded into ``Result.first``.

    Raises
    ------
    ValueError
        Bad sim/engine/vector arguments.
    NotImplementedError
        ``unit.verilog()`` is not implemented for this unit.
    SimulatorError
        A simulator is missing, or a build or simulation failed.
    """
    t_start = time.perf_counter()
    runner.check_sim(sim)
    if engine not in ENGINES:
        raise ValueError(f"engine={engine!r} is invalid; valid: {', '.join(ENGINES)}")
    if vectors is None:
        vectors = generate(unit, n, seed, exhaustive)
    plan = Plan.build(unit, vectors)
    toplevel = unit.name
    text = unit.verilog() if verilog is None else verilog
    if engine == "stream":
        r = stream.run(plan, text, toplevel, sim, keep)
        got = (r.got_y, r.got_flags, r.got_valid)
        bad = plan.mismatches(*got)
        result = Result(toplevel, sim, engine, plan.vectors, len(bad),
                        build_seconds=r.build_seconds if r.built else 0.0,
                        sim_seconds=r.sim_seconds, built=r.built)
    else:
        t0 = time.perf_counter()
        build_dir, built = runner.cocotb_build(text, toplevel, sim)
        t1 = time.perf_counter()
        with runner.run_dir(keep, prefix="cocotb-") as d:
            plan.write_npz(d / "vectors.npz")
            result_path = d / "result.json"
            t2 = time.perf_counter()
            runner.cocotb_run(build_dir, toplevel, sim, d, {
                "MPMAC_TB_VECTORS": str(d / "vectors.npz"), "MPMAC_TB_RESULT": str(result_path)})
            t3 = time.perf_counter()
            try:
                tb = json.loads(result_path.read_text())
                outs = np.load(str(result_path) + ".npz")
                got = (outs["got_y"], outs["got_flags"], outs["got_valid"])
            except (OSError, ValueError) as e:
                raise SimulatorError(f"the cocotb testbench wrote no result ({e}); log:\n"
                                     f"{runner._tail(d / 'sim.log')}") from None
        bad = plan.mismatches(*got)
        if tb["checked"] != plan.vectors or tb["mismatches"] != len(bad):
            raise SimulatorError(f"testbench and plan disagree: the bench checked {tb['checked']} "
                                 f"steps with {tb['mismatches']} mismatches, the plan counts "
                                 f"{plan.vectors} and {len(bad)}")
        result = Result(toplevel, sim, engine, tb["checked"], tb["mismatches"],
                        build_seconds=t1 - t0 if built else 0.0, sim_seconds=t3 - t2,
                        loop_seconds=tb["seconds"], built=built)
    for step in bad[:max_reported]:
        k = step + plan.delay
        gy = int(got[0][k]) if got[2][k] else "x"
        gf = int(got[1][k]) if got[2][k] else "x"
        result.first.append(plan.describe(int(step), gy, gf))
    if len(bad):
        hint = plan.latency_hint(*got)
        if hint:
            result.notes.append(hint)
    result.seconds = time.perf_counter() - t_start
    return result
