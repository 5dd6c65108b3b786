"""Error analysis of the approximate variants (mpmac.cost.quality, the report's plots).

The metrics are checked on constructed cases whose answer follows from docs/approximate.md worked
out here with Fractions (a coarse adder's one-ULP error, L-Mul's bias on rigged operands), on the
exact unit (no error), against an independent recomputation of the dot-product errors (float64
decode and math.fsum), and between the two golden models that implement the same accumulation (an
fma chain and a mac with that format as its accumulator). The sweep test runs a normalize grid
through run_sweep (quality provider only, no flows) and checks the report's new plots.
"""

from __future__ import annotations

import math
import textwrap
from fractions import Fraction

import numpy as np
import pytest

import mpmac
from mpmac.cost import quality, report, sweep
from mpmac.cost.energy import quantize
from mpmac.golden import ops

SMALL = dict(n=256, dot_trials=2, dot_len=32, long_dot_lens=(16, 64), long_trials=2,
             layer=(4, 32, 2))


def _bits(fmt, values):
    """Bit patterns of values that ``fmt`` holds exactly (asserted: the cases are constructed)."""
    codes = quantize(mpmac.format(fmt), values)
    assert np.array_equal(ops.decode(mpmac.format(fmt), codes), np.asarray(values, dtype=float))
    return codes


# -- per-operation errors against the exact unit --------------------------------------------------
def test_exact_unit_has_no_error_and_is_its_own_reference():
    u = mpmac.unit("fma", a="bf16")
    assert quality.exact_unit(u) is u
    q = quality.approx_errors(u, n=512)
    assert q["quality.approx.n"] == 512
    assert q["quality.approx.ulp_hist"][0] == 512 and sum(q["quality.approx.ulp_hist"]) == 512
    assert q["quality.approx.max_ulp"] == q["quality.approx.bias"] == 0


def test_exact_unit_of_a_variant_drops_only_the_variant():
    u = mpmac.unit("mac", a="bf16", acc="fp32", normalize="lazy:4", mul_approx="lmul")
    ref = quality.exact_unit(u)
    assert (ref.normalize, ref.mul_approx) == ("exact", "exact")
    assert {k: v for k, v in ref.params.items() if k not in ("normalize", "mul_approx")} == \
        {k: v for k, v in u.params.items() if k not in ("normalize", "mul_approx")}


