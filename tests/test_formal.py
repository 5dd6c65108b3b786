"""The SymbiYosys proof flow (mpmac.formal) and ``mpmac verify --formal/--dut``.

Tier ``formal`` (marker registered in pyproject.toml; it runs in the default tier, so CI runs it):
the proof set of the formal issue (e4m3 and e2m1 mul/fma, a posit8 add, a pipelined unit, a mac)
must PASS, the mixed e4m3 x e4m3 + bf16 fma included (about 2 minutes on 2 cores with native ABC);
a broken DUT must FAIL with a counterexample that is
right on independent grounds (the injected fault's condition holds on its inputs, the DUT differs
from the golden model in the injected bit) and that replays in simulation; ``--dut`` must pass a
Yosys-synthesized netlist of a correct unit and agree with an exhaustive simulation on a
corrupted one; the CLI's exit codes. docs/formal.md lists every proof's measured time.

Runtime: the file without the bf16-addend fma took 67 s with 2 workers on the idle 2-core machine
(ABC engine); that fma takes about 2 minutes more. The tests without the marker (miter text,
witness parsing, port checks) take seconds.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

import mpmac
from mpmac import formal, sim
from mpmac.cli import main
from mpmac.formal import miter
from mpmac.formal.counterexample import read_witness
from mpmac.sim.mutants import flip_output_bit

PROOFS = [
    ("mul", dict(a="e4m3"), "equiv"),
    ("fma", dict(a="e4m3"), "equiv"),
    ("mul", dict(a="e2m1"), "equiv"),
    ("fma", dict(a="e2m1"), "equiv"),
    ("add", dict(a="posit8_0"), "equiv"),
    ("fma", dict(a="e4m3", latency=2), "pipeline"),
    ("mac", dict(a="e4m3", acc="kulisch"), "mac_step"),
]


def _id(case) -> str:
    kind, params, ob = case
    return f"{kind}-" + "-".join(f"{v}" for v in params.values()) + f"-{ob}"


def run_cli(*args):
    return CliRunner(env={"COLUMNS": "250"}).invoke(main, list(args))


# --- proofs that must pass -----------------------------------------------------------------------
@pytest.mark.formal
@pytest.mark.parametrize("case", PROOFS, ids=_id)
def test_proof_passes(case):
    kind, params, obligation = case
    u = mpmac.unit(kind, **params)
    (r,) = formal.prove(u, obligation=obligation, timeout=1800)
    print(f"[formal] {r.summary()}")
    assert r.status == "PASS", f"{r.status}: {r.detail}"
    assert r.counterexample is None
    # the scope states a complete proof (no shared multiplier: every operand here is <= 8 bits)
    assert "shared" not in r.scope
    assert ("complete" in r.scope) == (obligation == "equiv")


def _cores_per_worker() -> int:
    """This process's share of the cores: all of them alone, one each under ``pytest -n 2`` on 2."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    return max(1, (os.cpu_count() or 1) // workers)


@pytest.mark.formal
@pytest.mark.slow
@pytest.mark.early
def test_mixed_fma_with_a_bf16_addend_proof_passes():
    # the cases with the addend's exponent inside the product's range need single exponent values
    # (about 5 s each with ABC; docs/formal.md). Cases run one per core this worker has: a case
    # still open after ABC_PATIENCE seconds of wall time is split and restarted in parts, so two
    # cases sharing a core with another worker's tests kept passing that limit (307 s under
    # pytest -n 2, 127 s alone; on a loaded machine two at a time had started 105 cases after
    # 9 minutes, where 46 suffice). Marked early: under pytest-xdist it starts first instead of
    # forming the tail of the run. In the slow tier: its 5 minutes of one core were a quarter of the
    # default tier's wall time (the e4m3 + bf16 reference and the e4m3 fma proofs stay there).
    u = mpmac.unit("fma", a="e4m3", b="e4m3", c="bf16", out="bf16")
    (r,) = formal.prove(u, timeout=1800, jobs=_cores_per_worker())
    print(f"[formal] {r.summary()}")
    assert r.status == "PASS", f"{r.status}: {r.detail}"
    assert "complete" in r.scope


