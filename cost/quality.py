"""Numerical quality of a unit against an exact reference, so cost can be plotted against accuracy.

Every value here is a dyadic rational ``m * 2**e`` (Python ints), so the references are exact:
no float64 rounding enters, whatever the formats (docs/cost-energy.md, "Quality").

Per operation (``n`` operations, operands from :func:`mpmac.cost.energy.stimulus`):
    the unit's golden output ``y`` against the exact result ``x`` of its operation on the same
    (quantized) operands: mul ``a*b``, add ``a+b``, fma ``a*b+c``, convert ``a``; for a mac, one
    update: ``x = acc + a*b`` with ``acc`` the accumulator the hardware holds before the update
    (exact for kulisch/quire; the golden accumulator otherwise), against the readout ``y`` (the
    accumulator is cleared every ``mac_len`` updates).

    * ``quality.max_ulp`` / ``quality.mean_ulp``: ``|y - x| / ulp(x)``, where ``ulp(x)`` is the gap
      between the two output-format values bracketing ``|x|`` (the lower one included: the weight of
      the last place of ``x``'s representation; for floats ``2**(floor(log2|x|) - man_bits)``, at
      least the subnormal spacing). A correctly rounded rne result is within 0.5.
    * ``quality.mean_rel_err``: mean of ``|y - x| / |x|`` over ``x != 0``.
    * Operations whose exact result lies beyond the largest finite output value (overflow; for
      posits, saturation) or whose inputs or output are not finite are left out of these and counted
      in ``quality.n_special``.

A long dot product (``quality.dot_rel_err``), ``dot_trials`` dot products of length ``dot_len``
(1024), operands drawn like the per-operation ones, the unit chained the way hardware would use it:
    mac      the mac's golden model, cleared at the start of each dot product; the readout after
             the last product;
    fma      ``s <- fma(a_i, b_i, s)``, ``s`` starting at +0 in the addend format ``c`` (the output
             converted to ``c`` with the unit's rounding when ``out != c``);
    mul      each product rounded by the unit, accumulated by an adder in the output format with the
             unit's rounding (``s <- add(s, mul(a_i, b_i))``);
    add      a sum of ``dot_len`` values drawn for ``b``: ``s <- add(s, b_i)`` (``s`` converted to
             ``a``'s format when they differ);
    convert  ``a_i`` and ``b_i`` drawn in format ``a``, converted by the unit; the exact dot product
             of the converted values against that of the originals.
The reference is the exact dot product of the quantized operands. ``dot_rel_err`` is the
normalized RMS error ``sqrt(sum_k (s_k - x_k)^2 / sum_k x_k^2)`` over the trials (robust to a single
trial whose exact sum cancels to near zero); a trial with a non-finite result makes it ``inf``.
"""

from __future__ import annotations

import math
import time
from fractions import Fraction

import numpy as np

from .energy import DISTRIBUTIONS, _real_values, describe, quantize, stimulus, uniform_patterns

__all__ = ["measure", "exact_values", "ulp", "DOT_LEN"]

DOT_LEN = 1024


# -- exact values ----------------------------------------------------------------------------------
def exact_values(fmt, codes) -> list:
    """Bit patterns -> exact values ``(m, e)`` meaning ``m * 2**e`` (m signed; +-0 is ``(0, 0)``),
    or ``None`` for Inf, NaN and NaR."""
    from mpmac.golden import core, ops
    cls, sign, sig, exp = ops.unpack(fmt, np.asarray(codes))
    out = []
    for c, s, m, e in zip(cls.ravel().tolist(), sign.ravel().tolist(), sig.ravel().tolist(),
                          exp.ravel().tolist()):
        if c == core.ZERO:
            out.append((0, 0))
        elif c == core.FINITE:
            out.append((-m if s else m, e))
        else:
            out.append(None)
    return out


def _add(x, y):
    (mx, ex), (my, ey) = x, y
    if mx == 0:
        return y
    if my == 0:
        return x
    e = min(ex, ey)
    return ((mx << (ex - e)) + (my << (ey - e)), e)


def _mul(x, y):
    return (x[0] * y[0], x[1] + y[1])


def _frac(x) -> Fraction:
    m, e = x
    return Fraction(m) * (Fraction(2) ** e) if e < 0 else Fraction(m << e)


