"""Proof obligations of a unit, run as SymbiYosys jobs (verification layer 3 of DESIGN.md).

:func:`prove` builds the miters of the obligations a unit has (see docs/formal.md), runs them with
:mod:`mpmac.formal.sby` and returns one :class:`ProofResult` each, whose ``scope`` says in words
exactly what a PASS establishes. A FAIL carries a :class:`~mpmac.formal.counterexample.Counterexample`
(inputs, reference and DUT outputs, golden result) that is also written as a pytest file replaying
it in simulation.

Obligations
    ``equiv``: the DUT (the unit's own Verilog at latency 0, or an external file at the unit's latency)
    equals :class:`~mpmac.formal.reference.ReferenceUnit`. Operands of at most
    :data:`FULL_PROOF_BITS` bits: complete, for every input. Wider multiplying units: both sides with
    ``product="port"`` and one shared integer product (the multiplier itself is not compared).
    ``pipeline``: the unit at its latency N equals its latency-0 version N cycles later (k-induction).
    ``mac_step``: the mac's accumulator state, ``y`` and ``flags`` equal the reference mac's from
    reset on, for every input sequence (induction; state equality makes it 1-inductive).
    ``simd_step``: per mode of a simd engine, with ``mode`` fixed to it, the engine's
    accumulator state, ``y`` and ``flags`` equal those of
    :class:`~mpmac.formal.simd_reference.SimdReference` of that mode from reset on (the unit's
    own engine: the induction step as one combinational step from every state, formal/simd_step.py).
    Lanes of at most ``simd_step.FULL_LANE_BITS`` bits: complete in one proof; wider lanes: a
    shared block product plus a proof of the partitioned multiplier in that mode (complete
    together for lane significands of at most ``simd_step.MULTIPLIER_PROOF_BITS`` bits); a rounded
    accumulator also gets each mode's step with ``clear`` high.
    ``auto``: what the unit needs: equiv (+ pipeline when latency > 0); mac: mac_step (+ pipeline);
    simd: simd_step per mode (+ pipeline).
"""

from __future__ import annotations

import re
import resource
import shutil
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path

from . import abc
from . import miter as M
from . import sby
from .counterexample import Counterexample, read_counterexample

__all__ = ["prove", "ProofResult", "OBLIGATIONS", "FULL_PROOF_BITS", "plan"]

OBLIGATIONS = ("auto", "equiv", "pipeline", "mac_step", "simd_step")

#: operands up to this width get a complete proof; wider multiplying units share the multiplier
FULL_PROOF_BITS = 8

#: BMC depth (cycles after reset) for an external mac, whose accumulator state is not visible
MAC_BMC_DEPTH = 8

#: the operand whose top bits split a combinational proof into cases, per kind: the alignment of
#: the two addends hangs on its exponent, and SAT proves each fixed-alignment case far faster
#: than the whole (docs/formal.md has the measurements)
SPLIT_OPERAND = {"fma": "c", "add": "b"}

#: bits below the sign that a split fixes (2^SPLIT_BITS cases), and the narrowest operand split
SPLIT_BITS, SPLIT_MIN_WIDTH = 4, 8

#: seconds after which a case is split in two on the next bit instead of waited for
CASE_PATIENCE = 30

#: ABC engine: seconds after which a case is split, and the bits one split fixes at most
ABC_PATIENCE, ABC_SPLIT_BITS = 15, 4

#: default solver timeout per proof, seconds
TIMEOUT = 600

SHARED_SCOPE = ("decode and multiplier-operand equality proven; downstream datapath proven equal "
                "given a shared integer product; the integer multiplier itself is not compared")


