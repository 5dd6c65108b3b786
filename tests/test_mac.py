"""The mac golden model against its contract: edge semantics, accumulators, readout and flags.

Oracles here are independent of the model: sequential fma calls for rounded accumulation, exact
Fraction sums for Kulisch accumulation (SoftPosit quires are compared in test_oracles_posit.py).
"""

from fractions import Fraction

import numpy as np
import pytest

import mpmac
from mpmac.golden.mac import KULISCH_CARRY_BITS
from mpmac.golden.ops import decode, encode

FLAG_OVERFLOW, FLAG_INVALID = 4, 16


def _finite_codes(fmt_name, rng, n):
    fmt = mpmac.format(fmt_name)
    codes = rng.integers(0, 1 << fmt.nbits, n)
    values = decode(fmt, codes)
    return codes[np.isfinite(values)]


def _fraction(fmt, code):
    return Fraction(float(decode(fmt, np.array([code]))[0]))


@pytest.mark.parametrize("a,acc,rounding", [("e4m3", "fp32", "rne"), ("e5m2", "bf16", "rtz"),
                                            ("e2m1", "fp16", "rup"), ("posit8_0", "fp32", "rne"),
                                            ("bf16", "bf16", "rdn")])
def test_rounded_accumulation_is_a_chain_of_fmas(a, acc, rounding):
    rng = np.random.default_rng(1)
    codes = _finite_codes(a, rng, 1200)
    n = len(codes) // 2
    xa, xb = codes[:n], codes[n:2 * n]
    clear = (rng.random(n) < 0.05).astype(int)
    valid = (rng.random(n) < 0.9).astype(int)
    mac = mpmac.unit("mac", a=a, acc=acc, rounding=rounding)
    fma = mpmac.unit("fma", a=a, c=acc, out=acc, rounding=rounding)
    got = mac.golden(a=xa, b=xb, in_valid=valid, clear=clear)
    acc_bits, expected = 0, []
    for t in range(n):
        if valid[t]:
            acc_bits = int(fma.golden(a=xa[t], b=xb[t], c=0 if clear[t] else acc_bits)["y"])
        expected.append(acc_bits)
    assert n > 500
    mismatches = int(np.sum(got["y"] != np.array(expected)))
    print(f"mac {a}->{acc} {rounding}: {n} cycles, {mismatches} mismatches")
    assert mismatches == 0


@pytest.mark.parametrize("a,b", [("e4m3", "e4m3"), ("e5m2", "e4m3"), ("e2m1", "e2m1"),
                                 ("bf16", "bf16"), ("posit8_0", "e4m3")])
def test_kulisch_accumulation_is_exact(a, b):
    rng = np.random.default_rng(2)
    n = 400
    xa = _finite_codes(a, rng, 2 * n)[:n]
    xb = _finite_codes(b, rng, 2 * n)[:n]
    n = min(len(xa), len(xb))
    xa, xb = xa[:n], xb[:n]
    clear = np.zeros(n, dtype=int)
    clear[::97] = 1
    mac = mpmac.unit("mac", a=a, b=b, acc="kulisch", out="fp64")
    got = mac.golden(a=xa, b=xb, clear=clear)
    fa, fb = mpmac.format(a), mpmac.format(b)
    total, mismatches = Fraction(0), 0
    for t in range(n):
        total = (Fraction(0) if clear[t] else total) + _fraction(fa, xa[t]) * _fraction(fb, xb[t])
        expected = int(encode("fp64", np.array([float(total)]))[0][0])  # float(Fraction) rounds once
        mismatches += int(got["y"][t]) != expected
    print(f"kulisch {a}x{b}: {n} cycles, {mismatches} mismatches")
    assert n > 300 and mismatches == 0


