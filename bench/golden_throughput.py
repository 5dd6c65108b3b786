#!/usr/bin/env python
"""Golden-model fma throughput (ops/s) on one core, beside gmpy2/MPFR, SoftPosit and gfloat.

For each format F in the list, the unit ``fma(a=F, b=F, c=F, out=F)`` is timed on two input sets that
every engine shares: Gaussian float32 values encoded into F (``gauss``) and uniformly random bit patterns
(``bits``). Engines:

* ``mpmac``: ``unit.golden`` on the whole array (best of ``--repeat`` runs; warm-up timed apart).
* ``gmpy2``: ``gmpy2.fma`` in an MPFR context emulating F (precision p, emin = emin_ieee - p + 2,
  emax = emax_ieee + 1, subnormalize, RNE), on operands converted to ``mpfr`` before timing; the
  ``gmpy2 bits`` row times the whole bits -> bits path (decode, convert, fma, encode) instead.
* ``softposit``: for posits, SoftPosit's ``p16_mulAdd`` / ``p32_mulAdd`` on prebuilt posit objects
  (``softposit bits`` adds building them from bits and reading the bits back).
* ``gfloat``: ``gfloat.round_ndarray`` of float64 ``a*b+c`` into F. It only rounds (a float64 sum is not
  the exact fma), so it is a reference for vectorized rounding speed, not a correct fma.

The slow scalar references run on the first ``--n-ref`` vectors and their rate is extrapolated. Their
results are checked against mpmac's: all cases for SoftPosit; for gmpy2 the cases with finite inputs and
a finite result of magnitude at most F's largest finite value (OCP E4M3 has no Inf, and MPFR's IEEE-style
emulation knows nothing of its NaN encoding, see formats-reference.md section 3).

The script is a check: it exits with status 1 if any mismatch is found or mpmac misses a target of the
project issue (>= 5M fma/s and >= 3x the reference for 8- and 16-bit formats; >= 1M fma/s for 32-bit).

Run: ``.venv/bin/python bench/golden_throughput.py [--n N] [--formats e4m3,fp32] [--json out.json]``
"""

from __future__ import annotations

import os

# One core: numba reads this when it is first imported (mpmac's kernels are serial loops anyway).
os.environ["NUMBA_NUM_THREADS"] = "1"

import argparse  # noqa: E402
import importlib.metadata  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from fractions import Fraction  # noqa: E402

import gfloat  # noqa: E402
import gfloat.formats  # noqa: E402
import gmpy2  # noqa: E402
import numpy as np  # noqa: E402
import softposit  # noqa: E402

import mpmac  # noqa: E402
from mpmac.golden import ops  # noqa: E402

FORMATS = ("e4m3", "e5m2", "bf16", "fp16", "fp32", "posit16_1", "posit32_2")
DATASETS = ("gauss", "bits")

#: acceptance targets from the project issue
MIN_RATE_NARROW = 5e6   # fma/s for formats of at most 16 bits
MIN_RATIO_NARROW = 3.0  # mpmac / reference (gmpy2, or SoftPosit for posits) for those formats
MIN_RATE_WIDE = 1e6     # fma/s for 32-bit formats

GFLOAT_FORMATS = {"e4m3": "ocp_e4m3", "e5m2": "ocp_e5m2", "bf16": "bfloat16", "fp16": "binary16",
                  "fp32": "binary32"}
SOFTPOSIT = {"posit16_1": (softposit.posit16_t, softposit.p16_mulAdd, softposit.convertP16ToDouble),
             "posit32_2": (softposit.posit32_t, softposit.p32_mulAdd, softposit.convertP32ToDouble)}


# -- setup ------------------------------------------------------------------------------------------
def pin_to_one_core(cpu: int | None) -> int:
    """Restrict this process to one CPU (the first allowed one unless ``cpu`` is given)."""
    if cpu is None:
        cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def machine_info() -> dict:
    """CPU model, core count and the versions of everything timed."""
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = {p: importlib.metadata.version(p) for p in ("numpy", "numba", "gmpy2", "gfloat", "softposit")}
    versions["mpfr"] = gmpy2.mpfr_version()
    versions["python"] = platform.python_version()
    return {"cpu": model, "cores": os.cpu_count(), "loadavg": os.getloadavg(), "versions": versions}


