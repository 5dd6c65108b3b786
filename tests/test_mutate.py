"""Fault injection (mpmac.formal.mutate) and ``mpmac mutate``.

Derivation is deterministic in the seed and gives distinct single-statement mutants of every
operator class that Icarus compiles (checked here with Icarus directly); a mutant that breaks the
exponent is killed by simulation and, under the ``formal`` marker, by the proof against the
reference, while a fault on a constant-0 net is proven equivalent; a small mac's reachable states
are enumerated, a mac fault that acts only on unreachable accumulator states is proven equivalent
under them, and that proof fails for a killed mutant and for a wrong state set; the kill matrix
adds up; the CLI's exit codes follow the report and bad parameters exit 2.

Runtime (2 cores, other jobs running): about 50 s in all, of which the tests marked ``formal``
take about 40 s. Every evaluation runs with ``cache=False`` in a temporary build directory.
"""

from __future__ import annotations

import json
import re
import subprocess

import numpy as np
import pytest
from click.testing import CliRunner

import mpmac
from mpmac.cli import main
from mpmac.formal import mutate as mm

UNIT = dict(kind="mul", a="e2m1")


@pytest.fixture(autouse=True)
def _build_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MPMAC_BUILD_DIR", str(tmp_path / "build"))


def _unit():
    params = dict(UNIT)
    return mpmac.unit(params.pop("kind"), **params)


def _edit(u, operator, pattern):
    """The first candidate edit of ``operator`` whose detail matches ``pattern``, as a Mutant."""
    text = mm.base_verilog(u)
    for e in mm.candidates(text)[operator]:
        if re.search(pattern, e.detail):
            return mm._mutant(e, text.split("\n"))
    raise AssertionError(f"no {operator} edit matching {pattern!r}")


def _compiles(text: str, top: str, tmp_path) -> bool:
    src = tmp_path / "m.v"
    src.write_text(text)
    return subprocess.run(["iverilog", "-g2012", "-t", "null", "-s", top, str(src)],
                          capture_output=True).returncode == 0


# --- derivation ----------------------------------------------------------------------------------
def test_derivation_is_deterministic_and_depends_on_the_seed():
    u = _unit()
    first = [m.digest for m in mm.derive(u, 12, seed=7, check=False).mutants]
    again = [m.digest for m in mm.derive(u, 12, seed=7, check=False).mutants]
    other = [m.digest for m in mm.derive(u, 12, seed=8, check=False).mutants]
    assert first == again
    assert first != other


def test_mutants_are_distinct_single_line_changes_of_every_operator(tmp_path):
    u = _unit()
    base = mm.base_verilog(u).split("\n")
    d = mm.derive(u, 2 * len(mm.OPERATORS), seed=3)
    assert len(d.mutants) == 2 * len(mm.OPERATORS)
    assert {m.operator for m in d.mutants} == set(mm.OPERATORS)
    assert len({m.text for m in d.mutants}) == len(d.mutants)
    for m in d.mutants:
        lines = m.text.split("\n")
        changed = [i for i, (x, y) in enumerate(zip(base, lines)) if x != y]
        assert len(lines) == len(base) and changed == [m.line - 1], m.description
        assert base[m.line - 1].strip() == m.before
        assert _compiles(m.text, u.name, tmp_path), m.description


def _const(text: str) -> int:
    m = re.fullmatch(r"(\d+)'([hdb])([0-9a-f]+)", text)
    return int(m[3], {"h": 16, "d": 10, "b": 2}[m[2]])


def test_operator_edits_do_what_their_names_say():
    u = _unit()
    text = mm.base_verilog(u)
    lines = text.split("\n")
    c = mm.candidates(text)
    for e in c["arith"]:
        old = lines[e.line]
        diff = [(x, y) for x, y in zip(old, e.new_line) if x != y]
        assert len(old) == len(e.new_line) and diff in ([("+", "-")], [("-", "+")])
    for e in c["not-drop"]:
        nots = [sum(x.split("=", 1)[1].count(ch) for ch in "~!") for x in (lines[e.line], e.new_line)]
        assert nots[1] == nots[0] - 1
    for e in c["const"]:
        old, new = e.detail.split(" -> ")
        assert abs(_const(old) - _const(new)) == 1 and new in e.new_line
    assert c["drop-sticky"], "the rounder's sticky OR-reductions are candidates"
    for e in c["drop-sticky"]:
        assert e.new_line.rstrip().endswith("'h0;")
        assert mm.STICKY_MODULE.search(e.module) or mm.STICKY_NAME.search(e.detail)


def test_acc_state_is_never_mutated():
    u = mpmac.unit("mac", a="e2m1", acc="e4m3")
    text = mm.base_verilog(u)
    assert "acc_state" in text
    for edits in mm.candidates(text).values():
        for e in edits:
            assert not re.match(r"\s*assign acc_state\b", text.split("\n")[e.line])


