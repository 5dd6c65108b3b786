"""RTL regression: the emitted Verilog of every unit kind against the golden model, over a matrix of
format mixes, rounding modes, options and latencies (verification layer 2 of DESIGN.md).

Default tier (streaming engine on Icarus unless said otherwise):

* mul, add: exhaustive (2^16 and smaller input spaces) for every pair of the five small formats
  (e4m3 e5m2 e3m2 e2m3 e2m1) with ``out`` = a's format in rne; e2m1 in the other four modes;
  format mixes with a wider output; saturate, subnormals=False, tininess=before; sr with every
  (a, b) pair and a random ``rand``; latency 3 (and 2 for a mix). e4m3 and e5m2 in the other four
  modes: 6000 corner, targeted and random operand pairs each.
* convert: exhaustive from fp16 and bf16 to each small format and to each other in rne, options
  and latencies; the same pairs in two more modes each (rotating) on 4000 corner, targeted and
  random codes; exhaustive from each small format to fp32.
* fma: corner, targeted and random vectors (:func:`mpmac.sim.vectors.generate`), 5000 per unit,
  combinational and at the deepest latency.
* mac: random sequences (2000 cycles) with in_valid/clear switches and rst between them, rounded
  (fp32/bf16/fp16) and Kulisch accumulation, latency 0..2, sr.
* the cocotb engine on Icarus and on Verilator (1000 fma vectors per unit).

Slow tier (``-m slow``): the full exhaustive cross product of the five small formats for mul and add
(out in {a's format, bf16, fp32}, all five modes; saturate in all five modes where out = a), e4m3
at latencies 1 and 2, the fp16/bf16 converts of the other modes exhaustively, sr with ``rand``
enumerated too, 200k-vector fma sets and 100k-cycle mac streams on Verilator, 3000-vector cocotb
fma runs (the fp32 fma at latency 2 on Verilator too).

Every comparison goes through the ``tally`` fixture, which asserts that exactly the expected number
of vectors was checked and that none mismatched.
"""

from __future__ import annotations

import numpy as np
import pytest

import mpmac
from mpmac import sim
from mpmac.sim.vectors import exhaustive_vectors, input_bits

SMALL = ("e4m3", "e5m2", "e3m2", "e2m3", "e2m1")
MODES = ("rne", "rtz", "rdn", "rup", "rmm")
OTHER_MODES = ("rtz", "rdn", "rup", "rmm")


def _id(params: dict) -> str:
    return "-".join(f"{k}={v}" for k, v in params.items())


def check(tally, u, vectors=None, *, expected, n=10_000, seed=0, simulator="icarus",
          engine="stream", label=""):
    """Simulate ``u`` and record the comparison (asserts count and zero mismatches)."""
    r = sim.verify(u, vectors, n=n, seed=seed, sim=simulator, engine=engine)
    tally(f"{u.name}{' ' + label if label else ''} [{r.sim}/{r.engine}]", r.checked, r.mismatches,
          expected=expected, detail="\n".join(r.notes + r.first))
    return r


def with_random_rand(u, seed: int = 0) -> dict:
    """Every combination of the operands (first operand slowest), plus a uniformly random ``rand``."""
    widths = [u.ports[r][1] for r in u.operands]
    grids = np.meshgrid(*[np.arange(1 << w, dtype=np.uint64) for w in widths], indexing="ij")
    vec = {r: g.reshape(-1) for r, g in zip(u.operands, grids)}
    rng = np.random.default_rng(seed)
    vec["rand"] = rng.integers(0, 1 << u.rand_bits, len(grids[0].reshape(-1)), dtype=np.uint64)
    return vec


# --- mul and add: exhaustive -------------------------------------------------------------------
def _binary_cases():
    cases = []
    for a in SMALL:  # every pair, out = a's format, rne
        for b in SMALL:
            cases.append(dict(a=a, b=b))
    for mode in OTHER_MODES:  # the other rounding modes (e4m3 and e5m2: test_binary_modes_sampled)
        cases.append(dict(a="e2m1", rounding=mode))
    cases += [  # mixes with another output format
        dict(a="e5m2", b="e4m3", out="fp16"),
        dict(a="e3m2", b="e2m3", out="bf16"),
        dict(a="e2m1", b="e4m3", out="e3m2"),
        dict(a="e4m3", b="e5m2", out="e2m3", rounding="rup"),
    ]
    cases += [  # options
        dict(a="e4m3", saturate=True),
        dict(a="e5m2", saturate=True),
        dict(a="e5m2", saturate=True, rounding="rup"),
        dict(a="e4m3", b="e5m2", out="e3m2", saturate=True, rounding="rmm"),
        dict(a="e4m3", subnormals=False),
        dict(a="e5m2", subnormals=False, rounding="rdn"),
        dict(a="e2m3", b="e4m3", subnormals=False),
        dict(a="e4m3", tininess="before"),
        dict(a="e5m2", tininess="before", rounding="rup"),
        dict(a="e2m3", tininess="before", rounding="rmm"),
    ]
    cases += [dict(a="e4m3", latency=3)]  # latencies 1 and 2: test_slow_binary_latencies
    cases += [dict(a="e5m2", b="e4m3", out="fp16", rounding="rtz", latency=2)]
    return [(kind, c) for kind in ("mul", "add") for c in cases]


