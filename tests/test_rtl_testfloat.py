"""The emitted Verilog against Berkeley TestFloat 3e vectors (``../shared/conformance``, see its README).

Every vector file runs through the RTL of the matching unit (op, rounding and tininess from the file
name): fp16 mul, add and mulAdd (tininess before and after), fp32 mulAdd, fp32 -> fp16. Results
must match the TestFloat result bit for bit, except that any NaN matches an expected NaN (the vectors
come from SoftFloat's 8086-SSE specialisation, which propagates payloads; mpmac returns the
canonical NaN); flags must match exactly; the same rule as tests/test_conformance_testfloat.py. The
same simulation is also compared with the golden model (bit-exact, NaNs included).

Default tier: every DEFAULT_STRIDE-th line of every file (lines 1, 5, 9, ...), through the deepest
pipeline of each unit on Icarus (the streaming engine; a pipelined unit simulates 2-3x faster than
its combinational twin on Icarus, and needs no per-unit C++ build as Verilator would); every line
goes through the golden model in tests/test_conformance_testfloat.py. Slow tier: every line of
every file through the combinational units on Verilator.

A missing conformance directory fails the run rather than skipping it.
"""

from __future__ import annotations

import numpy as np
import pytest

import mpmac
from mpmac.sim import stream
from mpmac.sim.plan import Plan, code_text, flags_text

import testfloat as tf

FILES = tf.discover_files()
_fail_if_missing = tf.fail_if_missing

#: deepest pipeline per unit kind (checked by test_max_latencies)
MAX_LATENCY = {"mul": 3, "add": 3, "fma": 4, "convert": 2}

#: the default tier simulates every DEFAULT_STRIDE-th line of each file (Icarus time is per line)
DEFAULT_STRIDE = 4


def _ids(p):
    return p if isinstance(p, str) else p.name.split(".tv")[0]


def test_every_operation_is_present():
    """The files cover what the RTL must be checked on; none is silently missing."""
    _fail_if_missing(FILES[0])
    have = {(vf.op, vf.rounding, vf.tininess) for vf in map(tf.parse_name, FILES)}
    modes = tf.ROUNDING.values()
    want = {(op, m, "after") for op in ("f16_mul", "f16_add", "f32_mulAdd", "f32_to_f16") for m in modes}
    want |= {("f16_mulAdd", m, t) for m in modes for t in ("before", "after")}
    assert want <= have, f"missing TestFloat files for {sorted(want - have)}"


def test_max_latencies():
    for kind, lat in MAX_LATENCY.items():
        params = dict(a="fp32", out="fp16") if kind == "convert" else dict(a="fp16")
        mpmac.unit(kind, **params, latency=lat)
        with pytest.raises(ValueError):
            mpmac.unit(kind, **params, latency=lat + 1)


def _describe(vf, u, vec, got_y, got_f, valid, idx, stride, limit=8):
    out = u.fmt("out")
    lines = []
    for i in idx[:limit]:
        ops = ", ".join(f"{r} = {code_text(u.fmt(r), int(vec[r][i]))}" for r in vf.operands)
        got = code_text(out, int(got_y[i])) if valid[i] else "x/z"
        lines.append(f"  line {i * stride + 1}: {ops}\n"
                     f"    TestFloat y = {code_text(out, int(vec['y'][i]))}, "
                     f"flags {flags_text(int(vec['flags'][i]))}\n    RTL       y = {got}, "
                     f"flags {flags_text(int(got_f[i])) if valid[i] else 'x/z'}")
    return "\n".join(lines)


def run_file(tally, path, latency_of, simulator, stride=1):
    """Simulate every ``stride``-th line of the vector file ``path`` (from the first)."""
    _fail_if_missing(path)
    vf = tf.parse_name(path)
    every = tf.load(vf)
    assert len(every["y"]) > 0, f"{path.name} holds no vectors"
    vec = {role: column[::stride] for role, column in every.items()}
    n = -(-len(every["y"]) // stride)  # lines 1, 1 + stride, ...
    assert len(vec["y"]) == n
    u = mpmac.unit(vf.kind, **vf.formats, rounding=vf.rounding, tininess=vf.tininess,
                   latency=latency_of(vf.kind))
    plan = Plan.build(u, {role: vec[role] for role in vf.operands})
    r = stream.run(plan, u.verilog(), u.name, simulator)
    d = plan.delay
    got_y, got_f, valid = r.got_y[d:d + n], r.got_flags[d:d + n], r.got_valid[d:d + n]
    assert len(got_y) == n

    out = vf.formats["out"]
    want_nan = tf.is_nan(out, vec["y"])
    y_ok = np.where(want_nan, tf.is_nan(out, got_y), got_y == vec["y"])
    ok = valid & y_ok & (got_f == vec["flags"])
    bad = np.flatnonzero(~ok)
    label = (f"{vf.name} ({vf.kind} {' '.join(f'{k}={v}' for k, v in vf.formats.items())} "
             f"{vf.rounding} tininess={vf.tininess} latency={u.latency}) [{simulator}/stream]")
    golden_bad = plan.mismatches(r.got_y, r.got_flags, r.got_valid)
    tally(f"{label} vs golden", plan.vectors, len(golden_bad), expected=n,
          detail=_describe(vf, u, vec, got_y, got_f, valid, golden_bad, stride))
    tally(f"{label} vs TestFloat", n, len(bad), expected=n,
          detail=_describe(vf, u, vec, got_y, got_f, valid, bad, stride))


@pytest.mark.parametrize("path", FILES, ids=_ids)
def test_testfloat_rtl_pipelined(tally, path):
    run_file(tally, path, MAX_LATENCY.get, "icarus", stride=DEFAULT_STRIDE)


@pytest.mark.slow
@pytest.mark.parametrize("path", FILES, ids=_ids)
def test_slow_testfloat_rtl_combinational_verilator(tally, path):
    run_file(tally, path, lambda kind: 0, "verilator")
