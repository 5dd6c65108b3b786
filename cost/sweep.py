"""Parameter sweeps: a TOML grid over unit parameters, run in parallel, cached per point, reported.

A sweep file has one ``[sweep]`` table and one or more ``[[grid]]`` tables (docs/sweep.md)::

    [sweep]
    flows = ["lut4", "gates"]
    distribution = "gaussian"
    jobs = 2                        # optional; default: the CPU count

    [[grid]]
    kind = ["mul", "fma"]           # a scalar or a list, like every other key
    a = ["e4m3", "e5m2", "e2m1"]    # any unit parameter, under its mpmac.unit name
    out = "fp32"
    latency = [0, 1]

Each ``[[grid]]`` table is the cross product of its values; tables are concatenated; identical points
are kept once. With several kinds in one table, a parameter that a kind does not have is left out for
that kind (``c`` applies to fma only). Every point is built with :func:`mpmac.unit` before anything
runs, so an invalid combination is reported up front (:class:`SweepConfigError`, naming the table,
the parameter and the value).

:func:`run_sweep` evaluates the points with :func:`mpmac.cost.model.evaluate` in parallel processes
(``executor="local"``) or on a Dask cluster (``executor="dask"``). Each finished point is written at
once to ``OUT/points/<key>.json``, ``key`` being a hash of the emitted Verilog, the unit parameters,
the flows and the settings; a later run into the same directory reuses every point found there, so a
killed sweep resumes where it stopped. A point whose evaluation raises becomes an error row (and is
retried by the next run); the other points carry on. At the end ``results.csv``, ``results.json`` and
``report.html`` are written from all points of the sweep.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import itertools
import json
import math
import os
import signal
import threading
import time
import tomllib
import traceback
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import mpmac
from mpmac import KINDS

__all__ = ["SweepConfigError", "GridPoint", "SweepConfig", "SweepResult", "FLOWS", "PARAM_ORDER",
           "load_config", "parse_config", "parse_text", "expand_grid", "default_config_path",
           "design_text", "point_key",
           "run_sweep", "write_outputs", "csv_columns", "row_values", "floor_rows",
           "summary_table"]

#: flow names of :func:`mpmac.cost.model.evaluate` (used when the model does not list its own)
FLOWS = ("ice40", "ice40_dsp", "ecp5", "ecp5_nodsp", "xc7", "xc7_nodsp", "lut4", "gates", "cmos",
         "osu018", "nextpnr_ice40", "nextpnr_ecp5")

#: CSV order of the unit parameters; parameters not listed here follow in alphabetical order
PARAM_ORDER = ("a", "b", "c", "acc", "out", "rounding", "rand_bits", "saturate", "subnormals",
               "tininess", "latency")

#: keys of the [sweep] table
SWEEP_KEYS = {
    "flows": "list of cost flows (mpmac.cost.model.evaluate)",
    "distribution": "operand distribution of the energy measurement",
    "jobs": "parallel points (local executor; default: CPU count)",
    "floors": "also report each point relative to the floor references (default: true)",
    "title": "report title",
    "notes": "text shown under the report's title (e.g. published figures to compare with)",
}

#: bump when the meaning of a cached point file changes (2: the quality provider measures the
#: approximate variants: quality.approx.*, long dot products, the layer workload)
CACHE_SCHEMA = 2


class SweepConfigError(ValueError):
    """An invalid sweep file: the message names the table, the key and the value."""


# --- configuration -------------------------------------------------------------------------------
@dataclass(frozen=True)
class GridPoint:
    """One design point: a unit kind and the parameters given for it in the sweep file."""

    kind: str
    params: tuple[tuple[str, Any], ...]
    table: int  # 1-based [[grid]] index, for messages

    def unit(self):
        return mpmac.unit(self.kind, **dict(self.params))

    @property
    def label(self) -> str:
        return " ".join([self.kind] + [f"{k}={_toml_value(v)}" for k, v in self.params])


@dataclass
class SweepConfig:
    """A parsed sweep file (see the module docstring); ``points`` are validated and deduplicated."""

    flows: list[str]
    distribution: str = "gaussian"
    jobs: int | None = None
    floors: bool = True
    title: str = "mpmac sweep"
    notes: str = ""
    grids: list[dict] = field(default_factory=list)
    points: list[GridPoint] = field(default_factory=list)
    text: str = ""
    origin: str = "<config>"
    duplicates: int = 0

    @property
    def settings(self) -> dict:
        """Everything besides the unit that changes a point's results (part of its cache key)."""
        return {"flows": list(self.flows), "distribution": self.distribution, "floors": self.floors}


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    return str(v)


