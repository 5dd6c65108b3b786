"""Cost model of one design point: :func:`evaluate` runs the flows on a unit and on its floor
references, adds the analytic widths and the registered metric providers, and caches every flow
result.

    >>> import mpmac
    >>> from mpmac.cost import evaluate, FAST_FLOWS
    >>> r = evaluate(mpmac.unit("fma", a="e4m3"), FAST_FLOWS)
    >>> r["metrics"]["osu018.ge"], r["relative"]["osu018.area_um2/sigmul"]

Result (JSON-serializable)::

    {"name": top module, "kind": unit kind, "params": unit.params (names as in mpmac.unit / CLI),
     "design_hash": sha256 of the emitted Verilog,
     "metrics": {"<flow>.<metric>": number, "analytic.<name>": int, "<provider>.<name>": ...},
     "relative": {"<area metric>/sigmul": ratio, "<area metric>/int8mac": ratio},
     "floors": {"sigmul": {"name", "design_hash", "metrics", "errors"}, "int8mac": {...}},
     "versions": {tool: version} of the tools behind the numbers,
     "seconds": {flow or provider: wall s spent in this call (0 for a cache hit), "total": s},
     "cached": [flows served from the cache], "errors": {flow or provider: message}}

Cache: one JSON file per (design hash, flow, flow settings, tool versions), under ``cache_dir``
(default ``<build root>/cost-cache``, the build root being ``$MPMAC_BUILD_DIR`` or
``./.mpmac-build``). A second evaluate of the same design with the same tools reads every flow
result from there. Failed flows are not cached.

Metric providers: beside the flows, :data:`PROVIDERS` maps a name to a callable
``fn(unit, **options) -> {"<name>.<metric>": value}`` run for every unit; ``options`` are the
entries of ``extra`` that ``fn`` accepts as keyword arguments (e.g. ``extra={"distribution":
"uniform"}`` reaches the energy and quality layers). Registered: ``analytic`` (built in),
``energy`` (:func:`mpmac.cost.energy.measure`) and ``quality`` (:func:`mpmac.cost.quality.measure`),
the last two imported when first used. :func:`register_provider` adds more. A provider that raises
gives an ``errors`` entry; the flows and the other providers still run.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Callable

from . import tools
from .analytic import analytic
from .floor import floors as floor_designs, sigmul_width
from .flows import FAST_FLOWS, FLOWS, Flow, FlowResult, _Task, available_flows, run_many

__all__ = ["evaluate", "PROVIDERS", "register_provider", "default_cache_dir", "FAST_FLOWS",
           "cache_key", "relative_metrics"]

Provider = Callable[..., dict]


def _lazy(module: str, function: str) -> Provider:
    """A provider that imports ``mpmac.cost.<module>`` on first use and calls ``function``."""
    def provider(unit, **options):
        import importlib
        return getattr(importlib.import_module(f"mpmac.cost.{module}"), function)(unit, **options)
    provider.target = (module, function)
    return provider


#: metric providers run by :func:`evaluate` after the flows, in this order:
#: name -> fn(unit, **options) -> {"<name>.<metric>": value} (see the module docstring)
PROVIDERS: dict[str, Provider] = {
    "analytic": analytic,
    "energy": _lazy("energy", "measure"),
    "quality": _lazy("quality", "measure"),
}


def register_provider(name: str, fn: Provider) -> None:
    """Add (or replace) metric provider ``name``; its metrics must be named ``<name>.<metric>``."""
    if name in FLOWS:
        raise ValueError(f"provider name {name!r} is a flow name")
    PROVIDERS[name] = fn


def _accepted(fn: Provider, options: dict) -> dict:
    """The entries of ``options`` that ``fn`` takes as keyword arguments."""
    import inspect
    target = getattr(fn, "target", None)
    if target is not None:
        import importlib
        fn = getattr(importlib.import_module(f"mpmac.cost.{target[0]}"), target[1])
    params = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return dict(options)
    return {k: v for k, v in options.items() if k in params and k != "unit"}


def default_cache_dir() -> Path:
    from mpmac.sim.runner import build_root
    return build_root() / "cost-cache"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def cache_key(design_hash: str, flow: Flow, versions: dict[str, str]) -> str:
    """Hash of everything a flow's numbers depend on: design, flow settings, tool versions."""
    blob = json.dumps({"design": design_hash, "flow": flow.name, "settings": flow.settings(),
                       "versions": {k: versions.get(k) for k in flow.uses}}, sort_keys=True)
    return _sha256(blob)


