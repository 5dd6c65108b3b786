"""Load :mod:`.core` twice: numba-compiled (int64) and as plain Python (exact Python ints).

Both variants run the same source. The compiled one is used when every intermediate of an operation
fits in :data:`FAST_BITS` bits; the Python one otherwise (and for single steps of sequential models,
where compiling buys nothing).
"""

from __future__ import annotations

import types
from functools import lru_cache

import numba

from . import core
from .formats import Format, Specials
from .rounding import MODES, RoundingContext

__all__ = ["compiled", "python", "describe", "context", "FAST_BITS"]

#: widest magnitude the compiled int64 path carries (leaves room for a sign and a carry)
FAST_BITS = 61

#: the plain-Python variant: exact at any width
python = core

_SPECIALS = {Specials.IEEE: core.SP_IEEE, Specials.FN: core.SP_FN, Specials.FINITE: core.SP_FINITE,
             Specials.FNUZ: core.SP_FNUZ}


def _compile_module():
    """A namespace whose functions are numba-compiled copies of core's, calling each other."""
    namespace = dict(vars(core))
    for name, obj in vars(core).items():
        if isinstance(obj, types.FunctionType) and obj.__module__ == core.__name__:
            clone = types.FunctionType(obj.__code__, namespace, name, obj.__defaults__, obj.__closure__)
            clone.__qualname__ = obj.__qualname__
            namespace[name] = numba.njit(cache=True, nogil=True, inline="always")(clone)
    return types.SimpleNamespace(**namespace)


compiled = _compile_module()


def _as_int64(value: int) -> int:
    """Reinterpret a 64-bit pattern as a signed int64 value (the compiled path's view)."""
    return value - (1 << 64) if value >= (1 << 63) else value


@lru_cache(maxsize=None)
def describe(fmt: Format, wide: bool = False) -> tuple:
    """The int tuple by which the kernels see a format (core.F_* fields)."""
    n = fmt.nbits
    d = [0] * core.F_FIELDS
    d[core.F_NBITS] = n
    d[core.F_SIGNMASK] = 1 << (n - 1)
    d[core.F_MAGMASK] = (1 << (n - 1)) - 1
    d[core.F_CODEMASK] = (1 << n) - 1
    d[core.F_MAXCODE] = fmt.max_code
    d[core.F_HASNAN] = 1
    if fmt.is_posit:
        d[core.F_POSIT] = 1
        d[core.F_ES] = fmt.es
        d[core.F_MAXREG] = fmt.max_regime
        d[core.F_NANCODE] = fmt.nar_code
        d[core.F_PREC] = fmt.precision
    else:
        d[core.F_EBITS] = fmt.exp_bits
        d[core.F_MBITS] = fmt.man_bits
        d[core.F_BIAS] = fmt.bias
        d[core.F_SPECIALS] = _SPECIALS[fmt.specials]
        d[core.F_SUBNORMALS] = int(fmt.subnormals)
        d[core.F_NANCODE] = fmt.nan_code if fmt.has_nan else 0
        d[core.F_HASNAN] = int(fmt.has_nan)
        d[core.F_HASINF] = int(fmt.has_inf)
        d[core.F_QMIN] = fmt.qmin
        d[core.F_EMIN] = fmt.emin
        d[core.F_PREC] = fmt.precision
        d[core.F_EFMAX] = fmt.exp_field_max
    if not wide:
        d = [_as_int64(v) if v >= (1 << 63) else v for v in d]
    return tuple(d)


@lru_cache(maxsize=None)
def context(ctx: RoundingContext) -> tuple:
    """The int tuple by which the kernels see a rounding context (core.C_* fields)."""
    return (MODES.index(ctx.mode), ctx.rand_bits, int(ctx.saturate), int(ctx.tininess == "before"))


#: the compiled loops, in two groups of about equal compile time (warm compiles them in parallel)
_WARM_GROUPS = (("fmav", "mul", "convert", "decode"), ("addv", "mulv", "add", "fma"))


def _call_loops(names) -> None:
    """Call each named compiled loop once on a dummy element (compiles it, or loads the cache)."""
    import numpy as np

    from .formats import parse_format
    fmt = describe(parse_format("fp16"))
    ctx = context(RoundingContext())
    x = np.zeros(1, dtype=np.int64)
    y, f = np.empty(1, dtype=np.int64), np.empty(1, dtype=np.int64)
    calls = {
        "mul": lambda: compiled.mul_loop(fmt, fmt, fmt, ctx, x, x, x, y, f),
        "add": lambda: compiled.add_loop(fmt, fmt, fmt, ctx, 20, x, x, x, y, f),
        "fma": lambda: compiled.fma_loop(fmt, fmt, fmt, fmt, ctx, 30, x, x, x, x, y, f),
        "convert": lambda: compiled.convert_loop(fmt, fmt, ctx, x, x, y, f),
        "mulv": lambda: compiled.mulv_loop(fmt, fmt, fmt, ctx, core.M_LMUL, x, x, x, y, f),
        "addv": lambda: compiled.addv_loop(fmt, fmt, fmt, ctx, 20, core.N_COARSE, 2, x, x, x, y, f),
        "fmav": lambda: compiled.fmav_loop(fmt, fmt, fmt, fmt, ctx, 30, core.M_EXACT, core.N_WINDOW,
                                           2, x, x, x, x, y, f),
        "decode": lambda: compiled.decode_loop(fmt, x, *(np.empty(1, dtype=np.int64)
                                                         for _ in range(4))),
    }
    for name in names:
        calls[name]()


def warm(jobs: int | None = None) -> None:
    """Compile (or load from numba's on-disk cache) every compiled loop, once, in this process.

    The first compile of a checkout takes about 4 minutes of CPU (the approximate-variant loops are
    the larger half); ``jobs`` processes (default: the CPU count, at most 2) compile the groups of
    :data:`_WARM_GROUPS` side by side into the cache, and this process then loads them in about a
    second. Call this before starting parallel workers so that they do not all compile at once.
    """
    import os
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    jobs = min(jobs or os.cpu_count() or 1, len(_WARM_GROUPS))
    if jobs > 1:
        with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
            list(pool.map(_call_loops, _WARM_GROUPS))
    _call_loops(sum(_WARM_GROUPS, ()))
