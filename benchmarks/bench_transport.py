"""Diffusion analysis: superionic vs pymatgen-analysis-diffusion vs kinisi (speed, memory,
interval calibration).

Cases (same trajectories for every tool, see ``_transport_data.py``):
  (a) synthetic lattice random walk, 128 Li x 2,000 frames + 128-atom host, known D*;
  (b) large synthetic, 500 Li x 20,000 frames + host (kinisi under a time cap, on a sparse
      grid of lags: with every lag its covariance matrix alone would not fit in memory);
  (c) the CHGNet Li6PS5Cl 800 K trajectory shipped with superionic (a real MD trajectory;
      no AIMD trajectory is available offline).
Every tool runs in its own subprocess (one BLAS/FFT thread each) on the same in-memory
arrays; the table gives wall and CPU time of the full analysis, peak RSS above the loaded
input (+RSS) and in all (RSS), D* with its 95 % interval, D_sigma, H_R and sigma, then the
time ratios kinisi/superionic and pymatgen/superionic. On a shared machine wall times are
noisy: compare the ratios, CPU ratios first.

What each tool computes:
  superionic  analyse_diffusion: unwrapping, drift removal, FFT MSDs, GLS D* and D_sigma with
              the analytic random-walk covariance, H_R, sigma, block averages (automatic window);
  pymatgen    DiffusionAnalyzer (defaults, smoothed='max'): D, D_sigma, sigma; its standard
              deviation comes from the residuals of a weighted least-squares line that treats
              the MSD points as independent; interval = D +- 1.96 std;
  kinisi      DiffusionAnalyzer.diffusion + ConductivityAnalyzer.conductivity (its default MCMC
              sampler: 32 walkers, 500 burn-in, 1000 samples); 95 % interval = 2.5/97.5
              percentiles of the posterior samples; start_dt = 1 ps (pymatgen's fixed start)
              for synthetic data and superionic's window start for the real trajectory.

Calibration: over independent synthetic trajectories (32 Li x 1,000 frames) the fraction of
95 % intervals that contain the true D* (and D_sigma = D*, H_R = 1). ``--calib-vibration-A``
adds a bounded, slowly relaxing rattling of each Li about its site (as caged motion in real
MD), which leaves D* unchanged but makes successive steps correlated.

Run:  .venv/bin/python benchmarks/bench_transport.py            # full (about an hour)
      .venv/bin/python benchmarks/bench_transport.py --quick    # under 2 min
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import _transport_data as td  # noqa: E402
import numpy as np  # noqa: E402

TOOLS = ("superionic", "pymatgen", "kinisi")


def _lags_label(lags: int | None) -> str:
    return "kinisi" if not lags else f"kinisi/{lags}"


def _fmt(x: float | None, spec: str = ".3e") -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return format(x, spec)


def _ci(r: dict, key: str) -> str:
    ci = r.get(key + "_ci95")
    if ci is None or not all(math.isfinite(v) for v in ci):
        return f"{_fmt(r.get(key))}"
    return f"{_fmt(r.get(key))} [{_fmt(ci[0], '.2e')}, {_fmt(ci[1], '.2e')}]"


def print_case(title: str, results: dict[str, dict], truth: float | None) -> None:
    print(f"\n=== {title} ===")
    if truth is not None and math.isfinite(truth):
        print(f"true D* = D_sigma = {truth:.3e} cm^2/s, H_R = 1")
    head = (f"{'tool':<11}{'wall s':>9}{'CPU s':>9}{'+RSS MB':>9}{'RSS MB':>8}  "
            f"{'D* cm^2/s [95% CI]':<36}"
            f"{'D_sigma cm^2/s [95% CI]':<36}{'H_R':>7}{'sigma mS/cm':>13}  fit window fs")
    print(head)
    print("-" * len(head))
    for tool, r in results.items():
        if "error" in r:
            print(f"{tool:<11}  not run: {r['error']}")
            continue
        win = f"{r.get('fit_start_fs', math.nan):g}-{r.get('fit_end_fs', math.nan):g}"
        print(f"{tool:<11}{r['wall_s']:>9.2f}{r['cpu_s']:>9.2f}{r['peak_extra_MB']:>9.0f}"
              f"{r['peak_rss_MB']:>8.0f}  "
              f"{_ci(r, 'D'):<36}{_ci(r, 'D_sigma'):<36}{_fmt(r.get('haven'), '.2f'):>7}"
              f"{_fmt(r.get('sigma_mS_per_cm'), '.4g'):>13}  {win}")
    s = results.get("superionic", {})
    if "wall_s" in s:
        for peer in [k for k in results if k.startswith("kinisi")] + ["pymatgen"]:
            p = results.get(peer, {})
            if "wall_s" in p:
                print(f"ratio {peer}/superionic: wall {p['wall_s'] / s['wall_s']:.2f}x, "
                      f"CPU {p['cpu_s'] / max(s['cpu_s'], 1e-9):.2f}x")
            elif "error" in p:
                cpu = p.get("cpu_at_cap_s", math.nan)
                print(f"ratio {peer}/superionic: > {p.get('cap_s', math.nan) / s['wall_s']:.1f}x "
                      f"wall, > {cpu / max(s['cpu_s'], 1e-9):.1f}x CPU ({peer} {p['error']}, "
                      f"{cpu:.0f} s CPU by then)")


def timing_case(name: str, path: Path, truth: float | None, args, *, kinisi_start_fs: float,
                kinisi_lags: list[int], kinisi_cap: float, repeat: int) -> dict[str, dict]:
    """Every tool on one trajectory, each in its own subprocess; kinisi once per lag grid."""
    results: dict[str, dict] = {}
    runs = [("superionic", None), ("pymatgen", None)]
    if not args.no_kinisi:
        runs += [("kinisi", k or None) for k in kinisi_lags]
    for tool, lags in runs:
        opts = {"repeat": 1 if tool == "kinisi" else repeat, "kinisi_start_fs": kinisi_start_fs,
                "kinisi_lags": lags, "seed": args.seed}
        if tool == "kinisi" and results.get("superionic", {}).get("fit_start_fs") is not None \
                and kinisi_start_fs <= 0:
            opts["kinisi_start_fs"] = results["superionic"]["fit_start_fs"]
        cap = kinisi_cap if tool == "kinisi" else args.tool_cap
        r = td.run_worker(tool, path, opts, timeout_s=cap, threads=args.threads)
        r["cap_s"] = cap
        results[_lags_label(lags) if tool == "kinisi" else tool] = r
    print_case(name, results, truth)
    return results


def calibration(args) -> dict:
    """Coverage of the 95 % intervals over independent synthetic trajectories."""
    n, nk = args.calib_n, args.calib_kinisi_n
    n_li, n_fr = args.calib_mobile, args.calib_frames
    vib = (f", Li rattling {args.calib_vibration_A:g} A rms / {args.calib_vibration_frames:g} "
           "frames" if args.calib_vibration_A > 0 else "")
    print(f"\n=== calibration: {n} trajectories of {n_li} Li x {n_fr} frames{vib} "
          f"(kinisi: first {nk}) ===")
    tools = [t.strip() for t in args.calib_tools.split(",")]
    rows: dict[str, list] = {t: [] for t in tools}
    t_tool = dict.fromkeys(tools, 0.0)
    for i in range(args.calib_first, args.calib_first + n):
        tr = td.synthetic(n_li, n_fr, seed=10_000 + i, vibration_A=args.calib_vibration_A,
                          vibration_frames=args.calib_vibration_frames)
        d = {"positions": tr.positions, "cells": tr.cells, "symbols": tr.symbols,
             "frame_interval_fs": tr.frame_interval_fs, "temperature_K": td.TEMPERATURE_K}
        truth = tr.D_tracer_cm2_per_s
        for tool in tools:
            if tool == "kinisi" and (i - args.calib_first >= nk or args.no_kinisi):
                continue
            t0 = time.perf_counter()
            try:
                r = td.RUNNERS[tool](d, {"kinisi_start_fs": 1000.0, "seed": i,
                                         "kinisi_lags": args.calib_kinisi_lags})
            except Exception as exc:  # a failed analysis counts as a miss, and is reported
                print(f"  {tool} failed on trajectory {i}: {exc!r}")
                r = {"D": math.nan, "D_ci95": [math.nan] * 2, "D_sigma_ci95": [math.nan] * 2}
            t_tool[tool] += time.perf_counter() - t0
            r["truth"] = truth
            rows[tool].append(r)
    print(f"{'tool':<20}{'n':>5}{'D* cover':>10}{'D_sig cover':>12}{'H_R cover':>11}"
          f"{'D* rel.RMSE':>13}{'D* med rel CI':>15}{'D_sig med rel CI':>18}{'time s':>9}")
    out = {}
    for tool in tools:
        rs = rows[tool]
        if not rs:
            continue
        cov_d = np.mean([td.covers(r["D_ci95"], r["truth"]) for r in rs])
        cov_s = np.mean([td.covers(r["D_sigma_ci95"], r["truth"]) for r in rs])
        hs = [r for r in rs if all(math.isfinite(v) for v in r.get("haven_ci95", [math.nan]))]
        cov_h = np.mean([td.covers(r["haven_ci95"], 1.0) for r in hs]) if hs else math.nan
        rel = np.array([r["D"] / r["truth"] - 1 for r in rs])
        w_d = np.median([(r["D_ci95"][1] - r["D_ci95"][0]) / r["truth"] for r in rs])
        w_s = np.median([(r["D_sigma_ci95"][1] - r["D_sigma_ci95"][0]) / r["truth"] for r in rs])
        rmse = float(np.sqrt(np.nanmean(rel**2)))
        print(f"{tool:<20}{len(rs):>5}{cov_d:>10.2f}{_fmt(cov_s, '.2f'):>12}"
              f"{_fmt(cov_h, '.2f'):>11}{rmse:>13.3f}{w_d:>15.3f}{_fmt(w_s, '.3f'):>18}"
              f"{t_tool[tool]:>9.1f}")
        out[tool] = {"n": len(rs), "coverage_D": float(cov_d), "coverage_D_sigma": float(cov_s),
                     "coverage_haven": float(cov_h), "rel_rmse_D": rmse,
                     "median_rel_ci_width_D": float(w_d), "median_rel_ci_width_D_sigma":
                     float(w_s), "time_s": t_tool[tool]}
    lo, hi = _binomial_band(n)
    print(f"(a calibrated 95 % interval gives a coverage within [{lo:.2f}, {hi:.2f}] "
          f"for n = {n} in 95 % of repetitions)")
    return out


def _binomial_band(n: int) -> tuple[float, float]:
    from scipy import stats

    return stats.binom.ppf(0.025, n, 0.95) / n, stats.binom.ppf(0.975, n, 0.95) / n


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes, finishes in < 2 min")
    p.add_argument("--cases", default="a,b,c,cal", help="comma list of a, b, c, cal")
    p.add_argument("--n-mobile", type=int, default=128)
    p.add_argument("--n-frames", type=int, default=2000)
    p.add_argument("--large-mobile", type=int, default=500)
    p.add_argument("--large-frames", type=int, default=20000)
    p.add_argument("--kinisi-lags", default="0,200",
                   help="kinisi lag grids in cases (a) and (c), comma list: 0 = every lag (its "
                        "default), n = n evenly spaced lags")
    p.add_argument("--kinisi-lags-large", type=int, default=200,
                   help="evenly spaced kinisi time intervals in case (b)")
    p.add_argument("--kinisi-cap", type=float, default=900.0, help="kinisi time cap per case, s")
    p.add_argument("--tool-cap", type=float, default=1800.0, help="time cap for the others, s")
    p.add_argument("--no-kinisi", action="store_true")
    p.add_argument("--repeat", type=int, default=3, help="runs of superionic/pymatgen (best)")
    p.add_argument("--calib-n", type=int, default=100)
    p.add_argument("--calib-kinisi-n", type=int, default=20)
    p.add_argument("--calib-kinisi-lags", type=int, default=100)
    p.add_argument("--calib-tools", default="superionic,pymatgen,pymatgen-unsmoothed,kinisi",
                   help="analyses in the calibration (pymatgen-unsmoothed: smoothed=False)")
    p.add_argument("--calib-first", type=int, default=0,
                   help="index of the first calibration trajectory (to extend a run)")
    p.add_argument("--calib-vibration-A", type=float, default=0.0,
                   help="rms of a bounded (Ornstein-Uhlenbeck) Li rattling added to the walks")
    p.add_argument("--calib-vibration-frames", type=float, default=50.0,
                   help="correlation time of that rattling, frames")
    p.add_argument("--calib-mobile", type=int, default=32)
    p.add_argument("--calib-frames", type=int, default=1000)
    p.add_argument("--threads", type=int, default=1, help="BLAS/FFT threads per tool")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", type=Path, help="write all results here")
    a = p.parse_args()
    if a.quick:
        a.n_mobile, a.n_frames = 64, 1000
        a.large_mobile, a.large_frames = 128, 5000
        a.kinisi_lags, a.kinisi_lags_large, a.kinisi_cap = "0", 100, 60.0
        a.repeat = 1
        a.calib_n, a.calib_kinisi_n, a.calib_kinisi_lags = 20, 3, 50
        a.calib_mobile, a.calib_frames = 16, 600
    cases = {c.strip() for c in a.cases.split(",")}
    k_lags = [int(v) for v in a.kinisi_lags.split(",")]
    print(f"threads per tool: {a.threads}; kinisi cap {a.kinisi_cap:g} s")
    all_res: dict = {}
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_transport_") as tmp:
        tmp = Path(tmp)
        if "a" in cases:
            path = tmp / "a.npz"
            truth = td.save_synthetic(path, td.synthetic(a.n_mobile, a.n_frames, a.seed))
            all_res["a"] = timing_case(
                f"(a) synthetic {a.n_mobile} Li x {a.n_frames} frames (+{a.n_mobile} host)",
                path, truth["D_true"], a, kinisi_start_fs=1000.0,
                kinisi_lags=k_lags, kinisi_cap=a.kinisi_cap, repeat=a.repeat)
        if "b" in cases:
            path = tmp / "b.npz"
            truth = td.save_synthetic(path, td.synthetic(a.large_mobile, a.large_frames,
                                                         a.seed + 1))
            all_res["b"] = timing_case(
                f"(b) synthetic {a.large_mobile} Li x {a.large_frames} frames "
                f"(+{a.large_mobile} host; kinisi on {a.kinisi_lags_large} lags)",
                path, truth["D_true"], a, kinisi_start_fs=1000.0,
                kinisi_lags=[a.kinisi_lags_large], kinisi_cap=a.kinisi_cap,
                repeat=max(1, a.repeat // 2))
        if "c" in cases:
            traj, temp = td.demo_trajectory_file(tmp)
            path = tmp / "c.npz"
            info = td.save_real(path, traj, temp)
            all_res["c"] = timing_case(
                f"(c) CHGNet Li6PS5Cl {temp:g} K, {info['n_atoms']} atoms x {info['n_frames']} "
                f"frames every {info['frame_interval_fs']:g} fs ({traj.name})",
                path, None, a, kinisi_start_fs=0.0, kinisi_lags=k_lags,
                kinisi_cap=a.kinisi_cap, repeat=a.repeat)
        if "cal" in cases:
            all_res["calibration"] = calibration(a)
    print(f"\ntotal {time.perf_counter() - t_start:.0f} s")
    if a.json:
        a.json.write_text(json.dumps(all_res, indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
