"""Regression tests for golden-model bugs found by the oracle and property suites.

1. FNUZ formats: a negative nonzero value that rounded to zero came out as 0x80, the fnuz NaN, instead
   of +0 (fnuz has no -0).
2. FloatFormat.name raised ValueError for valid formats whose bare ``e<E>m<M>`` is not a valid IEEE
   format (e8m0_finite, e1m2_finite, e3m0_fnuz, e1m6_fn), so str(fmt) and Unit.name crashed too.
"""

from __future__ import annotations

import numpy as np
import pytest

import mpmac
from mpmac.golden.ops import decode, encode
from mpmac.golden.rounding import RoundingContext


@pytest.mark.parametrize("name", ["e4m3_fnuz", "e5m2_fnuz"])
@pytest.mark.parametrize("mode", ["rne", "rtz", "rup", "rmm"])
def test_fnuz_negative_underflow_is_plus_zero(name, mode):
    f = mpmac.format(name)
    x = np.array([-f.min_subnormal / 4, -1e-30], dtype=np.float32)
    y, flags = encode(name, x, RoundingContext(mode))
    assert list(y) == [0, 0], [hex(int(c)) for c in y]  # got 0x80 = NaN
    assert not np.isnan(decode(name, y)).any()


def test_fnuz_negative_underflow_in_mul():
    # -2^-10 (min subnormal, 0x81) * 2^-4 (0x20): exact -2^-14 rounds to zero -> must be +0, not NaN
    r = mpmac.unit("mul", a="e4m3_fnuz").golden(a=np.uint8(0x81), b=np.uint8(0x20))
    assert int(r["y"]) == 0, hex(int(r["y"]))


def test_fnuz_matches_ml_dtypes():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    rng = np.random.default_rng(0)
    x = (np.exp2(rng.uniform(-30, 20, 200_000)) * rng.choice([-1, 1], 200_000)).astype(np.float32)
    for name, dt in (("e4m3_fnuz", ml_dtypes.float8_e4m3fnuz), ("e5m2_fnuz", ml_dtypes.float8_e5m2fnuz)):
        y, _ = encode(name, x)
        want = x.astype(dt).view(np.uint8)  # ml_dtypes is correctly rounded from float32 inputs
        assert int(np.sum(y != want)) == 0, name


@pytest.mark.parametrize("name", ["e4m3_fnuz", "e5m2_fnuz"])
def test_fnuz_sign_symmetry(name):
    rng = np.random.default_rng(1)
    x = np.exp2(rng.uniform(-40, 10, 50_000)).astype(np.float32)
    yp, _ = encode(name, x)
    yn, _ = encode(name, -x)
    vp, vn = decode(name, yp), decode(name, yn)
    assert np.array_equal(np.isnan(vp), np.isnan(vn)) and np.all((vp == -vn) | np.isnan(vp))


@pytest.mark.parametrize("spec", ["e8m0_finite", "e1m2_finite", "e3m0_fnuz", "e1m6_fn", "e2m0_finite"])
def test_name_of_non_ieee_shapes(spec):
    f = mpmac.format(spec)  # parses fine
    assert mpmac.format(f.name) == f  # raises ValueError today
    assert str(f) == f.name
    mpmac.unit("convert", a="fp32", out=spec).name
