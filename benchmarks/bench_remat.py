"""Gradient checkpointing: memory and time of grad through a deep ``tanh(x @ W_i)`` chain.

Three variants of the same gradient, from one run, side by side:

* ``plain``      — ``grad`` keeps every layer's activations on the tape;
* ``segments``   — ``remat`` of ``--segments`` segments (8 x 8 layers by default): the tape
                   keeps segment boundaries, one segment's activations are rebuilt at a time;
* ``per-layer``  — ``remat`` of every layer: the tape keeps each layer's input only.

Peak memory is measured with ``tracemalloc`` (NumPy reports its buffers to it) as the peak
above what was allocated before the call, so the weights and input are not counted but the
returned gradient is. Time is the best of ``--repeat`` runs with tracemalloc off.

    python benchmarks/bench_remat.py                 # 64 layers, 1024 x 1024 float32
    python benchmarks/bench_remat.py --width 256     # quick
    python benchmarks/bench_remat.py --wrt both      # gradient w.r.t. the weights too
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

import functrans as ft
import functrans.numpy as fnp


def layer(w, x):
    return fnp.tanh(x @ w)


def segment(ws, x):
    for w in ws:
        x = layer(w, x)
    return x


def make_loss(variant: str, n_layers: int, n_segments: int):
    if variant == "plain":
        def chain(ws, x):
            return segment(ws, x)
    elif variant == "segments":
        per = n_layers // n_segments
        seg = ft.remat(segment)

        def chain(ws, x):
            for s in range(n_segments):
                x = seg(tuple(ws[s * per:(s + 1) * per]), x)
            return x
    elif variant == "per-layer":
        lay = ft.remat(layer)

        def chain(ws, x):
            for w in ws:
                x = lay(w, x)
            return x
    else:
        raise ValueError(variant)

    def loss(ws, x):
        return fnp.sum(chain(ws, x))
    return loss


def peak_memory(fn) -> tuple[float, object]:
    """Peak traced memory (bytes above the start) of one call, and its result."""
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    out = fn()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--width", type=int, default=1024, help="activations are width x width")
    ap.add_argument("--layers", type=int, default=64)
    ap.add_argument("--segments", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=7, help="interleaved timing rounds")
    ap.add_argument("--wrt", choices=("x", "both"), default="x",
                    help="differentiate w.r.t. the input only, or the input and all weights")
    args = ap.parse_args()
    n, L = args.width, args.layers
    rng = np.random.default_rng(0)
    ws = tuple((rng.standard_normal((n, n)) / np.sqrt(n)).astype(np.float32) for _ in range(L))
    x = rng.standard_normal((n, n)).astype(np.float32)
    argnums = 1 if args.wrt == "x" else (0, 1)
    act_mb = n * n * 4 / 2 ** 20
    print(f"grad of sum(tanh(x @ W_i) chain): {L} layers, activations {n}x{n} float32 "
          f"({act_mb:.1f} MB each), w.r.t. {'x' if args.wrt == 'x' else 'x and all W_i'}; "
          f"remat segments: {args.segments} x {L // args.segments}")
    results = {}
    grads_of = {}
    for variant in ("plain", "segments", "per-layer"):
        g = grads_of[variant] = ft.grad(make_loss(variant, L, args.segments), argnums=argnums)
        peak, grads = peak_memory(lambda: g(ws, x))
        results[variant] = (peak, None, grads)
    # Times: interleaved rounds (the machine is shared), median per variant.
    times: dict = {v: [] for v in grads_of}
    for _ in range(args.repeat):
        for variant, g in grads_of.items():
            gc.collect()
            t0 = time.perf_counter()
            g(ws, x)
            times[variant].append(time.perf_counter() - t0)
    results = {v: (peak, float(np.median(times[v])), grads) for v, (peak, _, grads) in results.items()}
    ref = results["plain"][2]
    for variant, (_, _, grads) in results.items():
        for a, b in zip(ft.tree.leaves(grads), ft.tree.leaves(ref)):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=variant)
    p0, t0, _ = results["plain"]
    print(f"{'variant':<12}{'peak MB':>10}{'x plain':>9}{'time s':>9}{'x plain':>9}")
    for variant, (peak, t, _) in results.items():
        print(f"{variant:<12}{peak / 2 ** 20:>10.1f}{peak / p0:>9.2f}{t:>9.3f}{t / t0:>9.2f}")
    # The returned gradient is in every peak. With --wrt both it is as big as all the weights
    # (half of plain's tape here), a floor no checkpointing can go under: plain peaks at the
    # start of the backward pass (full tape, no gradient yet), remat at its end.
    g_bytes = sum(np.asarray(a).nbytes for a in ft.tree.leaves(ref))
    print(f"returned gradient: {g_bytes / 2 ** 20:.1f} MB ({g_bytes / p0:.2f}x plain's peak)")
    seg_p, seg_t = results["segments"][0] / p0, results["segments"][1] / t0
    lay_p, lay_t = results["per-layer"][0] / p0, results["per-layer"][1] / t0
    print(f"targets: segments memory <= 0.40x ({'met' if seg_p <= 0.4 else 'MISSED'}), per-layer "
          f"memory <= 1.00x ({'met' if lay_p <= 1.0 else 'MISSED'}), time <= 1.6x "
          f"({'met' if max(seg_t, lay_t) <= 1.6 else 'MISSED'})")


if __name__ == "__main__":
    main()