@pytest.mark.parametrize("kind,params", _binary_cases(), ids=lambda x: x if isinstance(x, str) else _id(x))
def test_binary_exhaustive(tally, kind, params):
    u = mpmac.unit(kind, **params)
    assert input_bits(u) <= 16
    check(tally, u, expected=1 << input_bits(u))


#: e4m3 and e5m2 in the four other modes: corner, targeted (ties, overflow, underflow) and random
#: operand pairs here; every pair in the slow tier (test_slow_binary_cross_product)
MODES_SAMPLE = 6000


@pytest.mark.parametrize("kind,params", [(kind, dict(a=f, rounding=mode)) for kind in ("mul", "add")
                                         for f in ("e4m3", "e5m2") for mode in OTHER_MODES],
                         ids=lambda x: x if isinstance(x, str) else _id(x))
def test_binary_modes_sampled(tally, kind, params):
    u = mpmac.unit(kind, **params)
    check(tally, u, sim.generate(u, MODES_SAMPLE, 5, exhaustive=False), expected=MODES_SAMPLE,
          label="corner+targeted+random")


_SR_CASES = [
    ("mul", dict(a="e4m3", rounding="sr", rand_bits=3)),
    ("add", dict(a="e4m3", rounding="sr", rand_bits=3)),
    ("mul", dict(a="e5m2", b="e4m3", out="e3m2", rounding="sr", rand_bits=3, latency=2)),
    ("add", dict(a="e5m2", rounding="sr", rand_bits=3, saturate=True)),
    ("add", dict(a="e2m3", b="e3m2", out="e2m1", rounding="sr", rand_bits=5, latency=1)),
]


@pytest.mark.parametrize("kind,params", _SR_CASES, ids=lambda x: x if isinstance(x, str) else _id(x))
def test_binary_sr_exhaustive_operands(tally, kind, params):
    """Every (a, b) pair, ``rand`` uniformly random."""
    u = mpmac.unit(kind, **params)
    vec = with_random_rand(u, seed=11)
    check(tally, u, vec, expected=len(vec["a"]), label="all a,b; random rand")


# --- convert: exhaustive -----------------------------------------------------------------------
def _convert_mode_cases():
    """fp16/bf16 to each small format and to each other in two more modes per pair, rotating."""
    cases = []
    k = 0
    for src, other in (("fp16", "bf16"), ("bf16", "fp16")):
        for out in SMALL + (other,):
            for _ in range(2):
                cases.append(dict(a=src, out=out, rounding=OTHER_MODES[k % 4]))
                k += 1
    return cases


def _convert_cases():
    cases = [dict(a=src, out=out) for src, other in (("fp16", "bf16"), ("bf16", "fp16"))
             for out in SMALL + (other,)]
    cases += [
        dict(a="fp16", out="e4m3", saturate=True),
        dict(a="bf16", out="e5m2", saturate=True),
        dict(a="fp16", out="e5m2", saturate=True, rounding="rup"),
        dict(a="bf16", out="fp16", saturate=True, rounding="rmm"),
        dict(a="fp16", out="e4m3", subnormals=False),
        dict(a="bf16", out="fp16", subnormals=False, rounding="rdn"),
        dict(a="fp16", out="e5m2", tininess="before"),
        dict(a="bf16", out="e2m3", tininess="before", rounding="rup"),
        dict(a="fp16", out="e4m3", latency=1),
        dict(a="bf16", out="e5m2", rounding="rtz", latency=2),
    ]
    cases += [dict(a=f, out="fp32") for f in SMALL]
    cases += [dict(a=f, out="fp16", latency=1) for f in ("e4m3", "e5m2")]
    cases += [dict(a="e5m2", out="e4m3"), dict(a="e4m3", out="e2m1", rounding="rmm"),
              dict(a="e5m2", out="e3m2", saturate=True, rounding="rdn")]
    return cases


@pytest.mark.parametrize("params", _convert_cases(), ids=_id)
def test_convert_exhaustive(tally, params):
    u = mpmac.unit("convert", **params)
    check(tally, u, expected=1 << input_bits(u))


CONVERT_MODES_SAMPLE = 4000


