"""Unit specs: one frozen parameter object per arithmetic unit, from which every layer derives.

``mpmac.unit(kind, **params)`` builds one. Parameter names are the same in Python, on the CLI (with
dashes), in sweep files and in reports:

    a, b, c      operand formats (b defaults to a; c, the fma addend, defaults to out)
    out          result format (defaults to a; for mac to the accumulator format, or fp32)
    acc          mac accumulator: a format (rounded accumulation), ``kulisch[:W]`` or ``quire[:W]``
    rounding     rne | rtz | rdn | rup | rmm | sr
    rand_bits    width of the ``rand`` input for rounding="sr"
    saturate     infinite results become the largest finite value
    subnormals   False: subnormal inputs read as zero and tiny results flush to zero
    tininess     after | before
    latency      0 = combinational; N > 0 = pipelined, result N rising edges after its inputs
    normalize    add, fma, mac: exact | coarse:K | window:L | lazy[:G] (mac), see golden/variants.py
    mul_approx   mul, fma, mac: exact | lmul (L-Mul), see golden/variants.py
    width        simd: operand word width in bits
    modes        simd: lane modes, comma-separated <lanes>x<format> (e.g. 4xe2m1,2xposit8_0)
    reduce       simd: dot (lane products summed into one accumulator) | lanes (lane-wise products)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from typing import ClassVar

import numpy as np

from .golden import mac as golden_mac
from .golden import ops
from .golden import simd as golden_simd
from .golden.formats import FloatFormat, Format, parse_format
from .golden.rounding import Flags, RoundingContext
from .golden.variants import Normalization, check_mul_approx, check_normalize, parse_normalize

__all__ = ["Unit", "Mul", "Add", "Fma", "Convert", "Mac", "Simd", "unit", "KINDS"]


@dataclass(frozen=True, kw_only=True)
class Unit:
    """Common parameters and behaviour of every unit kind.

    Attributes
    ----------
    kind : str
        Unit kind name (``mul``, ``add``, ``fma``, ``convert``, ``mac``).
    ports : dict
        Port name -> (direction, width), per the hardware contract in DESIGN.md.
    latency : int
        Pipeline depth in clock cycles (0: combinational).

    Raises
    ------
    ValueError, TypeError
        On construction, for any invalid parameter, naming it and the valid choices.
    """

    kind: ClassVar[str] = ""
    #: operand roles of this kind, in port order
    operands: ClassVar[tuple[str, ...]] = ()

    rounding: str = "rne"
    rand_bits: int = 0
    saturate: bool = False
    subnormals: bool = True
    tininess: str = "after"
    latency: int = 0

    def __post_init__(self):
        self.ctx  # validates rounding, rand_bits, tininess
        for name in ("saturate", "subnormals"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be True or False, not {getattr(self, name)!r}")
        if not isinstance(self.latency, int) or isinstance(self.latency, bool) or self.latency < 0:
            raise ValueError(f"latency={self.latency!r} is invalid: it must be an int >= 0")
        for role in self.outputs_rounded():
            self.ctx.check_output(self.fmt(role))
        self.stage_boundaries()  # raises for a latency deeper than the datapath

    def stage_boundaries(self) -> tuple[str, ...]:
        """The pipeline cut points that carry a register at this latency (see rtl/units.py)."""
        from .rtl.units import cut_points
        return cut_points(self.kind, self.latency)

    # -- formats --------------------------------------------------------------------------------
    def _parse(self, name: str, default=None):
        value = getattr(self, name)
        if value is None:
            value = default
        try:
            object.__setattr__(self, name, parse_format(value))
        except ValueError as e:
            raise ValueError(f"{name}: {e}") from None

    def _parse_operands(self):
        """Parse a (required) and b (defaults to a), for the kinds that have both."""
        if self.a is None:
            raise ValueError(f"{self.kind} needs an operand format a")
        self._parse("a")
        self._parse("b", self.a)

    def fmt(self, role: str) -> Format:
        """Effective format of an operand or result role (subnormals=False applied)."""
        f = getattr(self, role)
        if isinstance(f, FloatFormat) and not self.subnormals:
            return f.without_subnormals()
        return f

    def outputs_rounded(self) -> tuple[str, ...]:
        """Roles whose values are produced by rounding (checked against the rounding mode)."""
        return ("out",)

    @property
    def ctx(self) -> RoundingContext:
        return RoundingContext(self.rounding, self.rand_bits, self.saturate, self.tininess)

    # -- interface ------------------------------------------------------------------------------
    @property
    def params(self) -> dict:
        """Parameters as plain values (format names), e.g. for reports and cache keys."""
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = v.name if hasattr(v, "name") and not isinstance(v, str) else v
        return out

    @property
    def name(self) -> str:
        """Deterministic Verilog module name derived from the parameters."""
        parts = [f"mpmac_{self.kind}"] + [str(getattr(self, r)) for r in self.operands + ("out",)]
        parts += self._name_extras()
        parts.append(self.rounding + (str(self.rand_bits) if self.rand_bits else ""))
        parts += [p for p, on in (("sat", self.saturate), ("ftz", not self.subnormals),
                                  ("tbefore", self.tininess == "before")) if on]
        parts.append(f"l{self.latency}")
        return "_".join(parts).replace(":", "w")

    def _name_extras(self) -> list[str]:
        return []

    @property
    def ports(self) -> dict[str, tuple[str, int]]:
        ports = {}
        if self.latency > 0 or self.sequential:
            ports["clk"] = ("in", 1)
            ports["rst"] = ("in", 1)
        for role in self.operands:
            ports[role] = ("in", self.fmt(role).nbits)
        ports.update(self._extra_inputs())
        if self.rounding == "sr":
            ports["rand"] = ("in", self.rand_bits)
        ports["y"] = ("out", self.fmt("out").nbits)
        ports["flags"] = ("out", Flags.WIDTH)
        return ports

    sequential: ClassVar[bool] = False

    def _extra_inputs(self) -> dict:
        return {}

    def golden(self, **inputs) -> dict[str, np.ndarray]:
        """Bit-exact results for arrays of input bit patterns (numpy broadcasting applies).

        Returns
        -------
        dict with ``y`` (output bit patterns, smallest fitting uint dtype) and ``flags`` (uint8).
        """
        args = self._check_inputs(inputs)
        y, flags = self._golden(**args)
        return {"y": y, "flags": flags}

    def _check_inputs(self, inputs: dict) -> dict:
        expected = [p for p, (d, _) in self.ports.items() if d == "in" and p not in ("clk", "rst")]
        optional = set(self._optional_inputs())
        unknown = set(inputs) - set(expected)
        if unknown:
            raise ValueError(f"unknown input(s) {sorted(unknown)} for {self.kind}; inputs: {expected}")
        missing = [p for p in expected if p not in inputs and p not in optional]
        if missing:
            raise ValueError(f"missing input(s) {missing} for {self.kind}")
        args = {}
        for port, value in inputs.items():
            arr = np.asarray(value)
            if arr.dtype.kind not in "uib":
                raise TypeError(f"input {port} must hold integer bit patterns, got dtype {arr.dtype}")
            width = self.ports[port][1]
            if arr.size and (arr.min() < 0 or (width < 64 and arr.max() >= (1 << width))):
                raise ValueError(f"input {port} has values outside 0..2^{width}-1")
            args[port] = arr
        return args

    def _optional_inputs(self) -> tuple[str, ...]:
        return ()

    def _golden(self, **inputs):
        raise NotImplementedError

    def component(self, product: str = "internal", expose_state: bool = False):
        """The Amaranth component of this unit (a ``wiring.Component`` with :attr:`ports`).

        Parameters
        ----------
        product : {"internal", "port"}
            Proof knob (mul, fma, mac): ``"port"`` replaces the significand multiplier by ports
            ``mul_x``, ``mul_y`` (out) and ``mul_p`` (in), see docs/formal-reference.md.
        expose_state : bool
            Proof knob (mac): add output ``acc_state``, the accumulator registers.

        Raises
        ------
        ValueError
            A knob value this kind does not support.
        """
        from .rtl.units import ArithmeticUnit
        return ArithmeticUnit(self, product=product, expose_state=expose_state)

    def verilog(self, name: str | None = None, product: str = "internal",
                expose_state: bool = False) -> str:
        """Verilog of this unit as module ``name`` (default :attr:`name`); deterministic text.

        ``product`` and ``expose_state`` are the proof knobs of :meth:`component`; at their
        defaults the text is the unit's plain Verilog. The text is generated once per process and
        parameter set (a large engine takes seconds to elaborate).
        """
        return _verilog_text(self, name or self.name, product, expose_state)


@functools.lru_cache(maxsize=64)
def _verilog_text(unit: "Unit", name: str, product: str, expose_state: bool) -> str:
    from .rtl.emit import to_verilog
    return to_verilog(unit.component(product=product, expose_state=expose_state), name)


@dataclass(frozen=True, kw_only=True)
class _ApproxMultiplier(Unit):
    """The ``mul_approx`` parameter: which multiplier forms the product (exact or L-Mul)."""

    mul_approx: str = "exact"

    @property
    def mul_code(self) -> int:
        """The kernels' code of the multiplier variant (validated)."""
        return check_mul_approx(self.mul_approx, self.fmt("a"), self.fmt("b"))

    def _name_extras(self):
        return super()._name_extras() + ([] if self.mul_approx == "exact" else [self.mul_approx])


