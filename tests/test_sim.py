"""Simulation of the emitted Verilog against the golden model (mpmac.sim), on the real RTL.

Tests that need a unit's Verilog skip, visibly, while ``unit.verilog()`` raises NotImplementedError
for that kind (the RTL arrives kind by kind); everything else fails loudly. Builds are cached under
``$MPMAC_BUILD_DIR`` (default ``.mpmac-build`` in the current directory), so a second run only
simulates.
"""

from __future__ import annotations

import multiprocessing
import re

import numpy as np
import pytest
from click.testing import CliRunner

import mpmac
from mpmac import sim
from mpmac.cli import main
from mpmac.golden import ops
from mpmac.sim import runner, stream, vectors
from mpmac.sim.mutants import flip_output_bit
from mpmac.sim.plan import Plan


def rtl(u) -> str:
    """The unit's Verilog, or a visible skip while its generator is not implemented yet."""
    try:
        return u.verilog()
    except NotImplementedError as e:
        pytest.skip(f"RTL pending: {u.name}.verilog() is not implemented yet ({e})")


def check(tally, r, label, expected=None):
    tally(f"{label} [{r.sim}/{r.engine}]", r.checked, r.mismatches, expected=expected,
          detail="\n".join(r.notes + r.first))


# --- against the RTL -----------------------------------------------------------------------------
@pytest.mark.parametrize("simulator", ["icarus", "verilator"])
def test_e4m3_mul_exhaustive_stream(tally, simulator):
    u = mpmac.unit("mul", a="e4m3")
    r = sim.verify(u, verilog=rtl(u), sim=simulator, engine="stream")
    check(tally, r, "e4m3 mul exhaustive", expected=1 << 16)


# the cocotb engine runs a Python coroutine per vector: small sets here, 1M-vector streams in the
# slow tier (test_slow_random_million_verilator_stream)
@pytest.mark.parametrize("simulator,n", [("icarus", 1000), ("verilator", 1500)])
def test_fp32_fma_random_cocotb(tally, simulator, n):
    u = mpmac.unit("fma", a="fp32")
    r = sim.verify(u, verilog=rtl(u), n=n, seed=1, sim=simulator, engine="cocotb")
    check(tally, r, "fp32 fma random", expected=n)


@pytest.mark.parametrize("engine,n", [("cocotb", 1000), ("stream", 5000)])
def test_pipelined_fma(tally, engine, n):
    u = mpmac.unit("fma", a="e4m3", c="fp32", out="fp32", latency=3)
    r = sim.verify(u, verilog=rtl(u), n=n, seed=2, engine=engine)
    check(tally, r, "e4m3*e4m3+fp32 fma latency 3", expected=n)


def test_pipelined_mul_exhaustive_stream_and_cocotb(tally):
    u = mpmac.unit("mul", a="e5m2", rounding="rtz", latency=2)
    text = rtl(u)
    for engine in ("stream", "cocotb"):
        r = sim.verify(u, verilog=text, engine=engine)
        check(tally, r, "e5m2 mul rtz latency 2 exhaustive", expected=1 << 16)


@pytest.mark.parametrize("engine,cycles,acc,latency", [
    ("cocotb", 1500, "fp32", 0), ("stream", 6000, "fp32", 0),
    ("cocotb", 1000, "kulisch", 1), ("stream", 5000, "e4m3", 2)])
def test_mac_sequences(tally, engine, cycles, acc, latency):
    u = mpmac.unit("mac", a="e4m3", acc=acc, latency=latency)
    r = sim.verify(u, verilog=rtl(u), n=cycles, seed=3, engine=engine)
    # every generated cycle is checked (latency 0: the rst cycles between sequences too)
    check(tally, r, f"e4m3 mac into {acc} sequences, latency {latency}")
    assert r.checked >= cycles


@pytest.mark.parametrize("engine", ["stream", "cocotb"])
def test_corrupted_verilog_is_caught(engine):
    """One output bit flipped whenever a is odd: exactly those vectors must mismatch."""
    u = mpmac.unit("mul", a="e4m3")
    rtl(u)
    bad = flip_output_bit(u, "y", 0, when="a[0]")
    r = sim.verify(u, verilog=bad, engine=engine)
    assert r.checked == 1 << 16
    assert r.mismatches == 1 << 15, r.first
    first = r.first[0]
    assert "expected  y = " in first and "got       y = " in first
    a = int(re.search(r"a = 0x([0-9a-f]+)", first)[1], 16)
    assert a & 1
    exp = int(re.search(r"expected  y = 0x([0-9a-f]+)", first)[1], 16)
    got = int(re.search(r"got       y = 0x([0-9a-f]+)", first)[1], 16)
    assert exp ^ got == 1


