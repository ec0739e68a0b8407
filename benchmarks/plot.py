"""Chart of a ``peers.py --json`` result: time / NumPy time per workload and library.

    python benchmarks/peers.py --json peers.json
    python benchmarks/plot.py peers.json                       # -> docs/_static/benchmarks.png
    python benchmarks/plot.py peers.json -o other.png

Left: grouped horizontal bars, one group per timed workload, one bar per library, on a
log-scale ratio axis (1 = the hand-written NumPy reference; lower is faster). Right: peak
memory of one gradient through a 64-layer chain, plain and with remat, per library. Needs matplotlib.
"""

from __future__ import annotations

import argparse
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, os.pardir, "docs", "_static", "benchmarks.png")
COLORS = {"functrans": "#d62728", "autograd": "#8c564b", "jax": "#1f77b4",
          "jax.jit": "#aec7e8", "torch.func": "#ff7f0e", "torch": "#ff7f0e", "numpy": "#7f7f7f"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("json")
    ap.add_argument("-o", "--out", default=DEFAULT_OUT)
    args = ap.parse_args()
    with open(args.json) as f:
        data = json.load(f)
    libs = [lib for lib in data["libraries"] if lib != "numpy"]
    rows = data["rows"]
    remat = [m for m in data.get("memory", []) if m["kind"] == "remat"]

    fig, axes = plt.subplots(1, 2 if remat else 1, figsize=(13, 0.62 * len(rows) + 2.2),
                             gridspec_kw={"width_ratios": [3, 1]} if remat else None,
                             squeeze=False)
    ax = axes[0, 0]
    height = 0.8 / len(libs)
    y = np.arange(len(rows))[::-1]
    for i, lib in enumerate(libs):
        vals = [r["results"][lib].get("ratio", np.nan) for r in rows]
        pos = y + 0.4 - height * (i + 0.5)
        ax.barh(pos, vals, height=height, color=COLORS.get(lib), label=lib)
        for p, v, r in zip(pos, vals, rows):
            if np.isnan(v):
                ax.text(1.02, p, r["results"][lib]["status"], va="center", fontsize=6,
                        transform=ax.get_yaxis_transform())
    ax.set_xscale("log")
    ax.axvline(1.0, color="k", lw=1)
    ax.set_yticks(y)
    ax.set_yticklabels([r["case"] for r in rows], fontsize=8)
    ax.set_xlabel("time / hand-written NumPy time (log scale; < 1 is faster than NumPy)")
    ax.grid(axis="x", which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Median time relative to the NumPy reference (1 core, 1 thread)", fontsize=10)

    if remat:
        ax2 = axes[0, 1]
        names = [m["lib"] for m in remat]
        plain = np.array([m.get("plain_peak", np.nan) for m in remat], float) / 2 ** 20
        rem = np.array([m.get("remat_peak", np.nan) for m in remat], float) / 2 ** 20
        xs = np.arange(len(names))
        ax2.bar(xs - 0.2, plain, width=0.4, color=[COLORS.get(n, "#7f7f7f") for n in names],
                alpha=0.35, label="plain grad")
        ax2.bar(xs + 0.2, rem, width=0.4, color=[COLORS.get(n, "#7f7f7f") for n in names],
                label="remat")
        for i, m in enumerate(remat):
            if m.get("memory_ratio") is not None:
                ax2.text(i + 0.2, rem[i], f"{m['memory_ratio']:.2f}×", ha="center", va="bottom",
                         fontsize=7)
        ax2.set_xticks(xs)
        ax2.set_xticklabels(names, rotation=45, ha="right", fontsize=8)
        ax2.set_ylabel("peak MB above baseline (RSS)")
        m0 = remat[0]
        ax2.set_title(f"remat, {m0['layers']} layers of {m0['width']}² float32\npeak MB: light "
                      f"plain, dark {m0['segments']} segments", fontsize=9)
        ax2.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {os.path.relpath(args.out)}")


if __name__ == "__main__":
    main()
