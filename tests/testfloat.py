"""Berkeley TestFloat vector files: locating, naming and parsing them.

Shared by the golden-model conformance test and (later) the RTL regression, so it depends on nothing
but numpy and the standard library, and it knows nothing about mpmac's golden model.

Files are ``<op>[_L<level>]_<rounding>[_tininess<before|after>].tv[.gz]`` (see the README beside the
vectors); each line is hex fields ``operand... result flags``. No tininess suffix means tininess
*after* rounding, TestFloat's default.
"""

from __future__ import annotations

import gzip
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["ENV_VAR", "ROUNDING", "FORMATS", "VectorFile", "conformance_dir", "testfloat_dir",
           "list_vector_files", "parse_name", "load", "is_nan"]

#: environment variable that overrides the conformance directory
ENV_VAR = "MPMAC_CONFORMANCE_DIR"

#: TestFloat rounding names -> mpmac rounding names
ROUNDING = {
    "rnear_even": "rne",
    "rminMag": "rtz",
    "rmin": "rdn",
    "rmax": "rup",
    "rnear_maxMag": "rmm",
}

#: TestFloat type names -> (mpmac format name, width in bits, exponent bits, mantissa bits)
FORMATS = {
    "f16": ("fp16", 16, 5, 10),
    "f32": ("fp32", 32, 8, 23),
    "f64": ("fp64", 64, 11, 52),
}

#: TestFloat operation names -> (mpmac unit kind, number of operands)
OPS = {"mul": ("mul", 2), "add": ("add", 2), "mulAdd": ("fma", 3)}

_NAME_RE = re.compile(
    r"(?P<op>[A-Za-z0-9]+_(?:to_)?[A-Za-z0-9]+)"
    r"(?:_L(?P<level>[12]))?"
    r"_(?P<rounding>" + "|".join(sorted(ROUNDING, key=len, reverse=True)) + r")"
    r"(?:_tininess(?P<tininess>before|after))?"
    r"\.tv(?:\.gz)?")


@dataclass(frozen=True)
class VectorFile:
    """What a vector file's name says about its contents.

    Attributes
    ----------
    path : Path
    op : str
        TestFloat operation, e.g. ``f16_mulAdd`` or ``f32_to_f16``.
    kind : str
        mpmac unit kind: ``mul``, ``add``, ``fma`` or ``convert``.
    formats : dict
        mpmac format name per unit role (``a``, ``b``, ``c``, ``out``).
    rounding : str
        mpmac rounding mode name.
    tininess : str
        ``after`` or ``before``.
    level : int
        TestFloat generation level (1 or 2).
    """

    path: Path
    op: str
    kind: str
    formats: dict
    rounding: str
    tininess: str
    level: int

    @property
    def operands(self) -> tuple[str, ...]:
        return tuple(r for r in ("a", "b", "c") if r in self.formats)

    @property
    def name(self) -> str:
        return self.path.name.split(".tv")[0]


def conformance_dir() -> Path:
    """The conformance directory: ``$MPMAC_CONFORMANCE_DIR``, else ``<repo>/../shared/conformance``."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent.parent / "shared" / "conformance"


def testfloat_dir() -> Path:
    return conformance_dir() / "testfloat"


def list_vector_files(directory: Path | None = None) -> list[Path]:
    """Sorted ``*.tv`` / ``*.tv.gz`` files of a directory (default: :func:`testfloat_dir`)."""
    directory = testfloat_dir() if directory is None else Path(directory)
    return sorted(p for p in directory.iterdir() if p.name.endswith((".tv", ".tv.gz")))


def parse_name(path) -> VectorFile:
    """Interpret a vector file name.

    Raises
    ------
    ValueError
        If the name does not follow the TestFloat naming scheme or names an unknown op or type.
    """
    path = Path(path)
    m = _NAME_RE.fullmatch(path.name)
    if not m:
        raise ValueError(f"{path.name}: not a TestFloat vector file name "
                         f"(<op>[_L<level>]_<rounding>[_tininess<before|after>].tv[.gz])")
    op = m["op"]
    parts = op.split("_")
    if len(parts) == 3 and parts[1] == "to":
        src, dst = parts[0], parts[2]
        for t in (src, dst):
            if t not in FORMATS:
                raise ValueError(f"{path.name}: unknown TestFloat type {t!r} (known: {', '.join(FORMATS)})")
        kind, formats = "convert", {"a": FORMATS[src][0], "out": FORMATS[dst][0]}
    elif len(parts) == 2 and parts[0] in FORMATS and parts[1] in OPS:
        fmt = FORMATS[parts[0]][0]
        kind, n = OPS[parts[1]]
        formats = {r: fmt for r in ("a", "b", "c")[:n]}
        formats["out"] = fmt
    else:
        raise ValueError(f"{path.name}: unknown TestFloat operation {op!r}")
    return VectorFile(path=path, op=op, kind=kind, formats=formats, rounding=ROUNDING[m["rounding"]],
                      tininess=m["tininess"] or "after", level=int(m["level"] or 1))


def load(vf: VectorFile) -> dict[str, np.ndarray]:
    """Read a vector file: one uint64 array per operand role, plus ``y`` (expected) and ``flags``.

    Raises
    ------
    ValueError
        On a line with the wrong number of fields.
    """
    opener = gzip.open if vf.path.name.endswith(".gz") else open
    with opener(vf.path, "rt") as fh:
        rows = [line.split() for line in fh if line.strip()]
    width = len(vf.operands) + 2
    for i, row in enumerate(rows):
        if len(row) != width:
            raise ValueError(f"{vf.path.name}:{i + 1}: expected {width} fields, got {row!r}")
    cols = list(zip(*rows)) if rows else [()] * width
    out = {}
    for role, col in zip(vf.operands + ("y", "flags"), cols):
        out[role] = np.array([int(x, 16) for x in col], dtype=np.uint64)
    out["flags"] = out["flags"].astype(np.uint8)
    return out


def is_nan(fmt_name: str, bits) -> np.ndarray:
    """NaN test for the IEEE binary formats of :data:`FORMATS` (by mpmac format name)."""
    for _, (name, _, eb, mb) in FORMATS.items():
        if name == fmt_name:
            bits = np.asarray(bits, dtype=np.uint64)
            exp = (bits >> np.uint64(mb)) & np.uint64((1 << eb) - 1)
            man = bits & np.uint64((1 << mb) - 1)
            return (exp == np.uint64((1 << eb) - 1)) & (man != 0)
    raise ValueError(f"is_nan: unknown IEEE format {fmt_name!r}")


#: stands in for the vector files when none are found, so the parametrized tests fail instead of vanishing
MISSING = "<conformance vectors missing>"


def discover_files() -> list:
    """The vector files, or ``[MISSING]`` (a test then fails through :func:`fail_if_missing`)."""
    try:
        files = list_vector_files(testfloat_dir())
    except OSError:
        files = []
    return files or [MISSING]


def fail_if_missing(path):
    """Fail the calling test when ``path`` is the MISSING placeholder."""
    import pytest
    if path == MISSING:
        pytest.fail(f"TestFloat conformance vectors not found in {testfloat_dir()} (no *.tv/*.tv.gz "
                    f"files): set {ENV_VAR} to the conformance directory (the one holding testfloat/)")
