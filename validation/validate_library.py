"""Validate predicted room-temperature conductivities of the library against experiment.

For every library material with a shipped structure: run ``superionic conductivity`` with the
given budget, then compare sigma(300 K) and Ea with the experimental values of the library, and
compare the QMTP diffusion coefficient at the highest temperature with the teacher's own MD
there (the criterion: within a factor 1.5). Writes ``RESULTS.md`` rows and a JSON per material.

    python validation/validate_library.py --budget 3600 --materials Li10GeP2S12 Li6PS5Cl
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path


def teacher_diffusion(run_dir: Path, atoms, T: float, steps: int, species: str = "Li"):
    """D* from the teacher's own MD (CHGNet) at T, for the QMTP-vs-teacher check."""
    from superionic.dynamics.calculators import make_calculator
    from superionic.dynamics.md import run_md
    from superionic.transport.analysis import analyse_diffusion

    out = run_dir / f"teacher_T{int(T)}K.h5"
    run_md(atoms, make_calculator("chgnet"), temperature_K=T, timestep_fs=2.0, steps=steps,
           out=out, sample_every=10, checkpoint_every=200)
    return analyse_diffusion(out, species, temperature_K=T).D_tracer_cm2_per_s


def main() -> None:
    from superionic.materials.library import list_materials
    from superionic.workflows.conductivity import ConductivityConfig, run_conductivity

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--budget", type=float, default=3600.0, help="seconds per material")
    p.add_argument("--materials", nargs="*", default=None)
    p.add_argument("--teacher-steps", type=int, default=5000)
    p.add_argument("--out", default="validation/runs")
    args = p.parse_args()
    names = args.materials or [m.name for m in list_materials() if m.cif]
    out_dir = Path(args.out)
    rows = []
    for name in names:
        t0 = time.time()
        cfg = ConductivityConfig(material=name, run_dir=str(out_dir / name),
                                 budget_s=args.budget, progress=True)
        res = run_conductivity(cfg)
        hot = res.per_temperature[-1]
        d_q = hot["D_tracer_cm2_per_s"]["value"]
        from superionic.workflows.store import RunStore

        atoms = RunStore(cfg.run_dir).get("relax", _first_key(cfg.run_dir, "relax"))[1]["atoms"]
        d_t = teacher_diffusion(Path(cfg.run_dir), atoms, hot["T_K"], args.teacher_steps)
        ratio = d_q / d_t.value if d_t.value > 0 else math.nan
        exp = res.experiment
        row = {
            "material": name, "sigma_300K_S_per_cm": res.sigma_S_per_cm.to_dict(),
            "sigma_exp_S_per_cm": exp.get("sigma_RT_S_per_cm"), "Ea_eV": res.Ea_eV.to_dict(),
            "Ea_exp_eV": exp.get("Ea_eV"), "haven_ratio": res.haven_ratio.to_dict(),
            "T_high_K": hot["T_K"], "D_qmtp_cm2_per_s": d_q,
            "D_teacher_cm2_per_s": d_t.to_dict(), "D_ratio_qmtp_over_teacher": ratio,
            "within_factor_1p5": bool(1 / 1.5 <= ratio <= 1.5), "wall_s": time.time() - t0,
        }
        rows.append(row)
        (out_dir / f"{name}.json").write_text(json.dumps(row, indent=2))
        print(json.dumps(row, indent=2))
    (out_dir / "summary.json").write_text(json.dumps(rows, indent=2))


def _first_key(run_dir: str, stage: str) -> str:
    import sqlite3

    db = sqlite3.connect(Path(run_dir) / "results.sqlite")
    return db.execute("SELECT key FROM stages WHERE stage=?", (stage,)).fetchone()[0]


if __name__ == "__main__":
    main()
