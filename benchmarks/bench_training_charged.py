"""Charged QMTP training: cached Coulomb matrices with Hellmann–Feynman charge forces (the
default, "dense") against differentiating through the Ewald sums and the QEq solve
("autograd"), side by side in one process on the same data.

Data: rattled and strained copies of the 50-atom Li10GeP2S12 cell, labelled by a random
charged reference QMTP (so no teacher cost enters the timing). Both runs train the same model
from the same seed; the ratio of their per-epoch times is printed, and the trained parameters
are compared.

    python benchmarks/bench_training_charged.py --n 36 --epochs 3
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def labelled_cells(n: int, seed: int = 0) -> list:
    from ase.calculators.singlepoint import SinglePointCalculator

    from superionic.materials.reading import prepare_cell
    from superionic.potentials.qmtp import QMTP

    base, _ = prepare_cell("Li10GeP2S12", min_distance_A=8.0)
    ref = QMTP.random(sorted(set(base.get_chemical_symbols())), level=10, seed=seed,
                      charges=True, r_cut=5.0)
    rng = np.random.default_rng(seed)
    cells = []
    for _ in range(n):
        a = base.copy()
        eps = rng.normal(scale=0.01, size=(3, 3))
        a.set_cell(a.cell.array @ (np.eye(3) + 0.5 * (eps + eps.T)), scale_atoms=True)
        a.positions += rng.normal(scale=0.08, size=a.positions.shape)
        r = ref.compute(a)
        a.calc = SinglePointCalculator(a, energy=r["energy"], forces=r["forces"],
                                       stress=r["stress"])
        cells.append(a)
    return cells


def main() -> None:
    from superionic.potentials import qmtp_torch
    from superionic.potentials.training import train

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=36, help="labelled cells")
    p.add_argument("--epochs", type=int, default=3, help="L-BFGS steps timed")
    args = p.parse_args()
    data = labelled_cells(args.n)
    kw = dict(level=10, r_cut=5.0, charges=True, threads=1, progress=False,
              val_fraction=0.1, seed=0)
    dense_max = qmtp_torch.DENSE_COULOMB_MAX_ATOMS
    out = {}
    for path, limit in (("dense", dense_max), ("autograd", 0)):
        qmtp_torch.DENSE_COULOMB_MAX_ATOMS = limit  # "auto" picks autograd when 0
        try:
            t = time.perf_counter()
            train(data, epochs=0, **kw)
            setup = time.perf_counter() - t
            t = time.perf_counter()
            res = train(data, epochs=args.epochs, **kw)
            total = time.perf_counter() - t
        finally:
            qmtp_torch.DENSE_COULOMB_MAX_ATOMS = dense_max
        out[path] = (setup, (total - setup) / args.epochs, res.model)
        print(f"{path:9s} set-up {setup:6.1f} s   per epoch {out[path][1]:6.2f} s", flush=True)
    d, a = out["dense"], out["autograd"]
    diff = max(float(np.abs(getattr(d[2], k) - getattr(a[2], k)).max()
                     / max(np.abs(getattr(a[2], k)).max(), 1e-300))
               for k in ("xi_", "radial_coeffs_", "chi0_", "w_chi_"))
    print(f"autograd / dense: per epoch {a[1] / d[1]:.2f}x, set-up {a[0] / d[0]:.2f}x; "
          f"largest relative parameter difference {diff:.1e}")


if __name__ == "__main__":
    main()
