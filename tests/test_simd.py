"""RTL regression of the ``simd`` engine: its emitted Verilog against its golden twin (issue 8).

Streams of cycles (``mode``, ``a``, ``b``, ``in_valid``, ``clear``) go through
:func:`mpmac.sim.verify`, which compares ``y`` and ``flags`` after every edge with ``unit.golden``.

Default tier (Icarus):

* the default engine (4xe2m1, 4xposit4_1, 2xposit8_0, 1xposit16_1), one test per mode: for 4-bit
  lanes every (a_i, b_i) pair of codes in every lane, twice, each lane walking its own random
  permutation of the pairs (so the other lanes vary), first with ``clear`` on every edge (each
  ``y`` is one lane sum), then with random clears (accumulating); for 8- and 16-bit lanes pairs of
  corner codes (0, NaR, minpos, maxpos, +-1 and neighbours) and random codes;
* mode switches mid-stream with random ``in_valid``/``clear``, cancelling lane products (exact zero
  sums: the sign-of-zero rule) and mode values beyond the list (no-ops) where the port has them;
* variants: reduce="lanes" (4-bit lanes exhaustive again), acc="kulisch", rounding="rdn" at
  latency=2, a 3-mode bf16 engine (2xe4m3,1xbf16,4xe2m1: mode 3 is a no-op) and
  4xe2m1,2xe4m3; one cocotb run (the Python testbench on a simd unit);
* mutants (one output bit in one mode; one lane code of one mode mis-read) must be caught.

Slow tier (``-m slow``, Verilator for the long streams): every (a_i, b_i) pair of the 8-bit lanes
(posit8_0 and e4m3), all corner pairs, 100k random posit16_1 cycles, long switching streams, and
rounding rtz/rup/rdn and latencies 1 and 2 on their own.
"""

from __future__ import annotations

import numpy as np
import pytest

import mpmac
from mpmac import sim
from mpmac.sim import mutants
from mpmac.sim.vectors import corner_codes, lane_operands, lane_sequences, pack_lanes

DEFAULT = {}  # the default engine: mpmac.unit("simd")
VARIANTS = [
    dict(reduce="lanes"),
    dict(acc="kulisch"),
    dict(rounding="rdn", latency=2),  # one unit for both (a Verilog build costs ~5 s)
    dict(modes="2xe4m3,1xbf16,4xe2m1", acc="bf16"),
    dict(modes="4xe2m1,2xe4m3"),
]
SLOW_VARIANTS = [dict(rounding="rtz"), dict(rounding="rup"), dict(latency=1), dict(rounding="rdn"),
                 dict(latency=2),
                 dict(reduce="lanes", modes="4xe2m1,2xe4m3", rounding="rdn")]
#: lanes this narrow are swept over every operand pair in the default tier
SWEPT_BITS = 4


def _id(params: dict) -> str:
    return "-".join(f"{k}={v}" for k, v in params.items()) or "default"


def expected_steps(u, sequences) -> int:
    """Compared steps of a run: every cycle, plus the rst step between sequences when ``y`` is not
    delayed (mpmac.sim.plan pads each sequence but the last with ``latency`` uncompared cycles)."""
    return sum(len(s["a"]) for s in sequences) + (len(sequences) - 1 if u.latency == 0 else 0)


def check(tally, u, sequences, label, *, engine="stream", simulator="icarus", verilog=None):
    r = sim.verify(u, sequences, engine=engine, sim=simulator,
                   verilog=u.verilog() if verilog is None else verilog)
    tally(f"{u.name} {label} [{r.sim}/{r.engine}]", r.checked, r.mismatches,
          expected=expected_steps(u, sequences), detail="\n".join(r.notes + r.first))
    return r


# --- operand words ----------------------------------------------------------------------------
def pair_sweep(lanes, a_codes, b_codes, rng, rounds: int = 1):
    """Words in which every lane meets every (a, b) pair of the code sets once per round, each lane
    in its own random order (so a lane's pair meets varied neighbours)."""
    grid_a, grid_b = (g.reshape(-1) for g in np.meshgrid(a_codes, b_codes, indexing="ij"))
    a, b = [], []
    for _ in range(rounds):
        order = np.stack([rng.permutation(len(grid_a)) for _ in range(lanes.count)])
        a.append(pack_lanes(lanes, grid_a[order]))
        b.append(pack_lanes(lanes, grid_b[order]))
    return np.concatenate(a), np.concatenate(b)


