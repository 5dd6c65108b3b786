"""Test vectors for a unit: corner cases per format, targeted results, random patterns, exhaustive sets.

Everything is derived from the unit object: input ports and widths from ``unit.ports``, formats from
``unit.fmt(role)``, values through :func:`mpmac.golden.ops.decode` / :func:`~mpmac.golden.ops.encode_exact`.

:func:`generate` returns, for the stateless kinds (mul, add, fma, convert), a dict ``port -> uint64
array`` of equal lengths; for mac a list of sequences (each such a dict over cycles, see
:func:`mac_sequences`), which the testbenches separate by a ``rst`` cycle; for lane units (simd) such
sequences that switch ``mode`` (:func:`lane_sequences`).

Default mix for ``n`` random vectors of a stateless unit (when not exhaustive):

* corner operands: per format ±0, ±min subnormal, ±max subnormal, ±min normal, ±1 and its
  neighbours, ±0.5, ±1.5, ±2, ±max and its neighbour, Inf and the NaN codes the format has (posits:
  0, NaR, ±minpos, ±maxpos and neighbours); all combinations when they fit in a quarter of ``n``,
  else a random sample of them;
* targeted operands (up to a quarter): operands whose exact result lands on or next to an output
  tie (half-way between two neighbouring results, around 1, the smallest normal and in the
  subnormal range) or the overflow threshold (max + half an ulp), built with exact arithmetic and
  rounded once into the operand formats, with the neighbouring codes of the rounded operand;
* the rest: uniformly random bit patterns.

Exhaustive enumeration replaces all of that when the input space (all input bits, ``rand``
included) has at most :data:`AUTO_EXHAUSTIVE_BITS` bits, or on request up to
:data:`MAX_EXHAUSTIVE_BITS`.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from ..golden import ops
from ..golden.formats import FloatFormat

__all__ = ["AUTO_EXHAUSTIVE_BITS", "MAX_EXHAUSTIVE_BITS", "input_ports", "input_bits",
           "corner_codes", "exhaustive_vectors", "random_vectors", "targeted", "generate", "mac_sequences",
           "lane_sequences", "negate", "pack_lanes", "lane_operands"]

#: inputs enumerated exhaustively by default when they have at most this many bits in all
AUTO_EXHAUSTIVE_BITS = 16
#: largest input space ``exhaustive=True`` accepts (3-operand 6-bit formats have 18 bits; 8-bit fma 24)
MAX_EXHAUSTIVE_BITS = 24


def input_ports(unit) -> dict[str, int]:
    """Data input ports (name -> width) in port order: everything but clk and rst."""
    return {p: w for p, (d, w) in unit.ports.items() if d == "in" and p not in ("clk", "rst")}


def input_bits(unit) -> int:
    """Bits of the whole input space of a stateless unit (operands and rand)."""
    return sum(input_ports(unit).values())


def _mask(width: int) -> np.uint64:
    return np.uint64((1 << width) - 1) if width < 64 else np.uint64(0xFFFF_FFFF_FFFF_FFFF)


def _value(fmt, code: int) -> Fraction | None:
    """Exact value of a code, None for NaN/Inf/NaR."""
    v = float(ops.decode(fmt, np.asarray([code], dtype=ops.bits_dtype(fmt)))[0])
    if v != v or v in (float("inf"), float("-inf")):
        return None
    return Fraction(v)  # float64 holds every value of formats up to 64 bits exactly


def _code(fmt, value) -> int:
    return int(ops.encode_exact(fmt, value)[0])


def corner_codes(fmt) -> np.ndarray:
    """Corner-case bit patterns of a format (sorted, unique), from its properties."""
    sign = fmt.sign_mask
    codes = {0, fmt.max_code, max(fmt.max_code - 1, 0)}
    if fmt.is_posit:
        codes |= {fmt.nar_code, 1, 2, fmt.max_code - 2}
    else:
        mb = fmt.man_bits
        if mb and fmt.subnormals:
            codes |= {1, (1 << mb) - 1, 2}
        codes |= {1 << mb, (1 << mb) + 1}  # smallest normals
        for special in (fmt.inf_code, fmt.nan_code):
            if special is not None:
                codes.add(special)
        if fmt.has_nan and fmt.specials.value == "ieee":  # every NaN shape: quiet, signalling
            top = fmt.exp_field_max << mb
            codes |= {top | (1 << mb) - 1, top | 1 << max(mb - 1, 0), top | 1} - {top}
    for v in ("1", "0.5", "1.5", "2", "3"):
        c = _code(fmt, v)
        codes |= {c, c + 1, c - 1}
    codes = {c & ((1 << fmt.nbits) - 1) for c in codes}
    codes |= {c | sign for c in codes}
    return np.asarray(sorted(codes), dtype=np.uint64)


def exhaustive_vectors(unit, limit_bits: int = MAX_EXHAUSTIVE_BITS) -> dict[str, np.ndarray]:
    """Every combination of input bit patterns (first port varies slowest)."""
    ports = input_ports(unit)
    bits = sum(ports.values())
    if bits > limit_bits:
        raise ValueError(f"{unit.name}: the input space has {bits} bits; exhaustive enumeration is "
                         f"limited to {limit_bits} bits (2^{limit_bits} vectors)")
    idx = np.arange(1 << bits, dtype=np.uint64)
    out, shift = {}, bits
    for p, w in ports.items():
        shift -= w
        out[p] = (idx >> np.uint64(shift)) & _mask(w)
    return out


def random_vectors(unit, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Uniformly random bit patterns for every input port."""
    return {p: rng.integers(0, 1 << w, n, dtype=np.uint64, endpoint=False) if w < 64
            else rng.integers(0, 1 << 63, n, dtype=np.uint64) * np.uint64(2)
            + rng.integers(0, 2, n, dtype=np.uint64)
            for p, w in input_ports(unit).items()}


