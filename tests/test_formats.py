"""Format objects vs the tables of formats-reference.md (§1.1 IEEE/bfloat16, §1.2 OCP FP8 and MX
elements, §1.6 posits), the name grammar, parameter errors, and frozen/hashable behaviour.

Values in the tables were enumerated there with gfloat/ml_dtypes and an exact posit reference; here
they are typed in again from the document, so the format objects are checked against it, not against
themselves. Special-code counts are checked by decoding every code (all 2^24 top-binade codes for fp32).
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import numpy as np
import pytest

import mpmac
from mpmac import FloatFormat, PositFormat
from mpmac.golden.ops import decode
from exact_ref import posit_decode

P = Fraction(2)

# -----------------------------------------------------------------------------------------------
# §1.1 and §1.2 tables
# -----------------------------------------------------------------------------------------------

# name: (exp bits, man bits, bias, max finite, min normal, min subnormal, +Inf code or None,
#        Inf codes, NaN code count, has -0)
FLOAT_ROWS = {
    # §1.1
    "fp16": (5, 10, 15, Fraction(65504), P ** -14, P ** -24, 0x7C00, {0x7C00, 0xFC00}, 2046, True),
    "bf16": (8, 7, 127, (2 - P ** -7) * P ** 127, P ** -126, P ** -133, 0x7F80, {0x7F80, 0xFF80}, 254, True),
    "fp32": (8, 23, 127, (2 - P ** -23) * P ** 127, P ** -126, P ** -149, 0x7F800000,
             {0x7F800000, 0xFF800000}, 2 * (2 ** 23 - 1), True),
    # §1.2
    "e4m3": (4, 3, 7, Fraction(448), P ** -6, P ** -9, None, set(), 2, True),
    "e5m2": (5, 2, 15, Fraction(57344), P ** -14, P ** -16, 0x7C, {0x7C, 0xFC}, 6, True),
    "e3m2": (3, 2, 3, Fraction(28), P ** -2, P ** -4, None, set(), 0, True),
    "e2m3": (2, 3, 1, Fraction(15, 2), Fraction(1), P ** -3, None, set(), 0, True),
    "e2m1": (2, 1, 1, Fraction(6), Fraction(1), Fraction(1, 2), None, set(), 0, True),
    # §1.2 note: the IEEE-shaped E4M3 (apytypes, pychop) has max 240, 14 NaNs and 2 Infs
    "e4m3_ieee": (4, 3, 7, Fraction(240), P ** -6, P ** -9, 0x78, {0x78, 0xF8}, 14, True),
}

#: canonical quiet NaNs (§1.1, RISC-V style) and the OCP/fnuz NaN codes (§1.2, §1.3 design notes)
CANONICAL_NAN = {"fp16": 0x7E00, "bf16": 0x7FC0, "fp32": 0x7FC00000, "e5m2": 0x7E, "e4m3": 0x7F,
                 "e4m3_ieee": 0x7C}


def codes_to_check(f):
    """Every code for formats up to 16 bits; for fp32 every code with the top exponent plus samples."""
    if f.nbits <= 16:
        return np.arange(1 << f.nbits, dtype=np.uint64)
    top = np.uint64(f.exp_field_max << f.man_bits)
    block = top | np.arange(1 << f.man_bits, dtype=np.uint64)
    rest = np.random.default_rng(0).integers(0, top, 200_000, dtype=np.uint64)
    rest[:4] = [0, 1, f.max_code, 1 << f.man_bits]  # zero, min subnormal, max, min normal
    return np.concatenate([block, block | np.uint64(f.sign_mask), rest, rest | np.uint64(f.sign_mask)])


@pytest.mark.parametrize("name", list(FLOAT_ROWS))
def test_float_table_row(name):
    e, m, bias, mx, mn, ms, inf, infs, n_nan, neg0 = FLOAT_ROWS[name]
    f = mpmac.format(name)
    assert isinstance(f, FloatFormat)
    assert (f.nbits, f.exp_bits, f.man_bits, f.bias) == (1 + e + m, e, m, bias)
    assert f.precision == m + 1
    assert Fraction(f.max_value) == mx
    assert Fraction(f.min_normal) == mn and f.emin == 1 - bias and P ** f.emin == mn
    assert Fraction(f.min_subnormal) == ms and f.qmin == f.emin - m
    assert P ** f.emax * (2 - P ** -m) >= mx >= P ** f.emax  # emax is max's exponent
    assert f.inf_code == inf and f.has_inf == (inf is not None)
    assert f.has_nan == (n_nan > 0) and f.has_negative_zero == neg0
    if name in CANONICAL_NAN:
        assert f.nan_code == CANONICAL_NAN[name]
    # decode every code (or the whole top binade for fp32): count NaNs and Infs, find max/min
    codes = codes_to_check(f)
    v = decode(f, codes.astype(np.uint32 if f.nbits > 16 else np.uint16))
    nan = np.isnan(v)
    assert int(nan.sum()) == n_nan
    assert set(int(c) for c in codes[np.isinf(v)]) == infs
    fin = v[np.isfinite(v)]
    assert Fraction(float(fin.max())) == mx and Fraction(float(-fin.min())) == mx
    pos = fin[fin > 0]
    assert Fraction(float(pos.min())) == ms
    assert int(codes[np.argmax(np.where(np.isfinite(v), v, -np.inf))]) == f.max_code
    if f.nbits <= 16:
        assert len(codes) == 1 << f.nbits
        # -0 exists iff the sign-only code decodes to a negative zero
        z = decode(f, np.array([f.sign_mask], dtype=np.uint16))[0]
        assert (z == 0 and np.signbit(z)) == neg0
        assert float(Fraction(int(np.sum(np.isfinite(v))))) == (1 << f.nbits) - n_nan - len(infs)


def test_e4m3_details():
    """§1.2: max 448 = S.1111.110; the all-ones exponent is normal except mantissa 111; emax = 8."""
    f = mpmac.format("e4m3")
    assert f.max_code == 0b0_1111_110 and f.emax == 8
    assert list(decode(f, np.array([0x7E, 0xFE, 0x78], np.uint8))) == [448.0, -448.0, 256.0]
    assert np.isnan(decode(f, np.array([0x7F, 0xFF], np.uint8))).all()


def test_e2m1_values():
    """§1.2: E2M1 has 16 codes: +-{0, 0.5, 1, 1.5, 2, 3, 4, 6}."""
    v = decode("e2m1", np.arange(16, dtype=np.uint8))
    assert list(v[:8]) == [0, 0.5, 1, 1.5, 2, 3, 4, 6]
    assert list(-v[8:]) == [0, 0.5, 1, 1.5, 2, 3, 4, 6] and np.signbit(v[8])


# -----------------------------------------------------------------------------------------------
# §1.6 posits
# -----------------------------------------------------------------------------------------------

# (n, es): useed, maxpos exponent, fraction bits at 1.0, quire bits (2022: 16n, es = 2 only)
POSIT_ROWS = {
    (8, 2): (16, 24, 3, 128),
    (16, 2): (16, 56, 11, 256),
    (32, 2): (16, 120, 27, 512),
    (8, 0): (2, 6, 5, None),     # legacy SoftPosit; its n^2/2-bit quire is not mpmac's default
    (16, 1): (4, 28, 12, None),
}


@pytest.mark.parametrize("n,es", list(POSIT_ROWS))
def test_posit_table_row(n, es):
    useed, maxexp, frac1, quire = POSIT_ROWS[(n, es)]
    f = mpmac.format(f"posit{n}_{es}")
    assert isinstance(f, PositFormat) and (f.nbits, f.es) == (n, es)
    assert 2 ** (2 ** es) == useed and Fraction(useed) ** (n - 2) == P ** maxexp  # maxpos = useed^(n-2)
    assert Fraction(f.max_value) == P ** maxexp and Fraction(f.min_value) == P ** -maxexp
    assert f.max_scale == maxexp and f.max_regime == n - 2
    assert f.max_fraction_bits == frac1 and f.precision == frac1 + 1
    # special codes: 0, NaR = 10..0, 1.0 = 010..0, maxpos = 011..1, minpos = 00..01
    assert f.nar_code == f.nan_code == 1 << (n - 1) and f.max_code == (1 << (n - 1)) - 1
    codes = np.array([0, 1 << (n - 1), 1 << (n - 2), (1 << (n - 1)) - 1, 1], dtype=np.uint32)
    v = decode(f, codes)
    assert v[0] == 0 and np.isnan(v[1]) and v[2] == 1.0
    assert Fraction(float(v[3])) == P ** maxexp and Fraction(float(v[4])) == P ** -maxexp
    # the code just above 1.0 is 1 + 2^-frac1 (fraction bits at 1.0)
    assert Fraction(float(decode(f, np.array([(1 << (n - 2)) + 1], np.uint32))[0])) == 1 + P ** -frac1
    if quire is not None:
        assert f.quire_bits == quire == 16 * n
        # LSB weight minpos^2 = 2^(16-8n): 1.0 sits at bit 8n-16
        assert f.quire_lsb_exp == 16 - 8 * n == -2 * maxexp


def test_posit64_row_out_of_range():
    """§1.6 lists posit64 (2022 standard); mpmac supports 3..32 bits, so the row cannot be checked and the
    format is rejected with a message naming the value and the valid range."""
    with pytest.raises(ValueError, match=r"nbits=64.*3\.\.32"):
        mpmac.format("posit64_2")


@pytest.mark.parametrize("n,es", [(n, es) for n in (3, 4, 5, 6, 8, 10, 12, 16) for es in range(0, 5)
                                  if es <= n - 3])
def test_posit_decode_exhaustive_vs_reference(n, es):
    """Every code of small posits decodes to the exact §2.5 value (NaR -> nan); maxpos = useed^(n-2)."""
    f = mpmac.format(f"posit{n}_{es}")
    codes = np.arange(1 << n, dtype=np.uint32)
    v = decode(f, codes)
    want = [posit_decode(int(c), n, es) for c in codes]
    assert sum(1 for c in codes) == 1 << n
    bad = [(int(c), w, g) for c, w, g in zip(codes, want, v)
           if (w is None) != bool(np.isnan(g)) or (w is not None and Fraction(float(g)) != w)]
    assert not bad, bad[:5]
    assert Fraction(f.max_value) == Fraction(2 ** (2 ** es)) ** (n - 2)
    assert f.quire_lsb_exp == -2 * f.max_scale


# -----------------------------------------------------------------------------------------------
# name grammar
# -----------------------------------------------------------------------------------------------

NAMES = ["e4m3", "e5m2", "e3m2", "e2m3", "e2m1", "bf16", "fp16", "fp32", "fp64", "e4m3_ftz", "fp16_ftz",
         "bf16_ftz", "e4m3_ieee", "e4m3_fnuz", "e5m2_fnuz", "e3m4", "e6m9", "e5m2b10", "e4m3b4_fn",
         "e5m2b-3", "e3m4_fn", "e2m2_finite", "e4m3_ieee_ftz", "e8m23b100", "e11m52",
         "e8m0_finite", "e1m2_finite", "e3m0_fnuz", "e1m6_fn", "e2m0_finite", "e1m0_finite",
         "posit8_0", "posit8_1", "posit8_2", "posit16_1", "posit16_2", "posit32_2", "posit3_0", "posit4_1",
         "posit20_4"]

#: direct constructions and the names they must print as (shortest name that parses back)
CANONICAL_NAMES = [
    (FloatFormat(4, 3, specials="fn"), "e4m3"), (FloatFormat(5, 2), "e5m2"), (FloatFormat(8, 7), "bf16"),
    (FloatFormat(5, 10), "fp16"), (FloatFormat(8, 23), "fp32"), (FloatFormat(11, 52), "fp64"),
    (FloatFormat(2, 1, specials="finite"), "e2m1"), (FloatFormat(4, 3), "e4m3_ieee"),
    (FloatFormat(5, 10, subnormals=False), "fp16_ftz"), (FloatFormat(3, 4), "e3m4"),
    (FloatFormat(5, 2, bias=10), "e5m2b10"), (PositFormat(8, 2), "posit8_2"),
    (FloatFormat(4, 3, specials="fnuz"), "e4m3_fnuz"),
]


@pytest.mark.parametrize("name", NAMES)
def test_name_round_trip(name):
    f = mpmac.format(name)
    assert mpmac.format(f.name) == f and mpmac.format(str(f)) == f
    assert mpmac.format(name.upper()) == f and mpmac.format(f"  {name} ") == f
    assert mpmac.format(f) is f  # a format object passes through
    assert hash(mpmac.format(f.name)) == hash(f)


@pytest.mark.parametrize("fmt,name", CANONICAL_NAMES, ids=[n for _, n in CANONICAL_NAMES])
def test_canonical_names(fmt, name):
    assert fmt.name == name == str(fmt)
    assert mpmac.format(name) == fmt


def test_name_round_trip_many_shapes():
    """Every IEEE-shaped e<E>m<M> with 2..8 exponent and 1..10 mantissa bits, with and without _ftz,
    and every posit<N>_<ES> from 3 to 32 bits."""
    checked = 0
    for e in range(2, 9):
        for m in range(1, 11):
            for suffix in ("", "_ftz"):
                f = mpmac.format(f"e{e}m{m}{suffix}")
                assert (f.exp_bits, f.man_bits, f.subnormals) == (e, m, suffix == "")
                assert mpmac.format(f.name) == f
                checked += 1
    for n in range(3, 33):
        for es in range(0, min(4, n - 3) + 1):
            f = mpmac.format(f"posit{n}_{es}")
            assert f.name == f"posit{n}_{es}" and mpmac.format(f.name) == f
            checked += 1
    assert checked == 7 * 10 * 2 + sum(min(4, n - 3) + 1 for n in range(3, 33))


# -----------------------------------------------------------------------------------------------
# bad parameters
# -----------------------------------------------------------------------------------------------

BAD = [
    # (call, substrings the message must contain: the bad value, then the valid choices)
    (lambda: FloatFormat(0, 3), ["exp_bits=0", "1..11"]),
    (lambda: FloatFormat(12, 3), ["exp_bits=12", "1..11"]),
    (lambda: FloatFormat(4, -1), ["man_bits=-1", ">= 0"]),
    (lambda: FloatFormat(4, 3, specials="xyz"), ["'xyz'", "ieee", "fn", "finite", "fnuz"]),
    (lambda: FloatFormat(2, 0), ["e2m0", "exp_bits >= 2", "man_bits >= 1"]),
    (lambda: PositFormat(2, 0), ["nbits=2", "3..32"]),
    (lambda: PositFormat(40, 2), ["nbits=40", "3..32"]),
    (lambda: PositFormat(8, 5), ["es=5", "0..4"]),
    (lambda: mpmac.format("e9x"), ["'e9x'", "e4m3", "posit<N>_<ES>", "e<E>m<M>"]),
    (lambda: mpmac.format("posit8_9"), ["es=9", "0..4"]),
    (lambda: mpmac.unit("fma", a="e4m3", rounding="foo"), ["'foo'", "rne", "rtz", "rdn", "rup", "rmm", "sr"]),
    (lambda: mpmac.unit("foo", a="e4m3"), ["'foo'", "mul", "add", "fma", "convert", "mac"]),
    (lambda: mpmac.unit("mul", a="e4m3", bogus=1), ["bogus", "rounding", "saturate"]),
    (lambda: mpmac.unit("mul", a="e4m3", tininess="x"), ["'x'", "after", "before"]),
    (lambda: mpmac.unit("mul", a="e4m3", rounding="sr"), ["rand_bits=0", "1..32"]),
    (lambda: mpmac.unit("mul", a="posit8_0", rounding="rtz"), ["'rtz'", "rne", "sr"]),
    (lambda: mpmac.unit("mul", a="e4m3", latency=-1), ["latency=-1", ">= 0"]),
    (lambda: mpmac.unit("mac", a="e4m3", acc="foo"), ["'foo'", "kulisch", "quire"]),
    (lambda: mpmac.unit("convert", a="fp32", out="e9x"), ["'e9x'", "e4m3"]),
]


@pytest.mark.parametrize("call,parts", BAD, ids=[p[0] for _, p in BAD])
def test_bad_parameters(call, parts):
    with pytest.raises(ValueError) as exc:
        call()
    msg = str(exc.value)
    missing = [p for p in parts if p not in msg]
    assert not missing, f"message {msg!r} lacks {missing}"


def test_bad_types():
    with pytest.raises(TypeError, match="'x'"):
        FloatFormat(4, 3, bias="x")
    with pytest.raises(TypeError):
        mpmac.format(3.5)


# -----------------------------------------------------------------------------------------------
# frozen and hashable
# -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["e4m3", "fp32", "e5m2b10", "posit16_1", "fp16_ftz"])
def test_frozen_and_hashable(name):
    f = mpmac.format(name)
    field = "es" if f.is_posit else "man_bits"
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(f, field, 1)
    g = mpmac.format(name)
    assert f == g and hash(f) == hash(g)
    assert len({f, g, mpmac.format(f.name)}) == 1
    assert {f: 1}[g] == 1


def test_units_frozen_and_hashable():
    u = mpmac.unit("fma", a="e4m3", b="e4m3", c="fp32", out="fp32", rounding="rne")
    v = mpmac.unit("fma", a=mpmac.format("e4m3"), c="fp32", out=FloatFormat(8, 23))
    assert u == v and hash(u) == hash(v) and len({u, v}) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        u.rounding = "rtz"
    assert u != mpmac.unit("fma", a="e4m3", c="fp32", out="fp32", rounding="rtz")
