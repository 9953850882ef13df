"""Per-step overhead of production-style QMTP MD, side by side in one process.

The conductivity workflow's production MD checks the extrapolation grade at every step. Two
settings are timed on the same model, cell and steps:

* ``shipped``: :func:`superionic.dynamics.md.run_md` as it runs in the workflow (its loop on
  one BLAS thread) with :class:`~superionic.potentials.calculator.QMTPCalculator`;
* ``library defaults``: the same call with ``blas_threads=None`` (numpy's BLAS keeps its own
  thread count) and ASE's stock ``Calculator.check_state`` (``compare_atoms``).

A second process keeps one core busy while both run, as the workflow's parallel temperatures
(or any other job) do on a shared machine; ``--no-load`` leaves the machine idle.

Usage::

    python benchmarks/bench_md_overhead.py --steps 300 --rounds 3
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import tempfile
import time
from pathlib import Path


def _spin(stop) -> None:  # pragma: no cover - load generator
    while not stop.is_set():
        sum(i * i for i in range(10_000))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="validation/out/distill_long2/model.qmtp",
                   help="a QMTP model file of Li6PS5Cl (a random level-16 model if missing)")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--no-load", action="store_true", help="do not keep the other core busy")
    args = p.parse_args()
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")

    from importlib.resources import files

    import numpy as np
    from ase.calculators.calculator import Calculator
    from ase.io import read

    from superionic.dynamics.md import run_md
    from superionic.potentials.active_learning import ActiveSet
    from superionic.potentials.calculator import QMTPCalculator
    from superionic.potentials.qmtp import QMTP

    frames = read(str(files("superionic.data") / "li6ps5cl_chgnet_800K.traj"), ":40")
    if Path(args.model).exists():
        model = QMTP.load(args.model)
    else:
        model = QMTP.random(["Cl", "Li", "P", "S"], level=16, seed=0)
    active = ActiveSet(model).fit(frames)

    class StockCheck(QMTPCalculator):
        check_state = Calculator.check_state

    settings = {
        "shipped": (QMTPCalculator, 1),
        "library defaults": (StockCheck, None),
    }
    stop = mp.Event()
    load = None if args.no_load else mp.Process(target=_spin, args=(stop,), daemon=True)
    if load is not None:
        load.start()
    rates: dict[str, list[float]] = {k: [] for k in settings}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(args.rounds + 1):  # round 0 compiles and warms up
                for name, (cls, blas) in settings.items():
                    calc = cls(model, fast_md=True, active_set=active)

                    def watch(atoms, step, calc=calc):
                        calc.results.get("extrapolation_grade")
                        return None

                    t0 = time.perf_counter()
                    res = run_md(frames[-1], calc, temperature_K=800, timestep_fs=2.0,
                                 steps=args.steps if r else 20, resume=False,
                                 out=Path(tmp) / f"{r}_{len(rates[name])}.h5", stop_if=watch,
                                 check_every=1, blas_threads=blas)
                    if r:
                        rates[name].append(res.atom_steps_per_s)
                        print(f"round {r} {name:17s} {res.atom_steps_per_s:10.4g} atom-steps/s "
                              f"({time.perf_counter() - t0:.2f} s)", flush=True)
    finally:
        stop.set()
        if load is not None:
            load.join(timeout=5)
    med = {k: float(np.median(v)) for k, v in rates.items()}
    print(f"\n{len(frames[-1])} atoms, {args.steps} steps, grade every step, "
          f"{'idle machine' if args.no_load else 'other core busy'}")
    for k, v in med.items():
        print(f"{k:17s} {v:10.4g} atom-steps/s")
    print(f"ratio shipped / library defaults: {med['shipped'] / med['library defaults']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
