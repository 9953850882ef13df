"""Batched torch MD (many systems per model call, CPU or GPU) against the numba CPU engine.

The same QMTP (default: the level-16 Li6PS5Cl model distilled from CHGNet in
``validation/out/distill_long2``) runs NVT Langevin MD of B rattled copies of a Li6PS5Cl cell
in one batch with :class:`superionic.dynamics.batched.BatchedMD` on ``--device``, and, side by
side in the same process, the numba engine (``QMTPCalculator(fast_md=True)`` with ASE's
Langevin) one system after another. Both report atom-steps per second of wall time over the
timed steps (start-up, first force call and JIT excluded); the ratio is printed per batch size.
Totals of >= 100,000 atoms need a GPU (``--device cuda --replicas 2000``).

    python benchmarks/bench_batched_md.py --replicas 1,8,32 --steps 20 --threads 2
    python benchmarks/bench_batched_md.py --device cuda --replicas 64,512,2000 --steps 50
"""

from __future__ import annotations

import argparse
import json
import time


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", default="validation/out/distill_long2/model.qmtp")
    p.add_argument("--structure", default="Li6PS5Cl")
    p.add_argument("--min-distance", type=float, default=9.0, help="supercell width (Å)")
    p.add_argument("--replicas", default="1,8,32", help="batch sizes (comma-separated)")
    p.add_argument("--steps", type=int, default=20, help="timed MD steps per run")
    p.add_argument("--numba-systems", type=int, default=2,
                   help="systems run one after another by the numba engine")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", default=None)
    args = p.parse_args()

    import numpy as np
    import torch
    from ase import units
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    from superionic.dynamics.batched import BatchedMD
    from superionic.materials.reading import prepare_cell
    from superionic.potentials.calculator import QMTPCalculator
    from superionic.potentials.qmtp import QMTP

    torch.set_num_threads(args.threads)
    model = QMTP.load(args.model)
    cell, _ = prepare_cell(args.structure, min_distance_A=args.min_distance)

    def copies(n: int) -> list:
        out = []
        for k in range(n):
            a = cell.copy()
            a.rattle(0.03, seed=k)
            out.append(a)
        return out

    # numba engine, one system after another (its rate does not depend on how many)
    t_numba, steps_numba, atoms_numba = 0.0, 0, 0
    for a in copies(args.numba_systems):
        a.calc = QMTPCalculator(model, fast_md=True)
        MaxwellBoltzmannDistribution(a, temperature_K=800, rng=np.random.RandomState(0))
        dyn = Langevin(a, 2 * units.fs, temperature_K=800, friction=0.01 / units.fs)
        dyn.run(2)  # start-up: JIT, neighbour lists
        t0 = time.perf_counter()
        dyn.run(args.steps)
        t_numba += time.perf_counter() - t0
        steps_numba += args.steps
        atoms_numba = len(a)
    numba_rate = atoms_numba * steps_numba / t_numba
    rows = []
    for b in (int(x) for x in args.replicas.split(",")):
        md = BatchedMD(model, copies(b), temperatures_K=800.0, timestep_fs=2.0,
                       device=args.device)
        md.maxwell_boltzmann()
        for _ in range(2):
            md.step()
        if md.device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(args.steps):
            md.step()
        if md.device.type == "cuda":
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        n_atoms = int(md.slices[-1])
        rate = n_atoms * args.steps / dt
        rows.append({"replicas": b, "atoms_total": n_atoms, "device": str(md.device),
                     "batched_atom_steps_per_s": rate,
                     "numba_atom_steps_per_s": numba_rate, "ratio_to_numba": rate / numba_rate,
                     "ms_per_step": 1e3 * dt / args.steps,
                     "neighbour_rebuilds": md.n_rebuilds})
        print(f"{b:6d} systems {n_atoms:8d} atoms  batched {rate:10.4g} atom-steps/s  "
              f"numba {numba_rate:10.4g}  ratio {rate / numba_rate:7.3g}  "
              f"({1e3 * dt / args.steps:.1f} ms/step)", flush=True)
    out = {"model": args.model, "level": model.level, "charges": model.charges,
           "structure": args.structure, "atoms_per_system": len(cell), "steps": args.steps,
           "threads": args.threads, "rows": rows}
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)


if __name__ == "__main__":
    main()
