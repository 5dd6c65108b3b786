"""CaDiCaL as the solver of a combinational cofactor, for the miters ABC's own engines do not finish.

ABC's ``dprove`` and ``&cec`` are built for circuits that share structure: they sweep for
internal equivalences and prove the output from them. The one-step miter of a simd engine with a
rounded accumulator has almost none to find: the engine aligns the lane sum to the accumulator and
normalizes, the reference adds both exactly in one wide register and rounds once. There a modern
CDCL solver on the plain CNF wins by orders of magnitude (the 4xe2m1 step of the fp32 engine:
ABC UNKNOWN after 900 s, CaDiCaL 120 s; docs/formal.md has the measurements).

ABC still does the front end: it reads the cofactor's AIG, simplifies it (``strash; dc2``) and
writes its CNF with the miter output asserted (``write_cnf``), so the CNF is satisfiable exactly
when the two sides differ for some input. CaDiCaL (from the python-sat wheel) then runs in a child
process of its own, so that a timeout can kill it: ``python formal/sat.py case.cnf`` (the file
as a script: it imports python-sat only, not mpmac) prints ``UNSAT`` or ``SAT``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

__all__ = ["prove_cnf", "SOLVER"]

#: the python-sat solver used (CaDiCaL 1.9.5)
SOLVER = "cadical195"

#: ABC's commands from the cofactor's AIG to the CNF of "the output is 1"
ABC_TO_CNF = "strash; dc2; write_cnf case.cnf"


def prove_cnf(exe: str, directory: Path, timeout: float):
    """Decide ``directory/case.aig`` (a one-output miter) with CaDiCaL.

    Returns
    -------
    mpmac.formal.sby.JobRun
        PASS (UNSAT: the output is never 1), FAIL (SAT), UNKNOWN (timed out, ``timed_out`` set),
        or ERROR (ABC or the solver failed; ``detail`` says how).
    """
    from .sby import JobRun
    t0 = time.perf_counter()

    def run(args):
        left = timeout - (time.perf_counter() - t0)
        try:
            return subprocess.run(args, cwd=directory, capture_output=True, text=True,
                                  timeout=max(1.0, left), stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return None

    abc = run([exe, "-c", f"read_aiger case.aig; {ABC_TO_CNF}"])
    solver = None
    if abc is not None and abc.returncode == 0 and (directory / "case.cnf").exists():
        solver = run([sys.executable, __file__, "case.cnf"])
    seconds = time.perf_counter() - t0
    log = "\n".join(f"$ {' '.join(p.args)}\n{p.stdout}{p.stderr}" for p in (abc, solver) if p)
    (directory / "logfile.txt").write_text(log)
    if abc is None or (abc.returncode == 0 and solver is None):
        return JobRun("UNKNOWN", seconds, directory, timed_out=True,
                      detail=f"CaDiCaL did not finish within {timeout:.0f} s")
    verdict = solver.stdout.strip() if solver is not None and solver.returncode == 0 else ""
    if verdict in ("UNSAT", "SAT"):
        return JobRun("PASS" if verdict == "UNSAT" else "FAIL", seconds, directory)
    return JobRun("ERROR", seconds, directory, detail="no verdict from ABC's CNF and CaDiCaL:\n"
                  + log[-1500:])


def _main(path: str) -> int:
    from pysat.formula import CNF
    from pysat.solvers import Solver
    with Solver(name=SOLVER, bootstrap_with=CNF(from_file=path).clauses) as solver:
        print("SAT" if solver.solve() else "UNSAT")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1]))
