"""Parameter sweeps (mpmac.cost.sweep, mpmac.cost.report, `mpmac sweep`).

Grid expansion and config errors are checked without running anything. The runs use the real
:func:`mpmac.cost.model.evaluate` with the fast ``lut4`` flow on small e2m1 units: resume after a
killed run (the killed run's point files keep their mtimes, the rerun computes only the rest), an
evaluation that raises for one point (an error row, the others finish), the self-contained HTML
report, and a 2-point sweep on a Dask LocalCluster started here.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from mpmac.cli import main
from mpmac.cost import report, sweep
from mpmac.cost.sweep import SweepConfigError, parse_text

# Small e2m1 units: each takes about a second through the lut4 flow.
SMALL = textwrap.dedent("""
    [sweep]
    flows = ["lut4"]
    jobs = 1

    [[grid]]
    kind = "mul"
    a = "e2m1"
    out = ["e2m1", "e2m3", "e3m2", "fp16"]
""")


def run_cli(*args):
    return CliRunner(env={"COLUMNS": "250"}).invoke(main, [str(a) for a in args])


def read_csv(path, floors=False):
    """Rows of results.csv: the points (or, with floors=True, the floor rows that follow them)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [r for r in rows if (r["kind"] == "floor") == floors]


# --- grid expansion --------------------------------------------------------------------------------
def test_grid_is_the_cross_product_of_each_table_and_tables_concatenate():
    cfg = parse_text(textwrap.dedent("""
        [sweep]
        flows = ["lut4", "gates"]

        [[grid]]
        kind = "mul"
        a = ["e4m3", "e5m2", "e2m1"]
        rounding = ["rne", "rtz"]
        latency = [0, 1]

        [[grid]]
        kind = "mac"
        a = "e4m3"
        acc = ["fp32", "kulisch"]
    """))
    assert cfg.flows == ["lut4", "gates"] and cfg.distribution == "gaussian" and cfg.jobs is None
    labels = [p.label for p in cfg.points]
    assert len(labels) == 3 * 2 * 2 + 2
    assert labels[0] == 'mul a="e4m3" rounding="rne" latency=0'
    assert labels[-1] == 'mac a="e4m3" acc="kulisch"'
    assert {p.table for p in cfg.points} == {1, 2}
    combos = {(dict(p.params)["a"], dict(p.params)["rounding"], dict(p.params)["latency"])
              for p in cfg.points if p.kind == "mul"}
    assert len(combos) == 12
    assert all(p.unit().kind == p.kind for p in cfg.points)


def test_several_kinds_take_only_their_own_parameters_and_duplicates_are_dropped():
    cfg = parse_text(textwrap.dedent("""
        [sweep]
        flows = ["lut4"]
        [[grid]]
        kind = ["mul", "fma"]
        a = ["e4m3", "e2m1"]
        c = ["fp32", "fp16"]
        out = "fp32"
        [[grid]]
        kind = "mul"
        a = "e4m3"
        b = "e4m3"          # the same unit as mul a=e4m3 out=fp32 above? no: out differs
        [[grid]]
        kind = "mul"
        a = "e4m3"
        b = "e4m3"
        out = "fp32"        # the same unit as the first mul point
    """))
    kinds = [p.kind for p in cfg.points]
    assert kinds.count("mul") == 2 + 1  # c does not apply to mul, so no repeats for it
    assert kinds.count("fma") == 4
    assert cfg.duplicates == 1
    assert all("c" not in dict(p.params) for p in cfg.points if p.kind == "mul")