def test_wide_multiplier_is_shared_and_says_so():
    u = mpmac.unit("mul", a="bf16")
    (p,) = formal.plan(u)
    assert p.product == "shared"
    assert formal.proofs.SHARED_SCOPE in p.scope
    # both sides without their multiplier, the miter multiplies once
    assert "mul_x" in p.dut.ports and "mul_p" in p.ref.ports
    text = miter.miter(p.dut, p.ref, p.data, p.compare, product=p.product)
    assert text.count(" * ") == 1
    assert "assert (dut_mul_x == ref_mul_x);" in text


def test_auto_plan_of_a_pipelined_unit_and_a_mac():
    obs = [p.obligation for p in formal.plan(mpmac.unit("mul", a="e4m3", latency=2))]
    assert obs == ["equiv", "pipeline"]
    obs = [p.obligation for p in formal.plan(mpmac.unit("mac", a="e4m3", acc="fp16", latency=1))]
    assert obs == ["mac_step", "pipeline"]


# --- broken DUTs ---------------------------------------------------------------------------------
@pytest.mark.formal
def test_broken_dut_fails_with_a_counterexample_that_replays(tmp_path):
    u = mpmac.unit("mul", a="e4m3")
    bit, when = 2, "a[1] & b[6] & ~a[5]"
    bad = flip_output_bit(u, "y", bit, when=when)
    (r,) = formal.prove(u, dut_verilog=bad, cex_dir=tmp_path)
    assert r.status == "FAIL"
    cex = r.counterexample
    a, b = cex.steps[0]["a"], cex.steps[0]["b"]
    assert (a >> 1) & 1 and (b >> 6) & 1 and not (a >> 5) & 1  # the fault's condition holds
    golden = u.golden(a=np.asarray([a]), b=np.asarray([b]))
    assert cex.dut["y"] == int(golden["y"][0]) ^ (1 << bit)
    assert cex.ref["y"] == int(golden["y"][0])
    assert cex.mismatched == ["y"]
    assert f"{a:#04x}" in cex.text() and "golden" in cex.text()
    # the same inputs fail in simulation, in-process and as the written pytest file
    replay = cex.replay()
    assert (replay.checked, replay.mismatches) == (1, 1)
    assert cex.replay_path.parent == tmp_path
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(cex.replay_path)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert "1 failed" in proc.stdout


@pytest.mark.formal
def test_fault_in_a_later_case_of_a_split_proof(tmp_path):
    u = mpmac.unit("add", a="posit8_0")
    bad = flip_output_bit(u, "y", 0, when="b[3] & a[0]")  # b[6:3] != 0: not the first case
    (r,) = formal.prove(u, dut_verilog=bad, cex_dir=tmp_path)
    assert r.status == "FAIL" and r.cases > 1  # the first case passed
    cex = r.counterexample
    assert cex.steps[0]["b"] >> 3 & 1 and cex.steps[0]["a"] & 1
    assert cex.dut["y"] ^ cex.golden()["y"] == 1
    assert cex.replay().mismatches == 1


@pytest.mark.formal
def test_broken_pipeline_fails_and_replays(tmp_path):
    u = mpmac.unit("mul", a="e4m3", latency=2)
    bad = flip_output_bit(u, "flags", 0, when="a[0] & b[0]")
    (r,) = formal.prove(u, obligation="pipeline", dut_verilog=bad, cex_dir=tmp_path)
    if r.status == "ERROR":
        # Seen once in a loaded clean-clone run (passes alone; cause not found yet): one retry,
        # with the first attempt's detail in the test output; the retry must FAIL properly.
        print(f"[formal] pipeline proof of the broken DUT gave ERROR, retrying: {r.detail}")
        (r,) = formal.prove(u, obligation="pipeline", dut_verilog=bad, cex_dir=tmp_path)
    assert r.status == "FAIL", r.detail
    cex = r.counterexample
    last = cex.steps[-1]
    assert last["a"] & 1 and last["b"] & 1  # the fault flips flags while a[0] & b[0]
    assert cex.dut["flags"] ^ cex.ref["flags"] == 1
    assert cex.golden() == {"y": cex.ref["y"], "flags": cex.ref["flags"]}
    assert cex.replay().mismatches >= 1


