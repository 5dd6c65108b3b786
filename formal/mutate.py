"""Fault injection (DESIGN.md, verification layer 4): mutants of a unit's generated Verilog, each run
through the simulation regression and the proofs, summarised as a kill matrix.

Derivation works on the text of ``unit.verilog()`` (see :func:`base_verilog`), one statement per
line as Yosys' Verilog backend writes it: ``assign`` statements and the procedural assignments inside
``always`` blocks. Every mutant changes exactly one statement, and carries a description (module,
line, before -> after). Mutation operators (:data:`OPERATORS`):

``arith``       binary ``+`` <-> ``-``
``logic``       ``&`` <-> ``|`` (binary and reduction), ``^`` -> ``|``
``compare``     ``<`` <-> ``<=``, ``>`` <-> ``>=``, ``==`` <-> ``!=``
``shift``       ``>>`` <-> ``<<`` (and ``>>>`` <-> ``<<<``)
``not-drop``    a ``~`` (or logical ``!``) removed
``const``       a sized constant ``N'hK`` becomes K+1 or K-1 where that fits in N bits
``stuck-0``     an ``assign`` target (or one bit of it) forced to 0
``stuck-1``     the same, forced to 1
``invert``      an ``assign`` target (or one bit of it) inverted
``drop-sticky`` a sticky collection (an OR reduction in a rounding or alignment module, where
                the datapath ORs the discarded bits together) or a signal named like a sticky, round,
                guard, inexact or tie bit, tied to 0

Only statements whose target can reach a module output are mutated: Yosys' output keeps many
aliases nobody reads (``\\term.sign = term[0]``), and faults there are equivalent by construction.
Candidates are sampled round-robin over the operators from a ``random.Random(seed)`` shuffle, so a
(unit, count, seed) triple always gives the same mutants; mutants Icarus cannot compile are skipped
(and counted), syntactic duplicates are dropped.

Per mutant, :func:`evaluate` runs

* the simulation regression (``mpmac.sim.verify(unit, verilog=mutant)``, stream engine, exhaustive
  when the input space has at most 2^16 points): killed by simulation if any output mismatches;
* the proof against the reference (``mpmac.formal.prove(unit, dut_verilog=mutant)``): killed by
  formal if a proof FAILs;
* for a mutant neither kills: a proof that the mutant equals the original unit
  (:func:`prove_same_as_original`, register correspondence, then a bounded search for clocked
  units, then for a small mac a proof under its reachable states, :mod:`.invariant`). PASS shows
  the survivor equivalent; FAIL (a real differing input or trace) makes it a verification gap.

Results are cached per mutant (hash of its text) under ``<build root>/mutants``, keyed also by a
stamp of the sim/ and formal/ sources, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = ["OPERATORS", "OPERATOR_TEXT", "Mutant", "Derivation", "Outcome", "CATEGORIES",
           "base_verilog", "candidates", "registers", "derive", "evaluate", "run", "kill_matrix",
           "prove_same_as_original"]

OPERATORS = ("arith", "logic", "compare", "shift", "not-drop", "const", "stuck-0", "stuck-1",
             "invert", "drop-sticky")

#: one line per operator, for reports
OPERATOR_TEXT = {
    "arith": "+ <-> -",
    "logic": "& <-> |, ^ -> |",
    "compare": "< <-> <=, > <-> >=, == <-> !=",
    "shift": ">> <-> <<",
    "not-drop": "~ / ! removed",
    "const": "N'hK -> K+1 / K-1",
    "stuck-0": "net or net bit forced to 0",
    "stuck-1": "net or net bit forced to 1",
    "invert": "net or net bit inverted",
    "drop-sticky": "sticky OR-reduction or sticky/round/guard/inexact/tie signal tied to 0",
}

#: outcome categories of a compiled mutant, in report column order
CATEGORIES = ("sim_only", "formal_only", "both", "equivalent", "gap", "unknown")

#: names that the drop-sticky operator ties to 0 (the brief: sticky, round, guard, inexact, tie)
STICKY_NAME = re.compile(r"sticky|round|guard|inexact|tie", re.I)
#: modules whose OR reductions collect sticky bits (rtl/round.py's increment, rtl/add.py's alignment)
STICKY_MODULE = re.compile(r"(^|\.)(round\w*|add|align\w*)$")

#: outputs that only exist for the proofs: not mutated, and not a reason for logic to be live
PROOF_PORTS = ("acc_state",)

#: helper net a bit fault routes the original value through (keeps $signed contexts intact)
HELPER = "\\mpmac_mutant_orig "


# --- reading the emitted Verilog -----------------------------------------------------------------
_NAME = r"(?:\\\S+\s|[A-Za-z_][\w$]*)"
_TOKEN = re.compile(r"""
    (?P<esc>\\\S+\s)
  | (?P<sys>\$[A-Za-z_]\w*)
  | (?P<const>\d+\s*'[sS]?[hHdDbBoO][0-9a-fA-FxXzZ_?]+)
  | (?P<num>\d+)
  | (?P<id>[A-Za-z_][\w$]*)
  | (?P<op>===|!==|==|!=|<=|>=|<<<|>>>|<<|>>|&&|\|\||~&|~\||~\^|\^~|[-+*/%&|^~!<>?:=;,(){}\[\]@\#.'])
  | (?P<ws>\s+)
""", re.X)
_DECL = re.compile(rf"^\s*(wire|reg|input|output|inout)\s+(?:signed\s+)?(?:\[(\d+):(\d+)\]\s*)?"
                   rf"({_NAME})")
_STMT = re.compile(rf"^(?P<indent>\s*)(?P<assign>assign\s+)?(?P<target>{_NAME})\s*"
                   rf"(?P<sel>\[(?P<hi>\d+)(?::(?P<lo>\d+))?\]\s*)?(?P<eq><=|=)\s*(?P<rhs>.*);\s*$")
_NOT_STMT = ("wire", "reg", "input", "output", "inout", "integer", "parameter", "localparam",
             "module", "(*")


def _clean(name: str) -> str:
    """Identifier without Verilog escaping (``\\$1 `` -> ``$1``)."""
    name = name.strip()
    return name[1:] if name.startswith("\\") else name


def _tokens(text: str) -> list[tuple[str, str]]:
    """(kind, text) tokens of an expression; joining the texts gives ``text`` back."""
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ValueError(f"cannot tokenize Verilog expression {text!r} at {text[pos:]!r}")
        out.append((m.lastgroup, m.group()))
        pos = m.end()
    return out


def _names(text: str) -> set[str]:
    """Net names in an expression or a line; ``.port(`` names of instance connections are not."""
    out, prev = set(), None
    for kind, t in _tokens(text):
        if kind == "ws":
            continue
        if kind in ("esc", "id") and prev != ".":
            out.add(_clean(t))
        prev = t
    return out


@dataclass
class _Stmt:
    line: int            # 0-based index into the text's lines
    target: str          # unescaped base name
    width: int | None    # bits the statement drives (None: unknown)
    is_assign: bool
    match: re.Match

    @property
    def rhs(self) -> str:
        return self.match["rhs"]


@dataclass
class _Module:
    name: str
    widths: dict = field(default_factory=dict)
    outputs: set = field(default_factory=set)
    stmts: list = field(default_factory=list)
    roots: set = field(default_factory=set)      # names read outside statements (instances, ifs)

    def live(self, ignore=()) -> set[str]:
        """Names from which a module output (other than ``ignore``) or an instance connection can
        be reached."""
        reads = {}
        for s in self.stmts:
            if s.target not in ignore:
                reads.setdefault(s.target, set()).update(_names(s.rhs))
        live, todo = set(), list((self.outputs - set(ignore)) | self.roots)
        while todo:
            n = todo.pop()
            if n not in live:
                live.add(n)
                todo.extend(reads.get(n, ()))
        return live


def _parse(lines: list[str]) -> list[_Module]:
    """The modules of Yosys-written Verilog with their declarations and one-line statements."""
    modules, cur = [], None
    for i, line in enumerate(lines):
        s = line.strip()
        if s.startswith("module "):
            cur = _Module(_clean(re.match(rf"module\s+({_NAME})", s)[1]))
            modules.append(cur)
            continue
        if cur is None or not s or s.startswith("//"):
            continue
        if s.startswith("endmodule"):
            cur = None
            continue
        d = _DECL.match(line)
        if d:
            name = _clean(d[4])
            cur.widths[name] = int(d[2]) - int(d[3]) + 1 if d[2] else 1
            if d[1] == "output":
                cur.outputs.add(name)
            continue
        m = _STMT.match(line)
        if m and not s.startswith(_NOT_STMT):
            target = _clean(m["target"])
            if m["sel"]:
                width = int(m["hi"]) - int(m["lo"]) + 1 if m["lo"] else 1
            else:
                width = cur.widths.get(target)
            cur.stmts.append(_Stmt(i, target, width, bool(m["assign"]), m))
        elif not s.startswith("(*"):
            cur.roots |= _names(s)
    return modules


# --- candidate edits -----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Edit:
    operator: str
    module: str
    line: int            # 0-based
    new_line: str
    detail: str


_SWAPS = {
    "arith": {"+": "-", "-": "+"},
    "logic": {"&": "|", "|": "&", "^": "|"},
    "compare": {"<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "=="},
    "shift": {">>": "<<", "<<": ">>", ">>>": "<<<", "<<<": ">>>"},
}
#: operators that reach this set as unary (reductions) may be swapped as well
_UNARY_SWAPPABLE = {"&", "|"}
_VALUE_END = {")", "]", "}"}


def _unary_flags(toks) -> list[bool]:
    """For each token: is it an operator in prefix (unary) position?"""
    flags, prev = [], None
    for kind, text in toks:
        if kind == "ws":
            flags.append(False)
            continue
        flags.append(kind == "op" and (prev is None or (prev[0] == "op" and prev[1] not in _VALUE_END)))
        prev = (kind, text)
    return flags


def _rewrite(stmt: _Stmt, lines, rhs: str) -> str:
    m = stmt.match
    line = lines[stmt.line]
    return line[:m.start("rhs")] + rhs + line[m.end("rhs"):]


def _const_edits(text: str):
    """(new text, detail) for a sized constant moved one up and one down where it fits."""
    m = re.fullmatch(r"(\d+)(\s*')([sS]?)([hHdDbBoO])([0-9a-fA-F_]+)", text)
    if not m:
        return
    width, base = int(m[1]), {"h": 16, "d": 10, "b": 2, "o": 8}[m[4].lower()]
    digits = m[5].replace("_", "")
    value = int(digits, base)
    for new in (value + 1, value - 1):
        if 0 <= new < 1 << width:
            body = {16: f"{new:x}", 10: f"{new}", 2: f"{new:b}", 8: f"{new:o}"}[base]
            if base != 10:
                body = body.zfill(len(digits))
            yield f"{m[1]}{m[2]}{m[3]}{m[4]}{body}", f"{text} -> {m[1]}{m[2]}{m[3]}{m[4]}{body}"


def _expression_edits(mod: _Module, stmt: _Stmt, lines):
    """Operator swaps, dropped negations and off-by-one constants inside a statement's RHS."""
    toks = _tokens(stmt.rhs)
    unary = _unary_flags(toks)
    for k, ((kind, text), is_unary) in enumerate(zip(toks, unary)):
        def edit(operator, new, detail):
            rhs = "".join(t for _, t in toks[:k]) + new + "".join(t for _, t in toks[k + 1:])
            return _Edit(operator, mod.name, stmt.line, _rewrite(stmt, lines, rhs), detail)
        if kind == "op":
            for operator, table in _SWAPS.items():
                if text in table and (not is_unary or text in _UNARY_SWAPPABLE):
                    what = "reduction " if is_unary else ""
                    yield edit(operator, table[text], f"{what}{text} -> {table[text]}")
            if is_unary and text in ("~", "!"):
                yield edit("not-drop", "", f"{text} removed")
        elif kind == "const":
            for new, detail in _const_edits(text):
                yield edit("const", new, detail)


def _net_edits(mod: _Module, stmt: _Stmt, lines):
    """Stuck-at and inverted faults on an assign target, on the whole net and on each bit."""
    w = stmt.width
    if not stmt.is_assign or not w or w > 256:
        return
    m = stmt.match
    line = lines[stmt.line]
    target = line[m.start("target"):m.start("eq")].rstrip()
    ones = (1 << w) - 1

    def forced(value: str) -> str:
        return f"{m['indent']}assign {target} = {value};"

    def through(expr: str) -> str:
        # the original RHS keeps its own width and signedness context by going through a helper
        rng = f"[{w - 1}:0] " if w > 1 else ""
        return (f"{m['indent']}wire {rng}{HELPER}; assign {HELPER}= {m['rhs']}; "
                f"assign {target} = {expr};")

    name = _clean(m["target"]) + (m["sel"].strip() if m["sel"] else "")
    yield _Edit("stuck-0", mod.name, stmt.line, forced(f"{w}'h0"), f"{name} stuck at 0")
    yield _Edit("stuck-1", mod.name, stmt.line, forced(f"{w}'h{ones:x}"), f"{name} stuck at 1")
    yield _Edit("invert", mod.name, stmt.line, through(f"~ {HELPER}"), f"{name} inverted")
    if w == 1:
        return
    for b in range(w):
        mask = 1 << b
        yield _Edit("stuck-0", mod.name, stmt.line, through(f"{HELPER}& {w}'h{ones ^ mask:x}"),
                    f"bit {b} of {name} stuck at 0")
        yield _Edit("stuck-1", mod.name, stmt.line, through(f"{HELPER}| {w}'h{mask:x}"),
                    f"bit {b} of {name} stuck at 1")
        yield _Edit("invert", mod.name, stmt.line, through(f"{HELPER}^ {w}'h{mask:x}"),
                    f"bit {b} of {name} inverted")


def _sticky_edits(mod: _Module, stmt: _Stmt, lines):
    """drop-sticky: named sticky/round/guard/inexact/tie targets and OR reductions in rounding or
    alignment modules, tied to 0."""
    m = stmt.match
    w = stmt.width or 1
    name = _clean(m["target"])
    if STICKY_NAME.search(name):
        yield _Edit("drop-sticky", mod.name, stmt.line, _rewrite(stmt, lines, f"{w}'h0"),
                    f"{name} tied to 0")
    if STICKY_MODULE.search(mod.name) and re.fullmatch(r"\|\s*[^|&^~!?]+", m["rhs"].strip()):
        yield _Edit("drop-sticky", mod.name, stmt.line, _rewrite(stmt, lines, "1'h0"),
                    f"sticky OR {m['rhs'].strip()} tied to 0")


def candidates(text: str) -> dict[str, list[_Edit]]:
    """Every single-statement edit of the Verilog ``text``, by operator, in text order.

    Only statements whose target is live (reaches a module output other than the
    :data:`PROOF_PORTS`, or an instance) are edited; edits that leave the line unchanged are dropped.
    """
    lines = text.split("\n")
    out = {op: [] for op in OPERATORS}
    seen = set()
    for mod in _parse(lines):
        live = mod.live(ignore=PROOF_PORTS)
        for stmt in mod.stmts:
            if stmt.target not in live:
                continue
            for gen in (_sticky_edits, _expression_edits, _net_edits):
                for e in gen(mod, stmt, lines):
                    key = (e.line, e.new_line)
                    if e.new_line != lines[e.line] and key not in seen:
                        seen.add(key)
                        out[e.operator].append(e)
    return out


# --- mutants -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Mutant:
    """One single-statement mutant of a unit's Verilog.

    Attributes
    ----------
    operator : str
        One of :data:`OPERATORS`.
    module : str
        Verilog module the edited statement is in.
    line : int
        1-based line of the statement in the original text.
    before, after : str
        The statement before and after the edit (stripped).
    detail : str
        What changed, e.g. ``+ -> -`` or ``bit 3 of $12 stuck at 1``.
    text : str
        The whole mutated Verilog (module names and ports as the original).
    """

    operator: str
    module: str
    line: int
    before: str
    after: str
    detail: str
    text: str = field(repr=False)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]

    @property
    def description(self) -> str:
        return f"{self.module}:{self.line}: {self.detail}: {self.before} -> {self.after}"

    def to_dict(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if k != "text"}
        d["digest"] = self.digest
        return d


@dataclass
class Derivation:
    """The mutants of one unit.

    Attributes
    ----------
    mutants : list of Mutant
        ``count`` compiling mutants (fewer only if the candidates ran out).
    not_compiled : list of (Mutant, str)
        Mutants Icarus rejected, with its message; skipped, not in ``mutants``.
    available : dict
        Operator -> number of distinct candidate edits in the unit.
    """

    mutants: list
    not_compiled: list
    available: dict


def base_verilog(unit, name: str | None = None) -> str:
    """The Verilog the mutants are made from (module ``name``, default ``unit.name``).

    A mac's Verilog exposes its accumulator registers as ``acc_state``: that is what lets the proof
    flow (``mpmac.formal.prove`` with ``dut_verilog``) prove a mac completely by induction rather
    than up to a bounded depth. The extra output is instrumentation: it is never mutated (see
    :data:`PROOF_PORTS`), and the simulation bench leaves it unconnected.
    """
    return unit.verilog(name=name, expose_state=unit.kind == "mac")


def _compile_error(text: str, top: str) -> str | None:
    """Icarus' complaint about ``text`` (None if it elaborates)."""
    with tempfile.TemporaryDirectory(prefix="mpmac-mutant-") as d:
        src = Path(d) / "mutant.v"
        src.write_text(text)
        proc = subprocess.run(["iverilog", "-g2012", "-t", "null", "-s", top, str(src)],
                              capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode:
        return (proc.stdout + proc.stderr).strip()[-2000:] or f"iverilog exit {proc.returncode}"
    return None


def _check_derive_args(count, seed, operators):
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ValueError(f"count={count!r} is invalid: it must be an int >= 1")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, not {seed!r}")
    bad = [op for op in operators if op not in OPERATORS]
    if bad or not operators:
        raise ValueError(f"operators={list(operators)!r} is invalid; valid: {', '.join(OPERATORS)}")


def derive(unit, count: int, seed: int = 0, *, verilog: str | None = None,
           operators=OPERATORS, check: bool = True) -> Derivation:
    """``count`` distinct single-statement mutants of ``unit``'s Verilog, deterministic in the seed.

    Parameters
    ----------
    unit : mpmac.Unit
    count : int
        Compiling mutants wanted.
    seed : int
        Seed of the sampling (``random.Random(seed)`` shuffles each operator's candidates).
    verilog : str, optional
        The text to mutate (default :func:`base_verilog`); its top module must be ``unit.name``.
    operators : sequence of str
        Operators to sample, round-robin in this order.
    check : bool
        Compile each mutant with Icarus and skip those that fail.

    Raises
    ------
    ValueError, TypeError
        A bad count, seed or operator name.
    """
    operators = tuple(operators)
    _check_derive_args(count, seed, operators)
    text = base_verilog(unit) if verilog is None else verilog
    lines = text.split("\n")
    pool = candidates(text)
    rng = random.Random(seed)
    queues = {}
    for op in operators:
        q = list(pool[op])
        rng.shuffle(q)
        queues[op] = q
    mutants, rejected, seen = [], [], set()
    while len(mutants) < count and any(queues.values()):
        for op in operators:
            if len(mutants) >= count or not queues[op]:
                continue
            m = _mutant(queues[op].pop(0), lines)
            if m.text in seen:
                continue
            seen.add(m.text)
            error = _compile_error(m.text, unit.name) if check else None
            if error:
                rejected.append((m, error))
            else:
                mutants.append(m)
    return Derivation(mutants, rejected, {op: len(pool[op]) for op in OPERATORS})


def _mutant(edit: _Edit, lines: list[str]) -> Mutant:
    new = list(lines)
    new[edit.line] = edit.new_line
    return Mutant(edit.operator, edit.module, edit.line + 1, lines[edit.line].strip(),
                  edit.new_line.strip(), edit.detail, "\n".join(new))


# --- evaluation ----------------------------------------------------------------------------------
@dataclass
class Outcome:
    """What the regressions said about one mutant.

    Attributes
    ----------
    mutant : dict
        :meth:`Mutant.to_dict`.
    sim : dict
        ``killed`` (bool), ``checked``, ``mismatches``, ``seconds``, ``first`` or ``error``.
    formal : dict
        ``status`` (PASS/FAIL/UNKNOWN/ERROR, or ``not run``), ``seconds``, ``results``.
    original : dict or None
        For survivors: the mutant-vs-original proof, ``status`` and ``seconds``.
    """

    mutant: dict
    sim: dict
    formal: dict
    original: dict | None = None

    @property
    def sim_killed(self) -> bool:
        return bool(self.sim.get("killed"))

    @property
    def formal_killed(self) -> bool:
        return self.formal.get("status") == "FAIL"

    @property
    def category(self) -> str:
        """One of :data:`CATEGORIES`.

        A survivor is ``equivalent`` when the proof against the original passed (or, if that proof
        did not finish, the proof against the reference passed: the original is proven equal to
        it); ``gap`` when the proof against the original failed; else ``unknown``.
        """
        if self.sim_killed or self.formal_killed:
            return {(True, True): "both", (True, False): "sim_only",
                    (False, True): "formal_only"}[(self.sim_killed, self.formal_killed)]
        orig = (self.original or {}).get("status")
        if orig == "FAIL":
            return "gap"
        if orig == "PASS" or self.formal.get("status") == "PASS":
            return "equivalent"
        return "unknown"

    @property
    def warnings(self) -> list[str]:
        """Contradictions between the layers (each one a bug in a checker)."""
        out = []
        if self.sim_killed and self.formal.get("status") == "PASS":
            out.append("simulation kills it but the proof against the reference passes")
        if self.original and self.original.get("status") == "FAIL" and \
                self.formal.get("status") == "PASS":
            out.append("it differs from the original but the proof against the reference passes")
        return out

    def to_dict(self) -> dict:
        return {"mutant": self.mutant, "sim": self.sim, "formal": self.formal,
                "original": self.original, "category": self.category, "warnings": self.warnings}


def _source_stamp(*packages: str) -> str:
    """Hash of the .py sources of these mpmac subpackages (cached results go stale with them);
    this module is left out: what it changes about a mutant changes the mutant's hash."""
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for pkg in packages:
        for p in sorted((root / pkg).glob("*.py")):
            if p.resolve() != Path(__file__).resolve():
                h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()[:12]


def _cache_dir(unit) -> Path:
    from ..sim.runner import build_root
    d = build_root() / "mutants" / unit.name
    d.mkdir(parents=True, exist_ok=True)
    return d


def _cached(path: Path, key: str, compute):
    """``compute()`` unless ``path`` already holds a result under ``key``; stores it atomically."""
    data = {}
    if path.exists():
        try:
            data = json.loads(path.read_text())
        except ValueError:
            data = {}
    if key in data:
        return data[key]
    value = compute()
    data[key] = value
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)
    return value


def _simulate(unit, text: str, sim: str, vectors: int, seed: int) -> dict:
    from .. import sim as msim
    t0 = time.perf_counter()
    try:
        r = msim.verify(unit, n=vectors, seed=seed, sim=sim, engine="stream", verilog=text)
    except msim.SimulatorError as e:
        return {"killed": False, "error": str(e)[-1500:], "seconds": time.perf_counter() - t0}
    return {"killed": r.mismatches > 0, "checked": r.checked, "mismatches": r.mismatches,
            "first": r.first[:1], "seconds": r.seconds}


def _formal_prove():
    """``mpmac.formal.prove`` if the proof flow is installed, else None."""
    try:
        from . import prove
    except ImportError:
        return None
    return prove if callable(prove) else None


def _without_state(unit, text: str) -> str:
    """A mac mutant with the unit's plain ports: the mutant (top renamed ``<name>_inner``) inside a
    wrapper named ``unit.name`` that leaves ``acc_state`` unconnected."""
    from ..sim.mutants import wrapper
    inner = f"{unit.name}_inner"
    renamed = re.sub(rf"^module {re.escape(unit.name)}\(", f"module {inner}(", text, count=1,
                     flags=re.M)
    return wrapper(unit, renamed, inner, {})


def _result_dict(r) -> dict:
    d = {"obligation": r.obligation, "status": r.status, "seconds": r.seconds, "scope": r.scope}
    if r.counterexample is not None:
        d["counterexample"] = r.counterexample.text()
        d["replay"] = str(getattr(r.counterexample, "replay_path", "") or "")
    if r.detail:
        d["detail"] = r.detail[-1500:]
    return d


def _prove_reference(unit, text: str, timeout: float, cex_dir: Path) -> dict:
    """``mpmac.formal.prove(unit, dut_verilog=text)``; for a mac whose induction does not close (or
    whose induction trace the tools cannot print: ERROR), also the bounded proof of the same mutant without ``acc_state`` (BMC from reset), which can
    refute what needs more than one accumulation step to show."""
    prove = _formal_prove()
    if prove is None:
        return {"status": "not run", "seconds": 0.0, "results": []}
    from .sby import ToolError
    t0 = time.perf_counter()
    try:
        results = prove(unit, dut_verilog=text, top=unit.name, timeout=timeout, cex_dir=cex_dir)
        statuses = [r.status for r in results]
        if unit.kind == "mac" and {"UNKNOWN", "ERROR"} & set(statuses) and "FAIL" not in statuses:
            results += prove(unit, dut_verilog=_without_state(unit, text), top=unit.name,
                             obligation="mac_step", timeout=timeout, cex_dir=cex_dir)
    except (ToolError, ValueError) as e:   # a missing tool, or Yosys cannot read the mutant
        return {"status": "ERROR", "seconds": time.perf_counter() - t0, "results": [],
                "detail": str(e)[-1500:]}
    statuses = [r.status for r in results]
    # any FAIL kills; otherwise the weakest status stands for the whole set
    status = next((s for s in ("FAIL", "ERROR", "UNKNOWN", "PASS") if s in statuses), "ERROR")
    return {"status": status, "seconds": time.perf_counter() - t0,
            "results": [_result_dict(r) for r in results]}


#: version of :func:`prove_same_as_original`, part of its cache key (3: the proof under the
#: reachable-state invariant for small macs)
ORIGINAL_CHECK = 3

#: k-induction depth of the proof under the reachable-state invariant (the invariant fixes the
#: whole state, so one step closes it)
INVARIANT_DEPTH = 1

#: cycles the bounded search for a real difference of a sequential mutant looks beyond its latency
SEARCH_CYCLES = 8


def _original_job(unit, text: str, name: str, script_tail: list, mode: str, depth: int,
                  timeout: float, extra: dict | None = None):
    """Run an sby job over the mutant (module ``unit.name``) and the original (``<name>_orig``)."""
    from . import sby
    files = {"mutant.v": text, "original.v": base_verilog(unit, name=f"{unit.name}_orig"),
             **(extra or {})}
    script = ["read_verilog -sv mutant.v", "read_verilog -sv original.v",
              *[f"read_verilog -formal -sv {f}" for f in (extra or {})], *script_tail]
    directory = sby.work_dir("mutant")
    r = sby.run(sby.Job(name=name, files=files, script=script, mode=mode, depth=depth,
                        timeout=timeout), directory)
    if r.status in ("PASS", "FAIL"):
        import shutil
        shutil.rmtree(directory, ignore_errors=True)
    return r


_REGISTER = re.compile(rf"always @\(posedge [^)]*\)\s*({_NAME})\s*(?:\[[^\]]*\]\s*)?<=")


def registers(text: str, top: str) -> list[str]:
    """Names of the registers of module ``top`` (Amaranth writes each as its own
    ``always @(posedge clk) R <= D;``); mutations never add, remove or rename one."""
    lines = text.split("\n")
    body, inside = [], False
    for line in lines:
        if line.startswith("module "):
            inside = _clean(re.match(rf"module\s+({_NAME})", line)[1]) == top
        if inside:
            body.append(line)
    return sorted({_clean(m[1]) for m in _REGISTER.finditer("\n".join(body))})


def _correspondence(unit, text: str, timeout: float):
    """Outputs and next state of mutant and original agree for every input and every register
    value: each register of the top module is cut into a free input (its value) and an output (its
    next value), matched by name between the two."""
    gold, gate = unit.name, f"{unit.name}_orig"
    cut = []
    if registers(text, gold):
        # selecting the flip-flop cells (not wires) names each cut after its register, also for
        # a register that is an output port; the cut registers keep their init attributes, which
        # would pin step 0 to the initial state: every register value must be free here
        cut = [f"expose -evert-dff {gold}/t:$dff {gate}/t:$dff", "setattr -unset init"]
    tail = ["setattr -mod -unset top", "proc", *cut, f"flatten {gold} {gate}",
            f"miter -equiv -flatten -make_assert {gold} {gate} mutant_miter",
            "hierarchy -top mutant_miter", "opt -fast"]
    return _original_job(unit, text, "mutant_correspondence", tail, "prove", 1, timeout)


def _side_by_side(unit, gold: str, gate: str, *, name: str = "mutant_search", extra_outs=None,
                  extra=()) -> str:
    """Verilog of a module ``name`` feeding the same inputs to ``gold`` and ``gate`` and
    asserting that their outputs agree in every cycle.

    ``extra_outs`` (name -> width) are further outputs of both modules to connect and compare (not
    in ``unit.ports``, e.g. a mac's ``acc_state``); ``extra`` are Verilog lines added to the module
    body (they can read ``gold_<output>`` and ``gate_<output>``)."""
    ports = dict(unit.ports)
    ports.update({p: ("out", w) for p, w in (extra_outs or {}).items()})

    def esc(n):
        return f"\\{n} "

    def rng(w):
        return f"[{w - 1}:0] " if w > 1 else ""

    ins = [p for p, (d, _) in ports.items() if d == "in"]
    outs = [p for p, (d, _) in ports.items() if d == "out"]
    lines = [f"module {name}({', '.join(esc(p) for p in ins)});"]
    lines += [f"  input {rng(ports[p][1])}{esc(p)};" for p in ins]
    for role, module in (("gold", gold), ("gate", gate)):
        lines += [f"  wire {rng(ports[p][1])}{role}_{p};" for p in outs]
        conns = [f".{esc(p)}({esc(p)})" for p in ins] + [f".{esc(p)}({role}_{p})" for p in outs]
        lines.append(f"  {esc(module)}{role} ({', '.join(conns)});")
    lines += list(extra)
    lines.append("  always @* begin")
    lines += [f"    assert (gold_{p} == gate_{p});" for p in outs]
    lines += ["  end", "endmodule", ""]
    return "\n".join(lines)


def _bounded_search(unit, text: str, depth: int, timeout: float):
    """BMC of mutant and original side by side from their initial state, ``depth`` cycles."""
    m = _side_by_side(unit, unit.name, f"{unit.name}_orig")
    return _original_job(unit, text, "mutant_search", ["prep -flatten -top mutant_search"], "bmc",
                         depth, timeout, extra={"search.v": m})


def _invariant_proof(unit, text: str, timeout: float, states=None):
    """k-induction of mutant and original side by side under the original's reachable states.

    The miter (module ``mutant_invariant``) asserts in every cycle that (a) the outputs of the
    mutant and the original agree, ``acc_state`` included, so their registers are equal, and (b)
    the original's ``acc_state`` is one of ``states`` (default: :func:`.invariant.reachable_states`,
    from the golden model). ``prove`` mode checks these at the registers' initial values (the base
    case: Amaranth's init values, which ``prep`` keeps) and that they are inductive over the RTL
    of both: nothing depends on the golden model being right, a wrong set only makes the proof
    fail. A PASS shows the mutant equal to the original in every cycle from the initial state.

    Returns
    -------
    (sby.JobRun, number of states)

    Raises
    ------
    invariant.Unsupported
        The unit's reachable states cannot be enumerated (see :func:`.invariant.state_bits`).
    """
    from . import invariant
    width = invariant.state_bits(unit)
    states = invariant.reachable_states(unit) if states is None else frozenset(states)
    # gold is the mutant (module unit.name), gate the original (<name>_orig)
    extra = invariant.membership_verilog(states, width, "gate_acc_state", "reachable")
    extra += ["  always @* begin", "    assert (reachable);", "  end"]
    miter = _side_by_side(unit, unit.name, f"{unit.name}_orig", name="mutant_invariant",
                          extra_outs={"acc_state": width}, extra=extra)
    r = _original_job(unit, text, "mutant_invariant", ["prep -flatten -top mutant_invariant"],
                      "prove", INVARIANT_DEPTH, timeout, extra={"invariant.v": miter})
    return r, len(states)


def prove_same_as_original(unit, text: str, *, timeout: float = 300, search: bool = True) -> dict:
    """Decide whether the mutant ``text`` behaves like the unit's own Verilog.

    First by register correspondence: mutant and original keep the same registers (mutations
    never touch declarations or initial values), so if outputs and next-state functions agree for
    every input and every register value, the two are equal in every cycle from the initial state
    (PASS). For a combinational unit a FAIL there is a real input on which they differ. For a
    clocked unit it may come from a register state nobody reaches, so a bounded search of
    latency + :data:`SEARCH_CYCLES` cycles from the initial state follows: a trace found is FAIL.
    If none is found and the unit is a small mac (see :func:`.invariant.state_bits`), the two are
    compared under the original's reachable states (:func:`_invariant_proof`): PASS proves the
    mutant equivalent; otherwise, and for every other unit, the result is UNKNOWN.

    ``search=False`` skips the bounded search (a clocked unit's correspondence FAIL is UNKNOWN).

    Returns
    -------
    dict with ``status`` (PASS/FAIL/UNKNOWN/ERROR), ``method``, ``seconds``, ``detail``.
    """
    t0 = time.perf_counter()
    r = _correspondence(unit, text, timeout)
    method = "register correspondence"
    if search and r.status in ("FAIL", "ERROR") and (unit.sequential or unit.latency > 0):
        depth = unit.latency + SEARCH_CYCLES
        r = _bounded_search(unit, text, depth, timeout)
        method = f"bounded search, {depth} cycles from the initial state"
        if r.status == "PASS":   # no difference within the bound: not a proof either way
            detail = (f"register correspondence fails and no difference shows within {depth} "
                      "cycles")
            return _under_invariant(unit, text, timeout, t0, method, detail)
    status = r.status
    if status == "FAIL" and (unit.sequential or unit.latency > 0) and not search:
        status = "UNKNOWN"   # maybe only in a register state nobody reaches
    return {"status": status, "method": method, "seconds": time.perf_counter() - t0,
            "detail": r.detail[-1500:]}


def _under_invariant(unit, text: str, timeout: float, t0: float, method: str, detail: str) -> dict:
    """The last step of :func:`prove_same_as_original`: the proof under the reachable-state
    invariant, or UNKNOWN (with ``method`` and ``detail`` of the search before) when the unit's
    reachable states cannot be enumerated or the proof does not pass."""
    from .invariant import Unsupported
    unknown = {"status": "UNKNOWN", "method": method}
    try:
        r, count = _invariant_proof(unit, text, timeout)
    except Unsupported as e:
        return dict(unknown, seconds=time.perf_counter() - t0,
                    detail=f"{detail}; no reachable-state invariant: {e}")
    how = f"register correspondence under the reachable-state invariant ({count} states)"
    if r.status == "PASS":
        return {"status": "PASS", "method": how, "seconds": time.perf_counter() - t0,
                "detail": ""}
    # a FAIL here may be an unreachable state of the mutant (the invariant only bounds the
    # original's), so it is no difference from the initial state: still undecided
    return dict(unknown, seconds=time.perf_counter() - t0,
                detail=f"{detail}; {how}: {r.status} {r.detail[-1000:]}")


def evaluate(unit, mutant: Mutant, *, sim: str = "icarus", vectors: int = 10_000, seed: int = 0,
             formal: bool = True, timeout: float = 300, cache: bool = True) -> Outcome:
    """Run the simulation regression and the proofs on one mutant (cached per mutant hash)."""
    path = _cache_dir(unit) / f"{mutant.digest}.json"

    def step(key, compute):
        return _cached(path, key, compute) if cache else compute()

    sim_key = f"sim:{sim}:{vectors}:{seed}:{_source_stamp('sim', 'rtl', 'golden')}"
    s = step(sim_key, lambda: _simulate(unit, mutant.text, sim, vectors, seed))
    if formal and _formal_prove() is not None:
        f = step(f"formal:{timeout}:{_source_stamp('formal', 'rtl')}",
                 lambda: _prove_reference(unit, mutant.text, timeout, path.with_suffix("")))
    else:
        f = {"status": "not run", "seconds": 0.0, "results": []}
    outcome = Outcome(mutant.to_dict(), s, f)
    if formal and not (outcome.sim_killed or outcome.formal_killed):
        # a reference PASS already proves the survivor equivalent (the original is proven equal
        # to the reference); the check against the original then only looks for a contradiction
        search = f.get("status") != "PASS"
        outcome.original = step(
            f"original{ORIGINAL_CHECK}:{timeout}:{search}:{_source_stamp('formal', 'rtl')}",
            lambda: prove_same_as_original(unit, mutant.text, timeout=timeout, search=search))
    return outcome


def _evaluate_task(args):
    kind, params, mutant, options = args
    import mpmac
    return evaluate(mpmac.unit(kind, **params), mutant, **options)


def run(unit, mutants, *, jobs: int = 2, progress: bool = True, **options) -> list[Outcome]:
    """:func:`evaluate` every mutant, ``jobs`` processes in parallel, with a progress bar.

    ``options`` go to :func:`evaluate` (sim, vectors, seed, formal, timeout, cache). Outcomes come
    back in the order of ``mutants``.
    """
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs={jobs!r} is invalid: it must be an int >= 1")
    tasks = [(unit.kind, unit.params, m, options) for m in mutants]
    results = [None] * len(tasks)
    from rich.progress import Progress
    with Progress(disable=not progress, transient=False) as bar:
        task = bar.add_task(f"{unit.name}: {len(tasks)} mutants", total=len(tasks))
        if jobs == 1:
            for i, t in enumerate(tasks):
                results[i] = _evaluate_task(t)
                bar.advance(task)
        else:
            import concurrent.futures as cf
            import multiprocessing
            ctx = multiprocessing.get_context("spawn")  # no fork of a process holding threads
            with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
                futures = {pool.submit(_evaluate_task, t): i for i, t in enumerate(tasks)}
                for fut in cf.as_completed(futures):
                    results[futures[fut]] = fut.result()
                    bar.advance(task)
    return results


# --- report --------------------------------------------------------------------------------------
#: matrix columns: key -> heading
COLUMNS = {"mutants": "mutants", "compiled": "compiled", "sim_only": "killed sim only",
           "formal_only": "killed formal only", "both": "killed both",
           "equivalent": "survived equivalent (proof PASS)",
           "gap": "survived NON-equivalent (gaps)", "unknown": "unknown"}


def kill_matrix(outcomes, not_compiled=()) -> dict:
    """Counts per operator and in total, and the kill rate of non-equivalent mutants.

    Returns
    -------
    dict with ``rows`` (operator -> column -> count, see :data:`COLUMNS`), ``total``,
    ``kill_rate`` (killed / (killed + gaps); None when there is nothing non-equivalent),
    ``non_equivalent_survivors`` (gaps + unknown: survivors not shown equivalent).
    """
    rows = {op: dict.fromkeys(COLUMNS, 0) for op in OPERATORS}
    for o in outcomes:
        r = rows[o.mutant["operator"]]
        r["mutants"] += 1
        r["compiled"] += 1
        r[o.category] += 1
    for m, _ in not_compiled:
        rows[m.operator]["mutants"] += 1
    rows = {op: r for op, r in rows.items() if r["mutants"]}
    total = {c: sum(r[c] for r in rows.values()) for c in COLUMNS}
    killed = total["sim_only"] + total["formal_only"] + total["both"]
    non_eq = killed + total["gap"]
    return {"rows": rows, "total": total,
            "kill_rate": killed / non_eq if non_eq else None,
            "non_equivalent_survivors": total["gap"] + total["unknown"]}


def matrix_table(matrix: dict, title: str = "kill matrix"):
    """The kill matrix as a rich Table (one row per operator, then the totals)."""
    from rich.table import Table
    table = Table(title=title, title_justify="left")
    table.add_column("operator")
    for heading in COLUMNS.values():
        table.add_column(heading, justify="right")
    for op, row in matrix["rows"].items():
        table.add_row(op, *(str(row[c]) for c in COLUMNS))
    table.add_row("total", *(str(matrix["total"][c]) for c in COLUMNS), style="bold")
    return table


def rate_text(matrix: dict) -> str:
    """One line: kill rate of the non-equivalent mutants and the survivors not shown equivalent."""
    t = matrix["total"]
    killed = t["sim_only"] + t["formal_only"] + t["both"]
    rate = matrix["kill_rate"]
    text = (f"non-equivalent mutants killed: {killed}/{killed + t['gap']}"
            + (f" = {100 * rate:.1f}%" if rate is not None else ""))
    text += (f"; killed by simulation {t['sim_only'] + t['both']}, by formal "
             f"{t['formal_only'] + t['both']}; survivors proven equivalent {t['equivalent']}, "
             f"gaps {t['gap']}, undecided {t['unknown']}")
    return text


def survivors_text(outcomes) -> list[str]:
    """One line per mutant that is a gap, undecided, or where two checkers contradict each other."""
    lines = []
    for o in outcomes:
        if o.category in ("gap", "unknown") or o.warnings:
            m = o.mutant
            why = "; ".join(o.warnings) or (
                f"sim {'killed' if o.sim_killed else 'passed'}"
                + (f" ({o.sim['error'][:200]})" if o.sim.get("error") else "")
                + f", formal {o.formal.get('status')}"
                + (f", vs original {o.original.get('status')} ({o.original.get('method')})"
                   if o.original else ""))
            lines.append(f"{o.category}: {m['digest']} {m['module']}:{m['line']}: {m['detail']} "
                         f"[{why}]")
    return lines


@dataclass
class Report:
    """A whole fault-injection run over one or more units (see :func:`campaign`).

    Attributes
    ----------
    units : list of dict
        Per unit: ``name``, ``params``, ``derivation`` (available candidates, not compiled),
        ``outcomes`` (:meth:`Outcome.to_dict`), ``matrix`` and ``seconds``.
    matrix : dict
        :func:`kill_matrix` over every unit.
    outcomes : list of Outcome
    not_compiled : list
    seconds : float
    """

    units: list = field(default_factory=list)
    outcomes: list = field(default_factory=list)
    not_compiled: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def matrix(self) -> dict:
        return kill_matrix(self.outcomes, self.not_compiled)

    @property
    def exit_code(self) -> int:
        """0 when every survivor is proven equivalent, else 1."""
        return 1 if self.matrix["non_equivalent_survivors"] else 0

    def to_json(self) -> dict:
        return {"matrix": self.matrix, "seconds": self.seconds, "units": self.units,
                "operators": OPERATOR_TEXT}


def campaign(units, count: int, seed: int = 0, *, jobs: int = 2, progress: bool = True,
             operators=OPERATORS, log=None, **options) -> Report:
    """Derive ``count`` mutants of each unit and evaluate them all (see :func:`evaluate`).

    ``log``: a callable taking one line of text, for per-unit summaries (e.g. ``console.print``).
    """
    report = Report()
    t_all = time.perf_counter()
    for u in units:
        t0 = time.perf_counter()
        d = derive(u, count, seed, operators=operators)
        outcomes = run(u, d.mutants, jobs=jobs, progress=progress, **options)
        matrix = kill_matrix(outcomes, d.not_compiled)
        seconds = time.perf_counter() - t0
        report.outcomes += outcomes
        report.not_compiled += d.not_compiled
        report.units.append({
            "name": u.name, "params": u.params, "seconds": seconds, "matrix": matrix,
            "available": d.available,
            "not_compiled": [dict(m.to_dict(), error=e) for m, e in d.not_compiled],
            "outcomes": [o.to_dict() for o in outcomes]})
        if log is not None:
            log(f"{u.name}: {len(d.mutants)} mutants ({len(d.not_compiled)} not compiling) in "
                f"{seconds:.0f} s; {rate_text(matrix)}")
    report.seconds = time.perf_counter() - t_all
    return report


def print_report(report: Report, console, json_path=None) -> None:
    """The kill matrix, the kill-rate line and the survivors worth a look; the JSON if asked."""
    console.print(matrix_table(report.matrix))
    console.print(rate_text(report.matrix))
    for line in survivors_text(report.outcomes):
        console.print(line)
    console.print(f"time {report.seconds:.0f} s")
    if json_path:
        Path(json_path).write_text(json.dumps(report.to_json(), indent=1, default=str))
        console.print(f"wrote {json_path}")

