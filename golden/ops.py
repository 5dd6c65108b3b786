"""Golden operations on arrays of bit patterns: mul, add, fma, convert, encode and decode.

Each operation takes the formats of its operands and output, a :class:`RoundingContext` and numpy
integer arrays of bit patterns (broadcast against each other), and returns ``(y, flags)``: ``y`` in the
smallest unsigned dtype that holds the output width, ``flags`` as uint8 (bit order in
:class:`~.rounding.Flags`). The arithmetic is :mod:`.core`'s, compiled when it fits in int64.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from . import core, kernels
from .formats import Format, parse_format
from .rounding import RoundingContext, guard_bits_needed

__all__ = ["mul", "add", "fma", "convert", "encode", "encode_exact", "decode", "bits_dtype",
           "sum_window"]


def bits_dtype(fmt: Format):
    """Smallest unsigned numpy dtype holding a bit pattern of ``fmt``."""
    for dtype in (np.uint8, np.uint16, np.uint32, np.uint64):
        if fmt.nbits <= np.iinfo(dtype).bits:
            return dtype
    raise AssertionError(fmt)


def sum_window(term_widths, out: Format, ctx: RoundingContext) -> int:
    """Width of the exact-sum window (see core.add_terms) for terms of the given significand widths."""
    return max(*term_widths, guard_bits_needed(out, ctx)) + 1


#: elements per compiled call: keeps the int64 staging buffers in the L2 cache
CHUNK = 1 << 15


def _run(loop_name, out: Format, ctx: RoundingContext, static: tuple, formats: tuple, operands: dict,
         rand, wide: bool):
    """Broadcast the operands, run a core loop (compiled, or Python for wide ones), shape the result."""
    if ctx.sr and rand is None:
        raise ValueError("rounding='sr' needs a rand input")
    arrays = [np.asarray(v) for v in operands.values()] + [np.asarray(rand if ctx.sr else 0)]
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    flat = [np.broadcast_to(a, shape).reshape(-1) for a in arrays]
    size = flat[0].size
    y = np.empty(size, dtype=bits_dtype(out))
    flags = np.empty(size, dtype=np.uint8)
    args = tuple(kernels.describe(f, wide) for f in formats + (out,)) + (kernels.context(ctx),) + static
    rand_mask = (1 << ctx.rand_bits) - 1
    if wide:
        inputs = [a.astype(np.uint64).astype(object) for a in flat]
        inputs[-1] = inputs[-1] & rand_mask
        y_obj = np.empty(size, dtype=object)
        flags_int = np.empty(size, dtype=np.int64)
        getattr(kernels.python, loop_name)(*args, *inputs, y_obj, flags_int)
        y[:] = y_obj.astype(np.uint64)
        flags[:] = flags_int
        return y.reshape(shape), flags.reshape(shape)
    loop = getattr(kernels.compiled, loop_name)
    staged = [np.empty(min(size, CHUNK), dtype=np.int64) for _ in range(len(flat) + 2)]
    for start in range(0, size, CHUNK):
        stop = min(start + CHUNK, size)
        bufs = [b[:stop - start] for b in staged]
        for buf, src in zip(bufs, flat):
            buf[:] = src[start:stop].view(np.int64) if src.dtype == np.uint64 else src[start:stop]
        bufs[len(flat) - 1] &= rand_mask
        loop(*args, *bufs)
        y[start:stop] = bufs[-2].view(np.uint64)
        flags[start:stop] = bufs[-1]
    return y.reshape(shape), flags.reshape(shape)


def _fits(*widths) -> bool:
    return max(widths) <= kernels.FAST_BITS


def mul(fa: Format, fb: Format, out: Format, ctx: RoundingContext, a, b, rand=None,
        mul_approx: int = core.M_EXACT):
    """a * b rounded once into ``out`` (``mul_approx``: a core.M_* multiplier variant)."""
    wide = not _fits(fa.precision + fb.precision, guard_bits_needed(out, ctx))
    if mul_approx != core.M_EXACT:
        return _run("mulv_loop", out, ctx, (mul_approx,), (fa, fb), dict(a=a, b=b), rand, wide)
    return _run("mul_loop", out, ctx, (), (fa, fb), dict(a=a, b=b), rand, wide)


def add(fa: Format, fb: Format, out: Format, ctx: RoundingContext, a, b, rand=None,
        normalize: tuple[int, int] = (core.N_EXACT, 0)):
    """a + b rounded once into ``out`` (``normalize``: a core.N_* variant and its number)."""
    window = sum_window((fa.precision, fb.precision), out, ctx)
    wide = not _fits(window + 1)
    if normalize[0] != core.N_EXACT:
        return _run("addv_loop", out, ctx, (window, *normalize), (fa, fb), dict(a=a, b=b), rand,
                    wide)
    return _run("add_loop", out, ctx, (window,), (fa, fb), dict(a=a, b=b), rand, wide)


def fma(fa: Format, fb: Format, fc: Format, out: Format, ctx: RoundingContext, a, b, c, rand=None,
        mul_approx: int = core.M_EXACT, normalize: tuple[int, int] = (core.N_EXACT, 0)):
    """a * b + c with a single rounding into ``out`` (approximate variants as in mul and add)."""
    window = sum_window((fa.precision + fb.precision, fc.precision), out, ctx)
    operands = dict(a=a, b=b, c=c)
    wide = not _fits(window + 1)
    if mul_approx != core.M_EXACT or normalize[0] != core.N_EXACT:
        return _run("fmav_loop", out, ctx, (window, mul_approx, *normalize), (fa, fb, fc), operands,
                    rand, wide)
    return _run("fma_loop", out, ctx, (window,), (fa, fb, fc), operands, rand, wide)


def convert(fa: Format, out: Format, ctx: RoundingContext, a, rand=None):
    """Convert bit patterns of ``fa`` into ``out`` (one rounding)."""
    wide = not _fits(fa.precision, guard_bits_needed(out, ctx))
    return _run("convert_loop", out, ctx, (), (fa,), dict(a=a), rand, wide)


def encode(fmt, values, ctx: RoundingContext | None = None, rand=None):
    """Round float32 or float64 values into ``fmt`` (exactly: the values' own bits are the input).

    Returns
    -------
    (bits, flags)
    """
    fmt = parse_format(fmt)
    values = np.asarray(values)
    if values.dtype == np.float32:
        src, raw = parse_format("fp32"), values.view(np.uint32)
    else:
        src, raw = parse_format("fp64"), values.astype(np.float64).view(np.uint64)
    return convert(src, fmt, ctx or RoundingContext(), raw, rand)


def unpack(fmt, bits):
    """Decode to ``(cls, sign, sig, exp)`` int64 arrays (core's value classes)."""
    fmt = parse_format(fmt)
    bits = np.asarray(bits)
    flat = np.ascontiguousarray(bits.reshape(-1).astype(np.uint64).view(np.int64))
    fields = [np.empty(flat.shape, dtype=np.int64) for _ in range(4)]
    kernels.compiled.decode_loop(kernels.describe(fmt), flat, *fields)
    return tuple(f.reshape(bits.shape) for f in fields)


def decode(fmt, bits) -> np.ndarray:
    """Bit patterns of ``fmt`` to float64 (exact wherever float64 holds the value; NaR -> nan)."""
    from .core import INF, NAN, SNAN
    cls, sign, sig, exp = unpack(fmt, bits)
    with np.errstate(over="ignore"):
        mag = np.ldexp(sig.astype(np.float64), np.clip(exp, -2000, 2000).astype(np.int32))
    mag = np.where(cls == INF, np.inf, mag)
    mag = np.where((cls == NAN) | (cls == SNAN), np.nan, mag)
    return np.where(sign == 1, -mag, mag)


def encode_exact(fmt, value, ctx: RoundingContext | None = None, rand: int = 0):
    """Round one exact number into ``fmt`` with a single rounding.

    ``value`` is a Fraction, an int, or a decimal string (``"0.1"``, ``"-2.5e-3"``, ``"inf"``,
    ``"-0"``, ``"nan"``); decimals are taken exactly, not through a binary float.

    Returns
    -------
    (bits, flags) : ints
    """
    fmt = parse_format(fmt)
    ctx = ctx or RoundingContext()
    text = value.strip().lower() if isinstance(value, str) else None
    negative = bool(text) and text.startswith("-")
    if text is not None and text.lstrip("+-") in ("inf", "infinity"):
        term = (core.INF, int(negative), 0, 0, 0)
    elif text is not None and text.lstrip("+-") == "nan":
        term = (core.NAN, 0, 0, 0, 0)
    else:
        exact = Fraction(text if text is not None else value)
        negative = exact < 0 or (exact == 0 and negative)
        exact = abs(exact)
        if exact == 0:
            term = (core.ZERO, int(negative), 0, 0, 0)
        else:
            # scale to an integer with enough bits, then keep the rest as a round-to-odd sticky bit
            bits = guard_bits_needed(fmt, ctx) + 2
            shift = bits - (exact.numerator.bit_length() - exact.denominator.bit_length())
            scaled = exact * Fraction(2) ** shift
            mag = scaled.numerator // scaled.denominator
            mag |= int(mag != scaled)
            term = (core.FINITE, int(negative), mag, -shift, 0)
    code, flags = kernels.python.round_term(kernels.describe(fmt, wide=True), term,
                                            kernels.context(ctx), rand & ((1 << ctx.rand_bits) - 1))
    return code, flags