def _cache_path(cache_dir: Path, design_hash: str, flow: Flow, key: str) -> Path:
    return cache_dir / design_hash[:16] / f"{flow.name}-{key[:16]}.json"


def _cache_read(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data.get("metrics"), dict) else None


def _cache_write(path: Path, data: dict) -> None:
    """Atomic write (a temporary file renamed), safe with parallel evaluations."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


#: (flow, metric) pairs reported relative to the floors, from each flow's ``area_metrics``
def _area_metric_names(flow_names) -> list[str]:
    return [f"{n}.{m}" for n in flow_names for m in FLOWS[n].area_metrics]


def relative_metrics(metrics: dict, floor_metrics: dict[str, dict]) -> dict[str, float]:
    """``{"<metric>/<floor>": unit / floor}`` for the area metrics present in both (floor > 0)."""
    names = {k.split(".")[0] for k in metrics if k.split(".")[0] in FLOWS}
    out = {}
    for metric in _area_metric_names([n for n in FLOWS if n in names]):
        value = metrics.get(metric)
        if value is None:
            continue
        for floor, fm in floor_metrics.items():
            ref = fm.get(metric)
            if ref:
                out[f"{metric}/{floor}"] = round(value / ref, 4)
    return out


def _select(names, registry, what: str, keywords: dict) -> list[str]:
    """Names (a list or "a,b", or one of ``keywords``) in the registry's order.

    ValueError when the text names nothing or an unknown name; the message lists what is valid.
    """
    if isinstance(names, str) and names.strip() in keywords:
        return keywords[names.strip()]()
    items = names.split(",") if isinstance(names, str) else list(names)
    items = [n.strip() for n in items if n.strip()]
    valid = ", ".join([*keywords, *registry])
    if not items and names != []:
        raise ValueError(f"{names!r} names no {what}; valid: {valid}")
    unknown = [n for n in items if n not in registry]
    if unknown:
        raise ValueError(f"unknown {what} {', '.join(map(repr, unknown))}; valid: {valid}")
    return [n for n in registry if n in items]


def resolve_flows(names) -> list[str]:
    """Flow names in report order: a list, "a,b", "fast", "all" or None (every available flow).

    ValueError naming an unknown flow.
    """
    if names is None:
        return available_flows()
    return _select(names, FLOWS, "flow(s)",
                   {"all": available_flows, "fast": lambda: list(FAST_FLOWS)})


def resolve_providers(names) -> list[str]:
    """Metric provider names: a list, "a,b", "none" or None (all); ``analytic`` always runs."""
    if names is None:
        return list(PROVIDERS)
    chosen = set(_select(names, PROVIDERS, "metric provider(s)", {"none": list}))
    # analytic costs nothing and every report has it
    return [n for n in PROVIDERS if n in chosen or n == "analytic"]


def evaluate(unit, flows: list[str] | None = None, *, cache_dir: Path | None = None,
             floors: bool = True, extra: dict | None = None,
             providers: list[str] | None = None, jobs: int | None = None, cache: bool = True,
             keep: bool = False, progress: Callable[[str], None] | None = None) -> dict:
    """Cost of one design point (see the module docstring for the result).

    Parameters
    ----------
    unit : mpmac.Unit
    flows : list of str, optional
        Flow names (:data:`~mpmac.cost.flows.FLOWS`); default: every available flow. A requested
        flow whose tools are missing gets an ``errors`` entry.
    cache_dir : Path, optional
        Where flow results are cached (default :func:`default_cache_dir`).
    floors : bool
        Also synthesize the floor references and report ``relative`` metrics.
    extra : dict, optional
        Options for the metric providers, each receiving those it accepts as keyword arguments
        (e.g. ``{"distribution": "uniform"}`` for energy and quality).
    providers : list of str, optional
        Metric providers to run (:data:`PROVIDERS`); default: all. ``analytic`` always runs.
    jobs : int, optional
        Tool processes at a time (default: the CPU count).
    cache : bool
        False: neither read nor write the cache.
    keep : bool
        Keep the work directory (logs, netlists); it is always kept when a flow failed.
    progress : callable, optional
        Called with a line of text per finished flow.

    Raises
    ------
    ValueError
        An unknown flow or provider name (the message lists the valid ones).
    """
    t_start = time.monotonic()
    flow_names = resolve_flows(flows)
    provider_names = resolve_providers(providers)
    options = dict(extra or {})
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    verilog = unit.verilog()
    design_hash = _sha256(verilog)
    versions = tools.versions()

    designs = {"unit": (verilog, unit.name)}
    if floors:
        designs.update(floor_designs(unit))
    results: dict[str, dict[str, FlowResult]] = {d: {} for d in designs}
    cached: dict[str, list[str]] = {d: [] for d in designs}
    errors: dict[str, dict[str, str]] = {d: {} for d in designs}
    hashes = {d: _sha256(v) for d, (v, _) in designs.items()}
    keys: dict[tuple[str, str], Path] = {}
    todo: dict[str, list[Flow]] = {d: [] for d in designs}
    for name in flow_names:
        flow = FLOWS[name]
        if not flow.available():
            for d in designs:
                errors[d][name] = f"not available: {flow.missing()}"
            continue
        for d in designs:
            path = _cache_path(cache_dir, hashes[d], flow, cache_key(hashes[d], flow, versions))
            keys[(d, name)] = path
            hit = _cache_read(path) if cache else None
            if hit is not None:
                results[d][name] = FlowResult(name, hit["metrics"], seconds=0.0)
                cached[d].append(name)
            else:
                todo[d].append(flow)

    workroot = None
    if any(todo.values()):
        from mpmac.sim.runner import build_root
        base = build_root() / "cost-work"
        base.mkdir(parents=True, exist_ok=True)
        workroot = Path(tempfile.mkdtemp(prefix=f"{unit.name[:60]}-", dir=base))
        tasks = [_Task(d, designs[d][0], designs[d][1], workroot / d, todo[d])
                 for d in designs if todo[d]]
        run_many(tasks, jobs, progress)
        for task in tasks:
            for name, res in task.results.items():
                results[task.key][name] = res
                if res.error is None and cache:
                    _cache_write(keys[(task.key, name)], {
                        "metrics": res.metrics, "flow": name, "design": designs[task.key][1],
                        "design_hash": hashes[task.key], "settings": FLOWS[name].settings(),
                        "versions": {k: versions.get(k) for k in FLOWS[name].uses},
                        "seconds": res.seconds})
    failed = False
    for d in designs:
        for name, res in results[d].items():
            if res.error is not None:
                errors[d][name] = res.error
                failed = True
    if workroot is not None and not keep and not failed:
        shutil.rmtree(workroot, ignore_errors=True)

    def flow_metrics(d):
        out = {}
        for name in flow_names:
            res = results[d].get(name)
            if res is not None and res.error is None:
                out.update(res.metrics)
        return out

    metrics = flow_metrics("unit")
    seconds = {name: results["unit"][name].seconds for name in flow_names
               if name in results["unit"]}
    for name in provider_names:
        t0 = time.monotonic()
        try:
            fn = PROVIDERS[name]
            values = fn(unit, **_accepted(fn, options))
            bad = [k for k in values if not k.startswith(name + ".")]
            if bad:
                raise ValueError(f"metric names must start with {name + '.'!r}: {bad}")
            metrics.update(values)
        except Exception as e:  # a provider is foreign code: report, do not abort the point
            errors["unit"][name] = f"{type(e).__name__}: {e}"
        seconds[name] = round(time.monotonic() - t0, 3)

    floor_out = {}
    if floors:
        for d in designs:
            if d == "unit":
                continue
            floor_out[d] = {"name": designs[d][1], "design_hash": hashes[d],
                            "metrics": flow_metrics(d), "errors": errors[d],
                            "cached": cached[d],
                            "seconds": {n: r.seconds for n, r in results[d].items()}}
        floor_out["sigmul"]["width"] = sigmul_width(unit)
        for d, f in floor_out.items():
            for name, message in f["errors"].items():
                if name not in errors["unit"]:  # a flow that failed for the unit is named once
                    errors["unit"][f"{d}:{name}"] = message

    used = {"amaranth"} | {k for n in flow_names for k in FLOWS[n].uses}
    out_versions = {k: v for k, v in versions.items() if k in used}
    try:
        out_versions["mpmac"] = metadata.version("mpmac")
    except metadata.PackageNotFoundError:
        pass
    seconds["total"] = round(time.monotonic() - t_start, 3)
    return {
        "name": unit.name,
        "kind": unit.kind,
        "params": dict(unit.params),
        "design_hash": design_hash,
        "metrics": metrics,
        "relative": relative_metrics(metrics, {d: f["metrics"] for d, f in floor_out.items()}),
        "floors": floor_out,
        "versions": out_versions,
        "seconds": seconds,
        "cached": cached["unit"],
        "errors": errors["unit"],
        **({"workdir": str(workroot)} if workroot is not None and (keep or failed) else {}),
    }