@pytest.mark.parametrize("params", _convert_mode_cases(), ids=_id)
def test_convert_modes_sampled(tally, params):
    """Corner, targeted (ties, overflow, underflow) and random codes; all 2^16 in the slow tier."""
    u = mpmac.unit("convert", **params)
    check(tally, u, sim.generate(u, CONVERT_MODES_SAMPLE, 6, exhaustive=False),
          expected=CONVERT_MODES_SAMPLE, label="corner+targeted+random")


@pytest.mark.parametrize("params", [
    dict(a="fp16", out="e4m3", rounding="sr", rand_bits=4),
    dict(a="bf16", out="e2m1", rounding="sr", rand_bits=6, saturate=True, latency=1),
], ids=_id)
def test_convert_sr_exhaustive_operand(tally, params):
    u = mpmac.unit("convert", **params)
    rng = np.random.default_rng(12)
    vec = {"a": np.arange(1 << 16, dtype=np.uint64),
           "rand": rng.integers(0, 1 << u.rand_bits, 1 << 16, dtype=np.uint64)}
    check(tally, u, vec, expected=1 << 16, label="all a; random rand")


# --- fma: corner + targeted + random -----------------------------------------------------------
FMA_CASES = [
    dict(a="e4m3", b="e4m3", c="fp32", out="fp32"),
    dict(a="e2m1", b="e2m1", c="bf16", out="bf16", rounding="rdn"),
    dict(a="e5m2", b="e4m3", c="fp16", out="fp16"),
    dict(a="bf16", rounding="rtz"),
    dict(a="fp16", tininess="after"),
    dict(a="fp16", tininess="before", rounding="rup"),
    dict(a="fp32"),
    dict(a="fp32", b="fp32", c="fp32", out="e4m3", saturate=True, rounding="sr", rand_bits=4),
]
FMA_MAX_LATENCY = 4


def _fma_matrix():
    return [{**c, "latency": lat} for c in FMA_CASES for lat in (0, FMA_MAX_LATENCY)]


@pytest.mark.parametrize("params", _fma_matrix(), ids=_id)
def test_fma_random(tally, params):
    u = mpmac.unit("fma", **params)
    n = 5000  # a quarter corners, a quarter targeted, the rest random; 200k per unit: slow tier
    check(tally, u, n=n, seed=21, expected=n)


def test_fma_max_latency_is_the_deepest():
    """FMA_MAX_LATENCY really is the deepest pipeline (so 'max' above means max)."""
    mpmac.unit("fma", a="fp16", latency=FMA_MAX_LATENCY)
    with pytest.raises(ValueError):
        mpmac.unit("fma", a="fp16", latency=FMA_MAX_LATENCY + 1)


# --- mac: sequences ----------------------------------------------------------------------------
MAC_CASES = [
    dict(a="e4m3", acc="fp32", latency=0),
    dict(a="e4m3", acc="fp32", latency=1),
    dict(a="e4m3", acc="fp32", latency=2),
    dict(a="e5m2", b="e4m3", acc="bf16", latency=1),
    dict(a="e4m3", acc="fp16", rounding="rtz", latency=0),
    dict(a="fp16", acc="fp32", out="bf16", rounding="rup", latency=2),
    dict(a="e2m1", acc="bf16", out="e4m3", rounding="rmm", latency=0),
    dict(a="e4m3", acc="kulisch", latency=0),
    dict(a="e4m3", acc="kulisch", latency=2),
    dict(a="e2m1", acc="kulisch", out="bf16", rounding="rdn", latency=1),
    dict(a="e4m3", acc="kulisch:40", latency=1),
    dict(a="e5m2", b="e2m3", acc="kulisch:64", out="fp16", latency=0),
    dict(a="e4m3", acc="bf16", rounding="sr", rand_bits=4, latency=0),
    dict(a="e4m3", acc="bf16", rounding="sr", rand_bits=4, latency=2),
    dict(a="e4m3", acc="kulisch", out="e5m2", rounding="sr", rand_bits=3, latency=1),
]


def mac_expected(unit, sequences) -> int:
    """Checked steps: every generated cycle, plus the rst steps between sequences when the output
    is not delayed (see mpmac.sim.plan: with latency N > 0 each sequence but the last gets N idle,
    uncompared cycles before the rst, so that its last results reach y first)."""
    cycles = sum(len(s["a"]) for s in sequences)
    return cycles + (len(sequences) - 1 if unit.latency == 0 else 0)


@pytest.mark.parametrize("params", MAC_CASES, ids=_id)
def test_mac_sequences(tally, params):
    u = mpmac.unit("mac", **params)
    seqs = sim.generate(u, 2000, 31)
    check(tally, u, seqs, expected=mac_expected(u, seqs), label="sequences")


