"""The ``mpmac`` command line: output of each command, and exit codes of bad parameters.

Most checks use click's CliRunner (in-process, fast); the exit-code checks also run the real process
(``python -m mpmac``) so that the status and the absence of a traceback are what a user sees.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

import mpmac
from mpmac.cli import main
from mpmac.golden import ops


def run(*args):
    # wide enough that every table row stays on one line (pytest-xdist workers set COLUMNS=80)
    return CliRunner(env={"COLUMNS": "250"}).invoke(main, list(args))


def run_process(*args):
    return subprocess.run([sys.executable, "-m", "mpmac", *args], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def test_version():
    r = run("--version")
    assert r.exit_code == 0
    assert mpmac.__version__ in r.output


def test_formats_table_lists_e4m3_with_max_448():
    r = run("formats")
    assert r.exit_code == 0, r.output
    line = next(ln for ln in r.output.splitlines() if " e4m3 " in ln)
    cells = [c.strip() for c in line.strip("│ \n").split("│")]
    assert cells[0] == "e4m3"
    assert cells[1] == "8"
    assert "fn" in cells[2]
    assert cells[4] == "448"
    assert "2^-9" in cells[6]  # min subnormal
    for name in mpmac.golden.formats.format_names():
        assert f" {name} " in r.output
    assert "posit<N>_<ES>" in r.output  # grammar line, printed verbatim (no markup eaten)
    assert "[b<BIAS>]" in r.output


def test_formats_selected_names_only():
    r = run("formats", "e2m1", "posit12_1")
    assert r.exit_code == 0, r.output
    assert " e2m1 " in r.output and " posit12_1 " in r.output
    assert not [ln for ln in r.output.splitlines() if ln.startswith("│ fp32 ")]
    posit = next(ln for ln in r.output.splitlines() if " posit12_1 " in ln)
    assert "2^20" in posit and "2^-20" in posit  # maxpos, minpos


@pytest.mark.parametrize("runner", ["clirunner", "process"])
def test_bad_format_exits_2_naming_it(runner):
    if runner == "clirunner":
        r = run("formats", "e4m3", "e9x9")
        code, text = r.exit_code, r.output
    else:
        p = run_process("formats", "e4m3", "e9x9")
        code, text = p.returncode, p.stdout + p.stderr
    assert code == 2, text
    assert "e9x9" in text
    assert "e4m3" in text and "posit" in text  # the valid choices are listed
    assert "Traceback" not in text


def test_bad_unit_parameters_exit_2_without_traceback():
    cases = [
        (["golden", "mul", "--a", "e4m3", "--out", "nosuch", "1", "2"], "nosuch"),
        (["golden", "mul", "--a", "e4m3", "--rounding", "sr", "1", "2"], "rand_bits"),
        (["golden", "mul", "--a", "posit8_0", "--rounding", "rtz", "1", "2"], "rtz"),
        (["golden", "mul", "--a", "e4m3", "1", "0x1ff"], "0x1ff"),
        (["golden", "mul", "--a", "e4m3", "1", "abc"], "abc"),
        (["golden", "mul", "--a", "e4m3", "1", "2", "3"], "2 value"),
        (["golden", "convert", "--a", "fp32", "--b", "fp32", "--out", "e4m3", "1"], "'b'"),
        (["golden", "mul", "--a", "e4m3", "--latency", "-1", "1", "2"], "latency"),
        (["demo", "--vectors", "0"], "--vectors"),
    ]
    for args, needle in cases:
        r = run(*args)
        assert r.exit_code == 2, (args, r.output)
        assert needle in r.output, (args, r.output)
        assert "Traceback" not in r.output
    p = run_process("golden", "fma", "--a", "e4m3", "--rounding", "bogus", "1", "2", "3")
    assert p.returncode == 2
    assert "bogus" in p.stderr and "Traceback" not in p.stderr


def _result_row(output: str) -> list[str]:
    line = next(ln for ln in output.splitlines() if ln.startswith("│ y"))
    return [c.strip() for c in line.strip("│ \n").split("│")]


def test_golden_fma_e4m3_to_fp32():
    r = run("golden", "fma", "--a", "e4m3", "--b", "e4m3", "--c", "fp32", "--out", "fp32",
            "--rounding", "rne", "1.5", "2", "0.25")
    assert r.exit_code == 0, r.output
    role, fmt, bits, _fields, value, flags = _result_row(r.output)
    assert (role, fmt, value, flags) == ("y", "fp32", "3.25", "flags: -")
    assert int(bits, 16) == int(np.float32(3.25).view(np.uint32))
    assert "0x3c" in r.output and "0x40" in r.output  # 1.5 and 2 in e4m3


def test_golden_agrees_with_the_unit_object():
    """The CLI is a thin shell: its bits are those of mpmac.unit(...).golden on encoded inputs."""
    u = mpmac.unit("mul", a="e2m1", out="e2m1", saturate=True)
    a, _ = ops.encode("e2m1", np.array([3.0]))
    expected = u.golden(a=a, b=a)
    r = run("golden", "mul", "--a", "e2m1", "--saturate", "3", "0x5")
    assert r.exit_code == 0, r.output
    _, _, bits, _, value, flags = _result_row(r.output)
    assert int(bits, 16) == int(expected["y"][0]) and value == "6"
    assert "overflow" in flags and "inexact" in flags


def test_golden_negative_values_and_sr():
    r = run("golden", "convert", "--a", "fp32", "--out", "e4m3", "--rounding", "sr", "--rand-bits", "4",
            "--rand", "0", "--rand", "15", "-1.04")
    assert r.exit_code == 0, r.output
    rows = [ln for ln in r.output.splitlines() if ln.startswith("│ y")]
    assert len(rows) == 2
    assert _result_row(rows[0])[4] == "-1" and _result_row(rows[1])[4] == "-1.125"
    r = run("golden", "convert", "--a", "fp32", "--out", "e4m3", "--rounding", "sr", "--rand-bits", "4",
            "1.04")
    assert r.exit_code == 2 and "--rand" in r.output


def test_golden_mac_stream():
    r = run("golden", "mac", "--a", "e4m3", "--acc", "fp32", "1.5", "2", "448", "448")
    assert r.exit_code == 0, r.output
    steps = [ln for ln in r.output.splitlines() if ln.startswith("│")]
    assert len(steps) == 2
    assert "= 3 " in steps[0] and "= 200707 " in steps[1]  # 1.5*2, then + 448*448, exact in fp32
    r = run("golden", "mac", "--a", "e4m3", "1", "2", "3")
    assert r.exit_code == 2 and "3 values" in r.output


def test_list_shows_fma_parameters():
    r = run("list")
    assert r.exit_code == 0, r.output
    fma = [ln for ln in r.output.splitlines() if ln.startswith("│ fma")]
    assert fma, r.output
    text = " ".join(r.output.split())
    for param in ("a=-", "b=-", "c=-", "out=-", "rounding=rne", "rand_bits=0", "saturate=False",
                  "subnormals=True", "tininess=after", "latency=0"):
        assert param in text
    assert "--rand-bits" in r.output
    for kind in mpmac.KINDS:
        assert f"│ {kind} " in r.output


def test_help_documents_every_golden_option():
    r = run("golden", "--help")
    assert r.exit_code == 0
    for opt in ("--a", "--b", "--c", "--acc", "--out", "--rounding", "--rand-bits", "--rand",
                "--saturate", "--no-subnormals", "--tininess", "--latency"):
        assert opt in r.output


def test_demo_runs():
    r = run("demo", "--vectors", "2000")
    assert r.exit_code == 0, r.output
    for needle in ("e4m3 x e4m3 + fp32", "posit8_0", "e2m1", "sr", "M ops/s", "200705"):
        assert needle in r.output


def test_generate_writes_deterministic_verilog(tmp_path):
    args = ["generate", "fma", "--a", "e4m3", "--b", "e4m3", "--c", "fp32", "--out", "fp32",
            "--rounding", "rne", "--latency", "2"]
    first, second = tmp_path / "a.v", tmp_path / "b.v"
    for path in (first, second):
        r = subprocess.run([sys.executable, "-m", "mpmac", *args, "-o", str(path)],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    text = first.read_text()
    assert text == second.read_text()
    assert "module mpmac_fma_e4m3_e4m3_fp32_fp32_rne_l2(" in text
    assert "latency 2" in r.stderr and "clk <- 1" in r.stderr


def test_generate_bad_parameters_exit_2(tmp_path):
    r = subprocess.run([sys.executable, "-m", "mpmac", "generate", "fma", "--a", "e4m3",
                        "--latency", "9", "-o", str(tmp_path / "x.v")], capture_output=True, text=True)
    assert r.returncode == 2 and "latency=9" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "x.v").exists()