@pytest.mark.parametrize("grid, named", [
    ('kind = "mul"\na = ["e4m3", "e9m9z"]', ['a="e9m9z"', "e9m9z"]),
    ('kind = "mac"\na = "e4m3"\nacc = "kulisch:3"', ['acc="kulisch:3"', "37 bits"]),
    ('kind = "mul"\na = "e4m3"\nlatency = [0, 9]', ["latency=9", "0..3"]),
    ('kind = "mul"\na = "e4m3"\nnorm = "approx"', ["'norm'", "valid: a, b"]),
    ('kind = "mull"\na = "e4m3"', ["'mull'", "mul, add"]),
    ('a = "e4m3"', ["no kind"]),
])
def test_bad_parameter_is_named_before_running(grid, named):
    text = f'[sweep]\nflows = ["lut4"]\n[[grid]]\n{grid}\n'
    with pytest.raises(SweepConfigError) as e:
        parse_text(text, origin="bad.toml")
    for part in named:
        assert part in str(e.value), str(e.value)
    assert "[[grid]] 1" in str(e.value) or "no kind" in str(e.value)


@pytest.mark.parametrize("sweep_table, named", [
    ('flows = ["lut4", "nosuchflow"]', ["nosuchflow", "ice40"]),
    ('flows = ["lut4"]\ndistribution = "cauchy"', ["cauchy", "gaussian"]),
    ('flows = ["lut4"]\njobs = 0', ["jobs=0"]),
    ('flows = ["lut4"]\nflow = "x"', ["'flow'"]),
])
def test_bad_sweep_settings_are_named(sweep_table, named):
    with pytest.raises(SweepConfigError) as e:
        parse_text(f'[sweep]\n{sweep_table}\n[[grid]]\nkind = "mul"\na = "e4m3"\n')
    for part in named:
        assert part in str(e.value), str(e.value)