def test_kulisch_default_width_and_explicit_width():
    mac = mpmac.unit("mac", a="e4m3", acc="kulisch")
    e4m3 = mpmac.format("e4m3")
    span = (448 * 448 * 2 ** (-2 * e4m3.qmin)).bit_length()  # largest product, in LSB units
    assert mac.accumulator.width == span + KULISCH_CARRY_BITS + 1
    assert mac.accumulator.lsb_exp == 2 * e4m3.qmin
    assert mpmac.unit("mac", a="e4m3", acc="kulisch:80").accumulator.width == 80
    with pytest.raises(ValueError, match="kulisch:8"):
        mpmac.unit("mac", a="e4m3", acc="kulisch:8")


def test_quire_defaults_to_16n_bits():
    for name, bits in (("posit8_2", 128), ("posit16_2", 256), ("posit32_2", 512), ("posit8_0", 128)):
        assert mpmac.unit("mac", a=name, acc="quire").accumulator.width == bits
    with pytest.raises(ValueError, match="posit"):
        mpmac.unit("mac", a="e4m3", acc="quire")


def test_small_quire_overflow_is_sticky_until_clear():
    mac = mpmac.unit("mac", a="posit8_0", acc="quire:26")  # maxpos^2 = 2^12 over LSB 2^-12, and a sign
    maxpos = 0x7F
    n = 6
    got = mac.golden(a=[maxpos] * n, b=[maxpos] * n, clear=[0, 0, 0, 0, 1, 0])
    nar = 0x80
    assert int(got["y"][0]) == maxpos and not got["flags"][0] & FLAG_OVERFLOW
    assert [int(v) for v in got["y"][1:4]] == [nar] * 3
    assert all(f & FLAG_OVERFLOW for f in got["flags"][1:4])
    assert int(got["y"][4]) == maxpos and not got["flags"][4] & FLAG_OVERFLOW


def test_in_valid_low_holds_and_clear_needs_in_valid():
    mac = mpmac.unit("mac", a="e4m3", acc="fp32")
    one = 0x38  # e4m3 1.0
    got = mac.golden(a=[one] * 4, b=[one] * 4, in_valid=[1, 0, 0, 1], clear=[0, 1, 0, 0])
    values = decode("fp32", got["y"])
    assert list(values) == [1.0, 1.0, 1.0, 2.0]


def test_nan_and_infinity_products_in_an_exact_accumulator():
    mac = mpmac.unit("mac", a="e5m2", acc="kulisch", out="fp32")
    inf, ninf, one, zero = 0x7C, 0xFC, 0x3C, 0x00
    got = mac.golden(a=[one, inf, ninf, one, zero], b=[one, one, one, one, inf],
                     clear=[0, 0, 0, 1, 1])
    values = decode("fp32", got["y"])
    assert values[0] == 1.0
    assert values[1] == np.inf
    assert np.isnan(values[2]) and got["flags"][2] & FLAG_INVALID  # Inf + -Inf
    assert values[3] == 1.0 and got["flags"][3] == 0  # clear forgets the NaN
    assert np.isnan(values[4]) and got["flags"][4] & FLAG_INVALID  # 0 * Inf


def test_sticky_flags_since_clear():
    mac = mpmac.unit("mac", a="fp16", acc="fp16")
    big, tiny = 0x7BFF, 0x0001  # max fp16, min subnormal
    got = mac.golden(a=[big, big, tiny], b=[big, 0x3C00, 0x3C00], clear=[0, 1, 1])
    assert got["flags"][0] & FLAG_OVERFLOW
    assert got["flags"][1] == 0
    assert got["flags"][2] == 0


def test_mac_inputs_are_validated():
    mac = mpmac.unit("mac", a="e4m3", acc="fp32")
    with pytest.raises(ValueError, match="unknown input"):
        mac.golden(a=[1], b=[1], c=[1])
    with pytest.raises(ValueError, match="outside"):
        mac.golden(a=[256], b=[1])
    with pytest.raises(ValueError, match="acc="):
        mpmac.unit("mac", a="e4m3", acc="kulish")