@pytest.mark.formal
def test_external_mac_without_state_is_bounded_and_catches_a_fault(tmp_path):
    u = mpmac.unit("mac", a="e2m1", acc="e4m3")
    bad = flip_output_bit(u, "y", 0, when="a[2] & b[2]")
    (r,) = formal.prove(u, dut_verilog=bad, cex_dir=tmp_path)
    assert r.obligation == "mac_step" and "bounded" in r.scope
    assert r.status == "FAIL"
    cex = r.counterexample
    assert cex.steps[0]["rst"] == 1
    assert cex.dut["y"] ^ cex.ref["y"] == 1
    assert cex.replay().mismatches >= 1


# --- --dut on netlists ---------------------------------------------------------------------------
def _synthesize(verilog: str, top: str, tmp_path) -> str:
    """A gate-level netlist of ``verilog`` from Yosys (flattened, generic gates)."""
    from mpmac.formal.sby import tool_paths
    (tmp_path / "in.v").write_text(verilog)
    subprocess.run([tool_paths()["--yosys"], "-q", "-p",
                    f"read_verilog -sv in.v; synth -flatten -top {top}; rename {top} netlist_top; "
                    f"write_verilog -noattr out.v"], cwd=tmp_path, check=True, timeout=600)
    return (tmp_path / "out.v").read_text()


@pytest.mark.formal
def test_dut_netlist_of_a_correct_unit_passes(tmp_path):
    u = mpmac.unit("fma", a="e2m1")
    netlist = _synthesize(u.verilog(), u.name, tmp_path)
    (r,) = formal.prove(u, dut_verilog=netlist, top="netlist_top")
    assert r.status == "PASS", r.detail
    assert r.unit == "netlist_top"


def _corrupt(netlist: str, seed: int) -> str:
    """Swap one binary operator of one assign of a netlist (& <-> |, ^ <-> ~^... picked at random)."""
    rng = random.Random(seed)
    lines = netlist.splitlines()
    spots = [i for i, ln in enumerate(lines) if ln.lstrip().startswith("assign")
             and re.search(r" [&|^] ", ln)]
    i = rng.choice(spots)
    swap = {"&": "|", "|": "&", "^": "&"}
    lines[i] = re.sub(r" ([&|^]) ", lambda m: f" {swap[m.group(1)]} ", lines[i], count=1)
    return "\n".join(lines) + "\n"


@pytest.mark.formal
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_dut_corrupted_netlist_verdict_agrees_with_exhaustive_simulation(tmp_path, seed):
    u = mpmac.unit("mul", a="e4m3")
    bad = _corrupt(_synthesize(u.verilog(), u.name, tmp_path), seed)
    from mpmac.sim.mutants import wrapper
    r_sim = sim.verify(u, engine="stream", exhaustive=True,
                       verilog=wrapper(u, bad, "netlist_top", {}))
    assert r_sim.checked == 1 << 16
    (r,) = formal.prove(u, dut_verilog=bad, top="netlist_top", cex_dir=tmp_path / "cex")
    print(f"[formal] corrupted netlist {seed}: {r_sim.mismatches} mismatches in simulation, "
          f"proof {r.status}")
    assert r.status == ("FAIL" if r_sim.mismatches else "PASS")
    if r.status == "FAIL":
        assert r.counterexample.replay().mismatches == 1


# --- CLI -----------------------------------------------------------------------------------------
@pytest.mark.formal
def test_cli_formal_pass_and_fail(tmp_path):
    r = run_cli("verify", "mul", "--a", "e2m1", "--formal")
    assert r.exit_code == 0, r.output
    assert "equiv: PASS" in r.output and "proves: complete" in r.output
    u = mpmac.unit("mul", a="e2m1")
    bad = tmp_path / "bad.v"
    bad.write_text(flip_output_bit(u, "flags", 0))
    r = run_cli("verify", "mul", "--a", "e2m1", "--formal", "--dut", str(bad),
                "--cex-dir", str(tmp_path / "cex"))
    assert r.exit_code == 1, r.output
    assert "equiv: FAIL" in r.output and "counterexample" in r.output
    assert (tmp_path / "cex" / "test_replay.py").exists()
    # without --formal the same file is simulated against the golden model
    r = run_cli("verify", "mul", "--a", "e2m1", "--dut", str(bad), "--engine", "stream")
    assert r.exit_code == 1, r.output
    assert "256 vectors checked, 256 mismatches" in r.output