def test_cli_bad_config_exits_2_naming_the_value_without_traceback(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[sweep]\nflows = ["lut4"]\n[[grid]]\nkind = "mul"\na = ["e4m3", "e9m9z"]\n')
    p = subprocess.run([sys.executable, "-m", "mpmac", "sweep", str(bad), "-o", str(tmp_path / "o")],
                       capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert p.returncode == 2, p.stdout + p.stderr
    assert "e9m9z" in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / "o" / "results.csv").exists()
    for args, named in ((["-o", tmp_path / "o"], "neither"),
                        ([bad], "missing -o/--output"),
                        ([bad, "--default", "-o", tmp_path / "o"], "both"),
                        ([tmp_path / "missing.toml", "-o", tmp_path / "o"], "missing.toml"),
                        ([bad, "-o", tmp_path / "o", "--jobs", "0"], "--jobs=0"),
                        ([bad, "-o", tmp_path / "o", "--scheduler", "tcp://x:1"], "--executor dask")):
        r = run_cli("sweep", *args)
        assert r.exit_code == 2, r.output
        assert named in r.output


def test_default_sweep_lists_every_family():
    r = run_cli("sweep", "--default", "--list")
    assert r.exit_code == 0, r.output
    cfg = sweep.load_config(sweep.default_config_path())
    text = r.output
    for fmt in ("e4m3", "e5m2", "e3m2", "e2m3", "e2m1", "bf16", "fp16", "posit8_0", "posit16_1"):
        assert f'mul a="{fmt}"' in text, fmt
    for fmt in ("e4m3", "e2m1", "bf16", "fp16"):
        assert f'fma a="{fmt}" c="fp32" out="fp32"' in text
        assert f'mac a="{fmt}" acc="fp32"' in text
    for fmt in ("e4m3", "e5m2", "e3m2", "e2m3", "e2m1", "fp16"):  # bf16: 539 bits, left out
        assert f'mac a="{fmt}" acc="kulisch"' in text
    assert 'mac a="posit8_0" acc="quire"' in text
    assert "nextpnr_ice40" not in cfg.flows and "nextpnr_ecp5" not in cfg.flows
    assert f"{len(cfg.points)} points" in text


# --- report -----------------------------------------------------------------------------------------
def test_pareto_front():
    xs = [1, 2, 3, 4, 2]
    ys = [5, 3, 4, 1, 6]
    assert report.pareto_front(xs, ys) == [0, 1, 3]
    assert report.pareto_front(xs, ys, maximize_x=True) == [3]


def test_report_leaves_out_plots_of_missing_metrics_with_a_note():
    points = [{"kind": "mul", "name": f"mpmac_mul_{f}", "params": {"a": f}, "status": "ok",
               "result": {"metrics": {"lut4.lut": 10.0 * i, "quality.mean_rel_err": 0.1 / i}}}
              for i, f in enumerate(("e4m3", "e2m1", "fp16"), start=1)]
    doc = {"title": "t", "points": points, "settings": {"flows": ["lut4"]}, "config": "[sweep]"}
    html = report.render_report(doc)
    assert html.count("<img") == 1 and "plot-area" in html
    assert "energy.pj_h45" in html and "fmax" in html  # the notes name what is missing
    assert "left out" in html


def test_report_shows_notes_and_simd_modes():
    """A sweep's notes appear under the title; a simd point gets one row per mode (in the analytic
    layer's order) with its MACs per cycle and energy per MAC; a simd grid takes modes."""
    cfg = sweep.parse_text('[sweep]\nflows = ["gates"]\nnotes = "paper: -42 % area"\n'
                           '[[grid]]\nkind = "simd"\nmodes = ["4xe2m1,1xposit16_1", "4xe2m1"]\n')
    assert cfg.notes == "paper: -42 % area" and len(cfg.points) == 2
    with pytest.raises(sweep.SweepConfigError, match="notes"):
        sweep.parse_text('[sweep]\nflows = ["gates"]\nnotes = 3\n[[grid]]\nkind = "mul"\n'
                         'a = "e4m3"\n')
    metrics = {"analytic.macs_per_cycle.4xe2m1": 4, "analytic.macs_per_cycle.1xposit16_1": 1,
               "energy.pj_per_mac.4xe2m1": 0.123, "energy.pj_per_mac.1xposit16_1": 4.56}
    points = [{"kind": "simd", "name": "mpmac_simd_x", "params": {"modes": "4xe2m1,1xposit16_1"},
               "status": "ok", "result": {"metrics": metrics}}]
    doc = {"title": "t", "notes": "paper: -42 % area", "points": points,
           "settings": {"flows": ["gates"]}, "config": "[sweep]"}
    html = report.render_report(doc)
    assert "paper: -42 % area" in html and "SIMD engines" in html
    section = html[html.index("SIMD engines"):html.index("<h2>Points")]
    assert section.index("4xe2m1") < section.index("1xposit16_1")
    assert "<td>0.123</td>" in section and "<td>4.56</td>" in section


# --- runs (the real evaluate, lut4 on e2m1 units) ---------------------------------------------------
def _flaky_evaluate(unit, flows, **kwargs):
    """The real evaluate, except that one point raises (module level: the workers import it)."""
    if unit.params["out"] == "e3m2":
        raise RuntimeError("injected failure for this point")
    from mpmac.cost.model import evaluate
    return evaluate(unit, flows, **kwargs)


def test_an_evaluation_error_gives_an_error_row_and_the_others_finish(tmp_path):
    cfg = parse_text(SMALL)
    r = sweep.run_sweep(cfg, tmp_path, jobs=2, progress=False, evaluate=_flaky_evaluate)
    assert (r.computed, r.cached, r.errors) == (4, 0, 1)
    rows = read_csv(tmp_path / "results.csv")
    assert [row["out"] for row in rows] == ["e2m1", "e2m3", "e3m2", "fp16"]  # grid order
    bad = rows[2]
    assert bad["status"] == "error" and "injected failure" in bad["errors"]
    for row in rows[:2] + rows[3:]:
        assert row["status"] == "ok", row
        assert float(row["lut4.lut"]) > 0  # noqa: the metric name of the lut4 flow
    assert len(list((tmp_path / "points").glob("*.error.json"))) == 1
    floors = read_csv(tmp_path / "results.csv", floors=True)
    assert [f["name"] for f in floors] == ["mpmac_floor_int8mac", "mpmac_floor_umul2"]
    assert float(floors[0]["lut4.lut"]) > float(floors[1]["lut4.lut"]) > 0
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["versions"], "the tool versions are recorded"
    assert doc["points"][2]["status"] == "error" and "Traceback" in doc["points"][2]["traceback"]

    # a rerun retries the failed point only
    r2 = sweep.run_sweep(cfg, tmp_path, jobs=2, progress=False, evaluate=_flaky_evaluate)
    assert (r2.computed, r2.cached, r2.errors) == (1, 3, 1)

    # the HTML report: self-contained, with a plot and the error
    html = (tmp_path / "report.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert "http://" not in html and "https://" not in html
    assert "data:image/png;base64," in html
    assert "injected failure" in html
    assert "<table class='sortable'>" in html and "<script>" in html


def test_killed_sweep_resumes_without_recomputing_finished_points(tmp_path):
    config = tmp_path / "small.toml"
    config.write_text(SMALL)
    out = tmp_path / "out"
    points = out / "points"
    cmd = [sys.executable, "-m", "mpmac", "sweep", str(config), "-o", str(out), "--jobs", "1",
           "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while not list(points.glob("*.json")):
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "no point finished in 90 s"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its worker processes
        proc.wait()
    first = {p.name: p.stat().st_mtime_ns for p in points.glob("*.json")}
    assert 1 <= len(first) < 4, f"the kill came too late to test resuming: {sorted(first)}"
    assert not (out / "results.csv").exists()

    r = run_cli("sweep", config, "-o", out, "--no-progress")
    assert r.exit_code == 0, r.output
    assert f"{4 - len(first)} evaluated, {len(first)} from the cache" in r.output
    for name, mtime in first.items():
        assert (points / name).stat().st_mtime_ns == mtime, f"{name} was recomputed"
    rows = read_csv(out / "results.csv")
    assert sorted(row["out"] for row in rows) == ["e2m1", "e2m3", "e3m2", "fp16"]
    assert len({row["key"] for row in rows}) == 4 and all(row["status"] == "ok" for row in rows)
    assert len(list(points.glob("*.json"))) == 4


def test_dask_executor_on_a_local_cluster(tmp_path):
    from dask.distributed import LocalCluster

    config = tmp_path / "two.toml"
    config.write_text(textwrap.dedent("""
        [sweep]
        flows = ["lut4"]
        [[grid]]
        kind = "mul"
        a = "e2m1"
        out = ["e2m1", "fp16"]
    """))
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        r = run_cli("sweep", config, "-o", tmp_path / "out", "--executor", "dask", "--scheduler",
                    cluster.scheduler_address, "--no-progress")
    assert r.exit_code == 0, r.output
    rows = read_csv(tmp_path / "out" / "results.csv")
    assert [row["out"] for row in rows] == ["e2m1", "fp16"]
    assert all(row["status"] == "ok" and float(row["lut4.lut"]) > 0 for row in rows)


def test_dask_scheduler_that_cannot_be_reached_exits_3(tmp_path):
    config = tmp_path / "one.toml"
    config.write_text('[sweep]\nflows = ["lut4"]\n[[grid]]\nkind = "mul"\na = "e2m1"\n')
    r = run_cli("sweep", config, "-o", tmp_path / "o", "--executor", "dask", "--scheduler",
                "tcp://127.0.0.1:9", "--no-progress")
    assert r.exit_code == 3, r.output
    assert "tcp://127.0.0.1:9" in r.output


def test_cached_points_with_flow_errors_are_kept_unless_retry_errors(tmp_path):
    def write(key, status, errors):
        (tmp_path / f"{key}.json").write_text(json.dumps(
            {"key": key, "status": status, "result": {"errors": errors}}))
    write("aaa", "ok", {})
    write("bbb", "ok", {"osu018": "OpenSTA failed"})
    write("ccc", "error", {})
    (tmp_path / "ddd.json").write_text('{"key": "ddd", "stat')  # torn: never trusted
    assert sweep._done_keys(tmp_path) == {"aaa", "bbb"}
    assert sweep._done_keys(tmp_path, retry_errors=True) == {"aaa"}
