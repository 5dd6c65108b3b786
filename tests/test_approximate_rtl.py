"""RTL of the approximate normalization variants (``normalize="coarse:K"`` / ``"window:L"``,
docs/approximate.md) against the golden model, bit for bit (y and flags).

Default tier (streaming engine on Icarus):

* add: exhaustive for e4m3, e5m2 and e2m1 with coarse:2, coarse:4, window:1 and window:2 (rne),
  plus other rounding modes, saturate, subnormals=False, sr, format mixes and pipelined units;
* fma: corner, targeted and random vectors (:func:`mpmac.sim.generate`, 8k) plus 2k vectors
  with a*b close to -c (:func:`cancelling`), for e4m3 with an fp32 addend, e5m2 with a bf16
  addend, bf16 and fp16, combinational and at the deepest latency;
* mac: random sequences (:func:`mpmac.sim.generate`) with coarse/window updates into fp32/bf16;
* the cocotb testbench on Icarus for a bf16 window fma, an L-Mul coarse fma, a window mac and a
  lazy mac.

Every comparison also counts the vectors on which the golden model of the approximate unit and
that of the same unit with ``normalize="exact"`` disagree. Where the variant can change a result
(``visible``), that count must be positive, so these tests cannot pass with an exact datapath;
where it cannot, the reason is stated (the fma and mac case tables).
Slow tier (``-m slow``): more add mixes in all five modes, and 200k-vector fma sets at both
latencies on Verilator.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from test_rtl_regression import check, mac_expected, with_random_rand

import mpmac
from mpmac import sim
from mpmac.sim.vectors import exhaustive_vectors

VARIANTS = ("coarse:2", "coarse:4", "window:1", "window:2")
FMA_MAX_LATENCY = 4


def _id(x) -> str:
    return x if isinstance(x, str) else "-".join(f"{k}={v}" for k, v in x.items())


def exact_twin(u):
    """The same unit with exact normalization."""
    return dataclasses.replace(u, normalize="exact")


def differing(u, vectors) -> int:
    """Vectors (mac: cycles) whose golden result (y or flags) changes with exact normalization."""
    twin = exact_twin(u)
    seqs = vectors if isinstance(vectors, list) else [vectors]
    count = 0
    for v in seqs:
        approx, exact = u.golden(**v), twin.golden(**v)
        count += int(np.count_nonzero((approx["y"] != exact["y"])
                                      | (approx["flags"] != exact["flags"])))
    return count


def check_approx(tally, u, vectors, *, expected, visible=True, simulator="icarus", label=""):
    """Simulate ``u`` on ``vectors`` (asserts count and zero mismatches) and, when ``visible``,
    that some of them tell the approximate unit from the exact one."""
    changed = differing(u, vectors)
    check(tally, u, vectors, expected=expected, simulator=simulator,
          label=f"{label} ({changed} differ from exact)".strip())
    if visible:
        assert changed > 0, f"{u.name}: no vector tells {u.normalize} from exact normalization"
    return changed


# --- add: exhaustive ---------------------------------------------------------------------------
# every variant for e4m3 and e5m2; e2m1 (values 0.5..6) cancels at most 3 positions below an
# add's anchor, which window:2 still covers, so it gets coarse and window:1 only
ADD_CASES = [dict(a=f, normalize=v) for f in ("e4m3", "e5m2", "e2m1") for v in VARIANTS
             if not (f == "e2m1" and v == "window:2")] + [
    dict(a="e4m3", out="e2m1", normalize="window:1"),
    dict(a="e4m3", normalize="coarse:2", rounding="rtz"),
    dict(a="e5m2", normalize="coarse:4", rounding="rdn", saturate=True),
    dict(a="e4m3", normalize="coarse:4", subnormals=False),
    dict(a="e5m2", out="e2m1", normalize="window:1", subnormals=False),
    dict(a="e4m3", b="e5m2", out="e3m2", normalize="coarse:3"),
    dict(a="e5m2", b="e2m3", out="e3m2", normalize="window:2", latency=2),
    dict(a="e5m2", normalize="coarse:2", rounding="rtz", latency=3),
]
ADD_SR_CASES = [
    dict(a="e4m3", normalize="coarse:2", rounding="sr", rand_bits=3),
    dict(a="e5m2", b="e4m3", out="e2m3", normalize="window:1", rounding="sr", rand_bits=3,
         latency=1),
]


@pytest.mark.parametrize("params", ADD_CASES, ids=_id)
def test_add_exhaustive(tally, params):
    u = mpmac.unit("add", **params)
    vec = exhaustive_vectors(u)
    check_approx(tally, u, vec, expected=len(vec["a"]))


@pytest.mark.parametrize("params", ADD_SR_CASES, ids=_id)
def test_add_sr_exhaustive_operands(tally, params):
    """Every (a, b) pair, ``rand`` uniformly random."""
    u = mpmac.unit("add", **params)
    vec = with_random_rand(u, seed=51)
    check_approx(tally, u, vec, expected=len(vec["a"]), label="all a,b; random rand")


# --- fma: corner + targeted + random + cancellation ---------------------------------------------
def moderate_codes(fmt, n: int, rng) -> np.ndarray:
    """Random finite codes with exponents within a few binades of 1 (products stay finite)."""
    mb = fmt.man_bits
    one = int(mpmac.golden.ops.encode_exact(fmt, "1")[0]) >> mb
    exp = rng.integers(max(1, one - 3), one + 4, n)
    man = rng.integers(0, 1 << mb, n) if mb else np.zeros(n, np.int64)
    sign = rng.integers(0, 2, n) * fmt.sign_mask
    return ((np.minimum((exp << mb) | man, fmt.max_code)) | sign).astype(np.uint64)


def cancelling(u, n: int, seed: int) -> dict:
    """fma operands with a*b close to -c: c is the unit's product (exact or L-Mul) rounded into
    c's format, negated and moved by -3..3 codes, so the sum cancels its top bits (the
    approximate paths)."""
    rng = np.random.default_rng(seed)
    fa, fb, fc = u.fmt("a"), u.fmt("b"), u.fmt("c")
    a, b = moderate_codes(fa, n, rng), moderate_codes(fb, n, rng)
    to_c = mpmac.unit("mul", a=u.a, b=u.b, out=u.c, subnormals=u.subnormals,
                      mul_approx=u.mul_approx)
    product = to_c.golden(a=a, b=b)["y"].astype(np.int64)
    magnitude = np.clip((product & (fc.sign_mask - 1)) + rng.integers(-3, 4, n), 0, fc.max_code)
    sign = (product & fc.sign_mask) ^ fc.sign_mask
    vec = {"a": a, "b": b, "c": (magnitude | sign).astype(np.uint64)}
    if u.ctx.sr:
        vec["rand"] = rng.integers(0, 1 << u.rand_bits, n, dtype=np.uint64)
    return vec


FMA_CASES = [  # (params, visible): see test_fma_random_and_cancelling
    (dict(a="e4m3", b="e4m3", c="fp32", out="fp32", normalize="coarse:4"), True),
    (dict(a="e5m2", b="e5m2", c="bf16", out="bf16", normalize="coarse:2", rounding="rtz",
          latency=FMA_MAX_LATENCY), True),
    (dict(a="e5m2", b="e5m2", c="bf16", out="e4m3", normalize="window:1"), True),
    (dict(a="bf16", normalize="coarse:4"), True),
    (dict(a="bf16", normalize="window:2", latency=FMA_MAX_LATENCY), True),
    (dict(a="fp16", normalize="coarse:3", subnormals=False, latency=FMA_MAX_LATENCY), True),
    (dict(a="bf16", mul_approx="lmul", normalize="coarse:4"), True),  # Z = 1 for an L-Mul product
]
SLOW_FMA_CASES = [
    (dict(a="e4m3", b="e4m3", c="fp32", out="fp32", normalize="window:2", rounding="sr",
          rand_bits=4), False),
    (dict(a="e5m2", b="e5m2", c="bf16", out="bf16", normalize="window:1"), False),
    (dict(a="bf16", normalize="window:4", rounding="rup"), True),
    (dict(a="fp16", normalize="window:4", rounding="rup"), True),
    (dict(a="fp16", normalize="window:2", rounding="rdn"), True),
    (dict(a="e4m3", c="bf16", out="bf16", mul_approx="lmul", normalize="window:2"), False),
]


def _both_latencies(cases):
    return [pytest.param({**p, "latency": lat}, visible, id=_id({**p, "latency": lat}))
            for p, visible in cases for lat in (0, FMA_MAX_LATENCY)]


def fma_vectors(u, n: int, seed: int) -> dict:
    """sim.generate's mix (n) followed by n // 4 cancelling vectors."""
    base = sim.generate(u, n, seed)
    extra = cancelling(u, n // 4, seed + 1)
    return {p: np.concatenate([base[p], extra[p]]) for p in base}


@pytest.mark.parametrize("params,visible", [pytest.param(p, v, id=_id(p)) for p, v in FMA_CASES])
def test_fma_random_and_cancelling(tally, params, visible):
    """``visible=False``: a product shorter than the addend's format (e4m3 x e4m3 into fp32)
    only cancels against an addend whose leading one sits in the exact zone, so the cancelled
    sum's bits end at the addend's LSB and the p - (lz - shift) bits the variant keeps hold them
    all. Such units differ from exact only in rounding corners (underflow is tininess on the
    delivered value): coarse:4 shows some among the corner vectors, window:2 none."""
    u = mpmac.unit("fma", **params)
    vec = fma_vectors(u, 8_000, 61)  # the slow tier runs 200k
    check_approx(tally, u, vec, expected=len(vec["a"]), visible=visible)


def test_cancelling_vectors_cancel():
    """The cancellation set really cancels: most sums lose more than the exact zone's 2 bits."""
    u = mpmac.unit("fma", a="bf16", normalize="window:2")
    vec = cancelling(u, 2000, 3)
    exact = exact_twin(u).golden(**vec)
    mul = mpmac.unit("mul", a="bf16").golden(a=vec["a"], b=vec["b"])
    out = u.fmt("out")
    total = np.abs(mpmac.golden.ops.decode(out, exact["y"]).astype(np.float64))
    product = np.abs(mpmac.golden.ops.decode(out, mul["y"]).astype(np.float64))
    ratio = total / np.maximum(product, 1e-300)
    assert np.mean(ratio < 2.0 ** -3) > 0.5


# --- mac: sequences ----------------------------------------------------------------------------
MAC_CASES = [  # (params, visible): visible=False as for the fma: bf16 products (16 bits) into fp32
    (dict(a="e4m3", acc="fp32", normalize="coarse:4"), True),
    (dict(a="bf16", acc="bf16", normalize="window:2", latency=1), True),
    (dict(a="e5m2", b="e4m3", acc="bf16", normalize="coarse:2", rounding="rtz", latency=2), True),
    (dict(a="bf16", acc="fp32", out="bf16", normalize="window:1", rounding="sr", rand_bits=4),
     False),
    (dict(a="bf16", acc="bf16", mul_approx="lmul", normalize="coarse:2"), True),
]


@pytest.mark.parametrize("params,visible", [pytest.param(p, v, id=_id(p)) for p, v in MAC_CASES])
def test_mac_sequences(tally, params, visible):
    u = mpmac.unit("mac", **params)
    seqs = sim.generate(u, 4000, 71)
    check_approx(tally, u, seqs, expected=mac_expected(u, seqs), label="sequences",
                 visible=visible)


# --- slow tier -----------------------------------------------------------------------------------
def _slow_add_cases():
    return [dict(a=a, b=b, normalize=v, rounding=mode)
            for a in ("e4m3", "e5m2", "e3m2", "e2m3") for b in ("e4m3", "e5m2", "e3m2", "e2m3")
            for v in VARIANTS + ("coarse:3", "window:3")
            for mode in ("rne", "rtz", "rdn", "rup", "rmm")]


# --- the cocotb engine ---------------------------------------------------------------------------
@pytest.mark.parametrize("kind,params", [
    ("fma", dict(a="bf16", normalize="window:2", latency=2)),
    ("fma", dict(a="e4m3", normalize="coarse:2", mul_approx="lmul")),
    ("mac", dict(a="bf16", acc="fp32", normalize="window:4")),
    ("mac", dict(a="e4m3", acc="fp32", normalize="lazy:4")),
], ids=lambda x: x if isinstance(x, str) else _id(x))
def test_cocotb_engine(tally, kind, params):
    """The approximate units through the cocotb testbench on Icarus (the stream engine does the
    bulk above): random and corner vectors, mac sequences with clear/in_valid switches."""
    u = mpmac.unit(kind, **params)
    if kind == "mac":
        seqs = sim.generate(u, 600, 61)
        check(tally, u, seqs, expected=mac_expected(u, seqs), engine="cocotb", label="sequences")
    else:
        check(tally, u, n=1500, seed=61, expected=1500, engine="cocotb")


@pytest.mark.slow
@pytest.mark.parametrize("params", _slow_add_cases(), ids=_id)
def test_slow_add_exhaustive_matrix(tally, params):
    u = mpmac.unit("add", **params)
    vec = exhaustive_vectors(u)
    check_approx(tally, u, vec, expected=len(vec["a"]), visible=False)


@pytest.mark.slow
@pytest.mark.parametrize("params,visible", _both_latencies(FMA_CASES + SLOW_FMA_CASES))
def test_slow_fma_200k(tally, params, visible):
    u = mpmac.unit("fma", **params)
    vec = fma_vectors(u, 200_000, 62)
    check_approx(tally, u, vec, expected=len(vec["a"]), visible=visible, simulator="verilator")
