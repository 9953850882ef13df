"""Two teacher MD jobs sharing the machine: default threads against ``--threads`` per job.

The conductivity workflow's teacher stages (CHGNet MD, labelling) run torch, which starts one
OpenMP thread per core in every process. Two such jobs side by side on one machine (two
materials, two seeds, a conductivity run beside a test suite) run twice as many busy threads
as there are cores. Both settings are timed here on the same cell, steps and machine, one
after the other, each with ``--jobs`` processes at once:

* ``default``: each process keeps torch's and numba's own thread counts;
* ``limited``: each process runs inside :func:`superionic.core.threads.thread_limit` with
  ``cores // jobs`` threads, as ``superionic conductivity --threads`` does.

Printed: teacher MD steps per second summed over the jobs, and the ratio limited / default.

Usage::

    python benchmarks/bench_shared_cores.py --steps 60 --jobs 2
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time


def _frame():
    """The bundled 52-atom Li6PS5Cl frame both settings run on."""
    from importlib.resources import files

    from ase.io import read

    return read(str(files("superionic.data") / "li6ps5cl_chgnet_800K.traj"), 0)


def _job(args: tuple[int | None, int, int, mp.Barrier]) -> float:
    """Steps per second of ``steps`` CHGNet MD steps on Li6PS5Cl, after ``warm`` steps."""
    threads, steps, warm, barrier = args
    from ase.md.verlet import VelocityVerlet
    from ase.units import fs

    from superionic.core.threads import thread_limit
    from superionic.potentials.teachers import teacher_from_spec

    atoms = _frame()
    atoms.calc = teacher_from_spec("chgnet").make_calculator()
    with thread_limit(threads):
        md = VelocityVerlet(atoms, timestep=1.0 * fs)
        md.run(warm)
        barrier.wait()  # the timed steps of all jobs overlap
        t0 = time.perf_counter()
        md.run(steps)
        return steps / (time.perf_counter() - t0)


def run(threads: int | None, jobs: int, steps: int, warm: int) -> list[float]:
    ctx = mp.get_context("spawn")
    with ctx.Manager() as manager:
        barrier = manager.Barrier(jobs)
        with ctx.Pool(jobs) as pool:
            return pool.map(_job, [(threads, steps, warm, barrier)] * jobs)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--warm", type=int, default=5)
    p.add_argument("--jobs", type=int, default=2)
    args = p.parse_args()
    cores = os.cpu_count() or 1
    per_job = max(1, cores // args.jobs)
    rates = {"default": run(None, args.jobs, args.steps, args.warm),
             f"limited ({per_job} thread(s) each)": run(per_job, args.jobs, args.steps,
                                                         args.warm)}
    n = len(_frame())
    print(f"{args.jobs} CHGNet MD jobs at once on {cores} cores, Li6PS5Cl ({n} atoms), "
          f"{args.steps} timed steps each")
    for name, r in rates.items():
        print(f"  {name:28s} steps/s per job {', '.join(f'{x:.2f}' for x in r)}; "
              f"total {sum(r):.2f}")
    total = [sum(r) for r in rates.values()]
    print(f"ratio limited / default (total steps/s): {total[1] / total[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