def test_bad_parameters_raise():
    u = _unit()
    with pytest.raises(ValueError, match="count"):
        mm.derive(u, 0)
    with pytest.raises(ValueError, match="operators"):
        mm.derive(u, 3, operators=("nope",))
    with pytest.raises(TypeError, match="seed"):
        mm.derive(u, 3, seed="1")
    with pytest.raises(ValueError, match="jobs"):
        mm.run(u, [], jobs=0)


# --- evaluation ----------------------------------------------------------------------------------
def _exponent_stuck(u):
    """The normalized exponent of every result forced to 0: wrong for almost every input."""
    return _edit(u, "stuck-0", r"^\$1 stuck at 0$")


def test_a_broken_exponent_is_killed_by_simulation():
    u = _unit()
    m = _exponent_stuck(u)
    assert m.module == u.name
    o = mm.evaluate(u, m, formal=False, cache=False)
    assert o.sim["checked"] == 1 << 8  # exhaustive: two 4-bit operands
    assert o.sim["mismatches"] > 0 and o.category == "sim_only"
    # without proofs a survivor could not be decided; the original passes the same regression
    clean = mm.evaluate(u, mm.Mutant("none", u.name, 1, "", "", "", mm.base_verilog(u)),
                        formal=False, cache=False)
    assert clean.sim["mismatches"] == 0 and clean.category == "unknown"


@pytest.mark.formal
def test_the_proofs_kill_the_broken_exponent_too():
    u = _unit()
    o = mm.evaluate(u, _exponent_stuck(u), cache=False, timeout=120)
    assert o.formal["status"] == "FAIL", o.formal
    assert o.category == "both"
    assert o.formal["results"][0]["counterexample"]


@pytest.mark.formal
def test_a_fault_on_a_constant_net_is_proven_equivalent():
    u = _unit()
    # e2m1 has no Inf: the product's inf bit is constant 0, so forcing it to 0 changes nothing
    m = _edit(u, "stuck-0", r"^p\[2\] stuck at 0$")
    o = mm.evaluate(u, m, cache=False, timeout=120)
    assert not o.sim_killed and o.formal["status"] == "PASS"
    assert o.original["status"] == "PASS"
    assert o.category == "equivalent"


@pytest.mark.formal
def test_same_as_original_refutes_a_pipelined_mutant_and_proves_an_equivalent_one():
    u = mpmac.unit("mul", a="e2m1", latency=1)
    bad = mm.prove_same_as_original(u, _exponent_stuck(u).text, timeout=120)
    assert bad["status"] == "FAIL", bad
    same = mm.prove_same_as_original(u, _edit(u, "stuck-0", r"^p\[2\] stuck at 0$").text,
                                     timeout=120)
    assert same["status"] == "PASS" and same["method"] == "register correspondence", same


# --- the reachable-state invariant of a small mac -------------------------------------------------
MAC = dict(a="e2m1", acc="e4m3")
#: ``mpmac mutate mac --a e2m1 --acc e4m3 --count 52 --seed 1``: a fault in the decoding of e4m3
#: subnormals in the accumulator's unpacker, which the accumulator never holds (docs/mutation.md)
MAC_UNREACHABLE_FAULT = "854ad389cf24622d"
#: the same run: bit 2 of the accumulator's exponent stuck at 0, killed by simulation and proofs
MAC_KILLED = "2a654bc05cd5aa37"


def _mac_mutant(digest):
    u = mpmac.unit("mac", **MAC)
    by_digest = {m.digest: m for m in mm.derive(u, 52, seed=1).mutants}
    assert digest in by_digest, f"mutant {digest} is no longer derived (did the RTL change?)"
    return u, by_digest[digest]


def test_reachable_states_of_a_small_mac():
    from mpmac.formal import invariant
    u = mpmac.unit("mac", **MAC)
    states = invariant.reachable_states(u)
    assert len(states) == 271 and 0 in states   # 0: +0 and no flags, the initial state
    # products of e2m1 values are multiples of 0.25: no e4m3 subnormal (exponent field 0, mantissa
    # not 0) is ever accumulated, and no divide-by-zero or invalid flag raised
    assert not [s for s in states if (s >> 3) & 0xf == 0 and s & 7]
    assert {s >> 8 for s in states} <= {0, 1, 5}
    # every state a golden run passes through is in the set
    rng = np.random.default_rng(1)
    for clear_rate in (0.0, 0.05):
        n = 3000
        r = u.golden(a=rng.integers(0, 16, n), b=rng.integers(0, 16, n),
                     in_valid=(rng.random(n) < 0.8).astype(int),
                     clear=(rng.random(n) < clear_rate).astype(int))
        assert set((r["y"].astype(int) | r["flags"].astype(int) << 8).tolist()) <= states
    for params in (dict(MAC, latency=1), dict(a="e2m1", acc="fp16"), dict(a="e2m1", acc="kulisch"),
                   dict(MAC, rounding="sr", rand_bits=4)):
        with pytest.raises(invariant.Unsupported):
            invariant.reachable_states(mpmac.unit("mac", **params))