def test_cli_dut_errors_are_usage_errors(tmp_path):
    u = mpmac.unit("mul", a="e4m3")
    good = tmp_path / "good.v"
    good.write_text(u.verilog())
    r = run_cli("verify", "mul", "--a", "e4m3", "--formal", "--dut", str(tmp_path / "missing.v"))
    assert r.exit_code == 2 and "does not exist" in r.output
    r = run_cli("verify", "mul", "--a", "e4m3", "--formal", "--dut", str(good), "--top", "nope")
    assert r.exit_code == 2 and "'nope' is not defined" in r.output and u.name in r.output
    r = run_cli("verify", "mul", "--a", "e2m1", "--formal", "--dut", str(good))
    assert r.exit_code == 2
    assert "mismatched a (expected in 4, found in 8)" in r.output


@pytest.mark.formal
def test_cli_unknown_when_the_solver_has_no_time():
    r = run_cli("verify", "fma", "--a", "e4m3", "--formal", "--timeout", "1")
    assert r.exit_code == 4, r.output
    assert "equiv: UNKNOWN" in r.output


# --- pieces --------------------------------------------------------------------------------------
def test_check_ports_lists_every_difference():
    m = miter.Module("dut", {"a": ("in", 8), "b": ("in", 7), "q": ("out", 8)}, False)
    with pytest.raises(ValueError) as e:
        miter.check_ports(m, {"a": ("in", 8), "b": ("in", 8), "y": ("out", 8)}, "DUT")
    text = str(e.value)
    assert "missing y (out 8)" in text and "unexpected q (out 8)" in text
    assert "mismatched b (expected in 8, found in 7)" in text


def test_read_modules_finds_ports_tops_and_state():
    text = ("module leaf(input [3:0] x, output [3:0] q); assign q = ~x; endmodule\n"
            "module top(input clk, input [3:0] \\rand , output reg [3:0] y);\n"
            "  wire [3:0] w; leaf l(.x(\\rand ), .q(w));\n"
            "  always @(posedge clk) y <= w;\nendmodule\n")
    mods = miter.read_modules(text)
    assert mods["top"].ports == {"clk": ("in", 1), "rand": ("in", 4), "y": ("out", 4)}
    assert mods["top"].sequential and not mods["leaf"].sequential
    assert miter.find_top(mods).name == "top"
    with pytest.raises(ValueError, match="cannot read"):
        miter.read_modules("module broken(;")


def test_miter_escapes_keyword_ports_and_gates_pipelines():
    u = mpmac.unit("mul", a="e4m3", rounding="sr", rand_bits=3, latency=2)
    data = {"a": 8, "b": 8, "rand": 3}
    dut = miter.Side("d", dict(u.ports))
    comb = miter.Side("c", {p: v for p, v in u.ports.items() if p not in ("clk", "rst")}, delay=2)
    text = miter.miter(dut, comb, data, settle=2, reset="free")
    assert ".\\rand (i_rand)" in text
    assert "clean == 2'd2" in text and "rst ? 2'd0" in text
    # the combinational side's outputs are delayed, its inputs are not
    assert "ref_y_d2" in text and "i_a_d1" not in text


def test_read_witness_bit_order(tmp_path):
    # two top-level inputs of 3 and 2 bits and one internal signal; bits are listed last signal
    # first, most significant bit first
    yw = {"format": "Yosys Witness Trace", "clocks": [],
          "signals": [{"path": ["\\i_a"], "width": 3, "offset": 0, "init_only": False},
                      {"path": ["\\i_b"], "width": 2, "offset": 0, "init_only": False},
                      {"path": ["\\u", "\\r"], "width": 1, "offset": 0, "init_only": True}],
          "steps": [{"bits": "1" + "10" + "011"}, {"bits": "01" + "110"}]}
    (tmp_path / "t.yw").write_text(json.dumps(yw))
    assert read_witness(tmp_path / "t.yw") == [{"i_a": 3, "i_b": 2}, {"i_a": 6, "i_b": 1}]


