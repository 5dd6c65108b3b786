"""Proofs of the simd engine (issue 8, item 4): formal/simd_reference.py and formal/simd_step.py.

The reference engine of each mode (the scalar reference datapaths: per-lane decode and exact
product, an exact sum, one rounding) must match the golden model in simulation; the planned
``simd_step`` obligations must fix the mode and say what they cover; the proofs of the measured
configurations must PASS; and an engine with a wrong mask in its partitioned multiplier must FAIL
in exactly the mode the mask breaks, with a counterexample that replays in simulation against the
golden model. docs/formal.md ("SIMD engine") has the measured times.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import mpmac
from mpmac import formal, sim
from mpmac.formal import miter, simd_step
from mpmac.formal.simd_reference import SimdReference, simd_reference_verilog
from mpmac.rtl import simd as simd_rtl

DEFAULT = mpmac.unit("simd")


# --- plan and parameters -------------------------------------------------------------------------
@pytest.mark.slow  # planning builds both sides' one-step forms of 4 modes: about 80 s
def test_default_engine_has_one_step_proof_per_mode():
    proofs = formal.plan(DEFAULT)
    steps = [p for p in proofs if "mode" in p.fixed and "clear" not in p.fixed]
    clears = [p for p in proofs if "clear" in p.fixed]
    multipliers = [p for p in proofs if "select" in p.fixed]
    assert [p.obligation for p in proofs] == ["simd_step"] * (2 * len(DEFAULT.lanes) + 1)
    # the fp32 accumulator is rounded: each mode also gets its step with clear tied high
    assert [p.fixed for p in clears] == [{"mode": k, "clear": 1} for k in range(len(DEFAULT.lanes))]
    assert all(p.scope.startswith("clear high only: ") and p.cases == (None,) for p in clears)
    assert [p.label for p in clears] == [f"{p.label}, clear" for p in steps]
    assert all(p.trace.fixed["clear"] == 1 for p in clears)
    assert [p.fixed for p in steps] == [{"mode": k} for k in range(len(DEFAULT.lanes))]
    # a rounded accumulator's steps go to CaDiCaL (ABC's sweeping does not finish them): whole in
    # the 4-bit modes, in 16 cases of the accumulator's top exponent bits in the wide-lane ones
    assert all(p.solver == "cadical" for p in steps + clears)
    assert [len(p.cases) for p in steps] == [1, 1, 16, 16]
    assert steps[2].cases[0] == formal.proofs.Case("i_state", 30, 27, 0)
    # 4-bit lanes: complete, multiplier inside; the 8- and 16-bit lanes share a block product;
    # the 8-bit lanes' mode gets a proof of the partitioned multiplier, the 13x13 one is stated
    assert [p.product for p in steps] == [None, None, "shared", "shared"]
    assert steps[2].blocks == ((0, 6), (6, 6)) and steps[3].blocks == ((0, 13),)
    assert [p.fixed for p in multipliers] == [{"select": 4}]
    assert all(p.scope.startswith("complete: ") for p in steps[:2] + multipliers)
    assert "proof labelled 'mode 2: 2xposit8_0, multiplier' (both PASS: complete)" in steps[2].scope
    assert "partitioned multiplier itself is not compared" in steps[3].scope
    for k, p in enumerate(steps):
        assert DEFAULT.lanes[k].name in p.label
        text = miter.miter(p.dut, p.ref, p.data, p.compare, product=p.product,
                           invariant=p.invariant, fixed=p.fixed, blocks=p.blocks)
        assert f"wire [1:0] i_mode = 2'd{k};" in text and "input [1:0] i_mode" not in text
        # one combinational step: the state before the edge is a free input of both sides
        assert p.reset == "none" and "i_state" in text and "assert (dut_next == ref_next);" in text
    # the block product: one multiplication per lane field of the DUT's operand words
    text = miter.miter(steps[2].dut, steps[2].ref, steps[2].data, steps[2].compare,
                       product="shared", fixed=steps[2].fixed, blocks=steps[2].blocks)
    assert ("mul_p = ((dut_mul_x[5:0] * dut_mul_y[5:0]) << 0) | "
            "((dut_mul_x[11:6] * dut_mul_y[11:6]) << 12);") in text
    assert "assert (dut_mul_select == 4'd4);" not in text  # the invariant comes with the Proof
    assert "dut_mul_select == 4'd4" in steps[2].invariant


@pytest.mark.slow  # about 17 s of Verilog generation and Yosys
def test_step_form_makes_the_whole_state_an_input():
    u = mpmac.unit("simd", acc="e5m2")
    text = u.verilog(expose_state=True)
    _, side = simd_step.step_form(text, u.name, "step")
    width = 8 + 5  # acc (e5m2) and the sticky flags
    assert side.ports["state"] == ("in", width) and side.ports["next"] == ("out", width)
    assert "clk" not in side.ports


@pytest.mark.filterwarnings("ignore:.*created but never used")  # refused components
def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="mode=4"):
        SimdReference(DEFAULT, mode=4)
    with pytest.raises(ValueError, match="simd spec"):
        SimdReference(mpmac.unit("mul", a="e4m3"), mode=0)
    with pytest.raises(ValueError, match="simd_step"):
        formal.plan(DEFAULT, "equiv")
    with pytest.raises(ValueError, match="for simd units"):
        formal.plan(mpmac.unit("mul", a="e4m3"), "simd_step")
    wide = mpmac.unit("simd", width=32, modes="2xbf16,1xposit16_1,2xe4m3,8xe2m1").lanes
    assert [simd_step.mode_product(m, "auto") for m in wide] == ["shared"] * 3 + ["full"]
    assert simd_step.mode_product(wide[0], "cut") == "cut"


# --- the reference against the golden model ------------------------------------------------------
@pytest.mark.parametrize("mode", [0] + [pytest.param(k, marks=pytest.mark.slow)
                                       for k in range(1, len(DEFAULT.lanes))])
def test_reference_engine_matches_the_golden_model(mode):
    rng = np.random.default_rng(mode)
    n = 400
    seq = {"mode": np.full(n, mode), "a": rng.integers(0, 1 << 16, n),
           "b": rng.integers(0, 1 << 16, n), "in_valid": (rng.random(n) < 0.9).astype(int),
           "clear": (rng.random(n) < 0.05).astype(int)}
    text = simd_reference_verilog(DEFAULT, mode, name=DEFAULT.name)
    r = sim.verify(DEFAULT, vectors=[seq], engine="stream", verilog=text)
    assert r.checked == n and r.mismatches == 0, "\n".join(r.first)


# --- proofs ---------------------------------------------------------------------------------------
#: the engine with the default modes and an exact (Kulisch) accumulator, whose update is an
#: integer addition: every mode's one-step proof finishes (docs/formal.md has the times); with the
#: default fp32 accumulator's rounded update the modes in FP32_STEP_MODES do (by CaDiCaL), the
#: 1xposit16_1 mode has its step with clear high proven only
KULISCH = mpmac.unit("simd", acc="kulisch")


def _prove_mode(unit, mode, product="auto", timeout=1800, **kw):
    (p,) = [p for p in formal.plan(unit, product=product) if p.fixed == {"mode": mode}]
    r = formal.proofs.run_proof(p, timeout=timeout, **kw)
    print(f"[formal] {r.summary()}")
    return r


@pytest.mark.formal
@pytest.mark.slow  # 15-65 s per mode on the 2-core machine (docs/formal.md)
@pytest.mark.parametrize("mode", range(len(KULISCH.lanes)))
def test_kulisch_engine_mode_proof_passes(mode):
    r = _prove_mode(KULISCH, mode)
    assert r.status == "PASS", f"{r.status}: {r.detail}"
    assert KULISCH.lanes[mode].name in r.label
    assert r.scope.startswith("complete: ") == (KULISCH.lanes[mode].fmt.nbits <= 4)


#: modes of the default fp32 engine whose whole step (clear low too) is proven: 4xe2m1 in about
#: 2 minutes, 4xposit4_1 in about 14, 2xposit8_0 in 16 cases, 27 minutes of one core
#: (docs/formal.md)
FP32_STEP_MODES = (0, 1, 2)


@pytest.mark.formal
@pytest.mark.slow
@pytest.mark.parametrize("mode", FP32_STEP_MODES)
def test_default_engine_step_passes(mode):
    """The fp32 engine's whole step: lane sum plus accumulator, rounded once, from every state."""
    r = _prove_mode(DEFAULT, mode, timeout=3600, jobs=2)
    assert r.status == "PASS", f"{r.status}: {r.detail}"
    assert r.scope.startswith("complete: ") == (mode < 2)  # mode 2 with its multiplier proof


