"""QMTP training: forces from fixed-geometry pair tables (the default) against autograd forces
through the basis, side by side in one process on the same data.

Data: rattled and strained copies of the 50-atom Li10GeP2S12 cell, labelled by a random
reference QMTP (no teacher cost in the timing). For each level and charge setting the script
times one loss-and-gradient evaluation (what L-BFGS calls up to 20 times per step; best of
``--repeats``) on both paths, then trains the same model from the same seed for ``--epochs``
L-BFGS steps on each and compares the trained parameters.

    python benchmarks/bench_training_tables.py --n 32 --levels 6,10,16 --epochs 2
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def _closure_seconds(model, data, mode: str, repeats: int) -> float:
    from superionic.potentials.qmtp_torch import QMTPTorch
    from superionic.potentials.training import LinearFitCache, LossWeights, _loss, linear_fit

    cache = LinearFitCache()
    linear_fit(model, data, LossWeights(), cache=cache)
    tm = QMTPTorch(model, mtp_forces=mode)
    b = cache.torch_batch(model, data)
    best = np.inf
    for _ in range(repeats + 1):  # the first call also builds the tables
        t = time.perf_counter()
        tm.zero_grad()
        out = tm(b, stress=True, create_graph=True)
        _loss(out, b, LossWeights(), model.charges)[0].backward()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    import torch
    from bench_training_charged import labelled_cells

    from superionic.potentials import pair_tables
    from superionic.potentials.qmtp import QMTP
    from superionic.potentials.training import train

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=32, help="labelled cells")
    p.add_argument("--levels", default="6,10,16")
    p.add_argument("--epochs", type=int, default=2, help="L-BFGS steps per training run")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    torch.set_num_threads(1)
    data = labelled_cells(args.n)
    species = sorted({int(z) for a in data for z in a.numbers})
    print(f"{len(data)} cells of {len(data[0])} atoms; one thread", flush=True)
    print("level charges | loss+grad s: autograd  tables  ratio | train s: autograd  tables  "
          "ratio | max rel. parameter diff")
    for level in (int(x) for x in args.levels.split(",")):
        for charges in (False, True):
            m = QMTP(tuple(species), level=level, r_cut=5.0, r_min=1.6, n_beta=8,
                     charges=charges)
            m.radial_coeffs_ = m.random_radial_coeffs(np.random.default_rng(0))
            per = {mode: _closure_seconds(m.copy(), data, mode, args.repeats)
                   for mode in ("autograd", "tables")}
            runs = {}
            kw = dict(level=level, r_cut=5.0, charges=charges, threads=1, progress=False,
                      val_fraction=0.1, seed=0, epochs=args.epochs)
            limit = pair_tables.PAIR_TABLE_MAX_BYTES
            for mode in ("autograd", "tables"):
                # "auto" keeps autograd forces when the tables may take no memory
                pair_tables.PAIR_TABLE_MAX_BYTES = 0 if mode == "autograd" else limit
                try:
                    t = time.perf_counter()
                    res = train(data, **kw)
                    runs[mode] = (time.perf_counter() - t, res.model)
                finally:
                    pair_tables.PAIR_TABLE_MAX_BYTES = limit
            a, t = runs["autograd"], runs["tables"]
            diff = max(float(np.abs(getattr(t[1], k) - getattr(a[1], k)).max()
                             / max(np.abs(getattr(a[1], k)).max(), 1e-300))
                       for k in ("xi_", "radial_coeffs_", "e0_"))
            print(f"{level:5d} {str(charges):7s} | {per['autograd']:8.3f} {per['tables']:7.3f} "
                  f"{per['autograd'] / per['tables']:6.2f}x | {a[0]:8.1f} {t[0]:7.1f} "
                  f"{a[0] / t[0]:5.2f}x | {diff:.1e}", flush=True)


if __name__ == "__main__":
    main()