@dataclass(frozen=True, kw_only=True)
class _ApproxNormalize(Unit):
    """The ``normalize`` parameter: exact, or an approximate normalization of the sum."""

    normalize: str | Normalization = "exact"

    def _parse_normalize(self, result_role: str):
        norm = parse_normalize(self.normalize)
        check_normalize(norm, self.kind, self.fmt(result_role), self.tininess)
        object.__setattr__(self, "normalize", norm.spec)

    @property
    def normalization(self) -> Normalization:
        return parse_normalize(self.normalize)

    def _name_extras(self):
        n = self.normalization
        return super()._name_extras() + ([] if n.exact else [n.spec.replace(":", "")])


@dataclass(frozen=True, kw_only=True)
class _BinaryOp(Unit):
    a: Format | str = None
    b: Format | str | None = None
    out: Format | str | None = None

    operands = ("a", "b")

    def __post_init__(self):
        self._parse_operands()
        self._parse("out", self.a)
        super().__post_init__()


@dataclass(frozen=True, kw_only=True)
class Mul(_BinaryOp, _ApproxMultiplier):
    """``y = round(a * b)`` (``mul_approx="lmul"``: the L-Mul product, rounded)."""

    kind = "mul"

    def __post_init__(self):
        super().__post_init__()
        self.mul_code

    def _golden(self, a, b, rand=None):
        return ops.mul(self.fmt("a"), self.fmt("b"), self.fmt("out"), self.ctx, a, b, rand,
                       mul_approx=self.mul_code)


