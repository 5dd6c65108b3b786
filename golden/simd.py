"""Mixed-precision SIMD engine golden model: the cycle-by-cycle twin of the ``simd`` contract.

An engine has a fixed ``width`` and a list of *modes*; mode ``k`` splits ``a`` and ``b`` into
``lanes`` lanes of one format each (lane i in bits ``[i*n, (i+1)*n)``). The ``mode`` input picks the
mode of each cycle; a ``mode`` beyond the list makes the edge a no-op (as if ``in_valid`` were low).

``reduce="dot"``: on a rising edge with ``in_valid``,
``acc <- round_acc((clear ? 0 : acc) + sum_i a_i*b_i)``: the lane products and the accumulator are
summed exactly and rounded once (rounded accumulation in a float format), or added exactly into a
Kulisch register (``acc="kulisch[:W]"``, LSB = the smallest product quantum of any mode). ``y`` is
the accumulator rounded to ``out``; ``flags`` = the OR of the update flags since the last clear, OR
the readout's flags (as for the mac, golden/mac.py).

``reduce="lanes"``: on a rising edge with ``in_valid``, ``y`` registers the lane-wise products, each
rounded to its lane's format, packed as the operands are; ``flags`` registers the OR of the lanes'
flags. ``rst`` clears both to 0; ``clear`` has no effect.

A zero sum of several terms takes the IEEE rule for every term at once: it is -0 only if every
active lane product (and the accumulator) is -0, or, rounding toward -inf, if any of them is
negative. That is the fold of the two-term rule over the lanes in any order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from . import core, kernels
from .formats import Format, parse_format
from .mac import KULISCH_CARRY_BITS, Accumulator, _ExactState, quantum_exp, rounded_accumulator
from .ops import bits_dtype
from .rounding import RoundingContext

__all__ = ["Lanes", "parse_modes", "parse_simd_accumulator", "REDUCTIONS", "DEFAULT_MODES",
           "sum_terms", "run"]

#: the XR-NPE mode set: FP4 (OCP E2M1), posit(4,1), posit(8,0) and posit(16,1) on a 16-bit word
DEFAULT_MODES = "4xe2m1,4xposit4_1,2xposit8_0,1xposit16_1"
#: what the engine does with the lane products
REDUCTIONS = ("dot", "lanes")

_MODE_RE = re.compile(r"(\d+)x(.+)")


@dataclass(frozen=True)
class Lanes:
    """One mode: ``count`` lanes of format ``fmt``, lane i in bits [i*n, (i+1)*n) of a and b."""

    count: int
    fmt: Format

    @property
    def name(self) -> str:
        return f"{self.count}x{self.fmt.name}"

    @property
    def bits(self) -> int:
        return self.count * self.fmt.nbits

    def split(self, word: int) -> list[int]:
        """The lane bit patterns of an operand word."""
        n = self.fmt.nbits
        return [(word >> (i * n)) & ((1 << n) - 1) for i in range(self.count)]


def parse_modes(modes, width: int) -> tuple[Lanes, ...]:
    """Parse a mode list (``"4xe2m1,2xe4m3"`` or a sequence of such items) for a ``width``-bit word.

    Raises
    ------
    ValueError
        An item that is not ``<count>x<format>``, an unknown format, a count < 1, no modes, or
        lanes that do not fit the width (naming the item).
    """
    if not isinstance(width, int) or isinstance(width, bool) or width < 1:
        raise ValueError(f"width={width!r} is invalid: it must be an int >= 1")
    items = modes.split(",") if isinstance(modes, str) else list(modes)
    parsed = []
    for item in items:
        if isinstance(item, Lanes):
            lanes = item
        else:
            text = str(item).strip()
            match = _MODE_RE.fullmatch(text)
            if match is None:
                raise ValueError(f"mode {text!r} is invalid: expected <lanes>x<format>, "
                                 f"e.g. 4xe2m1 or 2xposit8_0")
            try:
                fmt = parse_format(match[2])
            except ValueError as e:
                raise ValueError(f"mode {text!r}: {e}") from None
            lanes = Lanes(int(match[1]), fmt)
        if lanes.count < 1:
            raise ValueError(f"mode {lanes.name!r} is invalid: it needs at least one lane")
        if lanes.bits > width:
            raise ValueError(f"mode {lanes.name!r} needs {lanes.bits} bits, more than "
                             f"width={width}")
        parsed.append(lanes)
    if not parsed:
        raise ValueError("modes is empty: give at least one <lanes>x<format> mode")
    return tuple(parsed)


def parse_simd_accumulator(spec, modes: tuple[Lanes, ...]) -> Accumulator:
    """An engine's accumulator: a format, or ``kulisch[:W]`` over every mode's lane products.

    The Kulisch LSB is the smallest product quantum of any mode; the default width holds the
    largest lane sum of any mode plus :data:`~.mac.KULISCH_CARRY_BITS` carry bits and a sign.

    Raises
    ------
    ValueError
        ``quire`` (one posit format only: use kulisch), an unknown spec, or a width too small.
    """
    text = spec.strip().lower() if isinstance(spec, str) else None
    if text and text.startswith("quire"):
        raise ValueError(f"acc={spec!r} is invalid for simd: a quire belongs to one posit format; "
                         f"use 'kulisch[:W]' (exact over every mode) or a format")
    match = re.fullmatch(r"kulisch(?::(\d+))?", text) if text else None
    if match is None:
        return rounded_accumulator(spec, "a format or 'kulisch[:W]'")
    lsb = min(2 * quantum_exp(lanes.fmt) for lanes in modes)
    largest = max(Fraction(lanes.fmt.max_value) ** 2 * lanes.count for lanes in modes)
    needed = int(largest / Fraction(2) ** lsb).bit_length() + 1
    width = int(match[1]) if match[1] else needed + KULISCH_CARRY_BITS
    if width < needed:
        raise ValueError(f"acc={spec!r}: width {width} cannot hold one lane sum; at least "
                         f"{needed} bits are needed")
    return Accumulator(spec=text, width=width, lsb_exp=lsb)


def sum_terms(terms, round_down: bool):
    """Exact sum of core terms (cls, sign, mag, exp, invalid); a FINITE result keeps the smallest
    exponent of its terms. Zero results follow the module docstring's rule."""
    invalid = 0
    for t in terms:
        invalid |= t[4]
    classes = [t[0] for t in terms]
    if core.NAN in classes:
        return core.NAN, 0, 0, 0, invalid
    infinite = {t[1] for t in terms if t[0] == core.INF}
    if len(infinite) == 2:
        return core.NAN, 0, 0, 0, 1
    if infinite:
        return core.INF, infinite.pop(), 0, 0, invalid
    finite = [t for t in terms if t[0] == core.FINITE]
    if finite:
        low = min(t[3] for t in finite)
        total = sum((-1) ** t[1] * (t[2] << (t[3] - low)) for t in finite)
        if total:
            return core.FINITE, int(total < 0), abs(total), low, invalid
    signs = [t[1] for t in terms]
    return core.ZERO, int(any(signs) if round_down else all(signs)), 0, 0, invalid


