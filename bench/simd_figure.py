#!/usr/bin/env python
"""Figure of docs/simd.md: the partial-product array of a simd engine's shared multiplier.

One panel per mode: the ``W`` x ``W`` array of partial products x_i * y_j of the
:class:`~mpmac.rtl.simd.PartitionedMultiplier` (``W`` = :func:`~mpmac.rtl.simd.multiplier_width`),
each cell coloured by the lane whose product it belongs to in that mode and left grey where the
mode masks it. The masks are the multiplier's own (:meth:`PartitionedMultiplier.lane_mask`), so the
figure shows what the hardware does.

Run: ``.venv/bin/python bench/simd_figure.py [-o docs/simd-partition.png] [--modes ...]``
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import mpmac
from mpmac.rtl.simd import PartitionedMultiplier, lane_fields, multiplier_width

#: lane colours (lane 0 first); grey cells are masked
LANE_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                "#17becf")
MASKED = "#e6e6e6"


def lane_map(mul: PartitionedMultiplier, mode: int) -> np.ndarray:
    """(W, W) array: for row j (bit j of y) and column i (bit i of x), the lane that partial
    product belongs to in ``mode``, or -1 where the mode masks it."""
    W = mul.width
    out = np.full((W, W), -1, dtype=int)
    for j in range(W):
        mask = mul.lane_mask(mode, j)
        for lane, (offset, width) in enumerate(mul.fields[mode]):
            for i in range(offset, offset + width):
                if mask >> i & 1:
                    out[j, i] = lane
    return out


def draw(unit, path: Path) -> Path:
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure
    W = multiplier_width(unit)
    fields = lane_fields(unit)
    mul = PartitionedMultiplier(W, fields)
    n = len(unit.lanes)
    fig = Figure(figsize=(2.6 * n, 3.3))
    cmap = ListedColormap([MASKED, *LANE_COLOURS])
    for k, lanes in enumerate(unit.lanes):
        ax = fig.add_subplot(1, n, k + 1)
        grid = lane_map(mul, k)
        ax.imshow(grid + 1, cmap=cmap, vmin=0, vmax=len(LANE_COLOURS), origin="upper",
                  interpolation="nearest")
        # bit 0 on the right, as in a written multiplication
        ax.set_xlim(W - 0.5, -0.5)
        ax.set_xticks(range(W), [str(i) if i % 4 == 0 or i == W - 1 else "" for i in range(W)],
                      fontsize=6)
        ax.set_yticks(range(W), [str(j) if j % 4 == 0 or j == W - 1 else "" for j in range(W)],
                      fontsize=6)
        ax.set_xticks(np.arange(-0.5, W, 1), minor=True)
        ax.set_yticks(np.arange(-0.5, W, 1), minor=True)
        ax.grid(which="minor", color="white", lw=0.6)
        ax.tick_params(which="minor", length=0)
        ax.set_xlabel("x bit i (a lanes' significands)", fontsize=7)
        if k == 0:
            ax.set_ylabel("y bit j (b lanes' significands)", fontsize=7)
        used = int((grid >= 0).sum())
        p = lanes.fmt.precision
        ax.set_title(f"mode {k}: {lanes.name}\n{lanes.count} x {p}-bit significands, "
                     f"{used}/{W * W} cells", fontsize=8)
        for lane, (offset, width) in enumerate(fields[k]):
            centre = offset + (width - 1) / 2
            ax.annotate(f"p[{2 * offset}:{2 * (offset + width)}]", (centre, centre),
                        fontsize=5.5, ha="center", va="center", color="white" if width > 2 else
                        "black", xytext=(0, 0 if width > 2 else -9), textcoords="offset points")
    fig.suptitle(f"{unit.name}\nthe shared {W} x {W} significand multiplier: partial "
                 f"products x_i*y_j kept per mode (colour = lane, grey = masked; p[lo:hi] = the "
                 f"lane's product bits)", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", "--output", default=str(Path(__file__).parents[1] / "docs" /
                                                  "simd-partition.png"))
    ap.add_argument("--modes", help="engine modes (default: the simd default)")
    ap.add_argument("--width", type=int, help="engine width (default 16)")
    args = ap.parse_args(argv)
    params = {k: v for k, v in (("modes", args.modes), ("width", args.width)) if v is not None}
    path = draw(mpmac.unit("simd", **params), Path(args.output))
    print(f"{path}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