def _known_flows() -> tuple[str, ...]:
    try:
        from .flows import FLOWS as flows
    except ImportError:
        return FLOWS
    return tuple(flows)


def _known_distributions() -> tuple[str, ...] | None:
    try:
        from . import energy
    except ImportError:
        return None
    names = getattr(energy, "DISTRIBUTIONS", None)
    # "array" takes operand values from Python: a sweep file has no way to give them
    return tuple(n for n in names if n != "array") if names else None


def default_config_path() -> Path:
    """The built-in default sweep (package data ``mpmac/cost/default_sweep.toml``)."""
    return Path(str(resources.files("mpmac.cost").joinpath("default_sweep.toml")))


def load_config(source: str | os.PathLike) -> SweepConfig:
    """Read and validate a sweep file.

    Raises
    ------
    SweepConfigError
        Unreadable file, TOML syntax error, unknown key, bad value or invalid unit parameters.
    """
    path = Path(source)
    try:
        text = path.read_text()
    except OSError as e:
        raise SweepConfigError(f"cannot read sweep file {str(path)!r}: {e.strerror}") from None
    return parse_text(text, origin=str(path))


def parse_text(text: str, origin: str = "<config>") -> SweepConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SweepConfigError(f"{origin}: not valid TOML: {e}") from None
    return parse_config(data, text=text, origin=origin)


def parse_config(data: dict, text: str = "", origin: str = "<config>") -> SweepConfig:
    """Validate a sweep file's data (as from :func:`tomllib.loads`) and expand its grid."""
    unknown = sorted(set(data) - {"sweep", "grid"})
    if unknown:
        raise SweepConfigError(f"{origin}: unknown table(s) {unknown}; a sweep file has [sweep] and "
                               f"[[grid]] tables")
    sweep = data.get("sweep")
    if not isinstance(sweep, dict):
        raise SweepConfigError(f"{origin}: missing [sweep] table (with flows = [...])")
    bad = sorted(set(sweep) - set(SWEEP_KEYS))
    if bad:
        raise SweepConfigError(f"{origin}: unknown key(s) {bad} in [sweep]; valid: "
                               f"{', '.join(SWEEP_KEYS)}")
    flows = sweep.get("flows")
    if isinstance(flows, str):
        flows = [flows]
    if not isinstance(flows, list) or not all(isinstance(f, str) for f in flows):
        raise SweepConfigError(f"{origin}: [sweep] flows must be a list of flow names, not "
                               f"{flows!r}; valid: {', '.join(_known_flows())}")
    known = _known_flows()
    for f in flows:
        if f not in known:
            raise SweepConfigError(f"{origin}: unknown flow {f!r} in [sweep] flows; valid: "
                                   f"{', '.join(known)}")
    if len(set(flows)) != len(flows):
        raise SweepConfigError(f"{origin}: [sweep] flows lists a flow twice: {flows}")
    distribution = sweep.get("distribution", "gaussian")
    dists = _known_distributions()
    if not isinstance(distribution, str) or (dists is not None and distribution not in dists):
        raise SweepConfigError(f"{origin}: [sweep] distribution={distribution!r} is invalid"
                               + (f"; valid: {', '.join(dists)}" if dists else
                                  "; it must be a distribution name"))
    jobs = sweep.get("jobs")
    if jobs is not None and (not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1):
        raise SweepConfigError(f"{origin}: [sweep] jobs={jobs!r} is invalid: it must be an "
                               f"integer >= 1")
    floors = sweep.get("floors", True)
    if not isinstance(floors, bool):
        raise SweepConfigError(f"{origin}: [sweep] floors={floors!r} is invalid: true or false")
    title = sweep.get("title", "mpmac sweep")
    if not isinstance(title, str):
        raise SweepConfigError(f"{origin}: [sweep] title={title!r} must be a string")
    notes = sweep.get("notes", "")
    if not isinstance(notes, str):
        raise SweepConfigError(f"{origin}: [sweep] notes={notes!r} must be a string")
    grids = data.get("grid")
    if isinstance(grids, dict):
        grids = [grids]
    if not grids:
        raise SweepConfigError(f"{origin}: no [[grid]] table: add at least one, e.g. "
                               f"[[grid]] kind = \"mul\" a = [\"e4m3\", \"e2m1\"]")
    points, dups = expand_grid(grids, origin=origin)
    return SweepConfig(flows=flows, distribution=distribution, jobs=jobs, floors=floors,
                       title=title, notes=notes, grids=grids, points=points, text=text,
                       origin=origin, duplicates=dups)


