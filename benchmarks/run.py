"""Run every ``benchmarks/bench_*.py``, each in its own subprocess, and print their tables.

    python benchmarks/run.py                 # all benchmarks
    python benchmarks/run.py --quick         # fewer repeats (passed on to each benchmark)
    python benchmarks/run.py core jacobians  # only bench_core.py and bench_jacobians.py
    python benchmarks/run.py --json-dir out/ # each benchmark also writes out/<name>.json
    python benchmarks/run.py peers           # only peers.py (functrans vs autograd/JAX/torch)

A benchmark that fails is reported (exit status 1 at the end) and the others still run.
``--quick``/``--json`` are passed on only to benchmarks that accept them (those built on
``_harness.Report`` or mentioning the flag); others run with their defaults.
"""

from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("names", nargs="*", help="benchmarks to run (bench_<name>.py); default all")
    p.add_argument("--quick", action="store_true", help="fewer repeats")
    p.add_argument("--json-dir", default=None, help="directory for per-benchmark JSON results")
    p.add_argument("--timeout", type=float, default=1800, help="seconds per benchmark")
    args = p.parse_args()

    scripts = sorted(glob.glob(os.path.join(HERE, "bench_*.py"))) + [os.path.join(HERE, "peers.py")]
    if args.names:
        wanted = {n if n.startswith("bench_") or n.startswith("peers") else f"bench_{n}"
                  for n in args.names}
        wanted = {w[:-3] if w.endswith(".py") else w for w in wanted}
        scripts = [s for s in scripts if os.path.basename(s)[:-3] in wanted]
        missing = wanted - {os.path.basename(s)[:-3] for s in scripts}
        if missing:
            print(f"unknown benchmarks: {', '.join(sorted(missing))}", file=sys.stderr)
            return 2
    if args.json_dir:
        os.makedirs(args.json_dir, exist_ok=True)

    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    failed = []
    for script in scripts:
        name = os.path.basename(script)[:-3]
        cmd = [sys.executable, script]
        if args.quick and _accepts(script, "--quick"):
            cmd.append("--quick")
        if args.json_dir and _accepts(script, "--json"):
            cmd += ["--json", os.path.join(args.json_dir, name + ".json")]
        print(f"\n## {name}\n", flush=True)
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=os.path.dirname(HERE), env=env, timeout=args.timeout,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        except subprocess.TimeoutExpired:
            print(f"**{name}: timed out after {args.timeout:.0f} s**", flush=True)
            failed.append(name)
            continue
        print(proc.stdout.rstrip(), flush=True)
        if proc.returncode:
            print(f"\n**{name} failed (exit {proc.returncode})**\n```\n{proc.stderr[-3000:]}\n```",
                  flush=True)
            failed.append(name)
        print(f"\n({name}: {time.perf_counter() - t0:.1f} s)", flush=True)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", flush=True)
    return 1 if failed else 0


def _accepts(script: str, flag: str) -> bool:
    """Whether ``script`` takes ``flag`` (it uses ``_harness.Report`` or mentions the flag)."""
    with open(script, encoding="utf-8") as f:
        text = f.read()
    return flag in text or "import _harness" in text


if __name__ == "__main__":
    sys.exit(main())