def _coarse_add_by_the_rule(x: Fraction, y: Fraction, k: int, p: int) -> Fraction:
    """docs/approximate.md, coarse:K adder (Z = 1), rne, normal range: the delivered value."""
    def top(v):
        return math.floor(math.log2(abs(v)))
    total = x + y
    anchor = max(top(x), top(y)) + 1
    lz = anchor - top(total)
    shift = lz if lz <= 1 else 1 + k * ((lz - 1) // k)
    q = Fraction(2) ** (anchor - shift - p + 1)
    return round(total / q) * q  # Python's round: half to even, as rne


def test_coarse_adder_one_ulp_error_on_a_constructed_input():
    # 1 + 2^-7 and -(0.5 + 2^-8) in bf16: the sum 0.5 + 2^-8 has lz = 2 below the anchor, one more
    # than coarse:2 shifts, so it is rounded one place too high (a tie, to even)
    x, y = Fraction(1) + Fraction(1, 2 ** 7), -(Fraction(1, 2) + Fraction(1, 2 ** 8))
    v = _coarse_add_by_the_rule(x, y, k=2, p=8)
    ulp = quality.ulp("bf16", x + y)
    expected_ulps = abs(v - (x + y)) / ulp
    assert expected_ulps > 0  # the case is not vacuous
    u = mpmac.unit("add", a="bf16", normalize="coarse:2")
    _bits("bf16", [float(x), float(y)])
    q = quality.approx_errors(u, distribution="array", n=1,
                              values={"a": [float(x)], "b": [float(y)]})
    assert q["quality.approx.n"] == 1
    assert q["quality.approx.max_ulp"] == float(expected_ulps)
    assert q["quality.approx.bias"] == float((v - (x + y)) / (x + y))
    assert q["quality.approx.ulp_hist"][1] == 1  # the bin (0, 1]


def _lmul_by_the_formula(x: float, y: float, m: int) -> float:
    """L-Mul (docs/approximate.md) of two normal floats with m mantissa bits, m > 4."""
    ex, ey = math.frexp(x)[1] - 1, math.frexp(y)[1] - 1
    fx, fy = abs(x) / 2 ** ex - 1, abs(y) / 2 ** ey - 1
    mant = fx + fy + 2.0 ** -4
    carry = int(mant)
    return math.copysign(2.0 ** (ex + ey + carry) * (1 + mant - carry), x * y)


@pytest.mark.parametrize("mantissa, sign", [(0.0, 1), (0.5, -1)])
def test_lmul_bias_sign_on_rigged_operands(mantissa, sign):
    # mantissas 0: L-Mul adds its offset 2^-4 where the exact product has nothing (too large);
    # mantissas 1/2: the offset is smaller than the cross term 1/4 (too small)
    xs = [(1 + mantissa) * 2.0 ** e * s for e in range(-3, 4) for s in (1, -1)]
    ys = xs[::-1]
    _bits("bf16", xs)
    u = mpmac.unit("mul", a="bf16", mul_approx="lmul")
    q = quality.approx_errors(u, distribution="array", n=len(xs), values={"a": xs, "b": ys})
    rel = [(_lmul_by_the_formula(x, y, 7) - x * y) / (x * y) for x, y in zip(xs, ys)]
    assert np.sign(q["quality.approx.bias"]) == sign
    assert q["quality.approx.bias"] == pytest.approx(np.mean(rel), rel=1e-12)


def test_mac_variant_errors_come_from_the_variant():
    u = mpmac.unit("mac", a="bf16", acc="bf16", normalize="window:1")
    q = quality.approx_errors(u, n=512)
    assert q["quality.approx.n"] == 512
    assert q["quality.approx.max_ulp"] > 0 and q["quality.approx.ulp_hist"][0] < 512


# -- dot products ---------------------------------------------------------------------------------
def test_dot_errors_match_an_independent_recomputation():
    u = mpmac.unit("fma", a="bf16", normalize="coarse:4")
    a, b = quality.long_dot_operands(u, 48, trials=3, seed=5)
    got = quality.dot_errors(u, a, b, (16, 48))
    fa = mpmac.format("bf16")
    for row in range(3):
        s = np.zeros(1, dtype=np.uint64)
        for i in range(48):
            s = u.golden(a=a[row, i:i + 1], b=b[row, i:i + 1], c=s)["y"]
            if i + 1 in (16, 48):
                xa, xb = ops.decode(fa, a[row, :i + 1]), ops.decode(fa, b[row, :i + 1])
                exact = math.fsum((xa * xb).tolist())  # bf16 products are exact in float64
                want = abs(float(ops.decode(fa, s)[0]) - exact) / abs(exact)
                assert got[i + 1][row] == pytest.approx(want, rel=1e-9)


@pytest.mark.parametrize("normalize", ["exact", "coarse:4", "window:1"])
def test_fma_chain_and_mac_with_that_accumulator_agree(normalize):
    fma = mpmac.unit("fma", a="bf16", normalize=normalize)
    mac = mpmac.unit("mac", a="bf16", acc="bf16", normalize=normalize)
    a, b = quality.long_dot_operands(fma, 256, trials=2)
    assert quality.dot_errors(fma, a, b, (64, 256)) == quality.dot_errors(mac, a, b, (64, 256))


def test_long_dot_and_layer_metrics():
    u = mpmac.unit("mac", a="bf16", acc="fp32", normalize="lazy:0")
    q = quality.long_dot(u, lengths=(16, 64), trials=2)
    assert set(q) == {"quality.dot_mean_rel_err.16", "quality.dot_mean_rel_err.64",
                      "quality.dot_nrms_err.16", "quality.dot_nrms_err.64",
                      "quality.dot_long_trials", "quality.dot_long_nonfinite"}
    assert q["quality.dot_long_nonfinite"] == 0
    # the per-trial errors behind the mean are dot_errors' on the same operands
    a, b = quality.long_dot_operands(u, 64, trials=2)
    assert q["quality.dot_mean_rel_err.64"] == np.mean(quality.dot_errors(u, a, b, [64])[64])
    narrow = quality.layer_error(mpmac.unit("fma", a="bf16"), shape=(4, 64, 2))
    wide = quality.layer_error(mpmac.unit("fma", a="bf16", c="fp32", out="fp32"), shape=(4, 64, 2))
    # bf16 accumulation of 64 terms loses bits; fp32 accumulation of bf16 products hardly any
    assert narrow["quality.layer_rel_err"] > 100 * wide["quality.layer_rel_err"] > 0


def test_measure_is_deterministic_and_has_the_new_metrics():
    u = mpmac.unit("fma", a="bf16", normalize="window:2")
    a, b, c = (quality.measure(u, seed=s, **SMALL) for s in (1, 1, 2))
    a.pop("quality.seconds"), b.pop("quality.seconds"), c.pop("quality.seconds")
    assert a == b and a != c
    for key in ("quality.approx.ulp_hist", "quality.approx.bias", "quality.dot_mean_rel_err.64",
                "quality.layer_rel_err"):
        assert key in a
    assert "quality.layer_rel_err" not in quality.measure(mpmac.unit("add", a="bf16"), **SMALL)


def test_ulp_histogram_bins():
    labels = quality.ulp_bin_labels()
    assert labels[:4] == ["0", "<=1", "<=2", "<=4"] and labels[-1] == ">2^24"
    assert quality._histogram([0, 0.5, 1, 1.5, 2 ** 30]) == \
        [1, 2, 1] + [0] * (len(labels) - 4) + [1]


# -- the sweep report -----------------------------------------------------------------------------
GRID = textwrap.dedent("""
    [sweep]
    flows = []
    floors = false
    jobs = 1

    [[grid]]
    kind = "fma"
    a = "bf16"
    normalize = ["exact", "coarse:4", "window:2"]

    [[grid]]
    kind = "mac"
    a = "e4m3"
    acc = "fp32"
    normalize = ["exact", "lazy:0"]
    mul_approx = ["exact", "lmul"]
""")


def quality_only(unit, flows, **kwargs):
    """evaluate with the quality provider only, at small sizes (module level: workers import it)."""
    from mpmac.cost.model import evaluate
    extra = dict(kwargs.pop("extra", {}), **SMALL)
    return evaluate(unit, flows, providers=["quality"], extra=extra, **kwargs)


def test_sweep_with_a_normalize_grid_draws_the_approximation_plots(tmp_path):
    cfg = sweep.parse_text(GRID)
    assert [report.variant_label(p.unit().params) for p in cfg.points] == \
        ["exact", "coarse:4", "window:2", "exact", "lmul", "lazy:0", "lazy:0+lmul"]
    r = sweep.run_sweep(cfg, tmp_path, jobs=1, progress=False, evaluate=quality_only)
    assert r.errors == 0, [row["error"] for row in r.rows]
    html = r.html_path.read_text()
    for plot in ("plot-ulp-hist-0", "plot-dot-len-0", "plot-ulp-hist-1", "plot-dot-len-1"):
        assert f"id='{plot}'" in html
    header = r.csv_path.read_text().splitlines()[0].split(",")
    assert {"normalize", "mul_approx", "quality.approx.max_ulp",
            "quality.dot_mean_rel_err.64"} <= set(header)
    markers, colours = report._style_maps(r.rows)
    assert {"fma coarse:4", "fma window:2", "mac lazy:0+lmul"} <= set(colours)
