"""Every emitted Verilog passes ``verilator --lint-only -Wall`` (with the documented waivers of
rtl/lint_waivers.vlt) and compiles in Icarus without a warning; the same parameters give
byte-identical Verilog, also across separate Python processes (with different hash seeds).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest

import mpmac
from mpmac.rtl.lint import icarus_compile, verilator_lint

MODES = ("rne", "rtz", "rdn", "rup", "rmm")


def _cases():
    c = []
    for mode in MODES:
        c.append(("mul", dict(a="e4m3", rounding=mode)))
        c.append(("add", dict(a="e5m2", rounding=mode)))
        c.append(("fma", dict(a="fp16", rounding=mode)))
        c.append(("convert", dict(a="fp32", out="fp16", rounding=mode)))
    c += [
        ("mul", dict(a="e4m3", rounding="sr", rand_bits=3)),
        ("mul", dict(a="e5m2", b="e4m3", out="fp16")),
        ("mul", dict(a="e2m1", b="e4m3", out="e3m2", saturate=True)),
        ("mul", dict(a="bf16", subnormals=False)),
        ("mul", dict(a="fp16", tininess="before", rounding="rup")),
        ("mul", dict(a="fp32", rounding="sr", rand_bits=8, saturate=True, latency=2)),
        *[("mul", dict(a="e4m3", latency=lat)) for lat in (1, 2, 3)],
        ("add", dict(a="e3m2", b="e2m3", out="bf16")),
        ("add", dict(a="e2m1", rounding="sr", rand_bits=2)),
        ("add", dict(a="fp32", saturate=True, rounding="rmm")),
        ("add", dict(a="fp16", subnormals=False, tininess="before")),
        *[("add", dict(a="bf16", latency=lat)) for lat in (1, 2, 3)],
        ("fma", dict(a="e4m3", b="e4m3", c="fp32", out="fp32")),
        ("fma", dict(a="e2m1", b="e2m1", c="bf16", out="bf16", rounding="sr", rand_bits=4)),
        ("fma", dict(a="e5m2", b="e4m3", c="fp16", out="fp16", tininess="before")),
        ("fma", dict(a="fp32", b="fp32", c="fp32", out="e4m3", saturate=True, rounding="sr",
                     rand_bits=4)),
        ("fma", dict(a="bf16", subnormals=False)),
        *[("fma", dict(a="fp32", latency=lat)) for lat in (0, 1, 2, 3, 4)],
        ("convert", dict(a="fp16", out="e4m3", saturate=True)),
        ("convert", dict(a="bf16", out="e2m1", rounding="sr", rand_bits=6)),
        ("convert", dict(a="e4m3", out="fp32")),
        ("convert", dict(a="fp32", out="bf16", subnormals=False, tininess="before")),
        *[("convert", dict(a="fp16", out="e5m2", latency=lat)) for lat in (1, 2)],
        *[("mac", dict(a="e4m3", acc="fp32", latency=lat)) for lat in (0, 1, 2)],
        ("mac", dict(a="e5m2", b="e4m3", acc="bf16", rounding="rtz")),
        ("mac", dict(a="fp16", acc="fp32", out="bf16", rounding="rup", latency=2)),
        ("mac", dict(a="e4m3", acc="bf16", rounding="sr", rand_bits=4, latency=1)),
        ("mac", dict(a="e4m3", acc="fp16", saturate=True, subnormals=False)),
        *[("mac", dict(a="e4m3", acc="kulisch", latency=lat)) for lat in (0, 2)],
        ("mac", dict(a="e2m1", acc="kulisch", out="bf16", rounding="rdn", latency=1)),
        ("mac", dict(a="e4m3", acc="kulisch:40", out="e5m2", rounding="sr", rand_bits=3)),
        ("mac", dict(a="e5m2", b="e2m3", acc="kulisch:64", out="fp16", tininess="before")),
        # approximate normalization (docs/approximate.md)
        ("add", dict(a="e4m3", normalize="coarse:2")),
        ("add", dict(a="e5m2", normalize="window:1", subnormals=False, latency=2)),
        ("fma", dict(a="bf16", normalize="coarse:4")),
        ("fma", dict(a="bf16", normalize="window:2", latency=4)),
        ("fma", dict(a="e4m3", b="e4m3", c="fp32", out="fp32", normalize="window:4", rounding="sr",
                     rand_bits=4)),
        ("mac", dict(a="e4m3", acc="bf16", normalize="coarse:3", latency=1)),
        # mixed-precision SIMD engines (docs/simd.md)
        ("simd", dict()),
        ("simd", dict(reduce="lanes", latency=2)),
        ("simd", dict(acc="kulisch", rounding="rdn", latency=1)),
        ("simd", dict(modes="2xe4m3,1xbf16", acc="bf16", out="e4m3", saturate=True)),
    ]
    return c


CASES = _cases()


def _id(x):
    return x if isinstance(x, str) else "-".join(f"{k}={v}" for k, v in x.items())


@pytest.mark.parametrize("kind,params", CASES, ids=_id)
def test_lint_clean(kind, params):
    u = mpmac.unit(kind, **params)
    text = u.verilog()
    assert f"module {u.name}" in text or f"module \\{u.name} " in text
    v = verilator_lint(text, u.name)
    assert v.clean, f"verilator --lint-only -Wall on {u.name} (exit {v.returncode}):\n" + "\n".join(v.messages)
    i = icarus_compile(text, u.name)
    assert i.clean, f"iverilog on {u.name} (exit {i.returncode}):\n" + "\n".join(i.messages)


# --- determinism ---------------------------------------------------------------------------------
#: a subset of CASES covering every kind, sr, mixes, pipelines and Kulisch (no duplicates)
DETERMINISM = list({repr(c): c for c in [CASES[i] for i in range(0, len(CASES), 4)] + [
    ("mac", dict(a="e4m3", acc="kulisch", latency=2)),
    ("fma", dict(a="fp32", latency=4)),
    ("simd", dict(reduce="lanes", latency=2)),
]}.values())

_SCRIPT = """
import hashlib, json, sys
import mpmac
cases = json.loads(sys.stdin.read())
print(json.dumps([hashlib.sha256(mpmac.unit(k, **p).verilog().encode()).hexdigest() for k, p in cases]))
"""


def _start(hash_seed: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONHASHSEED=hash_seed)
    p = subprocess.Popen([sys.executable, "-c", _SCRIPT], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    p.stdin.write(json.dumps(DETERMINISM))
    p.stdin.close()
    return p


def _digests(p: subprocess.Popen) -> list[str]:
    out, err = p.stdout.read(), p.stderr.read()
    assert p.wait(timeout=600) == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def test_verilog_is_byte_identical_across_processes():
    """Two fresh processes with different hash seeds and this one build the same bytes."""
    procs = {seed: _start(seed) for seed in ("1", "4242")}
    here = [hashlib.sha256(mpmac.unit(k, **p).verilog().encode()).hexdigest() for k, p in DETERMINISM]
    for seed, proc in procs.items():
        other = _digests(proc)
        diff = [f"{k} {p}" for (k, p), x, y in zip(DETERMINISM, here, other) if x != y]
        assert not diff, f"Verilog differs in a process with PYTHONHASHSEED={seed}: {diff}"
    # distinct parameters give distinct texts
    assert len(set(here)) == len(here)
