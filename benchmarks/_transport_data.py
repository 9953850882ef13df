"""Shared trajectories and per-tool runners for the transport benchmarks.

Synthetic data: lattice random walkers of known D* (Li, hop 2 Å with probability p per 10 fs
frame) in a cubic cell at the Li density of Li6PS5Cl (≈ 40 Å³ per Li), plus a vibrating host
framework (S, 0.1 Å rms) that the tools use for drift correction. The real trajectory is the
CHGNet Li6PS5Cl run shipped in :mod:`superionic.data`.

Each tool runs in its own subprocess (``worker``) so that its peak memory is measured alone:
the peak RSS (VmHWM, reset once the input is loaded) minus the RSS at that point. Wall and CPU
(user + sys) times cover the analysis from in-memory arrays; building the peers' input
objects (ASE Atoms lists for kinisi) is not timed.
"""

from __future__ import annotations

import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from superionic.transport.synthetic import random_walk_trajectory

#: Å³ per mobile Li (Li6PS5Cl: 24 Li in a 9.9 Å cubic cell).
VOLUME_PER_LI_A3 = 40.0
FRAME_INTERVAL_FS = 10.0
HOP_LENGTH_A = 2.0
TEMPERATURE_K = 800.0
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "NUMBA_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def synthetic(n_mobile: int, n_frames: int, seed: int, *, hop_probability: float = 0.01,
              framework_ratio: float = 1.0, correlated_pairs: bool = False,
              vibration_A: float = 0.0, vibration_frames: float = 5.0):
    """Lattice random walk of ``n_mobile`` Li in a cubic host (known D*, H_R = 1 or 1/2).

    ``vibration_A`` > 0 adds a thermal rattling of every Li about its site: an
    Ornstein–Uhlenbeck displacement of that rms per direction and a correlation time of
    ``vibration_frames`` frames. It is bounded, so D* is unchanged, but it breaks the
    independence of successive frame-to-frame steps, as real MD does.
    """
    L = (VOLUME_PER_LI_A3 * n_mobile) ** (1.0 / 3.0)
    tr = random_walk_trajectory(
        n_mobile, n_frames, hop_probability=hop_probability, hop_length_A=HOP_LENGTH_A,
        frame_interval_fs=FRAME_INTERVAL_FS, cell=np.eye(3) * L,
        n_framework=int(round(framework_ratio * n_mobile)), framework_vibration_A=0.1,
        correlated_pairs=correlated_pairs, seed=seed,
    )
    if vibration_A > 0:
        rng = np.random.default_rng([seed, 7])
        a = math.exp(-1.0 / vibration_frames)
        u = np.empty((n_frames, n_mobile, 3))
        u[0] = rng.normal(0.0, vibration_A, (n_mobile, 3))
        kick = rng.normal(0.0, vibration_A * math.sqrt(1 - a * a), (n_frames, n_mobile, 3))
        for k in range(1, n_frames):
            u[k] = a * u[k - 1] + kick[k]
        tr.unwrapped[:, :n_mobile] += u
        pos = tr.positions[:, :n_mobile] + u
        frac = np.einsum("tnk,tkl->tnl", pos, np.linalg.inv(tr.cells))
        tr.positions[:, :n_mobile] = np.einsum("tnk,tkl->tnl", frac - np.floor(frac), tr.cells)
    return tr


def save_synthetic(path: Path, traj) -> dict[str, Any]:
    """Write a synthetic trajectory as .npz (wrapped positions, cells, symbols, truth)."""
    np.savez(path, positions=traj.positions, cells=traj.cells, symbols=np.array(traj.symbols),
             frame_interval_fs=traj.frame_interval_fs, temperature_K=TEMPERATURE_K,
             D_true=traj.D_tracer_cm2_per_s, D_sigma_true=traj.D_sigma_cm2_per_s)
    return {"D_true": traj.D_tracer_cm2_per_s, "D_sigma_true": traj.D_sigma_cm2_per_s}


