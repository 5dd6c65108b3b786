"""Numerical quality of a unit against an exact reference, so cost can be plotted against accuracy.

Every value here is a dyadic rational ``m * 2**e`` (Python ints), so the references are exact:
no float64 rounding enters, whatever the formats (docs/cost-energy.md, "Quality").

Per operation (``n`` operations, operands from :func:`mpmac.cost.energy.stimulus`):
    the unit's golden output ``y`` against the exact result ``x`` of its operation on the same
    (quantized) operands: mul ``a*b``, add ``a+b``, fma ``a*b+c``, convert ``a``; for a mac, one
    update: ``x = acc + a*b`` with ``acc`` the accumulator the hardware holds before the update
    (exact for kulisch/quire; the golden accumulator otherwise, read out in the ``acc`` format:
    for ``normalize="lazy:G"``, whose state has G more bits, that readout is rounded), against the
    readout ``y`` (the accumulator is cleared every ``mac_len`` updates).

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

Approximate variants (docs/approximate.md): the error of a unit against **its exact unit**, the same
unit with ``normalize="exact"`` and ``mul_approx="exact"`` (add, mul, fma, mac; an exact unit
reports zeros), on ``n`` operations drawn like the per-operation ones:
    add, mul, fma  one operation each;
    mac            a two-product update: cleared, ``acc = a1*b1``, then ``acc += a2*b2``, read out
                   (the first product loads an empty accumulator, so both units add the second
                   product to the same accumulator unless the multiplier is approximate).

    * ``quality.approx.ulp_hist``: counts of ``|y - r| / ulp(r)`` (``r`` the exact unit's output,
      ulp as above in the output format) in the bins of :func:`ulp_bin_labels`: exactly 0,
      ``(0, 1]``, ``(1, 2]``, ..., ``(2^23, 2^24]``, above ``2^24``;
    * ``quality.approx.max_ulp`` / ``quality.approx.mean_ulp``: max and mean of that error;
    * ``quality.approx.bias``: mean signed relative error ``(y - r) / r`` over ``r != 0``: positive
      when the variant's results are larger in magnitude;
    * ``quality.approx.mean_rel_err``: mean of ``|y - r| / |r|`` over ``r != 0``;
    * ``quality.approx.n``, ``quality.approx.n_special`` (a non-finite ``y`` or ``r``, left out).

Long accumulations (fma, mac; every variant, the exact one included, against exact arithmetic):
    * ``quality.dot_mean_rel_err.<L>`` for ``L`` in :data:`LONG_DOT_LENS` (64 ... 4096): the mean
      over ``long_trials`` trials of ``|s - x| / |x|``, ``s`` the unit's dot product of length
      ``L`` (chained as above: ``s <- fma(a_i, b_i, s)``, or the mac's readout), ``x`` the exact dot
      product of the quantized operands. The lengths are prefixes of one chain per trial (the
      readout after the first L terms). A trial with a non-finite ``s`` makes it ``inf`` (counted in
      ``quality.dot_long_nonfinite``); one whose exact ``x`` is 0 is left out. The mean has a
      heavy tail (a trial whose exact sum nearly cancels); ``quality.dot_nrms_err.<L>``, the
      normalized RMS error of the same trials (as ``dot_rel_err``), does not.
    * ``quality.layer_rel_err``: a layer ``Y = W X`` of :data:`LAYER` (outputs, fan-in, batch):
      weights Laplace with standard deviation 1 (trained weights are Laplace-like; the scale stands
      for a per-tensor quantization scale), activations ReLU of standard Gaussians, each quantized
      to its operand format (``a`` weights, ``b`` activations), drawn from a fixed seed. Each output
      is a dot product over the fan-in computed by the unit's chain; the error is the relative
      Frobenius norm ``||Y_unit - Y_exact|| / ||Y_exact||`` (exact products of the quantized
      operands).
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import time
from fractions import Fraction

import numpy as np

from .energy import DISTRIBUTIONS, _real_values, describe, quantize, stimulus, uniform_patterns

__all__ = ["measure", "exact_values", "ulp", "DOT_LEN", "exact_unit", "approx_errors", "long_dot",
           "layer_error", "layer_operands", "long_dot_operands", "dot_errors", "ulp_bin_labels",
           "LONG_DOT_LENS", "LONG_TRIALS", "LAYER", "ULP_EDGES"]

DOT_LEN = 1024

#: lengths of the long dot products (prefixes of one chain per trial)
LONG_DOT_LENS = (64, 256, 1024, 4096)

#: trials (chains) of the long dot products
LONG_TRIALS = 16

#: the layer workload: (outputs, fan-in, batch); a mac computes outputs * batch * fan-in steps
LAYER = (64, 256, 4)

#: upper edges of the ULP-error histogram bins above 0: (0, 1], (1, 2], ..., (2^23, 2^24]
ULP_EDGES = tuple(float(2 ** k) for k in range(25))

#: kinds with approximate variants (the ``quality.approx.*`` metrics) / with accumulation chains
APPROX_KINDS = ("add", "mul", "fma", "mac")
CHAIN_KINDS = ("fma", "mac")

# distinct random streams of the long dot products and the layer (see _rng_for)
_LONG_DOT_STREAM, _LAYER_STREAM = 0x10D07, 0x1A7E2


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
                          a, b, in_valid=np.ones(len(a), dtype=np.uint8), clear=clear, rand=rand,
                          mul_approx=unit.mul_code, normalize=unit.normalization)
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


# -- approximate variants against their exact unit ----------------------------------------------
def exact_unit(unit):
    """The same unit with ``normalize="exact"`` and ``mul_approx="exact"`` (``unit`` itself when it
    has no approximate parameter set)."""
    names = {f.name for f in dataclasses.fields(unit)}
    changes = {k: "exact" for k in ("normalize", "mul_approx")
               if k in names and getattr(unit, k) != "exact"}
    return dataclasses.replace(unit, **changes) if changes else unit


def ulp_bin_labels() -> list[str]:
    """Labels of the ``quality.approx.ulp_hist`` bins: "0", "<=1", "<=2", ..., ">2^24"."""
    def power(x):
        k = int(math.log2(x))
        return str(int(x)) if k < 10 else f"2^{k}"
    return ["0"] + [f"<={power(e)}" for e in ULP_EDGES] + [f">{power(ULP_EDGES[-1])}"]


def _histogram(ulps) -> list[int]:
    counts = [0] * (len(ULP_EDGES) + 2)
    for u in ulps:
        # bisect_left: edges[i-1] < u <= edges[i] lands in bin i + 1 (bin 0 holds the exact zeros)
        counts[0 if u == 0 else 1 + bisect.bisect_left(ULP_EDGES, u)] += 1
    return counts


def _mac_two_product_updates(unit, ops):
    """Readouts of a mac cleared every second update, after each second update."""
    n = len(ops["a"])
    clear = (np.arange(n) % 2 == 0).astype(np.uint8)
    y = unit.golden(a=ops["a"], b=ops["b"], in_valid=np.ones(n, dtype=np.uint8), clear=clear,
                    **({"rand": ops["rand"]} if "rand" in ops else {}))["y"]
    return y[1::2]


def _outputs(unit, ops):
    if unit.kind == "mac":
        return _mac_two_product_updates(unit, ops)
    return unit.golden(**ops)["y"]


def approx_errors(unit, distribution: str = "gaussian", n: int = 2048, seed: int = 0, values=None,
                  sigma: float = 1.0) -> dict:
    """``quality.approx.*``: ``unit`` against :func:`exact_unit` (see the module docstring)."""
    if unit.kind not in APPROX_KINDS:
        raise ValueError(f"no approximate variants for unit kind {unit.kind!r}; kinds: "
                         f"{', '.join(APPROX_KINDS)}")
    ops = stimulus(unit, distribution, 2 * n if unit.kind == "mac" else n, seed, values, sigma)
    ref = exact_unit(unit)
    y = _outputs(unit, ops)
    y_ref = y if ref is unit else _outputs(ref, ops)
    out_fmt = unit.fmt("out")
    grid = _Grid(out_fmt)
    ulps, rels, signed, special = [], [], [], 0
    for v, r in zip(exact_values(out_fmt, y), exact_values(out_fmt, y_ref)):
        if v is None or r is None:
            special += 1
            continue
        err = _add(v, (-r[0], r[1]))
        if err[0] == 0:
            ulps.append(0.0)
            if r[0]:
                rels.append(0.0)
                signed.append(0.0)
            continue
        ulps.append(_ratio((abs(err[0]), err[1]), grid.ulp(r)))
        if r[0]:
            s = _ratio(err, r)  # signed: > 0 when |v| > |r| (v and r share their sign)
            signed.append(s)
            rels.append(abs(s))
    return {
        "quality.approx.ulp_hist": _histogram(ulps),
        "quality.approx.max_ulp": max(ulps) if ulps else math.nan,
        "quality.approx.mean_ulp": float(np.mean(ulps)) if ulps else math.nan,
        "quality.approx.bias": float(np.mean(signed)) if signed else math.nan,
        "quality.approx.mean_rel_err": float(np.mean(rels)) if rels else math.nan,
        "quality.approx.n": len(ulps),
        "quality.approx.n_special": special,
    }


def _rel_err(v, x) -> float:
    """|v - x| / |x| for (m, e) values, x != 0."""
    err = _add(v, (-x[0], x[1]))
    return _ratio((abs(err[0]), err[1]), (abs(x[0]), x[1]))


def _rng_for(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), stream])


def _chain(unit, a, b, checkpoints) -> dict[int, list]:
    """Dot products of the rows of ``a`` and ``b`` (operand bit patterns, shape (rows, L)) chained
    through the unit: {k: exact values (m, e) of the first k terms' result per row} for k in
    ``checkpoints`` (the fma chain as in :func:`_dot`; the mac cleared at each row's start;
    stochastic rounding's random bits from a fixed stream)."""
    rows, length = a.shape
    fo = unit.fmt("out")
    rng = _rng_for(0, 1)
    if unit.kind == "mac":
        clear = (np.arange(rows * length) % length == 0).astype(np.uint8)
        rand = _rand(unit, rng, rows * length)
        y = unit.golden(a=a.ravel(), b=b.ravel(), in_valid=np.ones(rows * length, dtype=np.uint8),
                        clear=clear, **rand)["y"].reshape(rows, length)
        return {k: exact_values(fo, y[:, k - 1]) for k in checkpoints}
    if unit.kind != "fma":
        raise ValueError(f"no accumulation chain for unit kind {unit.kind!r}; kinds: "
                         f"{', '.join(CHAIN_KINDS)}")
    fc = unit.fmt("c")
    conv = None if fo == fc else _sibling(unit, "convert", a=fo, out=fc)
    s = np.zeros(rows, dtype=np.uint64)  # +0 in c's format
    out = {}
    for i in range(length):
        y = unit.golden(a=a[:, i], b=b[:, i], c=s, **_rand(unit, rng, rows))["y"]
        s = y if conv is None else conv.golden(a=y, **_rand(unit, rng, rows))["y"]
        if i + 1 in checkpoints:
            out[i + 1] = exact_values(fo, y)
    return out


def _exact_dots(unit, a, b, checkpoints) -> dict[int, list]:
    """The exact dot products of the first k terms of each row, as (m, e), for k in checkpoints."""
    fa, fb = unit.fmt("a"), unit.fmt("b")
    out = {k: [] for k in checkpoints}
    for ra, rb in zip(a, b):
        s = (0, 0)
        for i, (p, q) in enumerate(zip(exact_values(fa, ra), exact_values(fb, rb)), start=1):
            if s is not None:
                s = None if (p is None or q is None) else _add(s, _mul(p, q))
            if i in out:
                out[i].append(s)
    return out


def dot_errors(unit, a, b, lengths) -> dict[int, list[float]]:
    """Relative errors ``|s - x| / |x|`` of the dot products of the rows of ``a`` and ``b`` (bit
    patterns of the unit's operand formats, shape (rows, L)) over their first k terms, for k in
    ``lengths``: ``s`` through the unit's chain, ``x`` exact. A non-finite ``s`` (or operand) gives
    ``inf``, an exact ``x = 0`` gives ``nan``."""
    lengths = sorted(set(int(k) for k in lengths))
    if not lengths or lengths[0] < 1 or lengths[-1] > a.shape[1]:
        raise ValueError(f"lengths={lengths!r} must lie in 1..{a.shape[1]} (the rows' length)")
    results, exact = _chain(unit, a, b, lengths), _exact_dots(unit, a, b, lengths)
    return {k: _rel_errors(results[k], exact[k]) for k in lengths}


def _rel_errors(results, exact) -> list[float]:
    return [math.inf if s is None or x is None else math.nan if x[0] == 0 else _rel_err(s, x)
            for s, x in zip(results, exact)]


def long_dot_operands(unit, length: int, trials: int = LONG_TRIALS, distribution: str = "gaussian",
                      seed: int = 0, values=None, sigma: float = 1.0):
    """Bit patterns ``(a, b)`` of shape (trials, length): values drawn as reals (or uniform bit
    patterns), quantized to the operand formats."""
    draws = []
    for stream, role in enumerate(("a", "b")):
        fmt = unit.fmt(role)
        rng = _rng_for(seed, _LONG_DOT_STREAM + stream)
        if distribution == "uniform":
            draws.append(uniform_patterns(fmt, trials * length, rng))
        else:
            draws.append(quantize(fmt, _real_values(distribution, trials * length, rng, sigma,
                                                    values, role)))
    return tuple(d.reshape(trials, length) for d in draws)


def long_dot(unit, lengths=LONG_DOT_LENS, trials: int = LONG_TRIALS,
             distribution: str = "gaussian", seed: int = 0, values=None,
             sigma: float = 1.0) -> dict:
    """``quality.dot_mean_rel_err.<L>`` of an fma or mac (see the module docstring)."""
    lengths = sorted(set(int(k) for k in lengths))
    if trials < 1 or not lengths or lengths[0] < 1:
        raise ValueError(f"trials={trials!r} and lengths={lengths!r} must be >= 1")
    a, b = long_dot_operands(unit, lengths[-1], trials, distribution, seed, values, sigma)
    results, exact = _chain(unit, a, b, lengths), _exact_dots(unit, a, b, lengths)
    out = {}
    for k in lengths:
        errors = [e for e in _rel_errors(results[k], exact[k]) if not math.isnan(e)]
        out[f"quality.dot_mean_rel_err.{k}"] = float(np.mean(errors)) if errors else math.nan
        out[f"quality.dot_nrms_err.{k}"], bad = _dot_error(results[k], exact[k])
    out["quality.dot_long_trials"] = trials
    out["quality.dot_long_nonfinite"] = bad  # at the longest length
    return out


def layer_operands(unit, shape=LAYER, seed: int = 0):
    """Bit patterns (rows, fan-in) of a and b: row i*batch + j pairs weight row i with input j."""
    outputs, fan_in, batch = shape
    rng = _rng_for(seed, _LAYER_STREAM)
    weights = rng.laplace(0.0, 1.0 / math.sqrt(2.0), (outputs, fan_in))  # standard deviation 1
    inputs = np.maximum(rng.normal(0.0, 1.0, (fan_in, batch)), 0.0)
    w = quantize(unit.fmt("a"), weights)
    x = quantize(unit.fmt("b"), inputs)
    return np.repeat(w, batch, axis=0), np.tile(x.T, (outputs, 1))


def layer_error(unit, shape=LAYER, seed: int = 0) -> dict:
    """``quality.layer_rel_err`` of an fma or mac (see the module docstring)."""
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"layer shape={shape!r} must be (outputs, fan-in, batch), each >= 1")
    a, b = layer_operands(unit, shape, seed)
    fan_in = shape[1]
    results = _chain(unit, a, b, [fan_in])[fan_in]
    err, bad = _dot_error(results, _exact_dots(unit, a, b, [fan_in])[fan_in])
    return {"quality.layer_rel_err": err, "quality.layer_nonfinite": bad,
            "quality.layer": f"{shape[0]}x{shape[1]} weights (laplace, sd 1) x {shape[2]} "
                             f"relu(gaussian) inputs, seed {seed}"}


# -- public ------------------------------------------------------------------------------------------
def measure(unit, distribution: str = "gaussian", n: int = 2048, seed: int = 0, values=None,
            sigma: float = 1.0, dot_len: int = DOT_LEN, dot_trials: int = 16,
            mac_len: int = 64, long_dot_lens=LONG_DOT_LENS, long_trials: int = LONG_TRIALS,
            layer=LAYER) -> dict:
    """Numerical quality of ``unit`` against exact arithmetic and, for an approximate variant,
    against its exact unit (see the module docstring).

    Returns
    -------
    dict
        ``quality.max_ulp``, ``quality.mean_ulp``, ``quality.mean_rel_err`` (over ``n`` operations),
        ``quality.dot_rel_err`` (``dot_trials`` chained dot products of length ``dot_len``),
        ``quality.n``, ``quality.n_special``, ``quality.dot_len``, ``quality.dot_trials``,
        ``quality.dot_nonfinite``, ``quality.distribution``, ``quality.seed``; for add, mul, fma
        and mac the ``quality.approx.*`` metrics of :func:`approx_errors`; for fma and mac those of
        :func:`long_dot` (``long_dot_lens``, ``long_trials``; an empty ``long_dot_lens`` leaves
        them out) and :func:`layer_error` (``layer``; None leaves it out).
    """
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"distribution={distribution!r} is invalid; valid: {', '.join(DISTRIBUTIONS)}")
    if unit.kind == "simd":
        # its lanes and one rounding per update are the golden twin's (golden/simd.py); a
        # per-mode error measurement is not written yet
        raise ValueError(f"unit kind 'simd' ({unit.name}) is not measured by the quality layer; "
                         f"leave it out with providers=['energy']")
    if n < 1 or dot_len < 1 or dot_trials < 1:
        raise ValueError("n, dot_len and dot_trials must be >= 1")
    start = time.perf_counter()
    ops = stimulus(unit, distribution, n, seed, values, sigma)
    pairs = _per_op_pairs(unit, ops, mac_len)
    ulps, rels, special = _errors(unit.fmt("out"), pairs)
    results, exact = _dot(unit, distribution, seed, values, sigma, dot_len, dot_trials)
    dot_err, bad = _dot_error(results, exact)
    extra = {}
    if unit.kind in APPROX_KINDS:
        extra.update(approx_errors(unit, distribution, n, seed, values, sigma))
    if unit.kind in CHAIN_KINDS:
        if long_dot_lens:
            extra.update(long_dot(unit, long_dot_lens, long_trials, distribution, seed, values,
                                  sigma))
        if layer is not None:
            extra.update(layer_error(unit, layer, seed))
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
        **extra,
        "quality.seconds": round(time.perf_counter() - start, 3),
    }