@pytest.mark.formal
@pytest.mark.slow  # planning 30-80 s, then about 1 minute per mode (docs/formal.md)
def test_default_engine_step_from_clear_passes_in_every_mode():
    """The fp32 engine's step with clear high: decode, products, exact lane sum and its one
    rounding into the fp32 accumulator (the whole step of the 1xposit16_1 mode is UNKNOWN:
    docs/formal.md)."""
    clears = [p for p in formal.plan(DEFAULT) if "clear" in p.fixed]
    assert len(clears) == len(DEFAULT.lanes)
    for p in clears:
        r = formal.proofs.run_proof(p, timeout=1800)
        print(f"[formal] {r.summary()}")
        assert r.status == "PASS", f"{p.label}: {r.status}: {r.detail}"


@pytest.mark.formal
@pytest.mark.parametrize("solver", ["abc", "cadical"])
@pytest.mark.parametrize("mode", [0, 1, 2])
def test_partitioned_multiplier_equals_the_lane_products(mode, solver):
    """The other half of a shared-product mode's proof (2 s each; modes 0 and 1 are proven with
    the multiplier inside, this checks the array there too), by either combinational solver."""
    p = replace(simd_step.multiplier_proof(KULISCH, mode), solver=solver)
    r = formal.proofs.run_proof(p, timeout=600)
    print(f"[formal] {r.summary()}")
    assert r.status == "PASS", f"{r.status}: {r.detail}"
    assert r.label == f"mode {mode}: {KULISCH.lanes[mode].name}, multiplier"
    assert r.scope.startswith("complete: ")