def demo_trajectory_file(workdir: Path) -> tuple[Path, float]:
    """The bundled CHGNet trajectory (or a snapshot of it while it is still being written)."""
    from superionic import data

    final = Path(data.__file__).with_name(data.DEMO_TRAJECTORY_NAME)
    if final.exists():
        return final, data.DEMO_TEMPERATURE_K
    part = final.with_suffix(".part.traj")
    if not part.exists():
        raise FileNotFoundError(f"no demonstration trajectory at {final}")
    snap = workdir / "demo_snapshot.traj"
    shutil.copy(part, snap)
    return snap, data.DEMO_TEMPERATURE_K


def save_real(path: Path, traj_path: Path, temperature_K: float) -> dict[str, Any]:
    """Arrays of an ASE trajectory (positions, cells, symbols, frame interval) as .npz."""
    from ase.io import Trajectory

    images = []
    with Trajectory(str(traj_path)) as t:
        for a in t:  # a snapshot of a file being written may end in a torn frame
            images.append(a)
    info = images[0].info
    dt = float(info.get("frame_interval_fs", info.get("timestep_fs", 1.0)))
    np.savez(path, positions=np.stack([a.get_positions() for a in images]),
             cells=np.stack([np.asarray(a.cell) for a in images]),
             symbols=np.array(images[0].get_chemical_symbols()), frame_interval_fs=dt,
             temperature_K=temperature_K, D_true=np.nan, D_sigma_true=np.nan)
    return {"n_frames": len(images), "n_atoms": len(images[0]), "frame_interval_fs": dt}


def load(path: Path) -> dict[str, Any]:
    d = np.load(path)
    return {
        "positions": d["positions"],
        "cells": d["cells"],
        "symbols": [str(s) for s in d["symbols"]],
        "frame_interval_fs": float(d["frame_interval_fs"]),
        "temperature_K": float(d["temperature_K"]),
        "D_true": float(d["D_true"]),
        "D_sigma_true": float(d["D_sigma_true"]),
    }


# ---------------------------------------------------------------------------------------------
# the three analyses, each from in-memory arrays


def run_superionic(d: dict[str, Any], opts: dict[str, Any]) -> dict[str, Any]:
    """Full superionic analysis: unwrap, drift, MSDs, GLS D* and D_σ, H_R, σ, block averages."""
    from superionic.transport.analysis import analyse_diffusion

    r = analyse_diffusion(
        {"positions": d["positions"], "cells": d["cells"], "symbols": d["symbols"]},
        "Li", temperature_K=d["temperature_K"], frame_interval_fs=d["frame_interval_fs"],
    )
    est = r.D_tracer_cm2_per_s
    es = r.D_sigma_cm2_per_s
    return {
        "D": est.value, "D_ci95": list(est.ci95), "D_sigma": es.value,
        "D_sigma_ci95": list(es.ci95), "haven": r.haven_ratio.value,
        "haven_ci95": list(r.haven_ratio.ci95),
        "sigma_mS_per_cm": 1e3 * r.sigma_S_per_cm.value,
        "fit_start_fs": r.fit_window_fs[0], "fit_end_fs": r.fit_window_fs[1],
    }


def pymatgen_displacements(d: dict[str, Any]) -> np.ndarray:
    """(atoms, frames, 3) displacements by the recipe of pymatgen's ``from_structures``
    (minimum-image fractional differences, cumulated, to Cartesian), vectorised."""
    pos = d["positions"]
    cells = d["cells"]
    inv = np.linalg.inv(cells)
    frac = np.einsum("tnk,tkl->tnl", pos, inv)
    frac = np.concatenate([frac[:1], frac], axis=0)  # from_structures repeats the first frame
    dp = np.diff(frac, axis=0)
    dp -= np.round(dp)
    f_disp = np.cumsum(dp, axis=0)
    disp = np.einsum("tnk,tkl->tnl", f_disp, cells)
    return np.ascontiguousarray(disp.transpose(1, 0, 2))