def _lt(x, y) -> bool:
    """x < y for (m, e) values."""
    d = _add(x, (-y[0], y[1]))
    return d[0] < 0


class _Grid:
    """Representable magnitudes of an output format, for ulp and overflow questions."""

    def __init__(self, fmt):
        self.fmt = fmt
        self.max_code = int(fmt.max_code)
        (self.max_value,) = exact_values(fmt, [self.max_code])
        self._cache = {}

    def value(self, code: int):
        v = self._cache.get(code)
        if v is None:
            (v,) = exact_values(self.fmt, [code])
            self._cache[code] = v
        return v

    def overflows(self, x) -> bool:
        return _lt(self.max_value, (abs(x[0]), x[1]))

    def ulp(self, x):
        """Gap between the representable magnitudes bracketing |x| (|x| <= the largest finite)."""
        from mpmac.golden import ops
        mag = (abs(x[0]), x[1])
        code, _ = ops.encode_exact(self.fmt, _frac(mag))
        code = int(code)
        if _lt(mag, self.value(code)):  # rounded up: step down to the lower neighbour
            code -= 1
        lo = code if code < self.max_code else self.max_code - 1
        low = self.value(lo)
        # the next larger value (without subnormals, subnormal codes read as zero: skip them)
        hi_code = lo + 1
        while hi_code < self.max_code and not _lt(low, self.value(hi_code)):
            hi_code += 1
        hi = self.value(hi_code)
        if not _lt(low, hi):  # only at the top: measure the gap below the largest value instead
            low = self.value(lo - 1)
        return _add(hi, (-low[0], low[1]))


def ulp(fmt, value) -> Fraction:
    """ulp of the format ``fmt`` at the exact value ``value`` (a Fraction or int), see module doc."""
    from mpmac.golden.formats import parse_format
    value = Fraction(value)
    fmt = parse_format(fmt)
    num, den = abs(value.numerator), value.denominator
    # value = num / den with den a power of two for dyadic values; scale otherwise
    if den & (den - 1):
        raise ValueError("ulp() needs a dyadic rational (a binary fraction)")
    x = (num, -(den.bit_length() - 1))
    grid = _Grid(fmt)
    if grid.overflows(x):
        raise ValueError(f"{value} is beyond the largest finite {fmt.name} value")
    return _frac(grid.ulp(x))


def _ratio(num, den) -> float:
    """float(num / den) for (m, e) values without overflow."""
    return float(_frac(num) / _frac(den)) if den[0] else math.inf


def _errors(out_fmt, pairs):
    """pairs of (exact x, output y) -> (ulp errors, relative errors, n_special)."""
    grid = _Grid(out_fmt)
    ulps, rels, special = [], [], 0
    for x, y in pairs:
        if x is None or y is None or grid.overflows(x):
            special += 1
            continue
        err = _add(y, (-x[0], x[1]))
        err = (abs(err[0]), err[1])
        ulps.append(_ratio(err, grid.ulp(x)))
        if x[0]:
            rels.append(_ratio(err, (abs(x[0]), x[1])))
    return ulps, rels, special


# -- per-operation references --------------------------------------------------------------------
def _per_op_pairs(unit, ops: dict, mac_len: int):
    kind = unit.kind
    if kind == "mac":
        return _mac_pairs(unit, ops, mac_len)
    y = exact_values(unit.fmt("out"), unit.golden(**ops)["y"])
    vals = {r: exact_values(unit.fmt(r), ops[r]) for r in unit.operands}
    xs = []
    for i in range(len(y)):
        args = [vals[r][i] for r in unit.operands]
        if any(v is None for v in args):
            xs.append(None)
        elif kind == "mul":
            xs.append(_mul(args[0], args[1]))
        elif kind == "add":
            xs.append(_add(args[0], args[1]))
        elif kind == "fma":
            xs.append(_add(_mul(args[0], args[1]), args[2]))
        elif kind == "convert":
            xs.append(args[0])
        else:
            raise ValueError(f"no quality reference for unit kind {kind!r}")
    return list(zip(xs, y))


def _mac_run(unit, a, b, clear, rand, out_fmt):
    from mpmac.golden import mac as golden_mac
    y, _ = golden_mac.run(unit.fmt("a"), unit.fmt("b"), unit.accumulator, out_fmt, unit.ctx,
                          a, b, in_valid=np.ones(len(a), dtype=np.uint8), clear=clear, rand=rand)
    return y


