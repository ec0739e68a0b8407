"""Shared benchmark helpers: env pinning, interleaved median timing, tables, JSON output.

Import this module FIRST in a benchmark (before numpy): it pins BLAS/OpenMP to one thread
and puts the repository root on ``sys.path``.

    from _harness import Report, compare
    rep = Report("core")                          # parses --quick / --json / --repeat
    t = compare({"ft": f1, "np": f2}, rep.repeat) # median seconds per call, interleaved
    rep.ratio("sin", t["ft"], t["np"], target=1.5)
    rep.finish()                                  # prints the markdown table (and JSON)
"""

from __future__ import annotations

import os
import sys

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from typing import Any, Callable  # noqa: E402

_clock = time.perf_counter
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def _calibrate(fn: Callable[[], Any], min_time: float) -> int:
    """Calls per sample so that one sample lasts at least ``min_time`` seconds."""
    number = 1
    while True:
        t0 = _clock()
        for _ in range(number):
            fn()
        dt = _clock() - t0
        if dt >= min_time or number >= 1 << 20:
            return number
        number = max(number * 2, int(number * min_time / max(dt, 1e-9) * 1.2))


STATS: dict[str, Callable[[list[float]], float]] = {"median": statistics.median, "min": min}


def compare(fns: dict[str, Callable[[], Any]], repeat: int = 7,
            min_time: float = 0.02, clock: str = "wall", stat: str = "median") -> dict[str, float]:
    """Median (or ``stat="min"``) seconds per call of each function, samples interleaved
    (rotating order).

    Each function is called once to warm up, then ``repeat`` rounds each take one sample of
    every function (``number`` calls, calibrated to last ``min_time``); GC is disabled while
    a sample runs. ``clock="cpu"`` measures the process's CPU time instead of wall time: on
    a shared machine the time slices lost to other processes then do not count. ``"min"``
    suits sub-microsecond calls, whose samples only other processes' load makes slower.
    """
    tick = CLOCKS[clock]
    names = list(fns)
    for f in fns.values():
        f()
    numbers = {n: _calibrate(fns[n], min_time) for n in names}
    samples: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeat):
        order = names[r % len(names):] + names[:r % len(names)]
        for n in order:
            f, k = fns[n], numbers[n]
            gc.collect()
            gc.disable()
            try:
                t0 = tick()
                for _ in range(k):
                    f()
                dt = tick() - t0
            finally:
                gc.enable()
            samples[n].append(dt / k)
    return {n: STATS[stat](s) for n, s in samples.items()}


def fmt_time(t: float) -> str:
    if t < 1e-3:
        return f"{t * 1e6:.2f} µs"
    if t < 1:
        return f"{t * 1e3:.2f} ms"
    return f"{t:.2f} s"


class Report:
    """Rows of one benchmark; ``finish`` prints a markdown table and optionally writes JSON."""

    def __init__(self, issue: str, description: str = "", argv: list[str] | None = None,
                 clock: str = "wall"):
        p = argparse.ArgumentParser(description=description)
        p.add_argument("--quick", action="store_true", help="fewer repeats")
        p.add_argument("--repeat", type=int, default=None, help="interleaved rounds")
        p.add_argument("--json", default=None, help="also write the rows to this file")
        p.add_argument("--clock", choices=sorted(CLOCKS), default=clock,
                       help=f"wall time or the process's CPU time (default {clock})")
        self.args, _ = p.parse_known_args(argv)
        self.clock = self.args.clock
        self.issue = issue
        self.quick = self.args.quick
        self.repeat = self.args.repeat or (3 if self.quick else 9)
        self.min_time = 0.01 if self.quick else 0.03
        self.rows: list[dict[str, Any]] = []
        self.notes: list[str] = []

    def compare(self, fns: dict[str, Callable[[], Any]], stat: str = "median") -> dict[str, float]:
        return compare(fns, self.repeat, self.min_time, self.clock, stat)

    def row(self, case: str, value: float, unit: str, *, target: float | None = None,
            higher_is_better: bool = False, ft_time: float | None = None,
            ref_time: float | None = None, ref: str = "") -> dict[str, Any]:
        ok = None
        if target is not None:
            ok = value >= target if higher_is_better else value <= target
        r = {"issue": self.issue, "case": case, "value": value, "unit": unit,
             "target": target, "higher_is_better": higher_is_better, "ok": ok,
             "ft_time": ft_time, "ref_time": ref_time, "ref": ref}
        self.rows.append(r)
        print(f"  {case}: {value:.3g}{unit}  ({'ok' if ok else 'MISS' if ok is False else '-'})",
              file=sys.stderr, flush=True)
        return r

    def ratio(self, case: str, ft_time: float, ref_time: float, *, target: float | None = None,
              ref: str = "numpy") -> dict[str, Any]:
        """Row ``functrans time / reference time`` (lower is better)."""
        return self.row(case, ft_time / ref_time, "×", target=target, ft_time=ft_time,
                        ref_time=ref_time, ref=ref)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def table(self) -> str:
        lines = [f"### {self.issue}", "",
                 "| case | functrans | reference | result | target | met |",
                 "| --- | ---: | ---: | ---: | ---: | :---: |"]
        for r in self.rows:
            ft_t = fmt_time(r["ft_time"]) if r["ft_time"] is not None else ""
            ref_t = (f"{fmt_time(r['ref_time'])} ({r['ref']})" if r["ref_time"] is not None
                     else r["ref"])
            if r["target"] is None:
                tgt = ""
            else:
                tgt = ("≥ " if r["higher_is_better"] else "≤ ") + f"{r['target']:g}{r['unit']}"
            met = {True: "yes", False: "**NO**", None: ""}[r["ok"]]
            lines.append(f"| {r['case']} | {ft_t} | {ref_t} | {r['value']:.3g}{r['unit']} "
                         f"| {tgt} | {met} |")
        for n in self.notes:
            lines.append("")
            lines.append(f"- {n}")
        return "\n".join(lines)

    def finish(self) -> None:
        print(self.table(), flush=True)
        if self.args.json:
            with open(self.args.json, "w") as f:
                json.dump({"issue": self.issue, "rows": self.rows, "notes": self.notes}, f,
                          indent=1)
