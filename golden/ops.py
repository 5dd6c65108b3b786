"""Vectorized golden operations on bit-pattern arrays: mul, add, fma, convert, and float helpers.

Each takes the formats of its operands and output, a :class:`RoundingContext`, and numpy integer arrays
of bit patterns; it returns ``(y, flags)`` with ``y`` in the smallest unsigned dtype that holds the
output width and ``flags`` as uint8 (bit order in :class:`~.rounding.Flags`). Large inputs are processed
in cache-sized chunks.
"""

from __future__ import annotations

import numpy as np

from . import arith
from .arith import fma_terms, operand, product, round_term
from .formats import Format, parse_format
from .rounding import RoundingContext

__all__ = ["mul", "add", "fma", "convert", "encode", "decode", "bits_dtype", "CHUNK"]

#: elements per chunk: keeps each temporary array inside the L2 cache
CHUNK = 1 << 14


def bits_dtype(fmt: Format):
    """Smallest unsigned numpy dtype holding a bit pattern of ``fmt``."""
    for dtype in (np.uint8, np.uint16, np.uint32, np.uint64):
        if fmt.nbits <= np.iinfo(dtype).bits:
            return dtype
    raise AssertionError(fmt)


def _chunked(compute, out: Format, arrays: dict):
    """Broadcast the inputs, run ``compute(**chunk)`` per chunk, and gather (y, flags)."""
    present = {k: np.asarray(v) for k, v in arrays.items() if v is not None}
    shape = np.broadcast_shapes(*(v.shape for v in present.values()))
    flat = {k: np.broadcast_to(v, shape).reshape(-1) for k, v in present.items()}
    size = int(np.prod(shape, dtype=np.int64))
    y = np.empty(size, dtype=bits_dtype(out))
    flags = np.empty(size, dtype=np.uint8)
    for start in range(0, size, CHUNK):
        part = {k: v[start:start + CHUNK] for k, v in flat.items()}
        y[start:start + CHUNK], flags[start:start + CHUNK] = compute(**part)
    return y.reshape(shape), flags.reshape(shape)


def _rand(ctx: RoundingContext, rand):
    if not ctx.sr:
        return None
    if rand is None:
        raise ValueError("rounding='sr' needs a rand input")
    return np.asarray(rand).astype(np.int64) & ((1 << ctx.rand_bits) - 1)


def mul(fa: Format, fb: Format, out: Format, ctx: RoundingContext, a, b, rand=None):
    """a * b rounded once into ``out``."""
    def compute(a, b, rand=None):
        return round_term(out, product(operand(fa, a), operand(fb, b)), ctx, _rand(ctx, rand))
    return _chunked(compute, out, dict(a=a, b=b, rand=rand))


def add(fa: Format, fb: Format, out: Format, ctx: RoundingContext, a, b, rand=None):
    """a + b rounded once into ``out``."""
    def compute(a, b, rand=None):
        return round_term(out, arith.add(operand(fa, a), operand(fb, b), out, ctx), ctx, _rand(ctx, rand))
    return _chunked(compute, out, dict(a=a, b=b, rand=rand))


def fma(fa: Format, fb: Format, fc: Format, out: Format, ctx: RoundingContext, a, b, c, rand=None):
    """a * b + c with a single rounding into ``out``."""
    def compute(a, b, c, rand=None):
        t = fma_terms(operand(fa, a), operand(fb, b), operand(fc, c), out, ctx)
        return round_term(out, t, ctx, _rand(ctx, rand))
    return _chunked(compute, out, dict(a=a, b=b, c=c, rand=rand))


def convert(fa: Format, out: Format, ctx: RoundingContext, a, rand=None):
    """Convert bit patterns of ``fa`` into ``out`` (one rounding)."""
    def compute(a, rand=None):
        return round_term(out, operand(fa, a), ctx, _rand(ctx, rand))
    return _chunked(compute, out, dict(a=a, rand=rand))


def encode(fmt, values, ctx: RoundingContext | None = None, rand=None):
    """Round float32 or float64 values into ``fmt`` (exact: the values' own bits are the input).

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


def decode(fmt, bits) -> np.ndarray:
    """Bit patterns of ``fmt`` to float64 (exact wherever float64 holds the value; NaR -> nan)."""
    from .unpack import to_float64
    return to_float64(parse_format(fmt), bits)
