#!/usr/bin/env python
"""The error analysis of docs/approximate.md: every approximate variant against its exact unit.

For each unit and variant (normalize / mul_approx), from the golden models only
(mpmac.cost.quality with fixed seeds, so a rerun prints the same numbers, times aside):
the error against the exact unit (max and mean in ULPs, bias, mean relative error, ULP-error
histogram), the mean relative error of Gaussian dot products of length 64 to 4096 and the relative
Frobenius error of the layer workload, both against exact arithmetic.

Run: ``.venv/bin/python bench/approx_error.py [--quick] [--only NAME]`` (Markdown on stdout).
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time

import mpmac
from mpmac.cost import quality

NORMALIZE = ("exact", "coarse:2", "coarse:4", "window:1", "window:2", "window:4", "window:8")
LAZY = ("lazy:0", "lazy:4")

#: name -> (kind, unit parameters, variants); a variant is a normalize value or "lmul"
UNITS = {
    "bf16 fma": ("fma", {"a": "bf16"}, NORMALIZE + ("lmul",)),
    "bf16 mac, acc fp32": ("mac", {"a": "bf16", "acc": "fp32"}, NORMALIZE + LAZY + ("lmul",)),
    "fp16 fma": ("fma", {"a": "fp16"}, NORMALIZE + ("lmul",)),
    "e4m3 mac, acc fp32": ("mac", {"a": "e4m3", "acc": "fp32"}, NORMALIZE + LAZY + ("lmul",)),
    "bf16 add": ("add", {"a": "bf16"}, NORMALIZE),
    "bf16 mul": ("mul", {"a": "bf16"}, ("exact", "lmul")),
    "fp16 mul": ("mul", {"a": "fp16"}, ("exact", "lmul")),
    "e4m3 mul": ("mul", {"a": "e4m3"}, ("exact", "lmul")),
}


def variant_unit(kind, params, variant):
    if variant == "exact":
        return mpmac.unit(kind, **params)
    if variant == "lmul":
        return mpmac.unit(kind, **params, mul_approx="lmul")
    return mpmac.unit(kind, **params, normalize=variant)


def g(x) -> str:
    return "inf" if x == float("inf") else "0" if x == 0 else f"{x:.3g}"


def row(cells) -> str:
    return "| " + " | ".join(cells) + " |"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer operations and trials")
    ap.add_argument("--only", action="append", choices=list(UNITS), help="only these units")
    args = ap.parse_args()
    opts = dict(n=512, dot_trials=2, dot_len=64, long_trials=2, layer=(16, 64, 2)) if args.quick \
        else dict(n=2048, long_trials=quality.LONG_TRIALS, layer=quality.LAYER)
    print(f"{datetime.date.today().isoformat()}: `{' '.join(['.venv/bin/python'] + sys.argv)}`; "
          f"gaussian operands (sigma 1), seed 0, n={opts['n']} operations, "
          f"{opts['long_trials']} dot-product trials, layer {opts['layer']}\n")
    labels = quality.ulp_bin_labels()
    lens = quality.LONG_DOT_LENS
    for name in args.only or UNITS:
        kind, params, variants = UNITS[name]
        chain = kind in quality.CHAIN_KINDS
        print(f"### {name}\n")
        head = ["variant", "max ULP", "mean ULP", "bias", "mean rel err"]
        if chain:
            head += [f"dot {n}" for n in lens] + ["nrms 1024", "layer"]
        print(row(head + ["s"]))
        print(row(["---"] * (len(head) + 1)))
        hists = {}
        for v in variants:
            t0 = time.perf_counter()
            q = quality.measure(variant_unit(kind, params, v), **opts)
            cells = [v] + [g(q[f"quality.approx.{m}"])
                           for m in ("max_ulp", "mean_ulp", "bias", "mean_rel_err")]
            if chain:
                cells += [g(q[f"quality.dot_mean_rel_err.{n}"]) for n in lens]
                cells += [g(q["quality.dot_nrms_err.1024"]), g(q["quality.layer_rel_err"])]
            print(row(cells + [f"{time.perf_counter() - t0:.1f}"]), flush=True)
            hists[v] = q["quality.approx.ulp_hist"]
        used = [j for j in range(len(labels)) if any(h[j] for h in hists.values())]
        print(f"\nULP-error histogram against the exact unit (% of "
              f"{sum(next(iter(hists.values())))} operations):\n")
        print(row(["variant"] + [labels[j] for j in used]))
        print(row(["---"] * (len(used) + 1)))
        for v, h in hists.items():
            total = sum(h) or 1
            print(row([v] + [f"{100 * h[j] / total:.3g}" for j in used]))
        print()


if __name__ == "__main__":
    main()