def test_bad_arguments_raise():
    u = mpmac.unit("mul", a="e4m3")
    with pytest.raises(ValueError, match="obligation="):
        formal.plan(u, "bogus")
    with pytest.raises(ValueError, match="needs latency > 0"):
        formal.plan(u, "pipeline")
    with pytest.raises(ValueError, match="mac_step"):
        formal.plan(u, "mac_step")
    with pytest.raises(ValueError, match="timeout="):
        formal.prove(u, timeout=0)


# --- the ABC engine ------------------------------------------------------------------------------
def test_case_parts_partition_the_case():
    case = formal.proofs.Case("i_c", 14, 11, 5)
    parts = case.parts(4)
    assert len(parts) == 16 and {p.lo for p in parts} == {7}
    # every part keeps the parent's bits and the parts differ exactly in the new ones
    assert all(p.value >> 4 == 5 for p in parts)
    assert sorted(p.value & 15 for p in parts) == list(range(16))
    assert case.parts(1) == (formal.proofs.Case("i_c", 14, 10, 10),
                             formal.proofs.Case("i_c", 14, 10, 11))
    assert formal.proofs.Case("i_c", 3, 0, 1).parts(4) is None
    assert formal.proofs.Case("i_c", 3, 2, 2).fixed() == {"i_c[3]": 1, "i_c[2]": 0}


_ADDERS = """
module good(input [3:0] a, input [3:0] b, output [4:0] y); assign y = a + b; endmodule
module bad(input [3:0] a, input [3:0] b, output [4:0] y);
  assign y = (a == 4'd9 && b == 4'd3) ? 5'd0 : b + a;
endmodule
module m(input [3:0] i_a, input [3:0] i_b);
  wire [4:0] y1, y2;
  good u1(.a(i_a), .b(i_b), .y(y1));
  SIDE u2(.a(i_a), .b(i_b), .y(y2));
  always @* assert (y1 == y2);
endmodule
"""


@pytest.mark.formal
@pytest.mark.parametrize("side", ["good", "bad"])
def test_abc_cofactors_prove_and_refute(tmp_path, side):
    # no skip without ABC: tools/run.sh installs berkeley-abc, and a missing one must show
    assert formal.abc.executable() is not None, "no native ABC: apt-get install berkeley-abc"
    script = ["read_verilog -formal -sv m.v", "prep -flatten -top m"]
    aig = formal.abc.write_aig({"m.v": _ADDERS.replace("SIDE", side)}, script, tmp_path / "aig")
    assert sorted(aig.inputs) == sorted([f"i_a[{k}]" for k in range(4)] +
                                        [f"i_b[{k}]" for k in range(4)])
    verdicts = {}
    for hi_a in (0, 1):   # cases on a's top bit cover every input
        r = formal.abc.prove_cofactor(aig, {"i_a[3]": hi_a}, tmp_path / f"case{hi_a}", 60)
        verdicts[hi_a] = r.status
    # the bad adder differs only at a = 9 (top bit 1), b = 3
    assert verdicts == ({0: "PASS", 1: "PASS"} if side == "good" else {0: "PASS", 1: "FAIL"})
    with pytest.raises(KeyError, match="i_z"):
        aig.cofactor({"i_z[0]": 1})


@pytest.mark.formal
def test_smtbmc_engine_when_no_native_abc(monkeypatch, tmp_path):
    u = mpmac.unit("add", a="posit8_0")
    monkeypatch.setattr(formal.abc, "executable", lambda: None)
    (p,) = formal.plan(u)
    assert isinstance(formal.proofs._engine(p, tmp_path, 60), formal.proofs._SmtbmcCases)
    (r,) = formal.prove(u, jobs=2)
    assert r.status == "PASS" and r.cases >= 16, r.detail
    bad = flip_output_bit(u, "y", 0, when="b[3] & a[0]")
    (r,) = formal.prove(u, dut_verilog=bad, cex_dir=tmp_path)
    assert r.status == "FAIL" and r.counterexample.replay().mismatches == 1