# --- the cocotb engine ---------------------------------------------------------------------------
COCOTB_FMAS = [
    ("icarus", dict(a="fp32", latency=2)),
    ("icarus", dict(a="e5m2", b="e4m3", c="fp16", out="fp16", rounding="rup", latency=3)),
    ("verilator", dict(a="fp16", tininess="before", latency=2)),
]


@pytest.mark.parametrize("simulator,params", COCOTB_FMAS, ids=lambda x: x if isinstance(x, str) else _id(x))
def test_fma_cocotb(tally, simulator, params):
    """The cocotb engine (a Python coroutine per vector, hence fewer vectors than the stream engine)."""
    u = mpmac.unit("fma", **params)
    n = 1000
    check(tally, u, n=n, seed=41, simulator=simulator, engine="cocotb", expected=n)


def test_mac_cocotb_icarus(tally):
    u = mpmac.unit("mac", a="e4m3", acc="kulisch", latency=2)
    seqs = sim.generate(u, 1500, 42)
    check(tally, u, seqs, engine="cocotb", expected=mac_expected(u, seqs), label="sequences")


# --- slow tier -----------------------------------------------------------------------------------
def _slow_binary_cases():
    cases = []
    for kind in ("mul", "add"):
        for a in SMALL:
            for b in SMALL:
                for out in (a, "bf16", "fp32"):
                    for mode in MODES:
                        cases.append((kind, dict(a=a, b=b, out=out, rounding=mode)))
                for mode in MODES:  # saturation only matters where the output can overflow
                    cases.append((kind, dict(a=a, b=b, out=a, rounding=mode, saturate=True)))
    return cases


@pytest.mark.slow
@pytest.mark.parametrize("kind,params", _slow_binary_cases(),
                         ids=lambda x: x if isinstance(x, str) else _id(x))
def test_slow_binary_cross_product(tally, kind, params):
    u = mpmac.unit(kind, **params)
    check(tally, u, expected=1 << input_bits(u))


@pytest.mark.slow
@pytest.mark.parametrize("params", _convert_mode_cases(), ids=_id)
def test_slow_convert_modes_exhaustive(tally, params):
    u = mpmac.unit("convert", **params)
    check(tally, u, expected=1 << input_bits(u))


@pytest.mark.slow
@pytest.mark.parametrize("kind,params", [(kind, dict(a="e4m3", latency=lat)) for kind in ("mul", "add")
                                         for lat in (1, 2)],
                         ids=lambda x: x if isinstance(x, str) else _id(x))
def test_slow_binary_latencies(tally, kind, params):
    """The other pipeline depths of the default tier's latency-3 e4m3 units, exhaustively."""
    u = mpmac.unit(kind, **params)
    check(tally, u, expected=1 << input_bits(u))


@pytest.mark.slow
@pytest.mark.parametrize("simulator,params", COCOTB_FMAS + [("verilator", dict(a="fp32", latency=2))],
                         ids=lambda x: x if isinstance(x, str) else _id(x))
def test_slow_fma_cocotb(tally, simulator, params):
    u = mpmac.unit("fma", **params)
    n = 3000
    check(tally, u, n=n, seed=41, simulator=simulator, engine="cocotb", expected=n)


@pytest.mark.slow
@pytest.mark.parametrize("kind,params", [
    ("mul", dict(a="e4m3", rounding="sr", rand_bits=3)),
    ("add", dict(a="e4m3", rounding="sr", rand_bits=3)),
    ("add", dict(a="e5m2", b="e2m3", out="e2m1", rounding="sr", rand_bits=4, latency=3)),
    ("convert", dict(a="fp16", out="e4m3", rounding="sr", rand_bits=4)),
    ("convert", dict(a="bf16", out="e5m2", rounding="sr", rand_bits=3, saturate=True)),
], ids=lambda x: x if isinstance(x, str) else _id(x))
def test_slow_sr_fully_exhaustive(tally, kind, params):
    """Every operand and every ``rand`` value (up to 2^20 vectors)."""
    u = mpmac.unit(kind, **params)
    vec = exhaustive_vectors(u)
    check(tally, u, vec, expected=1 << input_bits(u), label="all inputs incl. rand")


@pytest.mark.slow
@pytest.mark.parametrize("params", _fma_matrix(), ids=_id)
def test_slow_fma_random_200k(tally, params):
    u = mpmac.unit("fma", **params)
    n = 200_000
    check(tally, u, n=n, seed=22, simulator="verilator", expected=n)


@pytest.mark.slow
@pytest.mark.parametrize("params", MAC_CASES, ids=_id)
def test_slow_mac_sequences_long(tally, params):
    u = mpmac.unit("mac", **params)
    seqs = sim.generate(u, 100_000, 32)
    check(tally, u, seqs, simulator="verilator", expected=mac_expected(u, seqs), label="sequences")
