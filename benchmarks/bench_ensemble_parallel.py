"""An ensemble of two potentials: members one after another against members at once.

``superionic conductivity --ensemble N`` trains N potentials independently. One member's
training, active learning and labels use one core (training runs single-threaded), so on a
2-core machine members one after another leave a core idle for most of the run. With
``--workers 2`` the members are two tasks of one executor, each with one core. Both settings
run here, one after the other, on the same small job (Li3N with one vacancy, level-6 QMTP,
a fixed number of production steps and a budget that never ends a stage), in fresh run
directories; printed are the wall times and their ratio.

Usage::

    python benchmarks/bench_ensemble_parallel.py --steps 4000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def config(run_dir: Path, workers: int, steps: int) -> dict:
    """The job both settings run: the workflow's end-to-end test case, as an ensemble of 2."""
    return dict(material="Li3N", vacancies=1, min_distance_A=7.0,
                temperatures_K=[600.0, 900.0], level=6, charges=False, budget_s=1e5,
                n_rattled=8, n_strained=2, teacher_md_steps=20, relax_steps=5, train_epochs=10,
                al_iterations=2, al_md_steps=100, segment_steps=1000,
                max_production_steps=steps, target_rel_precision=0.0, max_refinements=4,
                max_audit_refinements=1, progress=False, seed=0, ensemble=2,
                workers=workers, run_dir=str(run_dir))


def timed(workers: int, steps: int, root: Path) -> tuple[float, dict]:
    from superionic.workflows.conductivity import ConductivityConfig, run_conductivity

    t0 = time.perf_counter()
    res = run_conductivity(ConductivityConfig(**config(root / f"w{workers}", workers, steps)))
    return time.perf_counter() - t0, res.to_dict()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--steps", type=int, default=4000, help="production steps per temperature")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for workers in (1, 2):
            wall, res = timed(workers, args.steps, Path(tmp))
            rows.append((workers, wall, res))
            print(f"workers {workers}: {wall:7.1f} s   sigma(300 K) "
                  f"{res['sigma_S_per_cm']['value']:.3g} S/cm "
                  f"[{res['sigma_S_per_cm']['ci95'][0]:.3g}, "
                  f"{res['sigma_S_per_cm']['ci95'][1]:.3g}]   production steps "
                  f"{[m['production_steps'] for m in res['members']]}", flush=True)
    print(f"ratio one-after-another / at-once: {rows[0][1] / rows[1][1]:.2f}x")


if __name__ == "__main__":
    main()
