"""Does the ZBL baseline stop a bare QMTP from collapsing? Same model, with and without it.

Takes a QMTP model file fitted without the baseline (default: the 6-ps-trained level-16
Li6PS5Cl model of ``validation/out/distill``, which collapsed in three of its MD runs), switches
the baseline on below 85 % of the shortest species-pair distances of its training frames (so its
predictions on those frames are unchanged), and runs NVT MD at 800 K from the same start frame
with several seeds, with and without the baseline. A run counts as collapsed when two atoms
come closer than ``--collapse-A``. Writes ``repulsion_stability.json`` under ``--out``.

    python validation/repulsion_stability.py --seeds 6 --steps 5000
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def main() -> None:
    from ase.io import read
    from distill_chgnet import _collapse_check, read_frames

    from superionic.dynamics.md import run_md
    from superionic.potentials.calculator import QMTPCalculator
    from superionic.potentials.qmtp import QMTP, find_neighbours
    from superionic.potentials.repulsion import outer_radii

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", default="validation/out/distill/model.qmtp")
    p.add_argument("--data", nargs="+", default=["validation/out/distill/teacher_train.extxyz",
                                                 "validation/out/distill/teacher_heldout.extxyz"])
    p.add_argument("--start", default="validation/out/chgnet_ref/chgnet_md.h5",
                   help="trajectory whose first frame starts every run")
    p.add_argument("--seeds", type=int, default=6)
    p.add_argument("--steps", type=int, default=5000)
    p.add_argument("--temperature-K", type=float, default=800.0)
    p.add_argument("--collapse-A", type=float, default=1.2)
    p.add_argument("--out", default="validation/out/repulsion")
    p.add_argument("--analyse-only", action="store_true",
                   help="reuse the trajectories and rows of an earlier run")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    bare = QMTP.load(args.model)
    bare.repulsion_r_outer_[:] = 0.0
    data = [a for f in args.data for a in read(f, ":")]
    walled = bare.copy()
    walled.repulsion_r_outer_ = outer_radii(
        data, bare.species, [find_neighbours(a, bare.r_cut) for a in data], bare.r_cut)
    # unchanged on every frame the model was fitted or tested on
    de = max(abs(walled.compute(a)["energy"] - bare.compute(a)["energy"]) for a in data)
    start = read_frames(args.start)[0][0].copy()
    start.wrap()
    rows = []
    previous = out / "repulsion_stability.json"
    if args.analyse_only:
        rows = json.loads(previous.read_text())["runs"]
    for name, model in (("bare", bare), ("zbl", walled)):
        for seed in range(0 if args.analyse_only else args.seeds):
            t0 = time.perf_counter()
            md = run_md(start, QMTPCalculator(model, fast_md=True),
                        temperature_K=args.temperature_K, timestep_fs=2.0, steps=args.steps,
                        out=out / f"{name}_{seed}.h5", sample_every=50, seed=seed,
                        check_every=5, resume=False,
                        stop_if=_collapse_check(args.collapse_A))
            info = md.to_dict()
            row = {"model": name, "seed": seed, "steps": int(info["steps"]),
                   "stopped": info["stopped_early"], "seconds": time.perf_counter() - t0}
            rows.append(row)
            print(json.dumps(row))
    # Li diffusion and closest approach of the intact runs
    from superionic.transport.analysis import analyse_diffusion

    for row in rows:
        if row["stopped"] is None:
            d = analyse_diffusion(out / f"{row['model']}_{row['seed']}.h5", "Li",
                                  temperature_K=args.temperature_K)
            row["D_tracer_cm2_per_s"] = d.D_tracer_cm2_per_s.to_dict()
            row["min_sampled_distance_A"] = _min_distance(out / f"{row['model']}_{row['seed']}.h5")
    summary = {
        "model": args.model, "r_outer_A": walled.repulsion_r_outer_.tolist(),
        "species": list(walled.symbols), "max_energy_change_on_data_eV": de,
        "temperature_K": args.temperature_K, "steps": args.steps, "runs": rows,
        "collapsed": {m: sum(r["stopped"] is not None for r in rows if r["model"] == m)
                      for m in ("bare", "zbl")},
    }
    (out / "repulsion_stability.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary["collapsed"]), "max |dE| on data:", de)


def _min_distance(path: Path) -> float:
    """Shortest interatomic distance (minimum image) over the stored frames."""
    from superionic.io.h5md import H5MDReader

    best = np.inf
    for c in H5MDReader(path).chunks(500):
        n = len(c.positions)
        cells = c.cells if c.cells.ndim == 3 else np.broadcast_to(c.cells, (n, 3, 3))
        for pos, cell in zip(c.positions, cells, strict=True):
            frac = (pos[None] - pos[:, None]) @ np.linalg.inv(cell)
            d = np.linalg.norm((frac - np.round(frac)) @ cell, axis=-1)
            np.fill_diagonal(d, np.inf)
            best = min(best, float(d.min()))
    return best


if __name__ == "__main__":
    main()