def sweep_sequence(u, k: int, rng, rounds: int, corner_pairs: int | None, random_cycles: int):
    """One sequence in mode ``k``: every operand pair of narrow lanes (``rounds`` rounds), or
    ``corner_pairs`` sampled pairs of corner codes (None: all) plus random codes for wider ones.

    The first round (for wider lanes: the corner pairs) clears on every edge (each y is a single
    lane sum), the rest at random."""
    lanes = u.lanes[k]
    if lanes.fmt.nbits <= SWEPT_BITS:
        codes = np.arange(1 << lanes.fmt.nbits, dtype=np.uint64)
        a, b = pair_sweep(lanes, codes, codes, rng, rounds)
        per_round = len(codes) ** 2
    else:
        corners = corner_codes(lanes.fmt)
        a, b = pair_sweep(lanes, corners, corners, rng)
        if corner_pairs is not None:
            keep = np.sort(rng.choice(len(a), min(corner_pairs, len(a)), replace=False))
            a, b = a[keep], b[keep]
        per_round = len(a)
        ra, rb = lane_operands(lanes, random_cycles, rng)
        a, b = np.concatenate([a, ra]), np.concatenate([b, rb])
    clear = (rng.random(len(a)) < 0.25).astype(np.uint64)
    clear[:per_round] = 1
    return {"mode": np.full(len(a), k, dtype=np.uint64), "a": a, "b": b,
            "in_valid": np.ones(len(a), dtype=np.uint64), "clear": clear}


def test_sweep_helpers_cover_every_pair_in_every_lane():
    """The sweep's own claim, checked on its words: every lane sees all 256 e2m1 pairs per round."""
    u = mpmac.unit("simd")
    seq = sweep_sequence(u, 0, np.random.default_rng(0), rounds=2, corner_pairs=None, random_cycles=0)
    lanes = u.lanes[0]
    for i in range(lanes.count):
        for r in range(2):
            part = slice(256 * r, 256 * (r + 1))
            pairs = {(x, y) for x, y in zip([lanes.split(int(w))[i] for w in seq["a"][part]],
                                            [lanes.split(int(w))[i] for w in seq["b"][part]])}
            assert len(pairs) == 256
    assert seq["clear"][:256].all() and not seq["clear"][256:].all()


# --- the default engine -------------------------------------------------------------------------
@pytest.mark.parametrize("k", range(4), ids=lambda k: mpmac.unit("simd").lanes[k].name)
def test_default_engine_per_mode(tally, k):
    u = mpmac.unit("simd", **DEFAULT)
    seq = sweep_sequence(u, k, np.random.default_rng(100 + k), rounds=2, corner_pairs=300,
                         random_cycles=300)
    check(tally, u, [seq], f"mode {k} ({u.lanes[k].name}) sweep")


def test_default_engine_mode_switches(tally):
    u = mpmac.unit("simd", **DEFAULT)
    seqs = sim.generate(u, 1000, seed=7)  # the default generator: mpmac.sim.vectors.lane_sequences
    check(tally, u, seqs, "mode switches")


def test_default_engine_cocotb(tally):
    """The cocotb testbench (Python drives each cycle) on a simd unit: a short switching stream."""
    u = mpmac.unit("simd", **DEFAULT)
    seqs = lane_sequences(u, 150, np.random.default_rng(8))
    check(tally, u, seqs, "mode switches", engine="cocotb")


# --- variants -----------------------------------------------------------------------------------
def variant_sequences(u, rng, switching: int) -> list[dict]:
    """A one-round pair sweep of every narrow mode, then mode-switching sequences."""
    sweeps = [sweep_sequence(u, k, rng, rounds=1, corner_pairs=0, random_cycles=0)
              for k, lanes in enumerate(u.lanes) if lanes.fmt.nbits <= SWEPT_BITS]
    return sweeps + lane_sequences(u, switching, rng)


@pytest.mark.parametrize("params", VARIANTS, ids=_id)
def test_variant(tally, params):
    u = mpmac.unit("simd", **params)
    check(tally, u, variant_sequences(u, np.random.default_rng(11), 300), "sweeps + switches")