def _targets(out) -> list[Fraction]:
    """Exact results on output ties and around the overflow threshold of format ``out``."""
    targets = []
    one = _code(out, "1")
    near = [one - 1, one, one + 1, 1, 2, 3]
    if not out.is_posit:
        near += [1 << out.man_bits, (1 << out.man_bits) - 1]  # smallest normal, largest subnormal
    near += [out.max_code - 1]
    for c in sorted(set(near)):
        lo, hi = _value(out, c), _value(out, c + 1)
        if lo is not None and hi is not None and hi > lo:
            targets.append((lo + hi) / 2)  # a tie
    top, below = _value(out, out.max_code), _value(out, out.max_code - 1)
    if top is not None and below is not None:
        half_ulp = (top - below) / 2
        targets += [top + half_ulp, top + half_ulp / 2, top + 3 * half_ulp / 2]  # overflow threshold
    if not out.is_posit and out.subnormals and out.man_bits:
        tiny = _value(out, 1)
        targets += [tiny / 2, tiny / 4, 3 * tiny / 4]  # underflow to zero or min subnormal
    return targets + [-t for t in targets]


def _around(fmt, value: Fraction) -> list[int]:
    """The code of ``value`` rounded into ``fmt`` and its two neighbours (same sign)."""
    if value == 0:
        return [0]
    try:
        c = _code(fmt, value)
    except (OverflowError, ValueError, ZeroDivisionError):
        return []
    mag, sign = c & ~fmt.sign_mask, c & fmt.sign_mask
    if fmt.is_posit and c >= fmt.sign_mask:  # posits: two's complement negatives
        return [c, (c - 1) & ((1 << fmt.nbits) - 1), (c + 1) & ((1 << fmt.nbits) - 1)]
    return [sign | m for m in (mag - 1, mag, mag + 1) if 0 <= m <= fmt.max_code]