@dataclass
class ProofResult:
    """Outcome of one proof obligation.

    Attributes
    ----------
    obligation : str
        ``equiv``, ``pipeline`` or ``mac_step``.
    status : str
        ``PASS`` (proven), ``FAIL`` (refuted: see ``counterexample``), ``UNKNOWN`` (the solver did
        not finish or induction did not close: nothing proven or refuted), ``ERROR`` (a tool failed:
        see ``detail``).
    seconds : float
        Wall-clock time of the sby run (model generation included).
    scope : str
        Exactly what a PASS proves (and, for bounded proofs, what it does not).
    counterexample : Counterexample or None
    log_path : pathlib.Path or None
        sby's log, when the job directory was kept (``keep=True``).
    unit : str
        Name of the unit (or of the external DUT's top module).
    detail : str
        Why an ERROR or UNKNOWN happened (log lines).
    cpu_seconds : float
        CPU time of the tools (sby, Yosys, smtbmc, the solver) over all cases: less sensitive to
        the machine's load than ``seconds``.
    cases : int
        Cases the proof finished (1 unless split; a slow case counts as its two halves).
    label : str
        Which part of the unit the proof covers (simd_step: the fixed mode), else empty.
    """

    obligation: str
    status: str
    seconds: float
    scope: str
    counterexample: Counterexample | None = None
    log_path: Path | None = None
    unit: str = ""
    detail: str = ""
    cpu_seconds: float = 0.0
    cases: int = 1
    label: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "PASS"

    def summary(self) -> str:
        return (f"{self.obligation:<9} {self.status:<7} {self.seconds:7.1f} s wall, "
                f"{self.cpu_seconds:5.0f} s cpu, {self.cases:>2} case(s)  {self.unit}"
                + (f"  [{self.label}]" if self.label else ""))


@dataclass
class Proof:
    """One planned obligation: its miter sides, settings and scope text (see :func:`plan`)."""

    obligation: str
    dut: M.Side
    ref: M.Side
    files: dict
    data: dict
    compare: tuple = ("y", "flags")
    product: str | None = None
    settle: int = 0
    reset: str = "none"
    mode: str = "bmc"
    depth: int = 1
    scope: str = ""
    spec: object = None
    dut_text: str = ""
    dut_top: str = ""
    cases: tuple = (None,)
    invariant: str | None = None
    fixed: dict | None = None
    blocks: tuple | None = None  # a shared product's lane fields (miter's ``blocks``)
    replayable: bool = True  # False: a module's proof (simd multiplier), whose inputs are no unit's
    label: str = ""
    trace: "Proof | None" = None  # run on a FAIL for a trace from reset (a one-step proof's)
    solver: str = "abc"  # a combinational proof's solver: ABC's scripts or CaDiCaL (formal/abc.py)


# --- planning ------------------------------------------------------------------------------------
def _data_ports(unit) -> dict:
    return {p: w for p, (d, w) in unit.ports.items() if d == "in" and p not in M.CLOCK_PORTS}


def _inputs_text(unit) -> str:
    return ", ".join(_data_ports(unit))


def _wide(unit) -> bool:
    """Multiplying units whose multiplier operands exceed FULL_PROOF_BITS get a shared product."""
    from ..rtl.layouts import MULTIPLYING_KINDS
    return unit.kind in MULTIPLYING_KINDS and \
        max(unit.fmt(r).nbits for r in ("a", "b")) > FULL_PROOF_BITS


def _at_latency(unit, latency: int):
    return replace(unit, latency=latency) if unit.latency != latency else unit


def _reference(unit, product: str, expose_state: bool) -> tuple[str, M.Side]:
    from .reference import reference_verilog
    spec = _at_latency(unit, 0)
    name = f"{spec.name}_ref"
    text = reference_verilog(spec, name=name, product=product, expose_state=expose_state)
    ports = dict(spec.ports)
    if product == "port":
        ports.update(_product_ports(text, name))
    if expose_state:
        ports["acc_state"] = M.read_modules(text)[name].ports["acc_state"]
    return text, M.Side(name, ports)


def _product_ports(text: str, name: str) -> dict:
    ports = M.read_modules(text)[name].ports
    return {p: ports[p] for p in M.PRODUCT_PORTS}


def _own(unit, latency: int, product: str = "internal", expose_state: bool = False,
         suffix: str = "") -> tuple[str, M.Side]:
    """The unit's own Verilog at ``latency`` (with proof knobs) and its side."""
    spec = _at_latency(unit, latency)
    name = spec.name + suffix
    text = spec.verilog(name=name, product=product, expose_state=expose_state)
    if product == "internal" and not expose_state:
        return text, M.Side(name, dict(spec.ports))
    return text, M.Side(name, dict(M.read_modules(text)[name].ports))