def lane_products(lanes: Lanes, a: int, b: int) -> list:
    """The exact products of the lanes of two operand words, as core terms."""
    d = kernels.describe(lanes.fmt, wide=True)
    return [core.product(core.operand(d, x), core.operand(d, y))
            for x, y in zip(lanes.split(a), lanes.split(b))]


def _inputs(n_modes, mode, a, b, in_valid, clear):
    arrays = [np.asarray(x) for x in (mode, a, b, 1 if in_valid is None else in_valid,
                                      0 if clear is None else clear)]
    shape = np.broadcast_shapes(*(x.shape for x in arrays))
    if len(shape) != 1:
        raise ValueError(f"simd inputs are sequences (1-D over cycles); got shape {shape}")
    mode, a, b, valid, clr = ([int(v) for v in np.broadcast_to(x, shape)] for x in arrays)
    valid = [v and k < n_modes for v, k in zip(valid, mode)]
    return mode, a, b, valid, clr


def run(modes: tuple[Lanes, ...], reduce: str, acc: Accumulator | None, out: Format | None,
        ctx: RoundingContext, mode, a, b, in_valid=None, clear=None):
    """Run an engine over a sequence of cycles. Returns (y, flags) arrays, one entry per edge."""
    mode, a, b, valid, clr = _inputs(len(modes), mode, a, b, in_valid, clear)
    if reduce == "lanes":
        return _run_lanes(modes, ctx, mode, a, b, valid)
    return _run_dot(modes, acc, out, ctx, mode, a, b, valid, clr)


def _run_lanes(modes, ctx, mode, a, b, valid):
    cx = kernels.context(ctx)
    width_bits = max(lanes.bits for lanes in modes)
    y = np.zeros(len(a), dtype=_word_dtype(width_bits))
    flags = np.zeros(len(a), dtype=np.uint8)
    word, word_flags = 0, 0
    for t in range(len(a)):
        if valid[t]:
            lanes = modes[mode[t]]
            d = kernels.describe(lanes.fmt, wide=True)
            word, word_flags = 0, 0
            for i, prod in enumerate(lane_products(lanes, a[t], b[t])):
                code, f = core.round_term(d, prod, cx, 0)
                word |= code << (i * lanes.fmt.nbits)
                word_flags |= f
        y[t], flags[t] = word, word_flags
    return y, flags


def _word_dtype(nbits: int):
    """The smallest unsigned dtype of a packed lane word (object beyond 64 bits)."""
    for dtype in (np.uint8, np.uint16, np.uint32, np.uint64):
        if nbits <= np.dtype(dtype).itemsize * 8:
            return dtype
    return object


def _run_dot(modes, acc, out, ctx, mode, a, b, valid, clr):
    cx = kernels.context(ctx)
    round_down = ctx.mode == "rdn"
    do = kernels.describe(out, wide=True)
    y = np.zeros(len(a), dtype=bits_dtype(out))
    flags = np.zeros(len(a), dtype=np.uint8)
    sticky = 0
    if acc.exact:
        state = _ExactState(acc)
    else:
        dacc = kernels.describe(acc.fmt, wide=True)
        acc_code = 0
    for t in range(len(a)):
        if valid[t]:
            if clr[t]:
                sticky = 0
            lanes = modes[mode[t]]
            products = lane_products(lanes, a[t], b[t])
            if acc.exact:
                if clr[t]:
                    state.clear()
                state.add_product(sum_terms(products, round_down))
            else:
                base = core.operand(dacc, 0 if clr[t] else acc_code)
                total = sum_terms(products + [base], round_down)
                acc_code, step_flags = core.round_term(dacc, total, cx, 0)
                sticky |= step_flags
        if acc.exact:
            term, extra = state.readout_term()
            code, read_flags = core.round_term(do, term, cx, 0)
            read_flags |= extra
        elif out == acc.fmt:
            code, read_flags = acc_code, 0
        else:
            code, read_flags = core.round_term(do, core.operand(dacc, acc_code), cx, 0)
        y[t] = code
        flags[t] = sticky | read_flags
    return y, flags