def targeted(unit, rng: np.random.Generator, limit: int) -> dict[str, np.ndarray]:
    """Operands whose exact result is a tie or near the overflow threshold of the output format."""
    ops_ = unit.operands
    fmts = {r: unit.fmt(r) for r in ops_}
    helpers = {r: [v for v in (_value(fmts[r], int(c)) for c in corner_codes(fmts[r]))
                   if v is not None and v != 0] for r in ops_}
    rows = []
    for t in _targets(unit.fmt("out")):
        if unit.kind == "convert":
            rows += [(c,) for c in _around(fmts["a"], t)]
            continue
        for _ in range(3):
            if unit.kind == "mul":
                free, solved = ("b", "a") if rng.random() < 0.5 else ("a", "b")
                h = helpers[free][rng.integers(len(helpers[free]))]
                for c in _around(fmts[solved], t / h):
                    rows.append({free: _code(fmts[free], h), solved: c})
            elif unit.kind == "add":
                if rng.random() < 0.4:  # two halves: both operands large, near t/2
                    for ca in _around(fmts["a"], t / 2):
                        a_val = _value(fmts["a"], ca)
                        if a_val is not None:
                            rows += [{"a": ca, "b": cb} for cb in _around(fmts["b"], t - a_val)]
                    continue
                free, solved = ("b", "a") if rng.random() < 0.5 else ("a", "b")
                h = helpers[free][rng.integers(len(helpers[free]))]
                for c in _around(fmts[solved], t - h):
                    rows.append({free: _code(fmts[free], h), solved: c})
            elif unit.kind == "fma":
                ha = helpers["a"][rng.integers(len(helpers["a"]))]
                hb = helpers["b"][rng.integers(len(helpers["b"]))]
                ca, cb = _code(fmts["a"], ha), _code(fmts["b"], hb)
                if rng.random() < 0.5:  # the addend lands the sum on the target
                    for c in _around(fmts["c"], t - ha * hb):
                        rows.append({"a": ca, "b": cb, "c": c})
                else:  # the product does, plus a small or zero addend
                    for c in _around(fmts["a"], t / hb):
                        rows.append({"a": c, "b": cb, "c": 0})
    rows = [r if isinstance(r, dict) else dict(zip(ops_, r)) for r in rows]
    if len(rows) > limit:
        keep = rng.choice(len(rows), limit, replace=False)
        rows = [rows[i] for i in sorted(keep)]
    out = {r: np.asarray([row[r] for row in rows], dtype=np.uint64) for r in ops_}
    if "rand" in unit.ports:
        out["rand"] = rng.integers(0, 1 << unit.ports["rand"][1], len(rows), dtype=np.uint64)
    return out


def _corner_product(unit, rng, limit: int) -> dict[str, np.ndarray]:
    ops_ = unit.operands
    sets = [corner_codes(unit.fmt(r)) for r in ops_]
    total = int(np.prod([len(s) for s in sets]))
    if total <= limit:
        grids = np.meshgrid(*sets, indexing="ij")
        out = {r: g.reshape(-1) for r, g in zip(ops_, grids)}
    else:
        out = {r: s[rng.integers(0, len(s), limit)] for r, s in zip(ops_, sets)}
    if "rand" in unit.ports:
        w = unit.ports["rand"][1]
        k = len(out[ops_[0]])
        out["rand"] = np.where(rng.random(k) < 0.5, rng.integers(0, 2, k).astype(np.uint64)
                               * _mask(w), rng.integers(0, 1 << w, k, dtype=np.uint64))
    return out


def _concat(parts: list[dict]) -> dict[str, np.ndarray]:
    keys = parts[0].keys()
    return {k: np.concatenate([p[k].astype(np.uint64) for p in parts]) for k in keys}


