"""Validation: a QMTP distilled from CHGNet reproduces CHGNet.

Criteria (project validation targets):
  1. energy RMSE <= 5 meV/atom and force RMSE <= 0.1 eV/Å on held-out teacher configurations
     (frames from the later part of the CHGNet run, never seen in training);
  2. QMTP MD and CHGNet MD of the same cell at the same temperature give Li–Li and Li–S
     radial distribution functions that overlap (overlap = 1 - int|g1-g2| / int(g1+g2) at or
     above ``--rdf-overlap-min``; the overlap of the two halves of the CHGNet run is reported as
     the statistical reference);
  3. Li tracer diffusion coefficients within a factor 1.5.

The CHGNet reference run is either an existing CHGNet trajectory (``--chgnet-trajectory``;
``demo`` is the bundled Li6PS5Cl 800 K run) or a new one (``--chgnet-trajectory run``).

Example::

    python validation/distill_chgnet.py --out validation/out/distill --label-every 6 \
        --qmtp-steps 6000

Writes ``distillation.json``, ``model.qmtp``, the QMTP trajectory and plots into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("distill_chgnet")

ENERGY_MAX_EV_PER_ATOM = 5e-3
FORCE_MAX_EV_PER_A = 0.1
D_RATIO_MAX = 1.5


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="validation/out/distill", help="output directory")
    p.add_argument("--chgnet-trajectory", default="demo",
                   help="CHGNet MD trajectory to distil from: a path, 'demo' (bundled "
                        "Li6PS5Cl 800 K) or 'run' (run CHGNet MD now)")
    p.add_argument("--structure", default="Li6PS5Cl",
                   help="with 'run': a structure name or file for prepare_cell")
    p.add_argument("--min-distance", type=float, default=9.0,
                   help="with 'run': minimum periodic image distance of the cell (Å)")
    p.add_argument("--chgnet-steps", type=int, default=3000, help="with 'run': MD steps")
    p.add_argument("--temperature-K", type=float, default=800.0)
    p.add_argument("--timestep-fs", type=float, default=2.0)
    p.add_argument("--sample-every", type=int, default=10, help="MD steps between frames")
    p.add_argument("--label-every", type=int, default=6,
                   help="label every n-th CHGNet frame")
    p.add_argument("--holdout-fraction", type=float, default=0.25,
                   help="the last fraction of the CHGNet run gives the held-out set")
    p.add_argument("--n-rattled", type=int, default=0,
                   help="rattled and strained copies of training frames added to training")
    p.add_argument("--rattle-A", type=float, default=0.05)
    p.add_argument("--strain", type=float, default=0.01)
    p.add_argument("--level", type=int, default=16, help="MTP level")
    p.add_argument("--r-cut", type=float, default=5.0, help="cutoff radius (Å)")
    p.add_argument("--epochs", type=int, default=12, help="L-BFGS steps")
    p.add_argument("--patience", type=int, default=5,
                   help="stop after this many L-BFGS steps without validation gain")
    p.add_argument("--model", default=None,
                   help="use this trained QMTP file instead of training (its training "
                        "settings are taken as given)")
    p.add_argument("--charges", action="store_true", help="QEq charges + Ewald (slower MD)")
    p.add_argument("--qmtp-steps", type=int, default=6000, help="QMTP MD steps")
    p.add_argument("--qmtp-start-ps", type=float, default=0.0,
                   help="start QMTP MD from the CHGNet frame at this time (a thermalised one)")
    p.add_argument("--analyse-only", action="store_true",
                   help="reuse the QMTP trajectory in --out instead of running MD")
    p.add_argument("--min-pair-distance", type=float, default=1.2,
                   help="stop QMTP MD when two atoms come closer than this (Å)")
    p.add_argument("--equilibration-ps", type=float, default=1.0,
                   help="initial time left out of the RDFs")
    p.add_argument("--rdf-every", type=int, default=1, help="frame stride of the RDFs")
    p.add_argument("--rdf-overlap-min", type=float, default=0.9)
    p.add_argument("--workers", type=int, default=1, help="teacher labelling processes")
    p.add_argument("--threads", type=int, default=1, help="torch threads in training")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


# ----------------------------------------------------------------------------- teacher run
def chgnet_reference(args: argparse.Namespace, out: Path) -> tuple[list[Any], float, str]:
    """CHGNet MD frames (ASE Atoms, unwrapped positions), frame interval (fs), source path."""
    import ase.io

    spec = args.chgnet_trajectory
    if spec == "demo":
        from superionic.data import DEMO_TEMPERATURE_K, demo_trajectory_path

        path = demo_trajectory_path()
        if abs(args.temperature_K - DEMO_TEMPERATURE_K) > 1e-6:
            sys.exit(f"the demo run is at {DEMO_TEMPERATURE_K} K; pass --temperature-K "
                     f"{DEMO_TEMPERATURE_K:g} or --chgnet-trajectory run")
    elif spec == "run":
        from superionic.dynamics.md import run_md
        from superionic.materials.reading import prepare_cell
        from superionic.potentials.teachers import chgnet_calculator

        atoms, _ = prepare_cell(args.structure, min_distance_A=args.min_distance)
        path = out / "chgnet_md.h5"
        run_md(atoms, chgnet_calculator(), temperature_K=args.temperature_K,
               timestep_fs=args.timestep_fs, steps=args.chgnet_steps, out=path,
               sample_every=args.sample_every, checkpoint_every=100, seed=args.seed,
               potential_name="chgnet", progress=True)
    else:
        path = Path(spec)
    frames, dt_frame = read_frames(path)
    del ase
    return frames, dt_frame, str(path)


def read_frames(path: str | Path) -> tuple[list[Any], float]:
    """All frames of a trajectory as ASE Atoms (positions as stored) and the frame interval."""
    from ase import Atoms

    from superionic.io.open import open_trajectory

    reader = open_trajectory(path)
    symbols = reader.info.symbols
    frames = []
    for chunk in reader.chunks(500):
        for k in range(chunk.positions.shape[0]):
            frames.append(Atoms(symbols, positions=chunk.positions[k], cell=chunk.cells[k],
                                pbc=True))
    return frames, float(reader.info.frame_interval_fs)


def intact_prefix(frames: list[Any], d_min_A: float) -> int:
    """Number of leading frames in which no two atoms are closer than ``d_min_A``."""
    check = _collapse_check(d_min_A)
    for k, a in enumerate(frames):
        if check(a, k) is not None:
            return k
    return len(frames)


def teacher_sets(args: argparse.Namespace, frames: list[Any], out: Path
                 ) -> tuple[list[Any], list[Any]]:
    """Labelled training set (early frames + rattled copies) and held-out set (late frames).

    Labels are cached in ``out`` (extxyz) and reused when the selection is unchanged."""
    import ase.io

    from superionic.potentials.teachers import CHGNetTeacher, label

    n = len(frames)
    first_hold = n - int(round(args.holdout_fraction * n))
    picked = range(0, n, args.label_every)
    train_idx = [i for i in picked if i < first_hold]
    hold_idx = [i for i in picked if i >= first_hold]
    rng = np.random.default_rng(args.seed)

    def tagged(i: int) -> Any:
        a = frames[i].copy()
        a.wrap()
        a.info["origin"] = f"chgnet_md:{i}"
        return a

    pool = [tagged(i) for i in train_idx]
    for k in range(args.n_rattled):
        a = tagged(train_idx[rng.integers(len(train_idx))])
        eps = rng.normal(scale=args.strain, size=(3, 3))
        a.set_cell(a.cell.array @ (np.eye(3) + 0.5 * (eps + eps.T)), scale_atoms=True)
        a.positions += rng.normal(scale=args.rattle_A, size=a.positions.shape)
        a.wrap()
        a.info["origin"] = f"rattled:{k}"
        pool.append(a)
    held = [tagged(i) for i in hold_idx]
    result = []
    for name, structures in (("train", pool), ("heldout", held)):
        cache = out / f"teacher_{name}.extxyz"
        tags = [s.info["origin"] for s in structures]
        if cache.exists():
            cached = ase.io.read(cache, ":")
            if [c.info.get("origin") for c in cached] == tags and all(
                    np.allclose(c.positions, s.positions, atol=1e-5)
                    for c, s in zip(cached, structures, strict=True)):
                result.append(cached)
                continue
        import torch

        torch.set_num_threads(args.threads)  # one thread per process is fastest on busy cores
        t0 = time.perf_counter()
        labelled = label(structures, CHGNetTeacher(), n_workers=args.workers)
        log.info("labelled %d %s structures in %.0f s", len(labelled), name,
                 time.perf_counter() - t0)
        ase.io.write(cache, labelled)
        result.append(labelled)
    return result[0], result[1]


# ----------------------------------------------------------------------------- comparisons
def ratio_estimate(num: Any, den: Any) -> dict[str, Any]:
    """Ratio of two Estimates with a log-normal 95 % interval (relative errors in quadrature)."""
    r = num.ratio(den)
    return {"value": r.value, "stderr_log": r.stderr / r.value, "ci95": list(r.ci95)}


def rdf_block(chgnet_frames: list[Any], qmtp_source: Any, start_c: int, start_q: int,
              every: int = 1) -> tuple[dict[str, Any], Any, Any]:
    from superionic.transport.rdf import compute_rdf, rdf_overlap

    pairs = [("Li", "Li"), ("Li", "S")]
    kw = {"pairs": pairs, "r_max_A": 8.0, "dr_A": 0.05, "every": every}
    rc = compute_rdf(chgnet_frames[start_c:], **kw)
    rq = compute_rdf(qmtp_source, start=start_q, **kw)
    half = start_c + (len(chgnet_frames) - start_c) // 2
    rc1 = compute_rdf(chgnet_frames[start_c:half], **kw)
    rc2 = compute_rdf(chgnet_frames[half:], **kw)
    out: dict[str, Any] = {}
    for p in pairs:
        key = f"{p[0]}-{p[1]}"
        out[key] = {
            "qmtp_vs_chgnet": rdf_overlap(rc.g[p], rq.g[p], rc.r_A),
            "chgnet_half_vs_half": rdf_overlap(rc1.g[p], rc2.g[p], rc.r_A),
        }
    return out, rc, rq


def plots(out: Path, rc: Any, rq: Any, dc: Any, dq: Any, heldout: list[Any], pred: dict
          ) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    for ax, p in zip(axes, [("Li", "Li"), ("Li", "S")], strict=True):
        ax.plot(rc.r_A, rc.g[p], label="CHGNet", lw=1.5)
        ax.plot(rq.r_A, rq.g[p], "--", label="QMTP", lw=1.5)
        ax.set_xlabel("r (Å)")
        ax.set_ylabel(f"g(r), {p[0]}–{p[1]}")
        ax.legend(frameon=False)
    fig.tight_layout()
    files.append(str(out / "rdf.png"))
    fig.savefig(files[-1], dpi=200)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(4, 3.2))
    for d, name in ((dc, "CHGNet"), (dq, "QMTP")):
        if d is None:
            continue
        t = d.msd.time_fs / 1000.0
        ax.plot(t, d.msd.total("tracer"), label=f"{name}: D* = "
                f"{d.D_tracer_cm2_per_s.value:.2e} cm$^2$/s")
    ax.set_xlabel("time lag (ps)")
    ax.set_ylabel("Li tracer MSD (Å$^2$)")
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    files.append(str(out / "msd.png"))
    fig.savefig(files[-1], dpi=200)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(8, 3.4))
    n_at = np.array([len(a) for a in heldout])
    e_ref = np.array([a.get_potential_energy() for a in heldout]) / n_at
    axes[0].plot(e_ref, pred["energy"] / n_at, "o", ms=3)
    lim = [e_ref.min(), e_ref.max()]
    axes[0].plot(lim, lim, "k-", lw=0.8)
    axes[0].set_xlabel("CHGNet energy (eV/atom)")
    axes[0].set_ylabel("QMTP energy (eV/atom)")
    f_ref = np.concatenate([a.get_forces().ravel() for a in heldout])
    axes[1].plot(f_ref, pred["forces"], ".", ms=1, alpha=0.5)
    lim = [f_ref.min(), f_ref.max()]
    axes[1].plot(lim, lim, "k-", lw=0.8)
    axes[1].set_xlabel("CHGNet force component (eV/Å)")
    axes[1].set_ylabel("QMTP force component (eV/Å)")
    fig.tight_layout()
    files.append(str(out / "parity_heldout.png"))
    fig.savefig(files[-1], dpi=200)
    plt.close(fig)
    return files


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    timings: dict[str, float] = {}

    from superionic.core.estimate import to_jsonable
    from superionic.dynamics.md import run_md
    from superionic.potentials.calculator import QMTPCalculator
    from superionic.potentials.qmtp import QMTP
    from superionic.potentials.training import evaluate, train
    from superionic.transport.analysis import analyse_diffusion

    t0 = time.perf_counter()
    frames, dt_frame, chgnet_path = chgnet_reference(args, out)
    timings["chgnet_reference_s"] = time.perf_counter() - t0
    log.info("CHGNet reference: %d frames every %.0f fs from %s", len(frames), dt_frame,
             chgnet_path)

    t0 = time.perf_counter()
    train_set, heldout = teacher_sets(args, frames, out)
    timings["labelling_s"] = time.perf_counter() - t0

    model_path = Path(args.model) if args.model else out / "model.qmtp"
    t0 = time.perf_counter()
    training: dict[str, Any] = {"settings": _train_settings(args, len(train_set))}
    if args.model:
        model = QMTP.load(model_path)
        training["model_file"] = str(model_path)
        training["metadata"] = {k: v for k, v in model.metadata.items()
                                if k in ("n_train", "n_validation", "seed", "epochs_run")}
    else:
        res = train(train_set, level=args.level, r_cut=args.r_cut, charges=args.charges,
                    seed=args.seed, val_fraction=0.1, epochs=args.epochs, progress=False,
                    threads=args.threads, patience=args.patience)
        model = res.model
        model.save(model_path)
        training.update({"validation_rmse": res.validation_rmse, "n_train": res.n_train,
                         "n_validation": res.n_validation, "seconds": res.seconds})
    training["train_pool_rmse"] = evaluate(model, train_set)
    timings["training_s"] = time.perf_counter() - t0
    held_rmse = evaluate(model, heldout)
    pred_e, pred_f = [], []
    for a in heldout:
        r = model.compute(a, total_charge=0.0)
        pred_e.append(r["energy"])
        pred_f.append(r["forces"].ravel())
    pred = {"energy": np.array(pred_e), "forces": np.concatenate(pred_f)}
    f_rms = float(np.sqrt(np.mean(np.concatenate([a.get_forces().ravel()
                                                  for a in heldout]) ** 2)))
    log.info("held-out: %s", held_rmse)

    # QMTP MD of the same cell, same temperature, timestep and frame interval
    t0 = time.perf_counter()
    start = frames[int(round(args.qmtp_start_ps * 1000 / dt_frame))].copy()
    start.wrap()
    q_path = out / "qmtp_md.h5"
    if args.analyse_only:
        md_info: dict[str, Any] = {"reused_trajectory": str(q_path)}
    else:
        calc = QMTPCalculator(model, engine="numba", fast_md=True)
        md = run_md(start, calc, temperature_K=args.temperature_K,
                    timestep_fs=args.timestep_fs, steps=args.qmtp_steps, out=q_path,
                    sample_every=int(round(dt_frame / args.timestep_fs)),
                    checkpoint_every=500, seed=args.seed + 1,
                    potential_name=f"qmtp:{model_path}", progress=True,
                    stop_if=_collapse_check(args.min_pair_distance))
        md_info = md.to_dict()
    timings["qmtp_md_s"] = time.perf_counter() - t0
    q_frames, dt_q = read_frames(q_path)
    n_ok = intact_prefix(q_frames, args.min_pair_distance)
    md_info.update({"n_frames": len(q_frames), "n_frames_analysed": n_ok,
                    "duration_ps": (len(q_frames) - 1) * dt_q / 1000.0,
                    "analysed_ps": (n_ok - 1) * dt_q / 1000.0})
    if n_ok < len(q_frames):
        log.warning("QMTP MD left its domain at frame %d (%.2f ps); analysing the frames "
                    "before it", n_ok, n_ok * dt_q / 1000.0)
    q_frames = q_frames[:n_ok]

    eq_c = int(round(args.equilibration_ps * 1000 / dt_frame))
    eq_q = int(round(args.equilibration_ps * 1000 / dt_q))
    rdf, rc, rq = rdf_block(frames, q_frames, eq_c, eq_q, every=args.rdf_every)
    dc = analyse_diffusion(frames, "Li", temperature_K=args.temperature_K,
                           frame_interval_fs=dt_frame, timestep_fs=args.timestep_fs)
    try:
        dq = analyse_diffusion(q_frames, "Li", temperature_K=args.temperature_K,
                               frame_interval_fs=dt_q, timestep_fs=args.timestep_fs)
        d_ratio = ratio_estimate(dq.D_tracer_cm2_per_s, dc.D_tracer_cm2_per_s)
        # supplementary: QMTP fitted on the CHGNet run's diffusive window
        dq_same = analyse_diffusion(q_frames, "Li", temperature_K=args.temperature_K,
                                    frame_interval_fs=dt_q, timestep_fs=args.timestep_fs,
                                    fit_window_fs=tuple(dc.fit_window_fs))
        d_ratio["same_fit_window"] = {
            "fit_window_fs": list(dc.fit_window_fs),
            "D_qmtp_cm2_per_s": dq_same.D_tracer_cm2_per_s,
            **ratio_estimate(dq_same.D_tracer_cm2_per_s, dc.D_tracer_cm2_per_s)}
    except Exception as exc:  # noqa: BLE001 - an unstable QMTP run is a result, reported
        log.error("QMTP diffusion analysis failed: %s", exc)
        dq, d_ratio = None, {"value": float("nan"), "error": str(exc)}
    files = plots(out, rc, rq, dc, dq, heldout, pred)

    crit = {
        "energy_rmse": held_rmse["energy_rmse_eV_per_atom"] <= ENERGY_MAX_EV_PER_ATOM,
        "force_rmse": held_rmse["force_rmse_eV_per_A"] <= FORCE_MAX_EV_PER_A,
        "rdf_Li-Li": rdf["Li-Li"]["qmtp_vs_chgnet"]["overlap"] >= args.rdf_overlap_min,
        "rdf_Li-S": rdf["Li-S"]["qmtp_vs_chgnet"]["overlap"] >= args.rdf_overlap_min,
        "D_ratio": bool(1.0 / D_RATIO_MAX <= d_ratio["value"] <= D_RATIO_MAX),
    }
    payload = {
        "command": " ".join([sys.executable, *sys.argv]),
        "settings": vars(args),
        "system": {"formula": frames[0].get_chemical_formula(), "n_atoms": len(frames[0]),
                   "cell_A": frames[0].cell.array.tolist(),
                   "temperature_K": args.temperature_K},
        "chgnet_reference": {"trajectory": chgnet_path, "n_frames": len(frames),
                             "frame_interval_fs": dt_frame,
                             "duration_ps": (len(frames) - 1) * dt_frame / 1000.0},
        "teacher_data": {"n_train_pool": len(train_set), "n_heldout": len(heldout),
                         "heldout_rms_force_eV_per_A": f_rms},
        "training": training,
        "heldout_rmse": held_rmse,
        "qmtp_md": md_info,
        "rdf_overlap": rdf,
        "rdf": {"chgnet": rc.to_dict(), "qmtp": rq.to_dict()},
        "diffusion": {"chgnet": dc.to_dict(max_msd_points=200),
                      "qmtp": dq.to_dict(max_msd_points=200) if dq else None,
                      "D_ratio_qmtp_over_chgnet": d_ratio},
        "criteria": {"energy_rmse_max_eV_per_atom": ENERGY_MAX_EV_PER_ATOM,
                     "force_rmse_max_eV_per_A": FORCE_MAX_EV_PER_A,
                     "rdf_overlap_min": args.rdf_overlap_min,
                     "D_ratio_max": D_RATIO_MAX, "pass": crit,
                     "all_pass": all(crit.values())},
        "timings_s": {**timings, "total_s": time.perf_counter() - t_start},
        "plots": files,
    }
    (out / "distillation.json").write_text(json.dumps(to_jsonable(payload), indent=1))
    log.info("criteria: %s", crit)
    return 0


def _collapse_check(d_min_A: float) -> Any:
    """``stop_if`` for run_md: stop when two atoms come closer than ``d_min_A`` (a sign that
    the potential left its training domain)."""

    def check(atoms: Any, step: int) -> str | None:
        d = atoms.get_all_distances(mic=True)
        np.fill_diagonal(d, np.inf)
        if d.min() < d_min_A:
            return f"atoms {d.min():.2f} Å apart at step {step} (< {d_min_A} Å)"
        return None

    return check


def _train_settings(args: argparse.Namespace, n_train: int) -> dict[str, Any]:
    return {"level": args.level, "r_cut": args.r_cut, "epochs": args.epochs,
            "charges": args.charges, "seed": args.seed, "n_train_pool": n_train,
            "label_every": args.label_every, "n_rattled": args.n_rattled,
            "patience": args.patience}


if __name__ == "__main__":
    raise SystemExit(main())
