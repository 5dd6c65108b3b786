"""The golden model against Berkeley TestFloat 3e vectors (conformance/testfloat, see its README).

Every vector file is run through the matching unit (op, rounding and tininess from the file name).
Results must match bit for bit, except that any NaN matches an expected NaN (the vectors come from
SoftFloat's 8086-SSE specialisation, which propagates payloads; mpmac returns the canonical NaN); flags
must match exactly.

The directory is ``$MPMAC_CONFORMANCE_DIR`` or ``../shared/conformance`` beside the repository. A
missing directory is a failure, not a skip: a conformance run that silently checks nothing is worse
than none.
"""

from __future__ import annotations

import numpy as np
import pytest

import mpmac

import testfloat as tf

FILES = tf.discover_files()
_fail_if_missing = tf.fail_if_missing


def test_every_file_name_parses():
    """Every file in the directory is understood; an unknown name must not be skipped silently."""
    _fail_if_missing(FILES[0])
    seen = {}
    for path in FILES:
        vf = tf.parse_name(path)
        key = (vf.op, vf.level, vf.rounding, vf.tininess)
        assert key not in seen, f"{path.name} and {seen[key]} describe the same vectors"
        seen[key] = path.name
    assert len(seen) == len(FILES)


def _describe(vf, vec, y, flags, idx, limit=12):
    lines = []
    for i in idx[:limit]:
        ops = " ".join(f"{r}={int(vec[r][i]):X}" for r in vf.operands)
        lines.append(f"  {ops}: expected y={int(vec['y'][i]):X} flags={int(vec['flags'][i]):02X}, "
                     f"golden y={int(y[i]):X} flags={int(flags[i]):02X}")
    return "\n".join(lines)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p if isinstance(p, str) else p.name.split(".tv")[0])
def test_testfloat_file(path, tally):
    _fail_if_missing(path)
    vf = tf.parse_name(path)
    vec = tf.load(vf)
    n = len(vec["y"])
    assert n > 0, f"{path.name} holds no vectors"

    u = mpmac.unit(vf.kind, **vf.formats, rounding=vf.rounding, tininess=vf.tininess)
    r = u.golden(**{role: vec[role] for role in vf.operands})
    y = np.asarray(r["y"]).astype(np.uint64)
    flags = np.asarray(r["flags"]).astype(np.uint8)
    assert y.shape == (n,) and flags.shape == (n,)

    out = vf.formats["out"]
    want_nan = tf.is_nan(out, vec["y"])
    y_ok = np.where(want_nan, tf.is_nan(out, y), y == vec["y"])
    flags_ok = flags == vec["flags"]
    bad = np.nonzero(~(y_ok & flags_ok))[0]
    print(f"{vf.name}: {n} vectors ({int(want_nan.sum())} NaN results), "
          f"{int((~y_ok).sum())} y mismatches, {int((~flags_ok).sum())} flag mismatches")
    tally(f"{vf.name} ({vf.kind} {' '.join(f'{k}={v}' for k, v in vf.formats.items())} "
          f"{vf.rounding} tininess={vf.tininess})", n, len(bad), expected=n,
          detail=_describe(vf, vec, y, flags, bad))


@pytest.mark.parametrize("name, kind, formats, rounding, tininess, level", [
    ("f16_mul_rnear_even.tv.gz", "mul", {"a": "fp16", "b": "fp16", "out": "fp16"}, "rne", "after", 1),
    ("f16_add_rminMag.tv", "add", {"a": "fp16", "b": "fp16", "out": "fp16"}, "rtz", "after", 1),
    ("f16_mulAdd_rmin_tininessbefore.tv.gz", "fma",
     {"a": "fp16", "b": "fp16", "c": "fp16", "out": "fp16"}, "rdn", "before", 1),
    ("f32_mulAdd_rmax.tv.gz", "fma", {"a": "fp32", "b": "fp32", "c": "fp32", "out": "fp32"},
     "rup", "after", 1),
    ("f32_to_f16_L2_rnear_maxMag.tv.gz", "convert", {"a": "fp32", "out": "fp16"}, "rmm", "after", 2),
])
def test_parse_name(name, kind, formats, rounding, tininess, level):
    vf = tf.parse_name(name)
    assert (vf.kind, vf.formats, vf.rounding, vf.tininess, vf.level) == (kind, formats, rounding,
                                                                         tininess, level)


@pytest.mark.parametrize("name", ["f16_mul.tv.gz", "f16_div_rmin.tv.gz", "f8_mul_rmin.tv.gz",
                                  "f16_mul_rnear_odd.tv.gz", "f16_mul_rmin_tininessmaybe.tv.gz",
                                  "README.md"])
def test_parse_name_rejects(name):
    with pytest.raises(ValueError):
        tf.parse_name(name)