# --- approximate variants (docs/approximate.md) ---------------------------------------------------
# the approximate units against the reference's own coarse/window normalization, L-Mul and lazy
# accumulator; docs/formal.md lists the measured times (the slow ones take a minute or more)
APPROXIMATE_PROOFS = [
    ("add", dict(a="e4m3", normalize="coarse:2"), "equiv"),
    ("add", dict(a="e4m3", normalize="window:1"), "equiv"),
    ("mul", dict(a="e4m3", mul_approx="lmul"), "equiv"),
    ("fma", dict(a="e2m1", normalize="window:1"), "equiv"),
    ("mac", dict(a="e2m1", acc="e4m3", normalize="window:2"), "mac_step"),
]
SLOW_APPROXIMATE_PROOFS = [  # over 30 s each, or covered in kind by the set above (mul lmul)
    ("mac", dict(a="e2m1", acc="e4m3", normalize="lazy:2"), "mac_step"),
    ("fma", dict(a="e4m3", mul_approx="lmul"), "equiv"),
    ("fma", dict(a="e4m3", normalize="coarse:2"), "equiv"),
    ("fma", dict(a="e4m3", normalize="window:2"), "equiv"),
    ("mac", dict(a="e2m1", acc="bf16", normalize="window:2"), "mac_step"),
]


@pytest.mark.formal
@pytest.mark.parametrize("case", APPROXIMATE_PROOFS, ids=_id)
def test_approximate_proof_passes(case):
    kind, params, obligation = case
    (r,) = formal.prove(mpmac.unit(kind, **params), obligation=obligation, timeout=1800)
    print(f"[formal] {r.summary()}")
    assert r.status == "PASS", f"{r.status}: {r.detail}"
    assert ("complete" in r.scope) == (obligation == "equiv")
    assert ("well-formed" in r.scope) == (params.get("normalize", "").startswith("lazy"))


@pytest.mark.formal
@pytest.mark.slow
@pytest.mark.parametrize("case", SLOW_APPROXIMATE_PROOFS, ids=_id)
def test_slow_approximate_proof_passes(case):
    kind, params, obligation = case
    (r,) = formal.prove(mpmac.unit(kind, **params), obligation=obligation, timeout=3600,
                        jobs=2)
    print(f"[formal] {r.summary()}")
    assert r.status == "PASS", f"{r.status}: {r.detail}"


@pytest.mark.formal
@pytest.mark.parametrize("kind,params,other", [
    ("add", dict(a="e4m3", normalize="coarse:2"), dict(a="e4m3")),
    ("mul", dict(a="e4m3", mul_approx="lmul"), dict(a="e4m3")),
], ids=["add-exact-for-coarse2", "mul-exact-for-lmul"])
def test_exact_unit_fails_the_approximate_proof(tmp_path, kind, params, other):
    """A DUT that normalizes (or multiplies) exactly where the approximation was asked FAILS,
    with a counterexample on which the DUT computes the exact result and the reference the
    approximate one (both per the golden model) and the two differ."""
    u = mpmac.unit(kind, **params)
    exact = mpmac.unit(kind, **other)
    (r,) = formal.prove(u, dut_verilog=exact.verilog(), top=exact.name, cex_dir=tmp_path)
    assert r.status == "FAIL", r.detail
    cex = r.counterexample
    inputs = {k: np.asarray([v]) for k, v in cex.steps[0].items()}
    approximate, right = u.golden(**inputs), exact.golden(**inputs)
    for port in ("y", "flags"):
        assert cex.ref[port] == int(approximate[port][0])
        assert cex.dut[port] == int(right[port][0])
    assert (cex.dut["y"], cex.dut["flags"]) != (cex.ref["y"], cex.ref["flags"])
    assert cex.replay().mismatches == 1