def make_inputs(fmt, dataset: str, n: int, rng) -> tuple:
    """Three operand arrays of bit patterns of ``fmt``: encoded Gaussian float32 values or random bits."""
    dtype = ops.bits_dtype(fmt)
    if dataset == "gauss":
        return tuple(ops.encode(fmt, rng.standard_normal(n, dtype=np.float32))[0] for _ in range(3))
    return tuple(rng.integers(0, 1 << fmt.nbits, n, dtype=np.uint64).astype(dtype) for _ in range(3))


def best_of(fn, repeat: int):
    """(fastest wall time of ``repeat`` calls of ``fn``, the last result)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def row(engine: str, n: int, seconds: float, mismatches=None, checked=None, reference_errors=None) -> dict:
    """One result record (the format, data set and ratio are filled in by the caller).

    ``mismatches``: checked cases where mpmac's result is wrong; ``reference_errors``: cases where the
    reference engine itself was shown wrong by the exact result.
    """
    return {"engine": engine, "n": n, "seconds": seconds, "ops_per_s": n / seconds,
            "mismatches": mismatches, "checked": checked, "reference_errors": reference_errors}


# -- engines ----------------------------------------------------------------------------------------
def warm_up(names) -> dict:
    """Compile (or load from numba's on-disk cache) every kernel the benchmark uses, per format.

    Returns the seconds each format's first encode + decode + fma took; the first one carries the
    compilation (about 90 s in a fresh checkout, well under a second once cached).
    """
    seconds = {}
    for name in names:
        t0 = time.perf_counter()
        fmt = mpmac.format(name)
        x = ops.encode(fmt, np.float32([1.5, -2.0, 0.25]))[0]
        ops.decode(fmt, x)
        mpmac.unit("fma", a=name, b=name, c=name, out=name).golden(a=x, b=x, c=x)
        seconds[name] = time.perf_counter() - t0
    return seconds


def bench_mpmac(unit, a, b, c, repeat: int):
    """Time ``unit.golden`` on the full arrays; returns (record, y)."""
    seconds, result = best_of(lambda: unit.golden(a=a, b=b, c=c), repeat)
    return row("mpmac", len(a), seconds), result["y"]


def mpfr_context(fmt):
    """An MPFR context whose results are exactly those of IEEE-style ``fmt`` (RNE, subnormals)."""
    p = fmt.precision
    return gmpy2.context(precision=p, emin=fmt.emin - p + 2, emax=fmt.emax + 1, subnormalize=True,
                         round=gmpy2.RoundToNearest)


def to_mpfr(values) -> list:
    """Python floats to mpfr in the current context (1 * v: exact for values of the format, keeps -0,
    and several times faster than the ``mpfr(float)`` constructor)."""
    one = gmpy2.mpfr(1)
    return [one * v for v in values]


def gmpy2_mismatches(fmt, a, b, c, results, y) -> tuple[int, int]:
    """Compare gmpy2 results with mpmac's on finite, non-overflowing cases: (mismatches, checked)."""
    r = np.array([float(x) for x in results])
    finite_in = np.logical_and.reduce([np.isfinite(ops.decode(fmt, x)) for x in (a, b, c)])
    with np.errstate(invalid="ignore"):
        mask = finite_in & np.isfinite(r) & (np.abs(r) <= fmt.max_value)
    want = ops.encode(fmt, r[mask])[0]
    return int(np.count_nonzero(want != y[: len(r)][mask])), int(np.count_nonzero(mask))


def bench_gmpy2(fmt, a, b, c, y, repeat: int) -> list[dict]:
    """Time gmpy2.fma on prebuilt mpfr operands, and the full bits -> bits path; check the results."""
    ctx = mpfr_context(fmt)
    with ctx:
        A, B, C = (to_mpfr(ops.decode(fmt, x).tolist()) for x in (a, b, c))

    def raw():
        with ctx:
            return list(map(gmpy2.fma, A, B, C))

    def full():
        with ctx:
            args = [to_mpfr(ops.decode(fmt, x).tolist()) for x in (a, b, c)]
            out = np.fromiter(map(float, map(gmpy2.fma, *args)), dtype=np.float64, count=len(a))
        return ops.encode(fmt, out)[0]

    seconds, results = best_of(raw, repeat)
    mismatches, checked = gmpy2_mismatches(fmt, a, b, c, results, y)
    full_seconds, _ = best_of(full, repeat)
    return [row("gmpy2", len(a), seconds, mismatches, checked), row("gmpy2 bits", len(a), full_seconds)]


def posit_round(x: Fraction, n: int, es: int) -> int:
    """Exact posit(n, es) rounding of a rational: RNE on the bit string, saturating to minpos/maxpos.

    Independent of mpmac (formats-reference.md section 2.5); used only to adjudicate disagreements.
    """
    if x == 0:
        return 0
    mag = abs(x)
    k = mag.numerator.bit_length() - mag.denominator.bit_length()
    k -= Fraction(2) ** k > mag  # now 2^k <= mag < 2^(k+1)
    r, e = k >> es, k & ((1 << es) - 1)
    frac = mag / Fraction(2) ** k - 1  # dyadic, in [0, 1)
    fbits = frac.denominator.bit_length() - 1
    body = ("1" * (r + 1) + "0" if r >= 0 else "0" * -r + "1") + format(e, f"0{es}b")[:es] \
        + (format(frac.numerator, f"0{fbits}b") if fbits else "")
    keep, rest = body[: n - 1].ljust(n - 1, "0"), body[n - 1:]
    code = int(keep, 2) + (rest[:1] == "1" and ("1" in rest[1:] or keep[-1] == "1"))
    code = min(max(code, 1), (1 << (n - 1)) - 1)
    return (-code) & ((1 << n) - 1) if x < 0 else code


def bench_softposit(fmt, a, b, c, y, repeat: int) -> list[dict]:
    """Time SoftPosit's mulAdd on prebuilt posit objects, and the full bits -> bits path; check it.

    Where SoftPosit and mpmac disagree, the exact result decides: a case counts as a mismatch only if
    mpmac is wrong, and as a reference error if SoftPosit is (its p32_mulAdd misrounds now and then).
    """
    ptype, mul_add, to_double = SOFTPOSIT[fmt.name]

    def to_posits(x):
        out = []
        for v in x.tolist():
            p = ptype()
            p.v = v
            out.append(p)
        return out

    A, B, C = (to_posits(x) for x in (a, b, c))
    seconds, results = best_of(lambda: list(map(mul_add, A, B, C)), repeat)
    got = np.array([r.v for r in results], dtype=np.uint64)
    mismatches = reference_errors = 0
    for i in np.nonzero(got != y[: len(a)])[0]:
        values = [to_double(p[i]) for p in (A, B, C)]
        if all(np.isfinite(values)):
            fa, fb, fc = map(Fraction, values)
            want = posit_round(fa * fb + fc, fmt.nbits, fmt.es)
        else:  # NaR in, NaR out
            want = 1 << (fmt.nbits - 1)
        mismatches += int(y[i]) != want
        reference_errors += int(got[i]) != want

    def full():
        res = map(mul_add, to_posits(a), to_posits(b), to_posits(c))
        return np.fromiter((r.v for r in res), dtype=np.uint64, count=len(a))

    full_seconds, _ = best_of(full, repeat)
    return [row("softposit", len(a), seconds, mismatches, len(a), reference_errors),
            row("softposit bits", len(a), full_seconds)]


def bench_gfloat(fmt, a, b, c, repeat: int) -> list[dict]:
    """Time gfloat.round_ndarray of float64 a*b+c into ``fmt`` (rounding only, not an exact fma)."""
    if fmt.name not in GFLOAT_FORMATS:
        return []
    fi = getattr(gfloat.formats, "format_info_" + GFLOAT_FORMATS[fmt.name])
    with np.errstate(all="ignore"):
        x = ops.decode(fmt, a) * ops.decode(fmt, b) + ops.decode(fmt, c)
        seconds, _ = best_of(lambda: gfloat.round_ndarray(fi, x), repeat)
    return [row("gfloat round", len(a), seconds)]


# -- driver -----------------------------------------------------------------------------------------
def bench_format(name: str, dataset: str, args, rng) -> list[dict]:
    """All engines on one format and data set."""
    fmt = mpmac.format(name)
    unit = mpmac.unit("fma", a=name, b=name, c=name, out=name)
    a, b, c = make_inputs(fmt, dataset, args.n, rng)
    ref = [x[: args.n_ref] for x in (a, b, c)]
    first, y = bench_mpmac(unit, a, b, c, args.repeat)
    rows = [first]
    reference = bench_softposit if fmt.is_posit else bench_gmpy2
    rows += reference(fmt, *ref, y, args.repeat)
    rows += bench_gfloat(fmt, a, b, c, args.repeat)
    for r in rows:
        r.update(format=name, data=dataset, ratio=first["ops_per_s"] / r["ops_per_s"])
    return rows


def failures(records: list[dict]) -> list[str]:
    """Acceptance failures: mismatches, and mpmac rates or ratios below the issue's targets."""
    out = [f"{r['format']}/{r['data']}: mpmac differs from {r['engine']} on {r['mismatches']} case(s)"
           for r in records if r["mismatches"]]
    for r in records:
        if r["engine"] != "mpmac":
            continue
        narrow = mpmac.format(r["format"]).nbits <= 16
        floor = MIN_RATE_NARROW if narrow else MIN_RATE_WIDE
        if r["ops_per_s"] < floor:
            out.append(f"{r['format']}/{r['data']}: mpmac {r['ops_per_s'] / 1e6:.2f}M fma/s "
                       f"< {floor / 1e6:g}M")
        if narrow:
            ref = next(x for x in records if x["format"] == r["format"] and x["data"] == r["data"]
                       and x["engine"] in ("gmpy2", "softposit"))
            if ref["ratio"] < MIN_RATIO_NARROW:
                out.append(f"{r['format']}/{r['data']}: mpmac is {ref['ratio']:.2f}x {ref['engine']}, "
                           f"< {MIN_RATIO_NARROW:g}x")
    return out


def print_table(records: list[dict], warmups: dict) -> None:
    """The results as a Markdown table (pasted into docs/benchmarks.md)."""
    print("| format | data | engine | n | Mops/s | mpmac / engine | mismatches (checked) |")
    print("|---|---|---|---:|---:|---:|---|")
    for r in records:
        check = "" if r["mismatches"] is None else f"{r['mismatches']} ({r['checked']:,})"
        if r["reference_errors"]:
            check += f"; {r['engine']} misrounds {r['reference_errors']}"
        print(f"| {r['format']} | {r['data']} | {r['engine']} | {r['n']:,} | {r['ops_per_s'] / 1e6:.2f} | "
              f"{r['ratio']:.2f} | {check} |")
    print()
    print("mpmac warm-up (first encode/decode/fma: compile or cache load), seconds: "
          + ", ".join(f"{k} {v:.2f}" for k, v in warmups.items()))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=1_000_000, help="vectors for mpmac and gfloat")
    p.add_argument("--n-ref", type=int, default=200_000,
                   help="vectors for gmpy2 and SoftPosit (their rate is extrapolated)")
    p.add_argument("--seed", type=int, default=2024)
    p.add_argument("--repeat", type=int, default=3, help="timed runs per engine; the best counts")
    p.add_argument("--formats", default=",".join(FORMATS), help="comma-separated format names")
    p.add_argument("--data", default=",".join(DATASETS), help="comma-separated: gauss, bits")
    p.add_argument("--cpu", type=int, default=None, help="core to pin to (default: first allowed)")
    p.add_argument("--json", metavar="PATH", help="also write the records and machine info here")
    args = p.parse_args(argv)
    args.n_ref = min(args.n_ref, args.n)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    names = args.formats.split(",")
    cpu = pin_to_one_core(args.cpu)
    info = machine_info()
    print(f"# {info['cpu']}, {info['cores']} cores (load average {info['loadavg'][0]:.2f}), pinned to "
          f"cpu {cpu}; n={args.n:,}, n_ref={args.n_ref:,}, seed={args.seed}, best of {args.repeat}",
          flush=True)
    warmups = warm_up(names)
    rng = np.random.default_rng(args.seed)
    records = []
    for name in names:
        for dataset in args.data.split(","):
            rows = bench_format(name, dataset, args, rng)
            records += rows
            print(f"# {name}/{dataset}: mpmac {rows[0]['ops_per_s'] / 1e6:.2f}M fma/s", file=sys.stderr,
                  flush=True)
    print_table(records, warmups)
    failed = failures(records)
    print()
    print("\n".join("FAIL " + f for f in failed) if failed else "PASS: all targets met, 0 mismatches")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "cpu_pinned": cpu, "args": vars(args), "warmup_s": warmups,
                       "records": records, "failures": failed}, f, indent=2)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