@pytest.mark.formal
def test_a_fault_only_on_unreachable_accumulator_states_is_proven_equivalent():
    u, m = _mac_mutant(MAC_UNREACHABLE_FAULT)
    r = mm.prove_same_as_original(u, m.text, timeout=120)
    assert r["status"] == "PASS", r
    assert r["method"] == ("register correspondence under the reachable-state invariant "
                           "(271 states)"), r
    # a mixed-format mac: its 567 states are too many for a case statement (Yosys makes a ROM
    # of it, which induction leaves free); the original passes against itself
    mixed = mpmac.unit("mac", a="e2m1", b="e3m2", acc="e4m3", rounding="rtz")
    r, count = mm._invariant_proof(mixed, mm.base_verilog(mixed), 120)
    assert (r.status, count) == ("PASS", 567), r.detail


@pytest.mark.formal
def test_the_invariant_proof_can_fail():
    from mpmac.formal import invariant
    u, killed = _mac_mutant(MAC_KILLED)
    r, _ = mm._invariant_proof(u, killed.text, 120)
    assert r.status != "PASS", "a mutant that differs from the original passed"
    # the state set is checked, not trusted: the original against itself passes with the true
    # set, and fails without the initial state (base case) or without one reachable state
    # (induction: the set is no longer closed under the original's transitions)
    original = mm.base_verilog(u)
    states = invariant.reachable_states(u)
    assert mm._invariant_proof(u, original, 120)[0].status == "PASS"
    assert mm._invariant_proof(u, original, 120, states=states - {0})[0].status == "FAIL"
    assert mm._invariant_proof(u, original, 120, states=states - {max(states)})[0].status != "PASS"


# --- report --------------------------------------------------------------------------------------
def _outcome(operator, sim_killed, formal, original=None):
    return mm.Outcome({"operator": operator, "digest": "0", "module": "m", "line": 1,
                       "detail": ""}, {"killed": sim_killed}, {"status": formal},
                      {"status": original} if original else None)


def test_kill_matrix_adds_up():
    outcomes = [_outcome("arith", True, "FAIL"), _outcome("arith", True, "UNKNOWN"),
                _outcome("logic", False, "FAIL"), _outcome("logic", False, "PASS", "PASS"),
                _outcome("const", False, "UNKNOWN", "FAIL"), _outcome("const", False, "ERROR")]
    nc = [(mm.Mutant("shift", "m", 1, "", "", "", ""), "error")]
    mx = mm.kill_matrix(outcomes, nc)
    t = mx["total"]
    assert (t["both"], t["sim_only"], t["formal_only"]) == (1, 1, 1)
    assert (t["equivalent"], t["gap"], t["unknown"]) == (1, 1, 1)
    assert t["mutants"] == 7 and t["compiled"] == 6
    assert mx["kill_rate"] == pytest.approx(3 / 4)
    assert mx["non_equivalent_survivors"] == 2
    assert sum(r["mutants"] for r in mx["rows"].values()) == t["mutants"]
    assert _outcome("x", True, "PASS").warnings  # a proof passing what simulation kills


# --- CLI -----------------------------------------------------------------------------------------
def run_cli(*args):
    return CliRunner(env={"COLUMNS": "250"}).invoke(main, list(args))


def test_cli_exit_code_follows_the_report(tmp_path):
    out = tmp_path / "m.json"
    r = run_cli("mutate", "mul", "--a", "e2m1", "--count", "3", "--seed", "5", "--no-formal",
                "--operators", "stuck-0,arith", "--jobs", "1", "--json", str(out))
    report = json.loads(out.read_text())
    assert report["matrix"]["total"]["mutants"] == 3
    assert r.exit_code == (1 if report["matrix"]["non_equivalent_survivors"] else 0), r.output
    assert "kill matrix" in r.output


def test_cli_list_and_bad_parameters():
    r = run_cli("mutate", "mul", "--a", "e2m1", "--count", "4", "--list")
    assert r.exit_code == 0 and len(r.output.strip().splitlines()) >= 4
    for args in (["--count", "0"], ["--jobs", "0"], ["--operators", "swap"], ["--a", "nope"],
                 ["--vectors", "0"]):
        r = run_cli("mutate", "mul", "--a", "e2m1", *args)
        assert r.exit_code == 2, (args, r.output)