def _values(table: int, key: str, value, origin: str) -> list:
    values = value if isinstance(value, list) else [value]
    if not values:
        raise SweepConfigError(f"{origin}: [[grid]] {table}: {key} is an empty list")
    for v in values:
        if isinstance(v, (dict, list)) or not isinstance(v, (str, int, float, bool)):
            raise SweepConfigError(f"{origin}: [[grid]] {table}: {key}={v!r} is invalid: give a "
                                   f"string, number or boolean, or a list of them")
    return values


def expand_grid(tables: list[dict], origin: str = "<config>") -> tuple[list[GridPoint], int]:
    """Cross product of each ``[[grid]]`` table, tables concatenated, duplicates dropped.

    Every point is built with :func:`mpmac.unit`. Returns ``(points, duplicates dropped)``.

    Raises
    ------
    SweepConfigError
        A table without ``kind``, an unknown kind, a parameter that none of the table's kinds has,
        or points that :func:`mpmac.unit` rejects (each distinct message listed once, with the
        point and the value it names).
    """
    points: list[GridPoint] = []
    seen: set = set()
    dups = 0
    problems: dict[str, list[str]] = {}  # message -> points
    for t, table in enumerate(tables, start=1):
        if not isinstance(table, dict):
            raise SweepConfigError(f"{origin}: [[grid]] {t} is not a table")
        if "kind" not in table:
            raise SweepConfigError(f"{origin}: [[grid]] {t} has no kind (one of "
                                   f"{', '.join(KINDS)}, or a list of them)")
        kinds = _values(t, "kind", table["kind"], origin)
        for k in kinds:
            if k not in KINDS:
                raise SweepConfigError(f"{origin}: [[grid]] {t}: unknown kind {k!r}; valid: "
                                       f"{', '.join(KINDS)}")
        keys = [k for k in table if k != "kind"]
        valid = {k: {f.name for f in dataclasses.fields(KINDS[k])} for k in kinds}
        for key in keys:
            if not any(key in valid[k] for k in kinds):
                allp = sorted(set().union(*valid.values()))
                raise SweepConfigError(f"{origin}: [[grid]] {t}: unknown parameter {key!r} for "
                                       f"{'/'.join(kinds)}; valid: {', '.join(allp)}")
        lists = {key: _values(t, key, table[key], origin) for key in keys}
        for kind in kinds:
            mine = [key for key in keys if key in valid[kind]]
            for combo in itertools.product(*(lists[key] for key in mine)):
                params = tuple(zip(mine, combo))
                p = GridPoint(kind, params, t)
                try:
                    u = p.unit()
                except (ValueError, TypeError) as e:
                    problems.setdefault(str(e), []).append(f"[[grid]] {t}: {p.label}")
                    continue
                ident = (kind, json.dumps(u.params, sort_keys=True, default=str))
                if ident in seen:
                    dups += 1
                    continue
                seen.add(ident)
                points.append(p)
    if problems:
        n = sum(len(v) for v in problems.values())
        lines = []
        for msg, where in list(problems.items())[:20]:
            also = f" (and {len(where) - 1} more point(s) with this error)" if len(where) > 1 else ""
            lines.append(f"{where[0]}: {msg}{also}")
        more = f"\n  ... and {len(problems) - 20} more errors" if len(problems) > 20 else ""
        raise SweepConfigError(f"{origin}: {n} invalid point(s) in the grid:\n  "
                               + "\n  ".join(lines) + more)
    return points, dups


# --- evaluation of one point (runs in a worker process) ------------------------------------------
def design_text(unit) -> str:
    """The emitted design of ``unit`` that its cache key hashes: Amaranth's RTLIL, deterministic.

    RTLIL rather than Verilog: it is the same design, 2-5x faster to emit (no Yosys run), and the
    Verilog is a function of it and the pinned Yosys.
    """
    from amaranth.back import rtlil
    return rtlil.convert(unit.component(), name=unit.name, emit_src=False)


