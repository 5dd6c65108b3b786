"""Native ABC as the solver of combinational proofs, one case at a time.

A combinational miter (formal/miter.py) is written once as an ASCII AIGER file by Yosys; its
assertions become AIGER bad-state properties. A case of a split proof fixes some input bits: here
those inputs are replaced by constants in the AIG itself (a cofactor), so that ABC's structural
hashing propagates them through both datapaths before it proves anything. With a fixed addend
exponent the alignment shifters of both sides become plain wiring, which is what makes the wide
fma cases tractable (docs/formal.md has the measurements). An smtbmc assumption on the same bits
cannot do that: the solver sees the whole shifter and learns the constants one conflict at a time.

ABC's ``dprove`` then decides the single output ``fail`` = OR of the properties: UNSAT is a proof,
SAT a refutation (the caller replays that case through sby/smtbmc for a readable trace).

The executable is Debian's ``berkeley-abc`` (or the ``yosys-abc`` of a native Yosys). The WASM
Yosys cannot serve: its ABC runs out of call stack on these miters.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..toolpath import find
from . import sat

__all__ = ["executable", "Aig", "AigError", "read_aag", "write_aig", "prove_cofactor"]

#: executables tried, in order
EXECUTABLES = ("berkeley-abc", "yosys-abc")


def executable() -> str | None:
    """Path of a native ABC, or None."""
    for exe in EXECUTABLES:
        found = find(exe)
        if found:
            return found
    return None


@dataclass
class Aig:
    """An ASCII AIGER (1.9) combinational miter: inputs by name, AND gates, bad-state literals."""

    max_var: int
    inputs: dict = field(default_factory=dict)     # "i_c[3]" -> variable index
    ands: list = field(default_factory=list)       # (lhs, rhs0, rhs1) literals
    bad: list = field(default_factory=list)        # literals that are 1 when an assertion fails

    def cofactor(self, fixed: dict) -> bytes:
        """Binary AIGER of ``fail`` (OR of the bad literals) with inputs ``fixed`` (name -> 0/1)
        replaced by constants. The fixed inputs stay declared (unused), so input numbering and
        names do not change. (ABC reads binary AIGER only.)"""
        const = {}
        for name, bit in fixed.items():
            if name not in self.inputs:
                raise KeyError(f"the miter has no input bit {name!r}")
            const[self.inputs[name]] = int(bit)

        def lit(x: int) -> int:
            v = x >> 1
            return (const[v] ^ (x & 1)) if v in const else x

        ands = [(lhs, lit(r0), lit(r1)) for lhs, r0, r1 in self.ands]
        # fail = ~(~b0 & ~b1 & ...): a chain of new AND gates over the negated bad literals
        var, acc = self.max_var, 1
        for b in self.bad:
            var += 1
            ands.append((2 * var, acc, lit(b) ^ 1))
            acc = 2 * var
        n_in = len(self.inputs)
        out = bytearray(f"aig {var} {n_in} 0 1 {len(ands)}\n{acc ^ 1}\n".encode())
        for k, (lhs, r0, r1) in enumerate(ands):
            if lhs != 2 * (n_in + 1 + k):
                raise ValueError("AND gates are not numbered consecutively after the inputs")
            r0, r1 = max(r0, r1), min(r0, r1)
            for delta in (lhs - r0, r0 - r1):
                while delta >= 0x80:
                    out.append(0x80 | (delta & 0x7F))
                    delta >>= 7
                out.append(delta)
        names = sorted(self.inputs.items(), key=lambda kv: kv[1])
        out += "".join(f"i{k} {name}\n" for k, (name, _) in enumerate(names)).encode()
        out += b"o0 fail\n"
        return bytes(out)


def read_aag(text: str) -> Aig:
    """Parse the ASCII AIGER Yosys writes for a combinational miter (``write_aiger -ascii
    -symbols``): no latches, assertions as bad-state properties (or outputs)."""
    lines = text.splitlines()
    head = lines[0].split()
    if head[0] != "aag":
        raise ValueError("not an ASCII AIGER file")
    m, i, latches, o, a = (int(x) for x in head[1:6])
    b = int(head[6]) if len(head) > 6 else 0
    if any(int(x) for x in head[7:]):
        raise ValueError("the miter has constraints, justice or fairness properties: not a plain "
                         "combinational miter")
    if latches:
        raise ValueError(f"the miter has {latches} latches: only combinational miters are cofactored")
    pos = 1
    input_lits = [int(lines[pos + k]) for k in range(i)]
    if input_lits != [2 * (k + 1) for k in range(i)]:
        raise ValueError("the AIG's inputs are not the first variables in order")
    pos += i
    outputs = [int(lines[pos + k]) for k in range(o)]
    pos += o
    bad = [int(lines[pos + k]) for k in range(b)]
    pos += b
    ands = [tuple(int(x) for x in lines[pos + k].split()) for k in range(a)]
    pos += a
    names = {}
    for line in lines[pos:]:
        if line.startswith("c"):
            break
        if line.startswith("i"):
            idx, name = line[1:].split(" ", 1)
            names[name] = input_lits[int(idx)] >> 1
    return Aig(m, names, ands, bad or outputs)


class AigError(RuntimeError):
    """Yosys could not write the miter as an AIG."""


#: Yosys commands after the miter is read and flattened: assertions as plain $assert cells (the
#: AIGER backend writes them as bad-state properties), bit-level AND/NOT gates, then AIGER
AIG_COMMANDS = ["chformal -lower", "techmap", "opt -fast", "aigmap", "opt_clean", "write_aiger -ascii -symbols miter.aag"]


def write_aig(files: dict, script: list, directory: Path) -> Aig:
    """Run Yosys on ``files`` with ``script`` (reading and flattening the miter) followed by
    :data:`AIG_COMMANDS` in ``directory``; return the AIG."""
    from .sby import tool_paths
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    (directory / "aig.ys").write_text("\n".join([*script, *AIG_COMMANDS]) + "\n")
    proc = subprocess.run([tool_paths()["--yosys"], "-ql", "aig.log", "aig.ys"], cwd=directory,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    aag = directory / "miter.aag"
    if proc.returncode != 0 or not aag.exists():
        log = (directory / "aig.log")
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else proc.stderr[-2000:]
        raise AigError(f"Yosys could not write the miter's AIG:\n{tail}")
    return read_aag(aag.read_text())


#: ABC scripts tried in turn on a cofactor until one gives a verdict, with the words of its
#: verdicts: ``dc2; dprove`` is the fastest here but trips an internal assertion of ABC on a few
#: cofactors, where the dedicated combinational checker ``&cec`` still answers
SCRIPTS = (
    ("strash; dc2; dprove", "UNSATISFIABLE", "SATISFIABLE"),
    ("strash; &get -n; &cec -m", "Networks are equivalent", "Networks are NOT EQUIVALENT"),
)


def prove_cofactor(aig: Aig, fixed: dict, directory: Path, timeout: float,
                   exe: str | None = None, solver: str = "abc"):
    """Write the cofactor of ``aig`` under ``fixed`` into ``directory`` and decide it: with
    ``solver="abc"`` by ABC's :data:`SCRIPTS`, with ``"cadical"`` by CaDiCaL on the CNF ABC
    writes (formal/sat.py).

    Returns
    -------
    mpmac.formal.sby.JobRun
        PASS (proven), FAIL (refuted), UNKNOWN (timed out, ``timed_out`` set, or no script gave
        a verdict); ABC's output is ``logfile.txt`` in ``directory``.
    """
    from .sby import JobRun
    exe = exe or executable()
    if exe is None:
        raise FileNotFoundError("no native ABC (berkeley-abc or yosys-abc) on PATH")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "case.aig").write_bytes(aig.cofactor(fixed))
    if solver == "cadical":
        return sat.prove_cnf(exe, directory, timeout)
    if solver != "abc":
        raise ValueError(f"solver={solver!r} is invalid: abc or cadical")
    t0 = time.perf_counter()
    log = []
    for script, proven, refuted in SCRIPTS:
        left = timeout - (time.perf_counter() - t0)
        try:
            proc = subprocess.run([exe, "-c", f"read_aiger case.aig; {script}"], cwd=directory,
                                  capture_output=True, text=True, timeout=max(1.0, left),
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return JobRun("UNKNOWN", time.perf_counter() - t0, directory, timed_out=True,
                          detail=f"ABC did not finish within {timeout:.0f} s")
        out = proc.stdout + proc.stderr
        log.append(f"$ {script}\n{out}")
        (directory / "logfile.txt").write_text("\n".join(log))
        if proven in out:
            return JobRun("PASS", time.perf_counter() - t0, directory)
        if refuted in out:
            return JobRun("FAIL", time.perf_counter() - t0, directory)
    return JobRun("UNKNOWN", time.perf_counter() - t0, directory,
                  detail="ABC gave no verdict:\n" + "\n".join(log)[-1500:])
