"""``superionic materials``: the reference library and structure preparation."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("materials", help="reference conductors; order partial occupancies")
    msub = p.add_subparsers(dest="materials_command", metavar="ACTION")
    lp = msub.add_parser("list", help="list the built-in reference conductors")
    lp.add_argument("--json", metavar="OUT", help="write the library as JSON")
    lp.set_defaults(func=_list)
    sp = msub.add_parser("show", help="one entry with its sources")
    sp.add_argument("name")
    sp.set_defaults(func=_show)
    op = msub.add_parser("order", help="order partial occupancies into an MD-ready supercell")
    op.add_argument("structure", help="library name or structure file (CIF, POSCAR, ...)")
    op.add_argument("--min-distance", type=float, default=10.0, metavar="A",
                    help="minimum perpendicular cell width in Å (default 10)")
    op.add_argument("--samples", type=int, default=12, help="orderings sampled (default 12)")
    op.add_argument("--seed", type=int, default=0)
    op.add_argument("--out", required=True, help="output structure file (format from suffix)")
    op.add_argument("--json", metavar="OUT", help="write the ordering report as JSON")
    op.set_defaults(func=_order)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _fmt(x: float | None, unit: str = "") -> str:
    return "—" if x is None else f"{x:.3g}{unit}"


def _list(args: argparse.Namespace) -> int:
    from superionic.cli._common import write_json
    from superionic.materials.library import list_materials

    rows = list_materials()
    print(f"{'name':<14} {'family':<14} {'sigma_RT (S/cm)':>15} {'Ea (eV)':>8}  conduction")
    for m in rows:
        print(f"{m.name:<14} {m.family:<14} {_fmt(m.sigma_RT_S_per_cm):>15} "
              f"{_fmt(m.Ea_eV):>8}  {m.conduction}")
    if args.json:
        write_json(args.json, [m.__dict__ for m in rows])
    return 0


def _show(args: argparse.Namespace) -> int:
    from superionic.materials.library import get_material

    m = get_material(args.name)
    for key, value in m.__dict__.items():
        print(f"{key:>18}: {value}")
    return 0


def _order(args: argparse.Namespace) -> int:
    from superionic.cli._common import print_table, write_json
    from superionic.materials.reading import prepare_cell

    atoms, report = prepare_cell(args.structure, min_distance_A=args.min_distance,
                                 seed=args.seed, n_samples=args.samples)
    atoms.write(args.out)
    e = report.ewald_energies_eV
    print_table([
        ("supercell", "x".join(map(str, report.supercell))),
        ("atoms", str(len(atoms))),
        ("composition", str(report.ordered_composition)),
        ("oxidation states", str(report.oxidation_states)),
        ("adjustments", "; ".join(report.adjustments) or "none"),
        ("Ewald energy (eV)", f"{e[report.chosen_index]:.3f} (range of samples "
                              f"{min(e):.3f} .. {max(e):.3f})" if e else "n/a"),
        ("written", args.out),
    ], title=f"Ordered {args.structure}")
    if args.json:
        write_json(args.json, report.to_dict())
    return 0