def plan(unit, obligation: str = "auto", dut_verilog: str | None = None,
         top: str | None = None, product: str = "auto") -> list[Proof]:
    """The proofs :func:`prove` runs, without running them (see the module docstring).

    Raises
    ------
    ValueError
        Unknown obligation or product mode, an obligation the unit does not have, or an external
        DUT that cannot be read, has no such top module, or has other ports than the unit.
    """
    if obligation not in OBLIGATIONS:
        raise ValueError(f"obligation={obligation!r} is invalid; valid: {', '.join(OBLIGATIONS)}")
    if product not in ("auto", "full", "shared", "cut"):
        raise ValueError(f"product={product!r} is invalid; valid: auto, full, shared, cut")
    mac, simd = unit.kind == "mac", unit.kind == "simd"
    if obligation == "auto":
        first = "mac_step" if mac else "simd_step" if simd else "equiv"
        wanted = [first] + (["pipeline"] if unit.latency and dut_verilog is None else [])
    else:
        wanted = [obligation]
    if "pipeline" in wanted and unit.latency == 0:
        raise ValueError(f"obligation 'pipeline' needs latency > 0; {unit.name} has latency 0")
    if "mac_step" in wanted and not mac:
        raise ValueError(f"obligation 'mac_step' is for mac units, not {unit.kind}")
    if "simd_step" in wanted and not simd:
        raise ValueError(f"obligation 'simd_step' is for simd units, not {unit.kind}")
    if "equiv" in wanted and (mac or simd):
        raise ValueError(f"a {unit.kind}'s equivalence obligation is '{unit.kind}_step'")
    dut = _external(unit, dut_verilog, top) if dut_verilog is not None else None
    proofs = []
    for ob in wanted:
        if ob == "equiv":
            proofs.append(_equiv(unit, dut, product))
        elif ob == "pipeline":
            proofs.append(_pipeline(unit, dut))
        elif ob == "simd_step":
            from .simd_step import simd_steps
            proofs.extend(simd_steps(unit, dut, product))
        else:
            proofs.append(_mac_step(unit, dut))
    return proofs


def _has_state(unit) -> bool:
    """An accumulator whose state the proofs compare (a mac; a simd engine with reduce="dot")."""
    return unit.kind == "mac" or (unit.kind == "simd" and unit.reduce == "dot")


def _external(unit, text: str, top: str | None) -> tuple[str, M.Side, bool]:
    """(text, side, has acc_state) of an external DUT, after checking its ports against the unit's."""
    modules = M.read_modules(text)
    module = M.find_top(modules, top, preferred=unit.name)
    expected = dict(unit.ports)
    state = module.ports.get("acc_state")
    extra = {"acc_state": state} if _has_state(unit) and state and state[0] == "out" else {}
    M.check_ports(module, {**expected, **extra}, "the DUT's top module")
    return text, M.Side(module.name, dict(module.ports)), bool(extra)


@dataclass(frozen=True)
class Case:
    """One case of a split combinational proof: bits ``hi..lo`` of the miter's input ``signal``
    equal ``value``. (Only combinational: in a sequential proof a condition on every step would not
    partition the traces.)"""

    signal: str
    hi: int
    lo: int
    value: int

    def parts(self, bits: int) -> tuple | None:
        """The cases up to ``bits`` more bits split this one into (None: no bit left)."""
        n = min(bits, self.lo)
        if n == 0:
            return None
        return tuple(replace(self, lo=self.lo - n, value=(self.value << n) + k)
                     for k in range(1 << n))

    def fixed(self) -> dict:
        """The case as input bit name -> value (``i_c[14]`` -> 1, ...)."""
        return {f"{self.signal}[{k}]": (self.value >> (k - self.lo)) & 1
                for k in range(self.lo, self.hi + 1)}

    def smtc(self) -> str:
        """The case as an smtbmc constraints file."""
        bits = f"{self.value:0{self.hi - self.lo + 1}b}"
        return f"always\nassume (= ((_ extract {self.hi} {self.lo}) [{self.signal}]) #b{bits})\n"


def _top_bits(signal: str, top: int) -> tuple:
    """Cases over the SPLIT_BITS bits below bit ``top`` (a sign bit) of ``signal``."""
    s = min(SPLIT_BITS, top)
    return tuple(Case(signal, top - 1, top - s, k) for k in range(1 << s))


def _cases(unit) -> tuple:
    """The cases of a combinational proof (``(None,)``: one case, no split)."""
    role = SPLIT_OPERAND.get(unit.kind)
    if role is None or unit.fmt(role).nbits < SPLIT_MIN_WIDTH:
        return (None,)
    return _top_bits(M.input_name(role), unit.fmt(role).nbits - 1)