def point_key(unit, settings: dict, design: str | None = None) -> str:
    """Cache key of one point: hash of the emitted design, the unit parameters and the settings."""
    import amaranth

    from .tools import versions
    design = design_text(unit) if design is None else design
    doc = {"schema": CACHE_SCHEMA, "mpmac": mpmac.__version__, "amaranth": amaranth.__version__,
           "tools": versions(), "kind": unit.kind, "params": unit.params,
           "design": hashlib.sha256(design.encode()).hexdigest(), "settings": settings}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:24]


def _evaluate_kwargs(fn: Callable, settings: dict, tool_jobs: int | None) -> dict:
    import inspect
    kwargs = {"floors": settings["floors"], "extra": {"distribution": settings["distribution"]}}
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # pragma: no cover - a builtin
        params = {}
    if tool_jobs is not None and "jobs" in params:
        kwargs["jobs"] = tool_jobs
    return kwargs


def _run_point(kind: str, params: tuple, settings: dict, done: frozenset,
               evaluate: Callable | None, tool_jobs: int | None = None) -> dict:
    """Worker: key the point; return ``{"key", "cached": True}`` if done, else evaluate it."""
    t0 = time.perf_counter()
    out: dict[str, Any] = {"key": None, "cached": False, "status": "ok", "error": ""}
    try:
        u = mpmac.unit(kind, **dict(params))
        key = point_key(u, settings)
        out["key"] = key
        if key in done:
            out["cached"] = True
            return out
        if evaluate is None:
            from .model import evaluate as fn
        else:
            fn = evaluate
        result = fn(u, list(settings["flows"]), **_evaluate_kwargs(fn, settings, tool_jobs))
        out["result"] = _finite(json.loads(json.dumps(result, default=_json_default)))
    except Exception as e:  # noqa: BLE001 - any failure of one point becomes its error row
        out["status"] = "error"
        out["error"] = f"{type(e).__name__}: {e}"
        out["traceback"] = traceback.format_exc(limit=-6)
    out["seconds"] = time.perf_counter() - t0
    return out


def _json_default(v):
    try:
        import numpy as np
        if isinstance(v, np.generic):
            return v.item()
        if isinstance(v, np.ndarray):
            return v.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(v, Path):
        return str(v)
    raise TypeError(f"not JSON serializable: {type(v).__name__}")


# --- the sweep ------------------------------------------------------------------------------------
@dataclass
class SweepResult:
    """What :func:`run_sweep` did: rows in grid order and the output files."""

    out_dir: Path
    rows: list[dict]  # one per point: see results.json "points"
    computed: int
    cached: int
    errors: int
    seconds: float
    csv_path: Path
    json_path: Path
    html_path: Path


