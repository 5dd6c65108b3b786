"""Multiply-accumulate golden model (placeholder while the core is rewritten)."""
from dataclasses import dataclass
from .formats import Format, parse_format

@dataclass(frozen=True)
class Accumulator:
    spec: str
    fmt: Format
    exact: bool

def parse_accumulator(spec, fa, fb, subnormals=True):
    return Accumulator(str(spec), parse_format(spec), False)

def run(*args, **kw):
    raise NotImplementedError