def _cases_text(unit, cases) -> str:
    if cases == (None,):
        return ""
    return (f" (run as cases of the top {len(cases).bit_length() - 1} or more bits of "
            f"{SPLIT_OPERAND[unit.kind]} below its sign, which together cover every input)")


def _equiv(unit, dut, product: str) -> Proof:
    data = _data_ports(unit)
    mode = product
    if mode == "auto":
        mode = "shared" if _wide(unit) and dut is None else "full"
    if mode in ("shared", "cut") and dut is not None:
        raise ValueError(f"product={product!r} needs the unit's own Verilog (an external DUT has "
                         f"no multiplier ports); use product='full'")
    knob = "port" if mode in ("shared", "cut") else "internal"
    ref_text, ref = _reference(unit, knob, False)
    if dut is None:
        dut_text, side = _own(unit, 0, product=knob)
        latency = 0
    else:
        dut_text, side, _ = dut
        latency = unit.latency
    files = {"dut.v": dut_text, "ref.v": ref_text}
    who = f"{side.module}" + (f" (latency {latency})" if latency else "")
    if mode == "full":
        scope = (f"complete: for every input ({_inputs_text(unit)}), y and flags of {who} equal "
                 f"those of the reference datapath")
    elif mode == "shared":
        scope = f"{SHARED_SCOPE} (every input: {_inputs_text(unit)})"
    else:
        scope = ("decode and multiplier-operand equality proven; downstream datapath proven equal "
                 "for every value of the integer product (cut: not only products); the integer "
                 "multiplier itself is not compared")
    if latency:
        ref = replace(ref, delay=latency)
        scope += (f", {latency} cycles later, whenever the {latency} preceding clock edges had rst "
                  f"low (k-induction)")
        return Proof("equiv", side, ref, files, data, settle=latency, reset="free", mode="prove",
                     depth=latency + 1, scope=scope, spec=unit, dut_text=dut_text,
                     dut_top=side.module)
    cases = _cases(unit)
    return Proof("equiv", side, ref, files, data, product=mode if mode != "full" else None,
                 scope=scope + _cases_text(unit, cases), spec=_at_latency(unit, 0),
                 dut_text=dut_text, dut_top=side.module if dut is not None else "", cases=cases)


def _pipeline(unit, dut) -> Proof:
    n = unit.latency
    data = _data_ports(unit)
    mac = _has_state(unit)
    if dut is None:
        dut_text, side = _own(unit, n, expose_state=mac)
    else:
        dut_text, side, state = dut
        if mac and not state:
            raise ValueError("the pipeline obligation of an external mac needs an acc_state output")
    top = side.module if dut is not None else ""
    comb_text, comb = _own(unit, 0, expose_state=mac, suffix="_comb")
    files = {"dut.v": dut_text, "ref.v": comb_text}
    comb = replace(comb, delay=n)
    if unit.kind == "simd" and not mac:  # reduce="lanes": y and flags are the whole state
        scope = (f"from reset on, for every input sequence (rst included), y and flags of "
                 f"{side.module} equal those of its latency-0 version fed the same inputs {n} "
                 f"cycles later (k-induction; in-flight products are dropped on rst)")
        return Proof("pipeline", side, comb, files, data, reset="first", mode="prove",
                     depth=n + 2, scope=scope, spec=unit, dut_text=dut_text, dut_top=top)
    if mac:
        scope = (f"from reset on, for every input sequence (rst included), acc_state, y and flags "
                 f"of {side.module} equal those of its latency-0 version fed the same inputs "
                 f"{n} cycles later (k-induction; in-flight products are dropped on rst)")
        return Proof("pipeline", side, comb, files, data, ("y", "flags", "acc_state"),
                     reset="first", mode="prove", depth=n + 2, scope=scope, spec=unit,
                     dut_text=dut_text, dut_top=top)
    scope = (f"for every input sequence, y and flags of {side.module} equal those of its latency-0 "
             f"version {n} cycles later, whenever the {n} preceding clock edges had rst low "
             f"(k-induction, rst a free input)")
    return Proof("pipeline", side, comb, files, data, settle=n, reset="free", mode="prove",
                 depth=n + 1, scope=scope, spec=unit, dut_text=dut_text, dut_top=top)


