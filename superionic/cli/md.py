"""``superionic md``: molecular dynamics with QMTP or CHGNet, H5MD output, resumable."""

from __future__ import annotations

import argparse

import numpy as np


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("md", help="run molecular dynamics (H5MD trajectory, resumable)")
    p.add_argument("structure", help="structure file or library material name")
    p.add_argument("--potential", required=True,
                   help="QMTP model file, 'chgnet', 'chgnet:r2scan', or module:function / "
                        "file.py:function returning an ASE calculator")
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
    p.add_argument("--replicas", type=int, default=1, metavar="N",
                   help="N > 1: N independent replicas (own velocities and noise) in one batch on "
                        "the torch engine (--device), NVT Langevin; trajectories "
                        "TRAJ_r000.h5, ...")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from superionic.cli._common import print_table, write_json
    from superionic.dynamics.calculators import make_calculator
    from superionic.dynamics.md import run_md
    from superionic.materials.reading import prepare_cell

    atoms, _ = prepare_cell(args.structure, min_distance_A=args.min_distance, seed=args.seed)
    if args.replicas > 1:
        return _run_replicas(args, atoms)
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


def _run_replicas(args: argparse.Namespace, atoms) -> int:
    from pathlib import Path

    from superionic.cli._common import print_table, write_json
    from superionic.core.errors import InputError
    from superionic.dynamics.batched import run_batched_md
    from superionic.potentials.qmtp import QMTP

    if args.ensemble != "nvt-langevin":
        raise InputError(f"ensemble {args.ensemble!r} with --replicas", field="ensemble",
                         expected="nvt-langevin (the batched engine's thermostat)")
    if str(args.potential).lower() == "chgnet" or not Path(args.potential).is_file():
        raise InputError(f"potential {args.potential!r} with --replicas", field="potential",
                         expected="a QMTP model file")
    out = Path(args.out)
    res = run_batched_md(QMTP.load(args.potential), [atoms] * args.replicas,
                         temperatures_K=args.temperature, steps=args.steps,
                         out_dir=out.parent if str(out.parent) else ".",
                         timestep_fs=args.timestep, sample_every=args.sample_every,
                         checkpoint_every=args.checkpoint_every, device=args.device,
                         seed=args.seed, resume=not args.no_resume, progress=True,
                         names=[f"{out.stem}_r{k:03d}" for k in range(args.replicas)],
                         checkpoint_name=f"{out.stem}.batched.ckpt")
    rows = [("replicas", str(res.n_systems)), ("atoms per replica", str(res.n_atoms[0])),
            ("steps", str(res.steps)), ("resumed from step", str(res.resumed_from_step)),
            ("mean T (K)", f"{np.mean(res.mean_temperature_K):.1f}"),
            ("atom-steps/s (all replicas)", f"{res.atom_steps_per_s:.4g}"),
            ("device", res.device), ("trajectories", f"{res.trajectories[0]} ...")]
    print_table(rows, title=f"batched MD at {args.temperature:g} K")
    if args.json:
        d = res.to_dict()
        d.update({"n_atoms": res.n_atoms[0], "n_replicas": res.n_systems})
        write_json(args.json, d)
    return 0
