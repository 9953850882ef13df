"""``superionic convert IN OUT``: any readable trajectory to H5MD."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "convert",
        help="convert a trajectory (extxyz, traj, XDATCAR, vasprun.xml, LAMMPS dump, ...) "
        "to H5MD",
        description="Convert any trajectory superionic reads into an H5MD file, streamed in "
        "chunks. The time step is read from the file where it is stored, else give --timestep.",
    )
    p.add_argument("input", metavar="IN", help="trajectory to read")
    p.add_argument("output", metavar="OUT", help="H5MD file to write")
    p.add_argument("--timestep", type=float, default=None, metavar="FS",
                   help="MD integrator time step in fs")
    p.add_argument("--frame-interval", type=float, default=None, metavar="FS",
                   help="time between stored frames in fs (default: timestep x the file's "
                   "step stride)")
    p.add_argument("--format", default=None, help="input format (default: detected)")
    p.add_argument("--symbols", default=None,
                   help="elements of LAMMPS types, e.g. '1:Li,2:P,3:S'")
    p.add_argument("--lammps-units", choices=["metal", "real"], default=None,
                   help="LAMMPS unit style, to convert velocities and forces")
    p.add_argument("--chunk-size", type=int, default=1000, help="frames per chunk")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _parse_symbols(text: str | None) -> dict[int, str] | list[str] | None:
    from superionic.core.errors import InputError

    if text is None:
        return None
    if ":" not in text:
        return [s.strip() for s in text.split(",") if s.strip()]
    out: dict[int, str] = {}
    for item in text.split(","):
        try:
            k, v = item.split(":")
            out[int(k)] = v.strip()
        except ValueError as exc:
            raise InputError(f"cannot read {item!r}", field="--symbols",
                             expected="TYPE:ELEMENT pairs such as 1:Li,2:P") from exc
    return out


def run(args: argparse.Namespace) -> int:
    from superionic.cli._common import print_table
    from superionic.core.errors import InputError
    from superionic.io.convert import convert

    try:
        info = convert(
            args.input,
            args.output,
            format=args.format,
            timestep_fs=args.timestep,
            frame_interval_fs=args.frame_interval,
            chunk_size=args.chunk_size,
            progress=not args.no_progress,
            overwrite=args.overwrite,
            symbols=_parse_symbols(args.symbols),
            lammps_units=args.lammps_units,
        )
    except InputError as exc:
        flags = {"timestep_fs": "--timestep FS", "frame_interval_fs": "--frame-interval FS",
                 "symbols": "--symbols 1:Li,2:P", "lammps_units": "--lammps-units"}
        hint = flags.get(exc.field or "")
        if hint is None and "overwrite" in str(exc):
            hint = "--overwrite"
        if hint is None:
            raise
        raise type(exc)(f"{exc.problem} [option: {hint}]", source=exc.source,
                        frame=exc.frame, field=exc.field, expected=exc.expected) from exc
    print_table(
        [
            ("frames", str(info.n_frames)),
            ("atoms", str(info.n_atoms)),
            ("time step (fs)", f"{info.timestep_fs:g}"),
            ("frame interval (fs)", f"{info.frame_interval_fs:g}"),
            ("variable cell", str(info.variable_cell)),
            ("velocities", str(info.has_velocities)),
        ],
        title=f"wrote {args.output}",
    )
    return 0
