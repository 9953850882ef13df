"""How superionic's full diffusion analysis scales with frames T and mobile ions N.

The MSDs are FFT correlations, O(N T log T); unwrapping and drift removal are O(N_all T); the
GLS fit works on at most 64 lags (its covariance costs O(64² T) once per T). So the wall time
should grow like T log T at fixed N (a log-log slope of about 1 + 1/ln T, i.e. ~1.1) and
linearly in N at fixed T. The script times the analysis (best of ``--repeat``) on synthetic
random walks (same generator as bench_transport.py, host of as many atoms as Li), fits
log t = a + b log size over the sizes where the time exceeds ``--min-time`` (fixed costs
dominate below), and prints the exponents. For reference it times pymatgen-analysis-diffusion's
``DiffusionAnalyzer`` at the same sizes: the installed version computes the MSD of every atom
(framework included) by FFT, also O(N_all T log T), then fits <= 200 lags.

Run:  .venv/bin/python benchmarks/bench_transport_scaling.py [--quick] [--no-pymatgen]
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import _transport_data as td  # noqa: E402
import numpy as np  # noqa: E402


def _time(tool: str, d: dict, repeat: int) -> tuple[float, float]:
    """Best wall and CPU seconds of ``repeat`` runs."""
    walls, cpus = [], []
    for _ in range(repeat):
        c0, t0 = time.process_time(), time.perf_counter()
        td.RUNNERS[tool](d, {})
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return min(walls), min(cpus)


def _exponent(x: list[float], t: list[float], min_time: float) -> tuple[float, float, int]:
    """Slope of log t vs log x (and its standard error) over points with t >= min_time."""
    x_a, t_a = np.array(x, float), np.array(t, float)
    ok = t_a >= min_time
    if ok.sum() < 3:  # keep the three largest sizes at least
        ok = np.zeros_like(ok)
        ok[-3:] = True
    lx, lt = np.log(x_a[ok]), np.log(t_a[ok])
    A = np.column_stack([lx, np.ones_like(lx)])
    coef, res, *_ = np.linalg.lstsq(A, lt, rcond=None)
    n = len(lx)
    se = math.nan
    if n > 2:
        s2 = float(np.sum((lt - A @ coef) ** 2)) / (n - 2)
        se = math.sqrt(s2 / float(np.sum((lx - lx.mean()) ** 2)))
    return float(coef[0]), se, n


def sweep(label: str, sizes: list[tuple[int, int]], tools: list[str], repeat: int,
          seed: int) -> dict[str, list]:
    print(f"\n=== {label} ===")
    print(f"{'N Li':>6}{'T':>8}" + "".join(f"{t + ' wall s':>18}{t + ' CPU s':>17}"
                                          for t in tools))
    out: dict[str, list] = {"N": [], "T": [], **{f"{t}_{k}": [] for t in tools
                                                   for k in ("wall", "cpu")}}
    for n, T in sizes:
        tr = td.synthetic(n, T, seed)
        d = {"positions": tr.positions, "cells": tr.cells, "symbols": tr.symbols,
             "frame_interval_fs": tr.frame_interval_fs, "temperature_K": td.TEMPERATURE_K}
        row = f"{n:>6}{T:>8}"
        out["N"].append(n)
        out["T"].append(T)
        for tool in tools:
            w, c = _time(tool, d, repeat)
            out[f"{tool}_wall"].append(w)
            out[f"{tool}_cpu"].append(c)
            row += f"{w:>18.3f}{c:>17.3f}"
        print(row, flush=True)
        del tr, d
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes, under 2 min")
    p.add_argument("--fixed-n", type=int, default=128, help="N for the sweep over T")
    p.add_argument("--fixed-t", type=int, default=8000, help="T for the sweep over N")
    p.add_argument("--frames", default="1000,2000,4000,8000,16000,32000")
    p.add_argument("--mobile", default="32,64,128,256,512")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--min-time", type=float, default=0.3,
                   help="fit exponents over sizes whose CPU time is at least this (s)")
    p.add_argument("--no-pymatgen", action="store_true")
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--json", type=Path)
    a = p.parse_args()
    if a.quick:
        a.fixed_n, a.fixed_t, a.frames, a.mobile, a.repeat = 64, 2000, "500,1000,2000,4000,8000", \
            "16,32,64,128,256", 2
        a.min_time = 0.05
    tools = ["superionic"] + ([] if a.no_pymatgen else ["pymatgen"])
    frames = [int(v) for v in a.frames.split(",")]
    mobile = [int(v) for v in a.mobile.split(",")]
    res = {
        "vs_T": sweep(f"time vs frames T at N = {a.fixed_n} Li (+{a.fixed_n} host)",
                      [(a.fixed_n, T) for T in frames], tools, a.repeat, a.seed),
        "vs_N": sweep(f"time vs mobile ions N at T = {a.fixed_t} frames (+N host)",
                      [(n, a.fixed_t) for n in mobile], tools, a.repeat, a.seed),
    }
    print(f"\nfitted exponents of CPU time (log-log slope, sizes with CPU >= {a.min_time:g} s):")
    for tool in tools:
        for key, var in (("vs_T", "T"), ("vs_N", "N")):
            r = res[key]
            b, se, n = _exponent(r[var], r[f"{tool}_cpu"], a.min_time)
            bw, sew, _ = _exponent(r[var], r[f"{tool}_wall"], a.min_time)
            extra = ""
            if var == "T":
                xs = np.array(r["T"], float)[-n:]
                expect = float(np.polyfit(np.log(xs), np.log(xs * np.log(xs)), 1)[0])
                extra = f"   (T log T over the same sizes: {expect:.2f})"
            else:
                extra = "   (linear: 1)"
            print(f"  {tool:<11} t ~ {var}^{b:.2f} ± {se:.2f} (CPU, {n} sizes); "
                  f"wall {bw:.2f} ± {sew:.2f}{extra}")
            res[key][f"{tool}_exponent_cpu"] = b
            res[key][f"{tool}_exponent_wall"] = bw
    if "pymatgen" in tools:
        for key in ("vs_T", "vs_N"):
            r = res[key]
            ratio = np.array(r["pymatgen_cpu"]) / np.array(r["superionic_cpu"])
            print(f"  CPU ratio pymatgen/superionic {key}: "
                  + ", ".join(f"{v:.2f}" for v in ratio))
    if a.json:
        a.json.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