# --- a broken engine -----------------------------------------------------------------------------
class _CrossTermMultiplier(simd_rtl.PartitionedMultiplier):
    """Mode 2 (2xposit8_0): the rows of lane 1 also take x bit 5, lane 0's hidden bit, so a cross
    term leaks into both lane products."""

    def lane_mask(self, mode, bit):
        mask = super().lane_mask(mode, bit)
        return mask | (1 << 5) if mode == 2 and mask and bit >= 6 else mask


@pytest.fixture
def broken_multiplier(monkeypatch):
    monkeypatch.setattr(simd_rtl, "PartitionedMultiplier", _CrossTermMultiplier)
    mpmac.units._verilog_text.cache_clear()  # generated text is cached per spec
    yield
    mpmac.units._verilog_text.cache_clear()


@pytest.mark.formal
@pytest.mark.parametrize("solver", ["abc", "cadical"])
def test_wrong_multiplier_mask_fails_the_multiplier_proof_of_its_mode(broken_multiplier, solver):
    p = replace(simd_step.multiplier_proof(KULISCH, 2), solver=solver)
    r = formal.proofs.run_proof(p, timeout=600)
    assert r.status == "FAIL", r.detail
    (step,) = r.counterexample.steps
    x, y = step["x"], step["y"]
    lanes = sum(((x >> o) % 64) * ((y >> o) % 64) << 2 * o for o in (0, 6))
    assert r.counterexample.ref["p"] == lanes != r.counterexample.dut["p"]
    assert "no unit trace to replay" in r.detail and r.counterexample.replay_path is None
    # the other modes' rows are untouched
    p = replace(simd_step.multiplier_proof(KULISCH, 1), solver=solver)
    assert formal.proofs.run_proof(p, timeout=600).ok


@pytest.mark.formal
def test_cadical_out_of_time_is_unknown():
    """The 13x13 array of mode 3 does not finish in 2 s: UNKNOWN and timed out, not a verdict."""
    p = replace(simd_step.multiplier_proof(KULISCH, 3), solver="cadical", cases=(None,))
    r = formal.proofs.run_proof(p, timeout=2)
    assert r.status == "UNKNOWN" and "did not finish" in r.detail, (r.status, r.detail)


@pytest.mark.formal
@pytest.mark.slow
def test_wrong_multiplier_mask_fails_in_its_mode_and_replays(broken_multiplier, tmp_path):
    """With the multiplier inside the step proof (product="full"), the broken engine gives a trace
    from reset that replays in simulation."""
    r = _prove_mode(KULISCH, 2, product="full", cex_dir=tmp_path)
    assert r.status == "FAIL", r.detail
    cex = r.counterexample
    assert all(s["mode"] == 2 for s in cex.steps)
    # the DUT's y differs from the golden model's on the traced inputs, the reference's does not
    assert cex.ref["y"] == cex.golden()["y"] and cex.ref["flags"] == cex.golden()["flags"]
    replay = cex.replay()  # the broken engine's Verilog (the patch is active) against golden
    assert replay.mismatches >= 1
    assert cex.replay_path.parent == tmp_path