def run_pymatgen(d: dict[str, Any], opts: dict[str, Any]) -> dict[str, Any]:
    """pymatgen-analysis-diffusion ``DiffusionAnalyzer`` (defaults: smoothed='max', min_obs=30;
    ``opts['smoothed'] = False`` is its 'traditional' single-origin analysis, for which its
    documentation says the standard deviation is meaningful)."""
    from pymatgen.analysis.diffusion.analyzer import DiffusionAnalyzer
    from pymatgen.core import Lattice, Structure

    disp = pymatgen_displacements(d)
    s0 = Structure(Lattice(d["cells"][0]), d["symbols"], d["positions"][0],
                   coords_are_cartesian=True)
    npt = bool(np.ptp(d["cells"], axis=0).max() > 0)
    da = DiffusionAnalyzer(s0, disp, "Li", d["temperature_K"], d["frame_interval_fs"], 1,
                           lattices=d["cells"] if npt else None,
                           smoothed=opts.get("smoothed", "max"))
    D, sd = da.diffusivity, da.diffusivity_std_dev
    Ds, sds = da.chg_diffusivity, da.chg_diffusivity_std_dev
    return {
        "D": D, "D_ci95": [D - 1.96 * sd, D + 1.96 * sd],
        "D_sigma": Ds, "D_sigma_ci95": [Ds - 1.96 * sds, Ds + 1.96 * sds],
        "haven": da.haven_ratio, "haven_ci95": [math.nan, math.nan],
        "sigma_mS_per_cm": da.chg_conductivity,
        "fit_start_fs": float(da.dt[0]), "fit_end_fs": float(da.dt[-1]),
    }


def kinisi_dt(n_frames: int, dt_fs: float, n_lags: int | None):
    """kinisi's time intervals: every lag (its default, None) or ``n_lags`` evenly spaced."""
    import scipp as sc

    if not n_lags or n_lags >= n_frames - 1:
        return None
    k = np.unique(np.rint(np.linspace(1, n_frames - 1, n_lags)).astype(int))
    return sc.array(dims=["time interval"], values=k * dt_fs, unit="fs")


def run_kinisi(d: dict[str, Any], opts: dict[str, Any], atoms: list | None = None,
               ) -> dict[str, Any]:
    """kinisi 2.1: ``DiffusionAnalyzer.from_ase`` + ``diffusion`` and
    ``ConductivityAnalyzer.from_ase`` + ``conductivity`` (MCMC with its default sampler
    settings), drift corrected against the framework."""
    import scipp as sc
    from kinisi.analyze import ConductivityAnalyzer, DiffusionAnalyzer

    if atoms is None:
        atoms = ase_images(d)
    dt_fs = d["frame_interval_fs"]
    params = {
        "specie": "Li",
        "time_step": dt_fs * sc.Unit("fs"),
        "step_skip": 1 * sc.Unit("dimensionless"),
        "dt": kinisi_dt(len(atoms), dt_fs, opts.get("kinisi_lags")),
        "progress": False,
    }
    start = sc.scalar(float(opts["kinisi_start_fs"]), unit="fs")
    rs = np.random.RandomState(int(opts.get("seed", 0)))
    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    diff = DiffusionAnalyzer.from_ase(atoms, **params)
    diff.diffusion(start, progress=False, random_state=rs)
    s = diff.D.values
    out.update(D=float(np.mean(s)), D_ci95=[float(v) for v in np.percentile(s, [2.5, 97.5])])
    out["t_diffusion_s"] = time.perf_counter() - t0
    if opts.get("kinisi_conductivity", True):
        cond = ConductivityAnalyzer.from_ase(atoms, ionic_charge=1 * sc.Unit("e"), **params)
        cond.conductivity(start, sc.scalar(d["temperature_K"], unit="K"), progress=False,
                          random_state=rs)
        g = cond.diff.gradient  # slope of <|Σ q Δr|²>/N: 2 d D_σ e²
        ds = sc.to_unit(g / (2 * 3) / (1 * sc.Unit("e")) ** 2, "cm^2/s").values
        sig = cond.sigma.values
        out.update(
            D_sigma=float(np.mean(ds)),
            D_sigma_ci95=[float(v) for v in np.percentile(ds, [2.5, 97.5])],
            sigma_mS_per_cm=float(np.mean(sig)),
        )
        h = s[: len(ds)] / ds[: len(s)]  # independent chains: ratio of samples
        out.update(haven=float(np.median(h)),
                   haven_ci95=[float(v) for v in np.percentile(h, [2.5, 97.5])])
    out["fit_start_fs"] = float(opts["kinisi_start_fs"])
    out["fit_end_fs"] = float(sc.to_unit(diff.dt, "fs").values[-1])
    out["n_lags"] = int(diff.dt.sizes["time interval"])
    return out


