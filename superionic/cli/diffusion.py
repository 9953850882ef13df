"""``superionic diffusion``: D*, D_sigma, Haven ratio and conductivity from an MD trajectory."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "diffusion",
        help="tracer/collective diffusion, Haven ratio and conductivity from a trajectory",
        description="Unwraps the trajectory (TOR scheme, NPT-safe), removes framework drift, "
        "computes FFT multi-origin MSDs and fits D* and D_sigma by generalised least squares "
        "with the analytic random-walk MSD covariance; block averages as a cross-check.",
    )
    p.add_argument("trajectory", help="trajectory file (extxyz, traj, XDATCAR, vasprun.xml, "
                                      "LAMMPS dump, H5MD, ...)")
    p.add_argument("--species", default="Li", nargs="+",
                   help="mobile species (default Li); several give a charge-weighted "
                        "collective conductivity")
    p.add_argument("--temperature", type=float, required=True, metavar="K",
                   help="simulation temperature in K")
    p.add_argument("--timestep", type=float, metavar="FS", help="MD time step in fs")
    p.add_argument("--frame-interval", type=float, metavar="FS",
                   help="time between stored frames in fs (default: from the file)")
    p.add_argument("--format", default=None, help="file format (default: detected)")
    p.add_argument("--fit-start", type=float, metavar="FS", help="start of the fit window")
    p.add_argument("--fit-end", type=float, metavar="FS", help="end of the fit window")
    p.add_argument("--charge", type=float, metavar="Q",
                   help="ion charge in e (default: formal charge, e.g. Li 1, Mg 2)")
    p.add_argument("--assume-haven", type=float, metavar="H",
                   help="divide the Nernst-Einstein conductivity from D* by this Haven ratio")
    p.add_argument("--n-blocks", type=int, default=5,
                   help="time blocks for the block-average cross-check (default 5)")
    p.add_argument("--no-drift", action="store_true",
                   help="keep the framework centre-of-mass drift")
    p.add_argument("--max-jump", type=float, metavar="A",
                   help="largest accepted frame-to-frame displacement in Å "
                        "(default: half the shortest cell width)")
    p.add_argument("--memory-limit", type=float, default=4.0, metavar="GB",
                   help="memory for unwrapped positions before spilling to disk (default 4)")
    p.add_argument("--json", metavar="OUT", help="write the results as JSON")
    p.add_argument("--plot", metavar="PNG", help="write the MSD plot")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from superionic.cli._common import print_table, write_json
    from superionic.transport.analysis import analyse_diffusion

    species = args.species if isinstance(args.species, list) else [args.species]
    window = None
    if args.fit_start is not None or args.fit_end is not None:
        window = (args.fit_start, args.fit_end)
    res = analyse_diffusion(
        args.trajectory,
        species[0] if len(species) == 1 else species,
        temperature_K=args.temperature,
        timestep_fs=args.timestep,
        frame_interval_fs=args.frame_interval,
        format=args.format,
        charge=args.charge,
        fit_window_fs=window,
        n_blocks=args.n_blocks,
        remove_drift=not args.no_drift,
        max_jump_A=args.max_jump,
        assumed_haven_ratio=args.assume_haven,
        memory_limit_gb=args.memory_limit,
        progress=not args.no_progress,
    )
    print_table(res.summary_rows(), title=f"Diffusion analysis of {args.trajectory}")
    for w in res.warnings:
        print(f"  warning: {w}")
    if args.json:
        write_json(args.json, res.to_dict())
        print(f"  JSON written to {args.json}")
    if args.plot:
        from superionic.report.transport_plots import plot_msd

        plot_msd(res, args.plot)
        print(f"  plot written to {args.plot}")
    return 0