def _mac_step(unit, dut) -> Proof:
    data = _data_ports(unit)
    shared = dut is None and _wide(unit)
    knob = "port" if shared else "internal"
    if dut is None:
        dut_text, side = _own(unit, 0, product=knob, expose_state=True)
        state, latency = True, 0
    else:
        dut_text, side, state = dut
        latency = unit.latency
    ref_text, ref = _reference(unit, knob, state)
    ref = replace(ref, delay=latency)
    files = {"dut.v": dut_text, "ref.v": ref_text}
    later = f", fed the same inputs {latency} cycles later" if latency else ""
    if state:
        # a lazy accumulator's registers have encodings no input sequence reaches (a class bit
        # with a nonzero significand, a top below emin): its well-formedness is proven with the
        # equality, so that the induction step starts from well-formed states only
        from .reference import state_invariant
        invariant = state_invariant(unit, "ref_acc_state")
        scope = (f"from reset on, for every input sequence (a, b, in_valid, clear, rst"
                 f"{', rand' if 'rand' in data else ''}), the accumulator state, y and flags of "
                 f"{side.module} equal those of the reference mac{later}"
                 f"{' and the state is well-formed' if invariant else ''} (induction)")
        if shared:
            scope = f"{SHARED_SCOPE}; {scope}"
        return Proof("mac_step", side, ref, files, data, ("y", "flags", "acc_state"),
                     product="shared" if shared else None,
                     reset="first", mode="prove", depth=latency + 2, scope=scope,
                     spec=_at_latency(unit, latency), dut_text=dut_text,
                     dut_top=side.module if dut is not None else "", invariant=invariant)
    scope = (f"bounded: for every input sequence of {MAC_BMC_DEPTH} cycles from reset, y and flags "
             f"of {side.module} equal those of the reference mac{later} (BMC depth "
             f"{MAC_BMC_DEPTH}; the DUT has no acc_state output, so its accumulator cannot be "
             f"compared and nothing beyond {MAC_BMC_DEPTH} cycles is proven)")
    return Proof("mac_step", side, ref, files, data, reset="first", mode="bmc",
                 depth=MAC_BMC_DEPTH + latency, scope=scope, spec=unit, dut_text=dut_text,
                 dut_top=side.module)


# --- running -------------------------------------------------------------------------------------
SCRIPT = ["read_verilog -sv dut.v", "read_verilog -sv ref.v",
          "read_verilog -formal -sv miter.sv", f"prep -flatten -top {M.MITER}"]

#: ABC's SAT sweeping (fraig) merges the nodes it proves equal across the two sides: a few seconds
#: once per model, then every case solves several times faster (docs/formal.md); the compared
#: outputs are kept so that a counterexample trace still shows them
FRAIG = ["setattr -set keep 1 w:dut_* w:ref_*", "techmap", "opt -fast",
         "abc -script +strash;fraig;map", "opt_clean"]


def _miter_text(p: Proof) -> str:
    """The miter of ``p``, the same for every engine (smtbmc jobs and ABC's AIG)."""
    return M.miter(p.dut, p.ref, p.data, p.compare, product=p.product, settle=p.settle,
                   reset=p.reset, invariant=p.invariant, fixed=p.fixed, blocks=p.blocks)


def _job(p: Proof, timeout: float, case: Case | None = None) -> sby.Job:
    text = _miter_text(p)
    return sby.Job(p.obligation, {**p.files, "miter.sv": text}, SCRIPT + FRAIG,
                   p.mode, p.depth, timeout, case.smtc() if case is not None else None)


#: worst first: the status of a split proof is the worst status of its cases
_SEVERITY = ("FAIL", "ERROR", "UNKNOWN", "PASS")


class _SmtbmcCases:
    """Cases solved by smtbmc on one SMT model: sby generates it with the first case, and the other
    cases rerun smtbmc on it under their own constraints. A slow case splits in two."""

    patience = CASE_PATIENCE

    def __init__(self, p: Proof, directory: Path, timeout: float):
        self.p, self.directory, self.timeout = p, directory, timeout
        self.model = None

    def prepare(self) -> sby.JobRun:
        """The first case's run (it generates the model)."""
        self.model = sby.run(_job(self.p, self.timeout, self.p.cases[0]), self.directory / "case000")
        return self.model

    def solve(self, case: Case, limit: float, directory: Path) -> sby.JobRun:
        return sby.rerun(self.model, self.p.depth, case.smtc(), directory, limit)

    @staticmethod
    def split(case: Case) -> tuple | None:
        return case.parts(1)


