"""Unit spec objects: parameter checking, the port contract, naming and the golden entry point."""

import numpy as np
import pytest

import mpmac


def test_port_contract_combinational_and_pipelined():
    u = mpmac.unit("fma", a="e4m3", b="e4m3", c="fp32", out="fp32")
    assert u.ports == {"a": ("in", 8), "b": ("in", 8), "c": ("in", 32), "y": ("out", 32),
                       "flags": ("out", 5)}
    p = mpmac.unit("mul", a="bf16", rounding="sr", rand_bits=8, latency=2)
    assert list(p.ports) == ["clk", "rst", "a", "b", "rand", "y", "flags"]
    assert p.ports["rand"] == ("in", 8) and p.latency == 2
    m = mpmac.unit("mac", a="e2m1", acc="kulisch", out="bf16")
    assert list(m.ports) == ["clk", "rst", "a", "b", "in_valid", "clear", "y", "flags"]


def test_defaults_follow_the_operand_and_out_formats():
    u = mpmac.unit("fma", a="bf16")
    assert (u.b.name, u.c.name, u.out.name) == ("bf16", "bf16", "bf16")
    u = mpmac.unit("fma", a="e4m3", out="fp32")
    assert u.c.name == "fp32"
    assert mpmac.unit("mac", a="posit16_1", acc="quire").out.name == "posit16_1"
    assert mpmac.unit("mac", a="e4m3").out.name == "fp32"


def test_names_are_deterministic_and_distinguish_parameters():
    a = mpmac.unit("fma", a="e4m3", c="fp32", out="fp32", latency=2)
    b = mpmac.unit("fma", a="e4m3", c="fp32", out="fp32", latency=2)
    assert a == b and hash(a) == hash(b) and a.name == b.name
    others = [mpmac.unit("fma", a="e4m3", c="fp32", out="fp32", latency=1),
              mpmac.unit("fma", a="e4m3", c="fp32", out="fp32", latency=2, saturate=True),
              mpmac.unit("fma", a="e4m3", c="fp32", out="fp32", latency=2, rounding="rtz"),
              mpmac.unit("fma", a="e4m3", c="fp32", out="fp32", latency=2, subnormals=False)]
    assert len({a.name} | {o.name for o in others}) == 5
    assert all(c.isalnum() or c == "_" for c in a.name)


@pytest.mark.parametrize("kind,params,fragment", [
    ("fmaa", {"a": "e4m3"}, "fmaa"),
    ("fma", {"a": "e4m3", "rounding": "rnd"}, "rnd"),
    ("fma", {"a": "e9m9x"}, "e9m9x"),
    ("fma", {"a": "e4m3", "latency": -1}, "-1"),
    ("mul", {"a": "e4m3", "rounding": "sr"}, "rand_bits"),
    ("mul", {"a": "e4m3", "rand_bits": 4}, "rand_bits=4"),
    ("mul", {"a": "posit8_0", "rounding": "rtz"}, "rtz"),
    ("mul", {"a": "e4m3", "tininess": "during"}, "during"),
    ("mul", {"a": "e4m3", "widht": 3}, "widht"),
    ("convert", {"a": "fp32"}, "out"),
    ("add", {"a": "e4m3", "normalize": "coarse"}, "coarse"),
    ("add", {"a": "e4m3", "normalize": "coarse:1"}, "coarse:1"),
    ("add", {"a": "e4m3", "normalize": "window:0"}, "window:0"),
    ("add", {"a": "e4m3", "normalize": "lazy"}, "mac"),
    ("add", {"a": "e4m3", "normalize": "round:3"}, "round:3"),
    ("add", {"a": "posit8_0", "normalize": "window:2"}, "posit8_0"),
    ("fma", {"a": "e4m3", "normalize": "window:2", "tininess": "before"}, "tininess"),
    ("mac", {"a": "e4m3", "acc": "kulisch", "normalize": "coarse:2"}, "kulisch"),
    ("mul", {"a": "e4m3", "mul_approx": "log"}, "log"),
    ("mul", {"a": "e4m3", "b": "e5m2", "mul_approx": "lmul"}, "e5m2"),
    ("fma", {"a": "posit8_0", "mul_approx": "lmul"}, "posit8_0"),
    ("mul", {"a": "e4m3", "normalize": "window:2"}, "normalize"),
    ("convert", {"a": "fp16", "out": "e4m3", "mul_approx": "lmul"}, "mul_approx"),
])
def test_bad_parameters_name_the_value(kind, params, fragment):
    with pytest.raises(ValueError) as err:
        mpmac.unit(kind, **params)
    assert fragment in str(err.value)


def test_approximate_variants_are_named_and_canonical():
    exact = mpmac.unit("fma", a="bf16")
    coarse = mpmac.unit("fma", a="bf16", normalize=" Coarse:4 ")
    assert coarse.normalize == "coarse:4" and coarse.params["normalize"] == "coarse:4"
    names = {exact.name, coarse.name, mpmac.unit("fma", a="bf16", normalize="window:4").name,
             mpmac.unit("fma", a="bf16", mul_approx="lmul").name}
    assert len(names) == 4 and "coarse4" in coarse.name
    lazy = mpmac.unit("mac", a="e4m3", acc="fp32", normalize="lazy")
    assert lazy.normalize == "lazy:4" and "lazy4" in lazy.name
    assert exact.name == "mpmac_fma_bf16_bf16_bf16_bf16_rne_l0"  # exact names unchanged


def test_golden_checks_inputs_and_broadcasts():
    u = mpmac.unit("mul", a="e4m3")
    with pytest.raises(ValueError, match="missing"):
        u.golden(a=[0x38])
    with pytest.raises(ValueError, match="outside"):
        u.golden(a=[0x138], b=[0x38])
    with pytest.raises(TypeError, match="integer"):
        u.golden(a=[1.5], b=[0x38])
    r = u.golden(a=np.array([[0x38], [0x40]]), b=np.array([0x38, 0x40, 0x48]))
    assert r["y"].shape == (2, 3) and r["y"].dtype == np.uint8 and r["flags"].dtype == np.uint8
    assert int(r["y"][1, 1]) == 0x48  # 2 * 2 = 4


def test_verilog_is_deterministic_and_follows_the_port_contract():
    u = mpmac.unit("fma", a="e4m3", c="fp32", out="fp32", rounding="sr", rand_bits=4, latency=2)
    first = u.verilog()
    again = mpmac.unit("fma", a="e4m3", c="fp32", out="fp32", rounding="sr", rand_bits=4,
                       latency=2).verilog()
    assert first == again
    assert f"module {u.name}(" in first
    for port, (direction, width) in u.ports.items():
        decl = f"{'input' if direction == 'in' else 'output'} " + (f"[{width - 1}:0] " if width > 1 else "")
        name = "\\rand " if port == "rand" else port  # a SystemVerilog keyword: emitted escaped
        assert f"{decl}{name};" in first, port
    assert u.verilog(name="top").count("module top(") == 1
    assert mpmac.unit("fma", a="e4m3", c="fp32", out="fp32", latency=1).verilog() != first


def test_posit_units_emit_verilog():
    text = mpmac.unit("fma", a="posit8_0", c="fp32", out="fp32").verilog()
    assert "module mpmac_fma_posit8_0_posit8_0_fp32_fp32_rne_l0(" in text
