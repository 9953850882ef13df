"""Validate predicted room-temperature conductivities of the library against experiment.

For every library material with a shipped structure: run ``superionic conductivity`` with the
given budget, then compare sigma(300 K) and Ea with the experimental values of the library, and
compare the QMTP diffusion coefficient at the highest temperature with the teacher's own MD
there (the criterion: within a factor 1.5). Writes a JSON per material and ``summary.json``
under ``--out``; the findings are written up in ``validation/RESULTS.md``.

    python validation/validate_library.py --budget 3600 --materials Li10GeP2S12 Li6PS5Cl
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    from superionic.materials.library import list_materials
    from superionic.workflows.conductivity import ConductivityConfig, run_conductivity

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--budget", type=float, default=3600.0, help="seconds per material")
    p.add_argument("--materials", nargs="*", default=None)
    p.add_argument("--teacher-steps", type=int, default=5000,
                   help="teacher MD steps at the highest temperature (0: no check)")
    p.add_argument("--target-sigma-factor", type=float, default=2.0)
    p.add_argument("--no-charges", action="store_true")
    p.add_argument("--teacher", default="chgnet",
                   help="teacher (chgnet, chgnet:r2scan, module:function, file.py:function)")
    p.add_argument("--threads", type=int, default=None,
                   help="threads per run (default: one per core; cores / jobs for jobs side "
                        "by side)")
    p.add_argument("--out", default="validation/runs")
    args = p.parse_args()
    names = args.materials or [m.name for m in list_materials() if m.cif]
    out_dir = Path(args.out)
    rows = []
    for name in names:
        t0 = time.time()
        cfg = ConductivityConfig(material=name, run_dir=str(out_dir / name),
                                 budget_s=args.budget, progress=True,
                                 charges=not args.no_charges,
                                 target_sigma_factor=args.target_sigma_factor,
                                 teacher_check_steps=args.teacher_steps,
                                 teacher=args.teacher, threads=args.threads)
        res = run_conductivity(cfg)
        exp = res.experiment
        row = {
            "material": name, "sigma_300K_S_per_cm": res.sigma_S_per_cm.to_dict(),
            "sigma_exp_S_per_cm": exp.get("sigma_RT_S_per_cm"), "Ea_eV": res.Ea_eV.to_dict(),
            "Ea_exp_eV": exp.get("Ea_eV"), "haven_ratio": res.haven_ratio.to_dict(),
            "temperatures_K": res.temperatures_K, "dimensionality": res.dimensionality,
            "D_xyz_highest_T_cm2_per_s": [d["value"] for d in
                                          res.per_temperature[-1]["D_tracer_xyz_cm2_per_s"]],
            "teacher": args.teacher, "teacher_check": res.teacher_check, "wall_s": time.time() - t0,
        }
        rows.append(row)
        (out_dir / f"{name}.json").write_text(json.dumps(row, indent=2))
        print(json.dumps(row, indent=2))
    (out_dir / "summary.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