@dataclass(frozen=True, kw_only=True)
class Add(_BinaryOp, _ApproxNormalize):
    """``y = round(a + b)`` (``normalize``: exact or approximate normalization of the sum)."""

    kind = "add"

    def __post_init__(self):
        super().__post_init__()
        self._parse_normalize("out")

    def _golden(self, a, b, rand=None):
        return ops.add(self.fmt("a"), self.fmt("b"), self.fmt("out"), self.ctx, a, b, rand,
                       normalize=self.normalization.code)


@dataclass(frozen=True, kw_only=True)
class Fma(_ApproxMultiplier, _ApproxNormalize):
    """``y = round(a * b + c)`` with a single rounding (approximate variants: mul_approx,
    normalize)."""

    kind = "fma"
    operands = ("a", "b", "c")

    a: Format | str = None
    b: Format | str | None = None
    c: Format | str | None = None
    out: Format | str | None = None

    def __post_init__(self):
        self._parse_operands()
        self._parse("out", self.a)
        self._parse("c", self.out)
        super().__post_init__()
        self._parse_normalize("out")
        self.mul_code

    def _golden(self, a, b, c, rand=None):
        return ops.fma(self.fmt("a"), self.fmt("b"), self.fmt("c"), self.fmt("out"), self.ctx,
                       a, b, c, rand, mul_approx=self.mul_code,
                       normalize=self.normalization.code)


@dataclass(frozen=True, kw_only=True)
class Convert(Unit):
    """``y = round(a)`` into the ``out`` format."""

    kind = "convert"
    operands = ("a",)

    a: Format | str = None
    out: Format | str | None = None

    def __post_init__(self):
        if self.a is None:
            raise ValueError("convert needs an input format a")
        if self.out is None:
            raise ValueError("convert needs an output format out")
        self._parse("a")
        self._parse("out")
        super().__post_init__()

    def _golden(self, a, rand=None):
        return ops.convert(self.fmt("a"), self.fmt("out"), self.ctx, a, rand)