def test_flags_corruption_is_caught():
    u = mpmac.unit("add", a="e5m2", latency=1)
    rtl(u)
    r = sim.verify(u, verilog=flip_output_bit(u, "flags", 4), engine="stream")
    assert r.mismatches == r.checked == 1 << 16
    assert "invalid" in r.first[0]


def test_wrong_latency_is_diagnosed():
    declared = mpmac.unit("mul", a="e4m3", latency=2)
    actual = mpmac.unit("mul", a="e4m3", latency=3)
    rtl(actual)
    r = sim.verify(declared, verilog=actual.verilog(name=declared.name), engine="stream")
    assert r.mismatches > r.checked // 2
    assert any("latency=3" in n for n in r.notes), r.notes


def test_cli_verify_passes_and_reports(tmp_path):
    rtl(mpmac.unit("mul", a="e2m1"))
    res = CliRunner(env={"COLUMNS": "200"}).invoke(
        main, ["verify", "mul", "--a", "e2m1", "--engine", "stream"])
    assert res.exit_code == 0, res.output
    assert "256 vectors checked, 0 mismatches" in res.output
    assert "vectors/s" in res.output


def test_cli_verify_mismatch_exit_1(monkeypatch):
    u = mpmac.unit("mul", a="e2m1")
    rtl(u)
    bad = flip_output_bit(u, "y", 1)
    monkeypatch.setattr(type(u), "verilog", lambda self, name=None: bad)
    res = CliRunner(env={"COLUMNS": "200"}).invoke(
        main, ["verify", "mul", "--a", "e2m1", "--engine", "stream"])
    assert res.exit_code == 1, res.output
    assert "256 vectors checked, 256 mismatches" in res.output
    assert "first mismatches:" in res.output
    assert re.search(r"a = 0x[0-9a-f] = [01] [01]{2} [01] = ", res.output)
    assert "flags" in res.output


@pytest.mark.parametrize("args", [
    ["mul", "--a", "fp33"],
    ["mul", "--a", "e4m3", "--vectors", "0"],
    ["mul", "--a", "fp32", "--exhaustive"],
    ["mul", "--a", "e4m3", "--sim", "questa"],
    ["mac", "--a", "e4m3", "--exhaustive"],
])
def test_cli_verify_bad_parameters_exit_2(args):
    res = CliRunner().invoke(main, ["verify", *args])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output


@pytest.mark.slow
@pytest.mark.parametrize("kind,params", [
    ("fma", dict(a="fp32")),
    ("fma", dict(a="bf16", rounding="sr", rand_bits=6, latency=2)),
    ("add", dict(a="fp16", rounding="rdn")),
    ("convert", dict(a="fp32", out="e5m2", saturate=True)),
])
def test_slow_random_million_verilator_stream(tally, kind, params):
    u = mpmac.unit(kind, **params)
    r = sim.verify(u, verilog=rtl(u), n=1_000_000, seed=7, sim="verilator", engine="stream")
    check(tally, r, f"{kind} {params} 1M random", expected=1_000_000)


# --- the bench's own parts (no RTL needed) -------------------------------------------------------
def test_corner_codes_e4m3():
    codes = set(vectors.corner_codes(mpmac.format("e4m3")).tolist())
    # +-0, +-min subnormal, +-max subnormal, +-min normal, +-1, +-max (448), NaN (0x7f/0xff)
    assert {0x00, 0x80, 0x01, 0x81, 0x07, 0x87, 0x08, 0x88, 0x38, 0xb8, 0x7e, 0xfe, 0x7f, 0xff} <= codes


def test_corner_codes_ieee_and_posit():
    fp16 = set(vectors.corner_codes(mpmac.format("fp16")).tolist())
    assert {0x7c00, 0xfc00, 0x7e00, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x3c00} <= fp16
    assert any(0x7c00 < c < 0x7e00 for c in fp16)  # a signalling NaN
    p8 = set(vectors.corner_codes(mpmac.format("posit8_0")).tolist())
    assert {0x00, 0x80, 0x01, 0x7f, 0x40, 0xff, 0x81} <= p8


