"""Periodic neighbour lists side by side: the numba pair search (O(N²)), the numba cell list
(O(N)) and ASE's ``neighbor_list``, on rattled bcc cells of growing size; prints the time of
each (best of ``--repeats``) and the ratio pair search / cell list.

    NUMBA_NUM_THREADS=1 python benchmarks/bench_neighbour_list.py --sizes 4,8,14 --cutoffs 5,9
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--sizes", default="4,8,14", help="bcc repeats per axis (2 atoms each)")
    p.add_argument("--cutoffs", default="5,9", help="cutoff radii (Å)")
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()

    import numpy as np
    from ase.build import bulk
    from ase.neighborlist import neighbor_list

    from superionic.potentials.mtp_numba import periodic_neighbour_list

    def best(fn, *fn_args, **fn_kwargs) -> float:
        fn(*fn_args, **fn_kwargs)
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            fn(*fn_args, **fn_kwargs)
            times.append(time.perf_counter() - t0)
        return min(times)

    rng = np.random.default_rng(0)
    print(f"{'atoms':>7} {'r_cut':>6} {'pairs ms':>10} {'cells ms':>10} {'ASE ms':>10} "
          f"{'pairs/cells':>12}")
    for n in (int(x) for x in args.sizes.split(",")):
        a = bulk("Li", "bcc", 3.5, cubic=True).repeat((n, n, n))
        a.positions += rng.normal(scale=0.2, size=a.positions.shape)
        for rc in (float(x) for x in args.cutoffs.split(",")):
            t = {m: best(periodic_neighbour_list, a.positions, a.cell.array, rc, method=m)
                 for m in ("pairs", "cells")}
            t_ase = best(neighbor_list, "ijSD", a, rc)
            print(f"{len(a):>7} {rc:>6.1f} {1e3 * t['pairs']:>10.2f} {1e3 * t['cells']:>10.2f} "
                  f"{1e3 * t_ase:>10.2f} {t['pairs'] / t['cells']:>12.2f}", flush=True)


if __name__ == "__main__":
    main()
