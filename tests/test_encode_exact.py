"""ops.encode_exact: decimal text rounded once, checked against MPFR's correctly rounded parser."""

import gmpy2
import numpy as np
import pytest

import mpmac
from mpmac.golden.ops import decode, encode_exact
from mpmac.golden.rounding import RoundingContext

MPFR_MODES = {"rne": gmpy2.RoundToNearest, "rtz": gmpy2.RoundToZero, "rup": gmpy2.RoundUp,
              "rdn": gmpy2.RoundDown}


def _mpfr_context(fmt, mode):
    p = fmt.precision
    return gmpy2.context(precision=p, emin=fmt.emin - p + 2, emax=fmt.emax + 1, subnormalize=True,
                         round=MPFR_MODES[mode])


@pytest.mark.parametrize("name", ["fp32", "fp16", "bf16", "e5m2"])
@pytest.mark.parametrize("mode", list(MPFR_MODES))
def test_decimals_round_once(name, mode, tally):
    fmt = mpmac.format(name)
    rng = np.random.default_rng(7)
    texts = [f"{m}e{e}" for m, e in zip(rng.integers(1, 10 ** 12, 600),
                                        rng.integers(-12 - int(-fmt.qmin * 0.3), 4 + int(fmt.emax * 0.3), 600))]
    texts += [f"-{t}" for t in texts[:100]]
    bad = 0
    context = _mpfr_context(fmt, mode)
    for text in texts:
        ref = context.check_range(gmpy2.mpfr(text, context.precision, context=context))
        code, _ = encode_exact(fmt, text, RoundingContext(mode))
        got = decode(fmt, np.array([code]))[0]
        if not (abs(float(ref)) > fmt.max_value or got == float(ref)):
            bad += 1
    tally(f"{name} {mode} decimal strings vs MPFR", len(texts), bad, expected=700)


def test_specials_and_signed_zero():
    assert encode_exact("fp16", "-0") == (0x8000, 0)
    assert encode_exact("fp16", "-inf") == (0xFC00, 0)
    assert encode_exact("e4m3", "nan")[0] == 0x7F
    assert encode_exact("e4m3", "464") == (0x7E, 1)  # the tie below the missing 480 goes to 448
    assert encode_exact("posit8_0", "1e-9") == (0x01, 1)  # posits saturate to minpos