@dataclass(frozen=True, kw_only=True)
class Mac(_ApproxMultiplier, _ApproxNormalize):
    """Multiply-accumulate over a stream, see DESIGN.md's mac contract and :mod:`mpmac.golden.mac`.

    On a rising edge with ``in_valid``: ``acc <- round_acc((clear ? 0 : acc) + a*b)``; ``y`` is the
    accumulator rounded to ``out``. ``acc`` is a format (rounded accumulation), ``kulisch[:W]`` (exact
    fixed-point accumulation, width derived from a and b unless W is given) or ``quire[:W]`` (the posit
    quire, 16n bits by default).
    """

    kind = "mac"
    operands = ("a", "b")
    sequential = True

    a: Format | str = None
    b: Format | str | None = None
    acc: str | Format = "fp32"
    out: Format | str | None = None

    def __post_init__(self):
        self._parse_operands()
        accumulator = golden_mac.parse_accumulator(self.acc, self.fmt("a"), self.fmt("b"),
                                                   subnormals=self.subnormals)
        object.__setattr__(self, "acc", accumulator.spec if accumulator.exact else accumulator.fmt)
        if accumulator.exact:
            default_out = self.a if self.acc.startswith("quire") else "fp32"
        else:
            default_out = accumulator.fmt
        self._parse("out", default_out)
        super().__post_init__()
        self.mul_code
        norm = parse_normalize(self.normalize)
        if not norm.exact and accumulator.exact:
            raise ValueError(f"normalize={norm.spec!r} needs a rounded accumulator (a format), "
                             f"not acc={self.acc!r}, which is exact")
        self._parse_normalize("acc")

    @property
    def accumulator(self) -> golden_mac.Accumulator:
        return golden_mac.parse_accumulator(self.acc, self.fmt("a"), self.fmt("b"),
                                            subnormals=self.subnormals)

    def outputs_rounded(self):
        return ("out",) if self.accumulator.exact else ("acc", "out")

    def fmt(self, role):
        if role == "acc":
            return self.accumulator.fmt
        return super().fmt(role)

    def _name_extras(self):
        return ["acc" + str(self.acc)] + super()._name_extras()

    def component(self, product: str = "internal", expose_state: bool = False):
        from .rtl.mac import MacUnit
        return MacUnit(self, product=product, expose_state=expose_state)

    def stage_boundaries(self):
        """Cut points on the product path; ``y`` for the input of edge t is readable after edge
        t + latency (the golden twin's y[t] shifted by ``latency`` cycles)."""
        from .rtl.mac import mac_cut_points
        return mac_cut_points(self.latency)

    def _extra_inputs(self):
        return {"in_valid": ("in", 1), "clear": ("in", 1)}

    def _optional_inputs(self):
        return ("in_valid", "clear")

    def _golden(self, a, b, in_valid=None, clear=None, rand=None):
        return golden_mac.run(self.fmt("a"), self.fmt("b"), self.accumulator, self.fmt("out"),
                              self.ctx, a, b, in_valid, clear, rand, mul_approx=self.mul_code,
                              normalize=self.normalization)


