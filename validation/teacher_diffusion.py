"""Validation: Li tracer diffusion of teachers themselves (no student) on the same cell.

Runs each teacher's own MD (``--teachers``, any ``--teacher`` name) from the first frame of a
trajectory (``--start``, e.g. a production run of the workflow) at ``--temperature`` and reports
D* with its interval, so that a finding of a distilled potential can be traced to its teacher.

    OMP_NUM_THREADS=1 python validation/teacher_diffusion.py --start RUN/md/T657K_r0.h5 \
        --teachers chgnet chgnet:r2scan --temperature 657 --steps 3000 --out validation/runs_td
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def first_frame(path: str):
    """The first frame of an H5MD trajectory (as the workflow writes it) or of any ASE file."""
    if not path.endswith((".h5", ".h5md")):
        from ase.io import read

        return read(path, index=0)
    import h5py
    from ase import Atoms

    with h5py.File(path, "r") as f:
        g = f["particles/all"]
        edges = g["box/edges"]
        cell = edges["value"][0] if isinstance(edges, h5py.Group) else edges[()]
        return Atoms(numbers=g["species"][()], positions=g["position/value"][0], cell=cell,
                     pbc=True)


def main() -> None:
    from superionic.dynamics.calculators import make_calculator
    from superionic.dynamics.md import run_md
    from superionic.transport.analysis import analyse_diffusion

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--start", required=True, help="structure or trajectory (its first frame)")
    p.add_argument("--teachers", nargs="+", default=["chgnet"])
    p.add_argument("--temperature", type=float, required=True, metavar="K")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--timestep", type=float, default=2.0, metavar="FS")
    p.add_argument("--species", default="Li")
    p.add_argument("--out", default="validation/runs_td")
    args = p.parse_args()
    atoms = first_frame(args.start)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for teacher in args.teachers:
        tag = teacher.replace(":", "_").replace("/", "_")
        t0 = time.time()
        md = run_md(atoms, make_calculator(teacher), temperature_K=args.temperature,
                    timestep_fs=args.timestep, steps=args.steps, sample_every=10,
                    out=out / f"{tag}_T{args.temperature:g}K.h5", progress=True,
                    potential_name=teacher)
        d = analyse_diffusion(md.trajectory, args.species, temperature_K=args.temperature)
        row = {"teacher": teacher, "T_K": args.temperature, "steps": args.steps,
               "D_tracer_cm2_per_s": d.D_tracer_cm2_per_s.to_dict(),
               "D_tracer_xyz_cm2_per_s": [x.to_dict() for x in d.D_tracer_xyz_cm2_per_s],
               "wall_s": time.time() - t0}
        rows.append(row)
        (out / f"{tag}_T{args.temperature:g}K.json").write_text(json.dumps(row, indent=2))
        print(json.dumps(row, indent=2), flush=True)


if __name__ == "__main__":
    main()