def _finite(v):
    """NaN and infinities become None (null), so that the JSON files are standard JSON."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_finite(x) for x in v]
    return v


def _write_json_atomic(path: Path, doc) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(_finite(doc), indent=1, default=_json_default, allow_nan=False)
                   + "\n")
    os.replace(tmp, path)


def _done_keys(points_dir: Path, retry_errors: bool = False) -> frozenset:
    """Keys of the finished points in ``points_dir`` (with ``retry_errors``: those without a flow
    or provider error)."""
    keys = set()
    for p in points_dir.glob("*.json"):
        try:
            doc = json.loads(p.read_text())
        except (OSError, ValueError):
            continue  # a torn file (cannot happen with atomic writes, but never trust a cache)
        if doc.get("status") != "ok" or doc.get("key") != p.stem:
            continue
        if retry_errors and (doc.get("result") or {}).get("errors"):
            continue
        keys.add(p.stem)
    return frozenset(keys)


class _Progress:
    """A rich progress bar with ETA on a terminal; one line per point otherwise (logs, CI)."""

    def __init__(self, enabled: bool, total: int, title: str):
        self.bar = None
        self.lines = False
        self.total, self.done, self.t0 = total, 0, time.monotonic()
        if not enabled:
            return
        from rich.console import Console
        if not Console().is_terminal:
            self.lines = True
            print(title, flush=True)
            return
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                            TextColumn("{task.fields[last]}"), transient=False)
        self.task = self.bar.add_task(title, total=total, last="")

    def __enter__(self):
        if self.bar:
            self.bar.start()
        return self

    def advance(self, text: str):
        self.done += 1
        if self.bar:
            self.bar.update(self.task, advance=1, last=text)
        elif self.lines:
            elapsed = time.monotonic() - self.t0
            eta = elapsed / self.done * (self.total - self.done)
            print(f"[{self.done}/{self.total}] {_clock(elapsed)} ETA {_clock(eta)}  {text}",
                  flush=True)

    def __exit__(self, *exc):
        if self.bar:
            self.bar.stop()


def _clock(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}"


def run_sweep(config: SweepConfig | str | os.PathLike, out_dir: str | os.PathLike,
              executor: str = "local", scheduler: str | None = None, jobs: int | None = None,
              progress: bool = True, evaluate: Callable | None = None,
              retry_errors: bool = False) -> SweepResult:
    """Evaluate every point of ``config`` and write results.csv, results.json and report.html.

    Parameters
    ----------
    config : SweepConfig or path of a sweep file
    out_dir : directory of the outputs and of the per-point cache ``points/``
    executor : {"local", "dask"}
        local: a process pool of ``jobs`` processes. dask: the cluster at ``scheduler``
        (``tcp://host:port``), or without ``scheduler`` a local Dask cluster of ``jobs`` workers.
    jobs : parallel points (default: the config's ``jobs``, else the CPU count)
    progress : show a progress bar with ETA
    evaluate : callable with the signature of :func:`mpmac.cost.model.evaluate` (default: that
        function); it must be importable by the worker processes (a module-level function).
    retry_errors : also recompute the cached points whose result has a flow or provider error
        (points whose evaluation raised are always recomputed)

    Raises
    ------
    SweepConfigError
        Invalid config or options (raised before anything runs).
    ConnectionError
        The Dask scheduler cannot be reached.
    """
    if not isinstance(config, SweepConfig):
        config = load_config(config)
    if executor not in ("local", "dask"):
        raise SweepConfigError(f"executor={executor!r} is invalid; valid: local, dask")
    if scheduler is not None and executor != "dask":
        raise SweepConfigError(f"scheduler={scheduler!r} needs executor='dask'")
    jobs = jobs if jobs is not None else (config.jobs or os.cpu_count() or 1)
    if not isinstance(jobs, int) or jobs < 1:
        raise SweepConfigError(f"jobs={jobs!r} is invalid: it must be an integer >= 1")
    out = Path(out_dir)
    points_dir = out / "points"
    points_dir.mkdir(parents=True, exist_ok=True)
    settings = config.settings
    done = _done_keys(points_dir, retry_errors)
    t0 = time.perf_counter()
    answers: dict[int, dict] = {}
    computed = cached = 0

    def finish(i: int, ans: dict, bar: _Progress):
        nonlocal computed, cached
        p = config.points[i]
        ans.setdefault("key", None)
        if ans.get("cached"):
            cached += 1
        else:
            computed += 1
            if ans.get("key"):
                doc = {"key": ans["key"], "kind": p.kind, "grid": dict(p.params), "table": p.table,
                       "settings": settings, "status": ans["status"], "error": ans["error"],
                       "traceback": ans.get("traceback", ""), "seconds": ans.get("seconds"),
                       "result": ans.get("result")}
                name = ans["key"] + (".json" if ans["status"] == "ok" else ".error.json")
                _write_json_atomic(points_dir / name, doc)
        answers[i] = ans
        mark = "" if ans["status"] == "ok" else " ERROR"
        bar.advance(f"{p.label}{' (cached)' if ans.get('cached') else ''}{mark}")

    # tool processes per point: the cores left to each of the points running at once
    tool_jobs = max(1, (os.cpu_count() or 1) // jobs) if executor == "local" else None
    tasks = [(p.kind, p.params, settings, done, evaluate, tool_jobs) for p in config.points]
    title = f"{config.title}: {len(tasks)} points"
    if executor == "local":
        _run_local(tasks, jobs, progress, title, finish)
    else:
        _run_dask(tasks, scheduler, jobs, progress, title, finish)

    rows = []
    for i, p in enumerate(config.points):
        ans = answers[i]
        u = p.unit()
        row = {"key": ans.get("key"), "kind": p.kind, "name": u.name, "params": u.params,
               "grid": dict(p.params), "status": ans["status"], "error": ans["error"],
               "cached": bool(ans.get("cached")), "result": None}
        if ans["status"] == "ok":
            path = points_dir / f"{ans['key']}.json"
            try:
                doc = json.loads(path.read_text())
                row["result"] = doc["result"]
                row["seconds"] = doc.get("seconds")
            except (OSError, ValueError, KeyError) as e:
                row["status"], row["error"] = "error", f"cached point {path} unreadable: {e}"
        else:
            row["traceback"] = ans.get("traceback", "")
        rows.append(row)
    seconds = time.perf_counter() - t0
    paths = write_outputs(config, rows, out, seconds=seconds)
    errors = sum(r["status"] != "ok" for r in rows)
    return SweepResult(out, rows, computed, cached, errors, seconds, *paths)


def _worker_init():
    """Worker processes end with the sweep: Linux kills them when their parent dies (kill -9);
    Ctrl-C is for the parent, which then stops them (no traceback from every worker)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import ctypes
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: a killed sweep's workers finish their point
        pass


@contextlib.contextmanager
def _sigterm_exits():
    """SIGTERM raises SystemExit in the main thread, so the cleanup below stops the workers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise SystemExit(128 + signum)
    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _run_local(tasks, jobs, progress, title, finish):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    # spawn: the parent holds threads (progress bar) and JIT state that must not be forked
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(tasks)) or 1,
                               mp_context=multiprocessing.get_context("spawn"),
                               initializer=_worker_init)
    try:
        with _sigterm_exits(), _Progress(progress, len(tasks), title) as bar:
            futures = {pool.submit(_run_point, *t): i for i, t in enumerate(tasks)}
            for fut in as_completed(futures):
                i = futures[fut]
                try:
                    ans = fut.result()
                except BrokenProcessPool as e:
                    ans = {"status": "error", "error": f"worker process died: {e}"}
                except Exception as e:  # noqa: BLE001 - e.g. an unpicklable evaluate
                    ans = {"status": "error", "error": f"{type(e).__name__}: {e}"}
                finish(i, ans, bar)
    except BaseException:
        # interrupted: stop the workers now (finished points are already on disk)
        for proc in list(getattr(pool, "_processes", {}).values()):
            try:
                proc.kill()
            except Exception:  # noqa: BLE001
                pass
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _run_dask(tasks, scheduler, jobs, progress, title, finish):
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError as e:  # pragma: no cover - a dependency
        raise SweepConfigError(f"executor='dask' needs dask[distributed]: {e}") from None
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        address = cluster.scheduler_address
    else:
        address = scheduler
    try:
        client = Client(address, timeout="10s")
    except (OSError, TimeoutError) as e:
        if cluster is not None:
            cluster.close()
        raise ConnectionError(f"cannot reach the Dask scheduler at {address!r}: {e}") from None
    try:
        with _sigterm_exits(), _Progress(progress, len(tasks), title) as bar:
            futures = [client.submit(_run_point, *t, pure=False) for t in tasks]
            index = {f.key: i for i, f in enumerate(futures)}
            for fut in as_completed(futures):
                i = index[fut.key]
                try:
                    ans = fut.result()
                except Exception as e:  # noqa: BLE001 - a worker died (KilledWorker), ...
                    ans = {"status": "error", "error": f"{type(e).__name__}: {e}"}
                finish(i, ans, bar)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# --- outputs --------------------------------------------------------------------------------------
def _flatten(prefix: str, d, out: dict):
    if isinstance(d, dict):
        for k, v in d.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(d, bool):
        out[prefix] = int(d)
    elif isinstance(d, (int, float)) or d is None:
        out[prefix] = d
    else:
        out[prefix] = str(d)


def row_values(row: dict) -> dict:
    """Flat ``column -> value`` of one point: metrics, ``rel.*`` and ``seconds.*``."""
    vals: dict[str, Any] = {}
    r = row.get("result") or {}
    for k, v in (r.get("metrics") or {}).items():
        _flatten(k, v, vals)
    _flatten("rel", r.get("relative") or {}, vals)
    _flatten("seconds", r.get("seconds") or {}, vals)
    return vals


def _metric_sort_key(flows: list[str]):
    def key(col: str):
        head = col.split(".", 1)[0]
        group = 2 if head == "rel" else 3 if head == "seconds" else 1
        rank = flows.index(head) if head in flows else len(flows)
        return (group, rank, head, col)
    return key


def csv_columns(rows: list[dict], flows: list[str]) -> tuple[list[str], list[str]]:
    """(parameter columns, metric columns) in their stable order."""
    params = set()
    for r in rows:
        params.update(r["params"])
    pcols = [p for p in PARAM_ORDER if p in params] + sorted(params - set(PARAM_ORDER))
    mcols = set()
    for r in rows:
        mcols.update(row_values(r))
    return pcols, sorted(mcols, key=_metric_sort_key(flows))


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "" if math.isnan(v) else repr(v)
    return str(v)


def _errors_text(row: dict) -> str:
    if row["status"] != "ok":
        return row["error"]
    errs = (row.get("result") or {}).get("errors") or {}
    return "; ".join(f"{k}: {v}" for k, v in errs.items())


def floor_rows(rows: list[dict]) -> list[dict]:
    """One row per distinct floor design of the points' results (``evaluate``'s ``floors``): the
    INT8 MAC first, then the integer multipliers by width."""
    found: dict[str, dict] = {}
    for r in rows:
        for fid, f in ((r.get("result") or {}).get("floors") or {}).items():
            h = f.get("design_hash") or f.get("name")
            if h in found or not f.get("metrics"):
                continue
            found[h] = {"key": None, "kind": "floor", "name": f.get("name", fid), "floor": fid,
                        "params": {}, "grid": {}, "status": "ok", "error": "", "cached": r["cached"],
                        "result": {"metrics": f["metrics"], "errors": f.get("errors") or {},
                                   "design_hash": f.get("design_hash", "")},
                        "width": f.get("width")}
    return sorted(found.values(), key=lambda f: (f["floor"] != "int8mac", f["floor"],
                                                 f.get("width") or 0, f["name"]))


def write_outputs(config: SweepConfig, rows: list[dict], out: Path,
                  seconds: float | None = None) -> tuple[Path, Path, Path]:
    """Write results.csv, results.json and report.html for ``rows`` (grid order).

    The floor references the points were compared with (the INT8 MAC, the bare integer multipliers
    of each significand width) follow the points as rows of kind ``floor``.
    """
    floors = floor_rows(rows)
    pcols, mcols = csv_columns(rows + floors, config.flows)
    csv_path = out / "results.csv"
    tmp = csv_path.with_name(".results.csv.tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["kind", "name", *pcols, "status", "errors", *mcols, "design_hash", "key"])
        for r in rows + floors:
            vals = row_values(r)
            res = r.get("result") or {}
            w.writerow([r["kind"], r["name"], *(_cell(r["params"].get(p)) for p in pcols),
                        r["status"], _errors_text(r), *(_cell(vals.get(m)) for m in mcols),
                        res.get("design_hash", ""), r.get("key") or ""])
    os.replace(tmp, csv_path)

    versions: dict[str, list] = {}
    for r in rows:
        for tool, v in ((r.get("result") or {}).get("versions") or {}).items():
            versions.setdefault(tool, [])
            if v not in versions[tool]:
                versions[tool].append(v)
    doc = {"title": config.title, "notes": config.notes, "mpmac_version": mpmac.__version__,
           "config": config.text, "origin": config.origin, "settings": config.settings,
           "seconds": seconds, "versions": {k: v[0] if len(v) == 1 else v for k, v in versions.items()},
           "columns": {"params": pcols, "metrics": mcols}, "points": rows, "floors": floors}
    json_path = out / "results.json"
    _write_json_atomic(json_path, doc)

    from .report import write_report
    html_path = out / "report.html"
    write_report(doc, html_path)
    return csv_path, json_path, html_path


def headline_metrics(rows: list[dict]) -> list[str]:
    """The report's plot metrics that some point has: area, energy, fmax and error."""
    from .report import ERROR_METRIC, PLOTS, _pick
    vals = [row_values(r) for r in rows if r["status"] == "ok"]
    picked = [_pick(vals, cands) for _, _, cands, _ in PLOTS] + [_pick(vals, (ERROR_METRIC,))]
    return [m for m in picked if m is not None]


def summary_table(result: SweepResult):
    """A rich table of every point with the headline metrics (for the command line)."""
    from rich.table import Table
    metrics = headline_metrics(result.rows)
    table = Table(title=f"sweep: {result.out_dir}", title_justify="left")
    table.add_column("name", overflow="fold")
    for m in metrics:
        table.add_column(m, justify="right")
    table.add_column("status")
    for r in result.rows + floor_rows(result.rows):
        vals = row_values(r)
        cells = [f"{v:.4g}" if isinstance(v, float) else _cell(v) for v in (vals.get(m) for m in metrics)]
        status = ("floor" if r["kind"] == "floor" else
                  "cached" if r["cached"] and r["status"] == "ok" else r["status"])
        table.add_row(r["name"], *cells, status)
    return table