def _mac_pairs(unit, ops, mac_len):
    n = len(ops["a"])
    clear = (np.arange(n) % mac_len == 0).astype(np.uint8)
    rand = ops.get("rand")
    y = exact_values(unit.fmt("out"), _mac_run(unit, ops["a"], ops["b"], clear, rand, unit.fmt("out")))
    va, vb = exact_values(unit.fmt("a"), ops["a"]), exact_values(unit.fmt("b"), ops["b"])
    acc = unit.accumulator
    if acc.exact:
        held = None
    else:  # the accumulator itself: the same run read out in the accumulator format
        held = exact_values(acc.fmt, _mac_run(unit, ops["a"], ops["b"], clear, rand, acc.fmt))
    pairs, running = [], (0, 0)
    for t in range(n):
        if clear[t]:
            running = (0, 0)
        before = running if held is None else ((0, 0) if clear[t] else held[t - 1])
        if before is None or va[t] is None or vb[t] is None:
            x = None
        else:
            x = _add(before, _mul(va[t], vb[t]))
        if held is None:
            running = x if (x is not None and running is not None) else None
        pairs.append((x, y[t]))
    return pairs


# -- dot product -----------------------------------------------------------------------------------
def _draw(unit, fmt, role, distribution, n, seed, values, sigma):
    from .energy import _rng
    rng = _rng(seed + 7919, role)
    if distribution == "uniform":
        return uniform_patterns(fmt, n, rng)
    return quantize(fmt, _real_values(distribution, n, rng, sigma, values, role))


def _sibling(unit, kind, **formats):
    """A unit of another kind with this unit's rounding parameters (for chaining)."""
    import mpmac
    common = dict(rounding=unit.rounding, rand_bits=unit.rand_bits, saturate=unit.saturate,
                  subnormals=unit.subnormals, tininess=unit.tininess)
    return mpmac.unit(kind, **{k: v.name for k, v in formats.items()}, **common)


def _rand(unit, rng, shape):
    if unit.rounding != "sr":
        return {}
    return {"rand": rng.integers(0, 1 << unit.rand_bits, size=shape, dtype=np.uint64)}


def _dot(unit, distribution, seed, values, sigma, dot_len, trials):
    """(hardware results, exact results) of ``trials`` chained dot products, as (m, e) values."""
    kind = unit.kind
    rng = np.random.default_rng([seed, 104729])
    n = dot_len * trials
    fa = unit.fmt("a")
    if kind == "add":
        fx = unit.fmt("b")
        xs = _draw(unit, fx, "b", distribution, n, seed, values, sigma).reshape(trials, dot_len)
        vx = [exact_values(fx, row) for row in xs]
        exact = []
        for row in vx:
            s = (0, 0)
            for v in row:
                s = None if (s is None or v is None) else _add(s, v)
            exact.append(s)
        conv = None if unit.fmt("out") == fa else _sibling(unit, "convert", a=unit.fmt("out"), out=fa)
        s = np.zeros(trials, dtype=np.uint64)  # +0 in a's format
        y = s
        for i in range(dot_len):
            y = unit.golden(a=s, b=xs[:, i], **_rand(unit, rng, trials))["y"]
            s = y if conv is None else conv.golden(a=y, **_rand(unit, rng, trials))["y"]
        return exact_values(unit.fmt("out"), y), exact
    fb = fa if kind == "convert" else unit.fmt("b")
    a = _draw(unit, fa, "a", distribution, n, seed, values, sigma).reshape(trials, dot_len)
    b = _draw(unit, fb, "b", distribution, n, seed, values, sigma).reshape(trials, dot_len)
    va = [exact_values(fa, row) for row in a]
    vb = [exact_values(fb, row) for row in b]

    def exact_dot(xa, xb):
        s = (0, 0)
        for p, q in zip(xa, xb):
            if s is None or p is None or q is None:
                return None
            s = _add(s, _mul(p, q))
        return s

    exact = [exact_dot(xa, xb) for xa, xb in zip(va, vb)]
    if kind == "convert":
        fo = unit.fmt("out")
        ca = [exact_values(fo, unit.golden(a=row, **_rand(unit, rng, dot_len))["y"]) for row in a]
        cb = [exact_values(fo, unit.golden(a=row, **_rand(unit, rng, dot_len))["y"]) for row in b]
        return [exact_dot(x, y) for x, y in zip(ca, cb)], exact
    if kind == "mac":
        clear = (np.arange(n) % dot_len == 0).astype(np.uint8)
        rand = _rand(unit, rng, n).get("rand")
        y = _mac_run(unit, a.ravel(), b.ravel(), clear, rand, unit.fmt("out"))
        return exact_values(unit.fmt("out"), y[dot_len - 1::dot_len]), exact
    if kind == "fma":
        fc, fo = unit.fmt("c"), unit.fmt("out")
        conv = None if fo == fc else _sibling(unit, "convert", a=fo, out=fc)
        s = np.zeros(trials, dtype=np.uint64)
        y = s
        for i in range(dot_len):
            y = unit.golden(a=a[:, i], b=b[:, i], c=s, **_rand(unit, rng, trials))["y"]
            s = y if conv is None else conv.golden(a=y, **_rand(unit, rng, trials))["y"]
        return exact_values(fo, y), exact
    if kind == "mul":
        fo = unit.fmt("out")
        adder = _sibling(unit, "add", a=fo, b=fo, out=fo)
        s = np.zeros(trials, dtype=np.uint64)
        for i in range(dot_len):
            p = unit.golden(a=a[:, i], b=b[:, i], **_rand(unit, rng, trials))["y"]
            s = adder.golden(a=s, b=p, **_rand(unit, rng, trials))["y"]
        return exact_values(fo, s), exact
    raise ValueError(f"no dot-product chain for unit kind {kind!r}")