def test_modes_beyond_the_list_are_no_ops(tally):
    """A 3-mode engine: mode 3 cycles in between (with in_valid and clear high) change nothing."""
    u = mpmac.unit("simd", modes="2xe4m3,1xbf16,4xe2m1", acc="bf16")
    rng = np.random.default_rng(12)
    seqs = lane_sequences(u, 300, rng)
    for s in seqs:
        idle = rng.random(len(s["a"])) < 0.4
        s["mode"] = np.where(idle, 3, s["mode"]).astype(np.uint64)
        s["in_valid"] = np.where(idle, 1, s["in_valid"]).astype(np.uint64)
        s["clear"] = np.where(idle, 1, s["clear"]).astype(np.uint64)
    got = u.golden(**{p: np.concatenate([s[p] for s in seqs]) for p in seqs[0]})["y"]
    assert len(set(got.tolist())) > 10  # the stream does accumulate something
    check(tally, u, seqs, "no-op modes")


# --- the bench can fail -------------------------------------------------------------------------
def _inner(u) -> str:
    return u.verilog().replace(u.name, f"{u.name}_inner")


def test_flipped_output_bit_in_one_mode_is_caught():
    u = mpmac.unit("simd", **DEFAULT)
    seq = sweep_sequence(u, 2, np.random.default_rng(13), rounds=1, corner_pairs=60, random_cycles=60)
    bad = mutants.flip_output_bit(u, "y", 0, when="mode == 2'd2", verilog=_inner(u))
    r = sim.verify(u, [seq], verilog=bad, engine="stream")
    assert r.checked == len(seq["a"]) and r.mismatches > 0
    assert "as 2xposit8_0" in r.first[0]  # the report decodes the lanes of the step's mode


def test_one_misread_lane_code_is_caught_by_the_sweep():
    """Lane 3 of 4xposit4_1 reads code 0x9 as 0xa (a decoder fault on one code of one lane): the
    exhaustive sweep of that mode catches it, the other modes' sweeps do not see it."""
    u = mpmac.unit("simd", **DEFAULT)
    bad = mutants.replace_input(u, "a", "{4'ha, a[11:0]}", when="mode == 2'd1 && a[15:12] == 4'h9",
                                verilog=_inner(u))
    rng = np.random.default_rng(14)
    caught = sim.verify(u, [sweep_sequence(u, 1, rng, 1, 0, 0)], verilog=bad, engine="stream")
    assert caught.checked == 256 and caught.mismatches > 0
    other = sim.verify(u, [sweep_sequence(u, 0, rng, 1, 0, 0)], verilog=bad, engine="stream")
    assert other.checked == 256 and other.mismatches == 0


def test_wrong_latency_is_diagnosed():
    """The latency=0 Verilog checked as latency=1: the report says which latency it behaves like."""
    actual = mpmac.unit("simd", modes="4xe2m1,2xe4m3")
    declared = mpmac.unit("simd", modes="4xe2m1,2xe4m3", latency=1)
    text = actual.verilog().replace(actual.name, declared.name)
    r = sim.verify(declared, sim.generate(declared, 300, seed=15), verilog=text, engine="stream")
    assert r.mismatches > 0
    assert any("behaves like latency=0" in note for note in r.notes), r.notes


# --- slow tier ----------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("modes,k", [(None, 2), ("4xe2m1,2xe4m3", 1)], ids=["posit8_0", "e4m3"])
def test_slow_every_pair_of_8bit_lanes(tally, modes, k):
    u = mpmac.unit("simd", **({"modes": modes} if modes else {}))
    lanes = u.lanes[k]
    codes = np.arange(1 << lanes.fmt.nbits, dtype=np.uint64)
    a, b = pair_sweep(lanes, codes, codes, np.random.default_rng(20 + k))
    n = len(a)
    seq = {"mode": np.full(n, k, dtype=np.uint64), "a": a, "b": b,
           "in_valid": np.ones(n, dtype=np.uint64), "clear": np.ones(n, dtype=np.uint64)}
    check(tally, u, [seq], f"every {lanes.fmt.name} pair", simulator="verilator")


@pytest.mark.slow
def test_slow_default_engine_long(tally):
    u = mpmac.unit("simd", **DEFAULT)
    rng = np.random.default_rng(21)
    seqs = [sweep_sequence(u, k, rng, rounds=4, corner_pairs=None, random_cycles=100_000 // (k + 1))
            for k in range(len(u.lanes))]
    check(tally, u, seqs + lane_sequences(u, 50_000, rng), "long", simulator="verilator")


@pytest.mark.slow
@pytest.mark.parametrize("params", SLOW_VARIANTS, ids=_id)
def test_slow_variant(tally, params):
    u = mpmac.unit("simd", **params)
    check(tally, u, variant_sequences(u, np.random.default_rng(22), 3000), "sweeps + switches")