def ase_images(d: dict[str, Any]) -> list:
    from ase import Atoms

    return [Atoms(d["symbols"], positions=p, cell=c, pbc=True)
            for p, c in zip(d["positions"], d["cells"], strict=True)]


def run_pymatgen_unsmoothed(d: dict[str, Any], opts: dict[str, Any]) -> dict[str, Any]:
    return run_pymatgen(d, {**opts, "smoothed": False})


RUNNERS = {"superionic": run_superionic, "pymatgen": run_pymatgen,
           "pymatgen-unsmoothed": run_pymatgen_unsmoothed, "kinisi": run_kinisi}


def _status_kB(field: str) -> float:
    """A field of /proc/self/status in kB (VmRSS, VmHWM); Linux only, nan elsewhere."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return float(line.split()[1])
    except OSError:
        pass
    return math.nan


def _reset_peak_rss() -> None:
    """Restart the VmHWM high-water mark at the current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def _children_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def worker(tool: str, data_path: str, opts: dict[str, Any]) -> dict[str, Any]:
    """Run one tool on one trajectory ``repeat`` times in this process; best wall time."""
    d = load(Path(data_path))
    extra = {}
    if tool == "kinisi":
        import kinisi.analyze  # noqa: F401  (import cost is not timed)

        extra["atoms"] = ase_images(d)
    elif tool == "pymatgen":
        import pymatgen.analysis.diffusion.analyzer  # noqa: F401
    else:
        import superionic.transport.analysis  # noqa: F401
    # ru_maxrss would carry the parent's RSS over the fork; VmHWM belongs to this process
    base = _status_kB("VmRSS")
    _reset_peak_rss()
    walls, cpus = [], []
    res: dict[str, Any] = {}
    for _ in range(max(1, int(opts.get("repeat", 1)))):
        c0, t0 = _cpu_s(), time.perf_counter()
        res = RUNNERS[tool](d, opts, **extra)
        walls.append(time.perf_counter() - t0)
        cpus.append(_cpu_s() - c0)
    peak = _status_kB("VmHWM")
    res.update(tool=tool, wall_s=min(walls), cpu_s=min(cpus), walls_s=walls,
               peak_rss_MB=peak / 1e3, peak_extra_MB=(peak - base) / 1e3,
               D_true=d["D_true"], D_sigma_true=d["D_sigma_true"])
    return res


def run_worker(tool: str, data_path: Path, opts: dict[str, Any], *, timeout_s: float | None,
               threads: int = 1) -> dict[str, Any]:
    """``worker`` in a fresh interpreter (one BLAS/FFT thread unless told), with a time cap."""
    env = dict(os.environ)
    for v in THREAD_VARS:
        env[v] = str(threads)
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = f.name
    cmd = [sys.executable, str(Path(__file__).resolve()), tool, str(data_path), out,
           json.dumps(opts)]
    root = Path(__file__).resolve().parents[1]
    t0 = time.perf_counter()
    c0 = _children_cpu_s()
    try:
        p = subprocess.run(cmd, env=env, cwd=root, timeout=timeout_s, capture_output=True,
                           text=True)
    except subprocess.TimeoutExpired:  # run() kills and reaps the child: its CPU is counted
        os.remove(out)
        return {"tool": tool, "error": f"timed out after {timeout_s:g} s",
                "cpu_at_cap_s": _children_cpu_s() - c0}
    if p.returncode != 0:
        os.remove(out)
        tail = (p.stderr or p.stdout).strip().splitlines()[-3:]
        return {"tool": tool, "error": " | ".join(tail),
                "elapsed_s": time.perf_counter() - t0}
    with open(out) as fh:
        res = json.load(fh)
    os.remove(out)
    return res


def covers(ci: list[float], truth: float) -> bool:
    return bool(ci[0] <= truth <= ci[1])


if __name__ == "__main__":
    _tool, _data, _out, _opts = sys.argv[1:5]
    _res = worker(_tool, _data, json.loads(_opts))
    with open(_out, "w") as _fh:
        json.dump(_res, _fh)
