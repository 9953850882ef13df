"""``superionic md``: molecular dynamics with QMTP or CHGNet, H5MD output, resumable."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("md", help="run molecular dynamics (H5MD trajectory, resumable)")
    p.add_argument("structure", help="structure file or library material name")
    p.add_argument("--potential", required=True, help="QMTP model file or 'chgnet'")
    p.add_argument("--temperature", type=float, required=True, metavar="K")
    p.add_argument("--timestep", type=float, default=2.0, metavar="FS")
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--out", required=True, metavar="TRAJ.h5")
    p.add_argument("--json", metavar="OUT")
    p.add_argument("--ensemble", default="nvt-langevin",
                   choices=["nvt-langevin", "nvt-bussi", "nvt-nose-hoover", "nve", "npt"])
    p.add_argument("--sample-every", type=int, default=10, metavar="STEPS")
    p.add_argument("--checkpoint-every", type=int, default=500, metavar="STEPS")
    p.add_argument("--min-distance", type=float, default=8.0, metavar="A",
                   help="minimum supercell width (partial occupancies are ordered in it)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--no-resume", action="store_true", help="ignore an existing checkpoint")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from superionic.cli._common import print_table, write_json
    from superionic.dynamics.calculators import make_calculator
    from superionic.dynamics.md import run_md
    from superionic.materials.reading import prepare_cell

    atoms, _ = prepare_cell(args.structure, min_distance_A=args.min_distance, seed=args.seed)
    calc = make_calculator(args.potential, device=args.device)
    res = run_md(atoms, calc, temperature_K=args.temperature, timestep_fs=args.timestep,
                 steps=args.steps, out=args.out, ensemble=args.ensemble,
                 sample_every=args.sample_every, checkpoint_every=args.checkpoint_every,
                 seed=args.seed, resume=not args.no_resume, progress=True,
                 potential_name=str(args.potential))
    rows = [("atoms", str(res.n_atoms)), ("steps", str(res.steps)),
            ("resumed from step", str(res.resumed_from_step)),
            ("mean T (K)", f"{res.mean_temperature_K:.1f}"),
            ("atom-steps/s", f"{res.atom_steps_per_s:.4g}"),
            ("trajectory", res.trajectory)]
    if res.energy_drift_meV_per_atom_per_ps is not None:
        rows.append(("energy drift (meV/atom/ps)", f"{res.energy_drift_meV_per_atom_per_ps:.3g}"))
    print_table(rows, title=f"MD {args.ensemble} at {args.temperature:g} K")
    if args.json:
        write_json(args.json, res.to_dict())
    return 0