def _dot_error(results, exact) -> tuple[float, int]:
    num, den, bad = Fraction(0), Fraction(0), 0
    for r, x in zip(results, exact):
        if r is None or x is None:
            bad += 1
            continue
        fx = _frac(x)
        num += (_frac(r) - fx) ** 2
        den += fx ** 2
    if bad:
        return math.inf, bad
    if den == 0:
        return (0.0 if num == 0 else math.inf), bad
    return math.sqrt(float(num / den)), bad


# -- public ------------------------------------------------------------------------------------------
def measure(unit, distribution: str = "gaussian", n: int = 2048, seed: int = 0, values=None,
            sigma: float = 1.0, dot_len: int = DOT_LEN, dot_trials: int = 16,
            mac_len: int = 64) -> dict:
    """Numerical quality of ``unit`` against exact arithmetic (see the module docstring).

    Returns
    -------
    dict
        ``quality.max_ulp``, ``quality.mean_ulp``, ``quality.mean_rel_err`` (over ``n`` operations),
        ``quality.dot_rel_err`` (``dot_trials`` chained dot products of length ``dot_len``),
        ``quality.n``, ``quality.n_special``, ``quality.dot_len``, ``quality.dot_trials``,
        ``quality.dot_nonfinite``, ``quality.distribution``, ``quality.seed``.
    """
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"distribution={distribution!r} is invalid; valid: {', '.join(DISTRIBUTIONS)}")
    if n < 1 or dot_len < 1 or dot_trials < 1:
        raise ValueError("n, dot_len and dot_trials must be >= 1")
    start = time.perf_counter()
    ops = stimulus(unit, distribution, n, seed, values, sigma)
    pairs = _per_op_pairs(unit, ops, mac_len)
    ulps, rels, special = _errors(unit.fmt("out"), pairs)
    results, exact = _dot(unit, distribution, seed, values, sigma, dot_len, dot_trials)
    dot_err, bad = _dot_error(results, exact)
    return {
        "quality.max_ulp": max(ulps) if ulps else math.nan,
        "quality.mean_ulp": float(np.mean(ulps)) if ulps else math.nan,
        "quality.mean_rel_err": float(np.mean(rels)) if rels else math.nan,
        "quality.dot_rel_err": dot_err,
        "quality.n": len(ulps),
        "quality.n_special": special,
        "quality.dot_len": dot_len,
        "quality.dot_trials": dot_trials,
        "quality.dot_nonfinite": bad,
        "quality.distribution": describe(distribution, sigma, values),
        "quality.seed": seed,
        "quality.reference": "exact (integer mantissa/exponent arithmetic)",
        "quality.seconds": round(time.perf_counter() - start, 3),
    }