def test_exhaustive_and_automatic_choice():
    u = mpmac.unit("mul", a="e2m1")
    v = vectors.generate(u)
    assert len(v["a"]) == 256 and len(set(zip(v["a"].tolist(), v["b"].tolist()))) == 256
    big = mpmac.unit("mul", a="bf16")
    v = vectors.generate(big, n=1000, seed=5)
    assert len(v["a"]) == 1000
    again = vectors.generate(big, n=1000, seed=5)
    assert all((v[p] == again[p]).all() for p in v)
    with pytest.raises(ValueError, match="24 bits"):
        vectors.generate(mpmac.unit("fma", a="bf16"), exhaustive=True)
    fma = vectors.generate(mpmac.unit("fma", a="e3m2"), exhaustive=True)
    assert len(fma["c"]) == 1 << 18


def test_targeted_vectors_hit_ties_and_overflow():
    u = mpmac.unit("convert", a="fp32", out="e4m3")
    t = vectors.targeted(u, np.random.default_rng(0), 10_000)
    vals = ops.decode("fp32", t["a"].astype(np.uint32))
    assert 464.0 in vals and -464.0 in vals  # e4m3 overflow threshold: 448 + 16 (half an ulp)
    assert 1.0625 in vals  # tie between 1 and 1.125
    for kind in ("fma", "mul", "add"):
        u = mpmac.unit(kind, a="fp16")
        t = vectors.targeted(u, np.random.default_rng(1), 10_000)
        flags = u.golden(**t)["flags"]
        assert len(t["a"]) > 50
        assert (flags & 4).any() and (~flags & 4).any()  # both sides of the overflow threshold


def test_mac_plan_has_rst_between_sequences():
    u = mpmac.unit("mac", a="e4m3", acc="fp32")
    seqs = vectors.generate(u, n=200, seed=1)
    assert sum(len(s["a"]) for s in seqs) == 200
    plan = Plan.build(u, seqs)
    assert plan.steps == 200 + len(seqs) - 1
    assert int(plan.rst.sum()) == len(seqs) - 1
    rst_steps = np.flatnonzero(plan.rst)
    assert (plan.exp_y[rst_steps] == 0).all() and (plan.exp_flags[rst_steps] == 0).all()
    # the scripted first sequence: clear on its first cycle, then mode switches
    assert plan.inputs["clear"][0] == 1 and plan.inputs["in_valid"][0] == 1


def test_hex_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    cols = [(rng.integers(0, 2, 100, dtype=np.uint64), 1),
            (rng.integers(0, 1 << 13, 100, dtype=np.uint64), 13),
            (rng.integers(0, 1 << 63, 100, dtype=np.uint64) * np.uint64(2) + np.uint64(1), 64)]
    path = tmp_path / "v.hex"
    stream.write_hex(path, cols)
    assert path.read_text().splitlines()[0].count(" ") == 2
    back, valid = stream.read_hex(path, [1, 13, 64])
    assert valid.all()
    for (v, _), b in zip(cols, back):
        assert (v == b).all()
    text = path.read_text().splitlines()
    text[3] = "x " + text[3][2:]
    path.write_text("\n".join(text) + "\n")
    back, valid = stream.read_hex(path, [1, 13, 64])
    assert not valid[3] and valid.sum() == 99


def _build_once(args):
    root, marker = args
    import os
    os.environ["MPMAC_BUILD_DIR"] = root

    def build(d):
        with open(marker, "a") as f:
            f.write("built\n")
        (d / "out").write_text("ok")
    d, built = runner._cached_build("samekey", "test", build)
    return (d / "out").read_text()


def test_build_cache_is_shared_and_built_once(tmp_path):
    marker = tmp_path / "marker"
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        outs = pool.map(_build_once, [(str(tmp_path / "cache"), str(marker))] * 8)
    assert outs == ["ok"] * 8
    assert marker.read_text() == "built\n"


def test_bad_sim_and_engine():
    u = mpmac.unit("mul", a="e2m1")
    with pytest.raises(ValueError, match="sim="):
        sim.verify(u, sim="questa")
    with pytest.raises(ValueError, match="engine="):
        sim.verify(u, engine="magic")
