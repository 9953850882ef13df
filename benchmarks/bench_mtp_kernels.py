"""MTP kernels of this checkout against those of an earlier commit, side by side in one process.

The module ``superionic/potentials/mtp_numba.py`` of ``--base`` (default: the last commit with
the per-pair kernels) is taken from git history into a temporary directory, compiled without
caching, and run on the same cells, model and weights as the current one: forward (basis
values) and backward (pair gradients for one weight set, as in MD; and for one set per basis
function, as in training). Prints times (best of ``--repeats``), ratios and the largest
relative differences.

Usage::

    NUMBA_NUM_THREADS=1 python benchmarks/bench_mtp_kernels.py --levels 10,16,20 --sizes 10,20
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE = "f2c644b"  # per-pair kernels (before the block kernels)


def _old_module(base: str, tmp: Path):
    src = subprocess.run(["git", "show", f"{base}:superionic/potentials/mtp_numba.py"],
                         check=True, capture_output=True, text=True).stdout
    path = tmp / "mtp_numba_base.py"
    path.write_text(src.replace("cache=True", "cache=False"))
    spec = importlib.util.spec_from_file_location("mtp_numba_base", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _best(fn, *args, repeats: int) -> float:
    fn(*args)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best * 1e3


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", default=BASE, help="git revision of the kernels to compare with")
    p.add_argument("--levels", default="10,16,20")
    p.add_argument("--sizes", default="10,20",
                   help="min_distance_A of beta-Li3PS4 supercells (10: 128, 20: 768 atoms)")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--training-max-atoms", type=int, default=200,
                   help="time the training gradients (K = n_basis) on cells up to this size")
    args = p.parse_args()
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    import numpy as np

    from superionic.materials.reading import prepare_cell
    from superionic.potentials import mtp_numba as new
    from superionic.potentials.qmtp import QMTP, find_neighbours

    with tempfile.TemporaryDirectory() as tmp:
        old = _old_module(args.base, Path(tmp))
        print(f"{'case':24s} {'forward ms old/new':>20s} {'x':>5s} {'backward ms old/new':>21s} "
              f"{'x':>5s} {'total x':>7s} {'max rel diff':>12s}")
        for md in (float(x) for x in args.sizes.split(",")):
            atoms, _ = prepare_cell("beta-Li3PS4", min_distance_A=md)
            atoms.rattle(0.05, seed=2)
            for level in (int(x) for x in args.levels.split(",")):
                m = QMTP.random(["Li", "P", "S"], level=level, seed=0)
                nb = find_neighbours(atoms, m.r_cut)
                a = (m.program, m.species_index(atoms), nb.start, nb.pair_j, nb.vectors,
                     m.radial_coeffs_, m.r_min, m.r_cut)
                g = np.random.default_rng(0).normal(size=(len(atoms), 1, m.n_basis))
                v_old, v_new = old.basis_values(*a), new.basis_values(*a)
                d_old = old.basis_gradients(*a, v_old, g)
                d_new = new.basis_gradients(*a, v_new, g)
                diff = max(np.abs(v_old - v_new).max() / np.abs(v_old).max(),
                           np.abs(d_old - d_new).max() / np.abs(d_old).max())
                f_o = _best(old.basis_values, *a, repeats=args.repeats)
                f_n = _best(new.basis_values, *a, repeats=args.repeats)
                b_o = _best(old.basis_gradients, *a, v_old, g, repeats=args.repeats)
                b_n = _best(new.basis_gradients, *a, v_new, g, repeats=args.repeats)
                name = f"L{level}, {len(atoms)} atoms"
                print(f"{name:24s} {f_o:9.2f} / {f_n:8.2f} {f_o / f_n:5.2f} {b_o:10.2f} / "
                      f"{b_n:8.2f} {b_o / b_n:5.2f} {(f_o + b_o) / (f_n + b_n):7.2f} "
                      f"{diff:12.1e}", flush=True)
                if len(atoms) <= args.training_max_atoms:
                    G = np.broadcast_to(np.eye(m.n_basis), (len(atoms), m.n_basis, m.n_basis))
                    t_o = _best(old.basis_gradients, *a, v_old, G, repeats=2)
                    t_n = _best(new.basis_gradients, *a, v_new, G, repeats=2)
                    print(f"{'  training gradients':24s} {'':20s} {'':5s} {t_o:10.1f} / "
                          f"{t_n:8.1f} {t_o / t_n:5.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