class _AbcCases:
    """Cases of a combinational proof solved by native ABC on cofactors of one AIG of the miter
    (formal/abc.py). A slow case splits into up to 2^ABC_SPLIT_BITS cases at once: the addend
    exponents near the product's need single values, and halving one bit at a time would pay the
    patience at every level. A refuted case is replayed through sby for a readable trace."""

    patience = ABC_PATIENCE

    def __init__(self, p: Proof, directory: Path, timeout: float):
        self.p, self.directory, self.timeout = p, directory, timeout
        self.aig = None

    def prepare(self) -> sby.JobRun | None:
        """None once the AIG is written, else the ERROR run that says why it is not."""
        t0 = time.perf_counter()
        text = _miter_text(self.p)
        try:
            self.aig = abc.write_aig({**self.p.files, "miter.sv": text}, SCRIPT,
                                     self.directory / "aig")
        except abc.AigError as e:
            return sby.JobRun("ERROR", time.perf_counter() - t0, self.directory / "aig",
                              detail=str(e))
        return None

    def solve(self, case: Case | None, limit: float, directory: Path) -> sby.JobRun:
        r = abc.prove_cofactor(self.aig, case.fixed() if case else {}, directory, limit,
                               solver=self.p.solver)
        if r.status != "FAIL":
            return r
        # the trace of a refuted case comes from sby, whose witness the counterexample reader knows
        trace = sby.run(_job(self.p, self.timeout, case), directory / "trace")
        if trace.status != "FAIL":
            return sby.JobRun("ERROR", r.seconds + trace.seconds, trace.directory,
                              detail=f"ABC refuted the case {case} but sby says {trace.status}: "
                                     f"{trace.detail}")
        return trace

    def split(self, case: Case | None) -> tuple | None:
        # CaDiCaL is not split on patience: its cases measured slower in parts than whole
        if case is None or self.p.solver == "cadical":
            return None
        return case.parts(ABC_SPLIT_BITS)


def _engine(p: Proof, directory: Path, timeout: float):
    """ABC for combinational miters when a native ABC is installed, else smtbmc."""
    if p.reset == "none" and abc.executable() is not None:
        return _AbcCases(p, directory, timeout)
    return _SmtbmcCases(p, directory, timeout)


def _run_cases(p: Proof, timeout: float, directory: Path, jobs: int) -> list:
    """Run the cases of ``p`` within ``timeout`` seconds in all, up to ``jobs`` at once.

    The engine (:func:`_engine`) prepares its model, then solves the cases; a case still open after
    the engine's patience is split (the parts cover it). Returns the finished runs, then ``None``
    if some case was left open (a FAIL stops the rest, and so does the deadline).
    """
    deadline = time.monotonic() + timeout
    engine = _engine(p, directory, timeout)
    first = engine.prepare()
    runs = [first] if first is not None else []
    queue = deque(p.cases[1:] if first is not None else p.cases)
    if first is not None and (not queue or first.status != "PASS"):
        return runs + ([None] if queue else [])
    pending, count = {}, len(runs)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        while queue or pending:
            left = deadline - time.monotonic()
            while queue and len(pending) < jobs and left > 0:
                case = queue.popleft()
                limit = left if engine.split(case) is None else min(engine.patience, left)
                pending[pool.submit(engine.solve, case, limit,
                                    directory / f"case{count:03d}")] = case
                count += 1
            if not pending:
                break
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                case, r = pending.pop(future), future.result()
                parts = engine.split(case)
                if r.timed_out and parts and deadline > time.monotonic():
                    queue.extend(parts)
                    continue
                runs.append(r)
                if r.status == "FAIL":
                    queue.clear()
    return runs + ([None] if queue or any(r.status == "FAIL" for r in runs) else [])