@dataclass(frozen=True, kw_only=True)
class Simd(Unit):
    """Mixed-precision SIMD engine: one partitioned multiplier, lane modes picked by ``mode``.

    Mode k of ``modes`` splits ``a`` and ``b`` into lanes of one format (lane i in bits
    [i*n, (i+1)*n)). ``reduce="dot"``: on a rising edge with ``in_valid``,
    ``acc <- round_acc((clear ? 0 : acc) + sum_i a_i*b_i)`` with one rounding (or exact Kulisch
    accumulation); ``y`` is the accumulator rounded to ``out``. ``reduce="lanes"``: ``y`` registers
    the lane products, each rounded to its lane format. See golden/simd.py and docs/simd.md.
    """

    kind = "simd"
    operands = ("a", "b")
    sequential = True

    width: int = 16
    modes: str = golden_simd.DEFAULT_MODES
    acc: str | Format | None = None
    out: Format | str | None = None
    reduce: str = "dot"

    def __post_init__(self):
        lanes = golden_simd.parse_modes(self.modes, self.width)
        object.__setattr__(self, "modes", ",".join(m.name for m in lanes))
        if self.reduce not in golden_simd.REDUCTIONS:
            raise ValueError(f"reduce={self.reduce!r} is invalid; valid: "
                             f"{', '.join(golden_simd.REDUCTIONS)}")
        if self.rounding == "sr":
            raise ValueError("rounding='sr' is not supported by simd; valid: rne, rtz, rdn, rup, rmm")
        if not self.subnormals:
            raise ValueError("subnormals=False is not supported by simd")
        if self.reduce == "lanes":
            for name in ("acc", "out"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{name}={getattr(self, name)!r} is invalid with "
                                     f"reduce='lanes': each lane rounds to its own format")
        else:
            accumulator = golden_simd.parse_simd_accumulator(
                "fp32" if self.acc is None else self.acc, lanes)
            object.__setattr__(self, "acc", accumulator.spec if accumulator.exact
                               else accumulator.fmt)
            self._parse("out", "fp32" if accumulator.exact else accumulator.fmt)
        super().__post_init__()

    @property
    def lanes(self) -> tuple[golden_simd.Lanes, ...]:
        """The modes, in ``mode`` index order."""
        return golden_simd.parse_modes(self.modes, self.width)

    @property
    def accumulator(self):
        return None if self.reduce == "lanes" else \
            golden_simd.parse_simd_accumulator(self.acc, self.lanes)

    @property
    def mode_bits(self) -> int:
        """Width of the ``mode`` input."""
        return max(1, (len(self.lanes) - 1).bit_length())

    # the accumulate stage it shares with mac (rtl/mac.py) reads these
    normalization = Normalization()
    mul_code = 0

    def fmt(self, role):
        if role == "acc":
            return self.accumulator.fmt
        return super().fmt(role)

    def outputs_rounded(self):
        if self.reduce == "lanes":
            return ()
        return ("out",) if self.accumulator.exact else ("acc", "out")

    @property
    def name(self) -> str:
        modes = "_".join(m.name for m in self.lanes)
        tail = [self.reduce] if self.reduce == "lanes" else \
            ["acc" + str(self.acc), str(self.out)]
        parts = [f"mpmac_simd_w{self.width}", modes, *tail, self.rounding]
        parts += ["sat"] if self.saturate else []
        parts += ["tbefore"] if self.tininess == "before" else []
        parts.append(f"l{self.latency}")
        return "_".join(parts).replace(":", "w")

    @property
    def ports(self) -> dict[str, tuple[str, int]]:
        out_bits = self.width if self.reduce == "lanes" else self.fmt("out").nbits
        return {"clk": ("in", 1), "rst": ("in", 1), "mode": ("in", self.mode_bits),
                "a": ("in", self.width), "b": ("in", self.width), "in_valid": ("in", 1),
                "clear": ("in", 1), "y": ("out", out_bits), "flags": ("out", Flags.WIDTH)}

    def stage_boundaries(self):
        """Cut points on the lane path (``unpacked``, ``product``); y for the inputs of edge t is
        readable after edge t + latency."""
        from .rtl.mac import mac_cut_points
        return mac_cut_points(self.latency)

    def _optional_inputs(self):
        return ("in_valid", "clear")

    def component(self, product: str = "internal", expose_state: bool = False):
        from .rtl.simd import SimdUnit
        return SimdUnit(self, product=product, expose_state=expose_state)

    def _golden(self, mode, a, b, in_valid=None, clear=None):
        lanes_only = self.reduce == "lanes"
        return golden_simd.run(self.lanes, self.reduce, None if lanes_only else self.accumulator,
                               None if lanes_only else self.fmt("out"), self.ctx, mode, a, b,
                               in_valid, clear)


KINDS: dict[str, type[Unit]] = {cls.kind: cls for cls in (Mul, Add, Fma, Convert, Mac, Simd)}


def unit(kind: str, **params) -> Unit:
    """Build the spec object of a unit kind from its parameters (see the module docstring).

    Raises
    ------
    ValueError
        Unknown kind or parameter, or an invalid parameter value.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown unit kind {kind!r}; valid: {', '.join(KINDS)}")
    cls = KINDS[kind]
    valid = [f.name for f in fields(cls)]
    unknown = [p for p in params if p not in valid]
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown} for {kind}; valid: {', '.join(valid)}")
    return cls(**params)