def generate(unit, n: int = 10_000, seed: int = 0, exhaustive: bool | None = None):
    """Vectors for ``unit``: see the module docstring. ``exhaustive``: None = automatic
    (input space <= 2^AUTO_EXHAUSTIVE_BITS), True = required, False = never."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"vectors={n!r} is invalid: it must be an int >= 1")
    rng = np.random.default_rng(seed)
    if unit.sequential:
        if exhaustive:
            raise ValueError(f"{unit.kind} units are checked with random sequences; exhaustive "
                             f"enumeration applies to stateless units")
        if getattr(unit, "lanes", None) is not None:
            return lane_sequences(unit, n, rng)
        return mac_sequences(unit, n, rng)
    bits = input_bits(unit)
    if exhaustive or (exhaustive is None and bits <= AUTO_EXHAUSTIVE_BITS):
        return exhaustive_vectors(unit)
    corners = _corner_product(unit, rng, max(1, n // 4))
    k = len(next(iter(corners.values())))
    parts = [corners]
    if k < n:
        tgt = targeted(unit, rng, max(0, min(n // 4, n - k)))
        if len(next(iter(tgt.values()))):
            parts.append(tgt)
            k += len(next(iter(tgt.values())))
    if k < n:
        parts.append(random_vectors(unit, n - k, rng))
    vecs = _concat(parts)
    return {p: a[:n] for p, a in vecs.items()}


def _moderate_codes(fmt, n: int, rng) -> np.ndarray:
    """Random finite values of moderate magnitude (so that accumulations stay finite for a while)."""
    if fmt.is_posit:
        one = _code(fmt, "1")
        spread = max(1, (fmt.max_code - one) // 3)
        mag = rng.integers(max(1, one - spread), one + spread + 1, n, dtype=np.int64)
        neg = rng.random(n) < 0.5
        mag = np.where(neg, (1 << fmt.nbits) - mag, mag)
        return mag.astype(np.uint64)
    mb = fmt.man_bits
    bias_code = _code(fmt, "1") >> mb
    span = max(1, min(8, bias_code - 1))
    exp = rng.integers(max(1, bias_code - span), bias_code + span + 1, n, dtype=np.int64)
    exp = np.minimum(exp, (fmt.max_code >> mb))
    man = rng.integers(0, 1 << mb, n, dtype=np.int64) if mb else np.zeros(n, np.int64)
    codes = (exp << mb) | man
    codes = np.minimum(codes, fmt.max_code)
    sign = (rng.random(n) < 0.5).astype(np.int64) * fmt.sign_mask
    return (codes | sign).astype(np.uint64)


def mac_sequences(unit, cycles: int, rng, max_len: int = 48) -> list[dict[str, np.ndarray]]:
    """Random mac sequences of ``cycles`` cycles in all (each starts from reset).

    Operands mix moderate values (70 %), corner codes (15 %) and random bit patterns; ``in_valid``
    is high 85 % of the time, ``clear`` 10 % (with and without ``in_valid``), and the first
    sequences pin the mode switches: clear on the first cycle, back-to-back clears, idle cycles
    between accumulations, a clear while idle.
    """
    ports = input_ports(unit)
    seqs = []
    left = cycles
    scripted = [  # (in_valid, clear) patterns of the first sequences
        [(1, 1), (1, 0), (1, 0), (1, 1), (1, 1), (1, 0)],
        [(1, 0), (0, 0), (0, 1), (1, 0), (0, 0), (1, 1), (1, 0)],
        [(0, 0), (0, 0), (1, 0), (1, 0)],
    ]
    while left > 0:
        if scripted:
            pattern = scripted.pop(0)[:left]
            length = len(pattern)
            valid = np.asarray([p[0] for p in pattern], dtype=np.uint64)
            clear = np.asarray([p[1] for p in pattern], dtype=np.uint64)
        else:
            length = int(min(left, rng.integers(1, max_len + 1)))
            valid = (rng.random(length) < 0.85).astype(np.uint64)
            clear = (rng.random(length) < 0.10).astype(np.uint64)
        seq = {}
        for role in unit.operands:
            fmt = unit.fmt(role)
            moderate = _moderate_codes(fmt, length, rng)
            corners = corner_codes(fmt)
            corner = corners[rng.integers(0, len(corners), length)]
            rand_bits = rng.integers(0, 1 << fmt.nbits, length, dtype=np.uint64)
            pick = rng.random(length)
            seq[role] = np.where(pick < 0.70, moderate, np.where(pick < 0.85, corner, rand_bits))
        seq["in_valid"], seq["clear"] = valid, clear
        if "rand" in ports:
            seq["rand"] = rng.integers(0, 1 << ports["rand"], length, dtype=np.uint64)
        seqs.append({p: seq[p] for p in ports})
        left -= length
    return seqs


# --- lane units (simd): operand words built lane by lane ---------------------------------------
def negate(fmt, codes: np.ndarray) -> np.ndarray:
    """Codes of the negated values (posits: two's complement; floats: the sign bit)."""
    if fmt.is_posit:
        return ((-codes.astype(np.int64)) & ((1 << fmt.nbits) - 1)).astype(np.uint64)
    return codes ^ np.uint64(fmt.sign_mask)


def pack_lanes(lanes, per_lane: np.ndarray) -> np.ndarray:
    """Operand words from lane codes (shape: lanes x cycles), lane i in bits [i*n, (i+1)*n)."""
    word = np.zeros(per_lane.shape[1], dtype=np.uint64)
    for i, codes in enumerate(per_lane):
        word |= codes.astype(np.uint64) << np.uint64(i * lanes.fmt.nbits)
    return word


def _lane_codes(fmt, shape, rng) -> np.ndarray:
    """Random lane codes: a third corner codes, the rest uniform bit patterns; four in five
    NaN/NaR/Inf codes are redrawn as finite ones (a NaN sticks in an accumulator until the next
    clear and would hide the sums of the cycles in between)."""
    corners = corner_codes(fmt)
    codes = rng.integers(0, 1 << fmt.nbits, shape, dtype=np.uint64)
    codes = np.where(rng.random(shape) < 1 / 3, corners[rng.integers(0, len(corners), shape)], codes)
    is_finite = np.isfinite(ops.decode(fmt, codes.reshape(-1))).reshape(shape)
    finite = codes[is_finite]
    if finite.size == 0:  # no cycles (or no finite code drawn): nothing to redraw from
        return codes
    redraw = ~is_finite & (rng.random(shape) < 0.8)
    return np.where(redraw, finite[rng.integers(0, len(finite), shape)], codes)


def lane_operands(lanes, n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Operand words ``a``, ``b`` of ``n`` cycles in one lane mode (see :func:`_lane_codes`); in a
    quarter of them the lane products cancel in pairs (lane 1 = -lane 0, lane 3 = -lane 2), so that
    the lane sum is exactly zero and its sign follows the zero-sum rule."""
    shape = (lanes.count, n)
    a, b = _lane_codes(lanes.fmt, shape, rng), _lane_codes(lanes.fmt, shape, rng)
    cancel = rng.random(n) < 0.25
    for even in range(0, lanes.count - 1, 2):
        a[even + 1] = np.where(cancel, negate(lanes.fmt, a[even]), a[even + 1])
        b[even + 1] = np.where(cancel, b[even], b[even + 1])
    return pack_lanes(lanes, a), pack_lanes(lanes, b)


def lane_sequences(unit, cycles: int, rng, max_len: int = 64) -> list[dict[str, np.ndarray]]:
    """Random sequences of a lane unit (``unit.lanes``: one lane mode per ``mode`` value) of
    ``cycles`` cycles in all, each from reset: ``mode`` switches on any cycle and takes every value
    its port holds (modes beyond the list included, with random words), operands per
    :func:`lane_operands` in the cycle's mode, ``in_valid`` high 85 % and ``clear`` 20 % of the time.
    """
    ports = input_ports(unit)
    seqs, left = [], cycles
    while left > 0:
        n = int(min(left, rng.integers(1, max_len + 1)))
        mode = rng.integers(0, 1 << ports["mode"], n, dtype=np.uint64)
        a = rng.integers(0, 1 << ports["a"], n, dtype=np.uint64)
        b = rng.integers(0, 1 << ports["b"], n, dtype=np.uint64)
        for k, lanes in enumerate(unit.lanes):
            at = mode == k
            a[at], b[at] = lane_operands(lanes, int(at.sum()), rng)
        seqs.append({"mode": mode, "a": a, "b": b,
                     "in_valid": (rng.random(n) < 0.85).astype(np.uint64),
                     "clear": (rng.random(n) < 0.20).astype(np.uint64)})
        left -= n
    return seqs