def _children_cpu() -> float:
    """CPU seconds used so far by finished child processes (sby, Yosys, smtbmc, the solver)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_proof(p: Proof, *, timeout: float = TIMEOUT, keep: bool = False,
              cex_dir: Path | None = None, jobs: int = 1) -> ProofResult:
    """Run one planned proof (all its cases); on FAIL read and write its counterexample (into
    ``cex_dir``)."""
    label = re.sub(r"\W+", "_", p.label)
    directory = sby.work_dir(f"{p.obligation}-{label + '-' if label else ''}{p.dut.module}"[:80])
    t0, cpu0 = time.perf_counter(), _children_cpu()
    try:
        runs = _run_cases(p, timeout, directory, jobs)
        seconds = time.perf_counter() - t0
        done = [r for r in runs if r is not None]
        status = min((r.status for r in done), key=_SEVERITY.index, default="UNKNOWN")
        if status == "PASS" and len(done) < len(runs):
            status = "UNKNOWN"
        worst = next((r for r in done if r.status == status), None)
        detail = worst.detail if worst is not None else ""
        if status == "UNKNOWN" and (not detail or any(r.timed_out for r in done)):
            detail = (f"the solver did not finish within the timeout of {timeout:.0f} s"
                      + (f" ({sum(r.status == 'PASS' for r in done)} cases passed)"
                         if len(p.cases) > 1 else ""))
        cex = None
        if status == "FAIL" and p.trace is not None:
            traced = run_proof(p.trace, timeout=timeout, cex_dir=cex_dir)
            if traced.status == "FAIL":
                return replace(traced, obligation=p.obligation, seconds=seconds + traced.seconds,
                               scope=p.scope, cases=len(done), label=p.label,
                               cpu_seconds=_children_cpu() - cpu0,
                               detail=f"the one-step proof failed; {p.trace.depth} cycles from "
                                      f"reset reproduce it")
            detail = (f"the one-step proof failed from a state the bounded check of "
                      f"{p.trace.depth} cycles from reset did not reach ({traced.status})")
        if status == "FAIL":
            cex = read_counterexample(worst, p)
            if cex is not None and p.replayable:
                cex.write_replay(cex_dir)
            elif cex is not None:
                detail = (f"{p.dut.module} differs from {p.ref.module} at {cex.steps[-1]}: "
                          f"{cex.dut} vs {cex.ref} (a module's proof: no unit trace to replay)")
            else:
                detail = "sby reported FAIL but wrote no readable trace"
        log = worst.log_path if keep and worst is not None else None
        return ProofResult(p.obligation, status, seconds, p.scope, cex, log, p.dut.module, detail,
                           _children_cpu() - cpu0, len(done), p.label)
    finally:
        if not keep:
            shutil.rmtree(directory, ignore_errors=True)


def prove(unit, *, obligation: str = "auto", dut_verilog: str | None = None,
          top: str | None = None, timeout: float = TIMEOUT, keep: bool = False,
          product: str = "auto", cex_dir: str | Path | None = None,
          jobs: int = 1) -> list[ProofResult]:
    """Prove ``unit`` (or the external Verilog ``dut_verilog``) against its reference.

    Parameters
    ----------
    unit : mpmac.Unit
    obligation : {"auto", "equiv", "pipeline", "mac_step", "simd_step"}
        See the module docstring.
    dut_verilog : str, optional
        Verilog text of an external implementation with the unit's ports (top module ``top``, else
        one named ``unit.name``, else the file's only top module), checked instead of the unit's
        own Verilog.
    top : str, optional
    timeout : float
        Solver time limit per proof in seconds; a proof that does not finish is UNKNOWN.
    keep : bool
        Keep the sby job directories (under ``<build root>/formal``); ``log_path`` then points there.
    product : {"auto", "full", "shared", "cut"}
        How ``equiv`` treats the significand multiplier: ``auto`` is ``full`` (complete) for
        operands of at most :data:`FULL_PROOF_BITS` bits and ``shared`` for wider multiplying units.
        simd_step: per mode, ``full`` for lanes of at most ``simd_step.FULL_LANE_BITS`` bits,
        else ``shared`` (the block product of the mode's lanes).
    cex_dir : path, optional
        Where a counterexample's replay test is written (default
        ``<build root>/counterexamples/<unit>-<obligation>``).
    jobs : int
        Cases of a split proof run at once (each is one sby process).

    Returns
    -------
    list of ProofResult, one per obligation.

    Raises
    ------
    ValueError
        See :func:`plan`.
    mpmac.formal.sby.ToolError
        The formal toolchain is not installed.
    """
    if not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ValueError(f"timeout={timeout!r} is invalid: it must be a number of seconds > 0")
    sby.tool_paths()
    proofs = plan(unit, obligation, dut_verilog, top, product)
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs={jobs!r} is invalid: it must be an int >= 1")
    return [run_proof(p, timeout=timeout, keep=keep, jobs=jobs,
                      cex_dir=Path(cex_dir) if cex_dir is not None else None) for p in proofs]
