"""``superionic conductivity``: structure in, room-temperature ionic conductivity out."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("conductivity",
                       help="ionic conductivity at 300 K (or --at) from a structure")
    p.add_argument("structure", nargs="+",
                   help="library material name (see 'materials list') or a structure file "
                        "(CIF, POSCAR, ...); several make a batch: one run each, --workers "
                        "of them at once through one executor")
    p.add_argument("--budget", type=float, default=1800.0, metavar="S",
                   help="wall-time budget in seconds, of each structure (default 1800)")
    p.add_argument("--run-dir", default=None,
                   help="run directory (default runs/<structure>); for several structures "
                        "the folder of their run directories, DIR/<structure>")
    p.add_argument("--temperatures", type=float, nargs="+", metavar="K",
                   help="MD temperatures (default: chosen from the expected Ea)")
    p.add_argument("--at", type=float, default=300.0, metavar="K",
                   help="target temperature (default 300)")
    p.add_argument("--teacher", default="chgnet",
                   help="teacher potential: chgnet (default; CHGNet 0.3.0), chgnet:r2scan or "
                        "chgnet:0.2.0 (other bundled CHGNet weights), or module:function / "
                        "file.py:function, a function returning an ASE calculator (a DFT "
                        "code, an empirical potential)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--species", default="Li", help="mobile species (default Li)")
    p.add_argument("--level", type=int, default=10, help="QMTP level (default 10)")
    p.add_argument("--min-distance", type=float, default=8.0, metavar="A",
                   help="minimum supercell width in Å (default 8)")
    p.add_argument("--precision", type=float, default=0.15,
                   help="target relative standard error of D* per temperature")
    p.add_argument("--target-sigma-factor", type=float, default=None, metavar="F",
                   help="stop production once the 95%% interval of sigma at --at lies within "
                        "a factor F of the value (e.g. 2)")
    p.add_argument("--teacher-check-steps", type=int, default=0, metavar="N",
                   help="also run N steps of teacher MD at the highest temperature and compare "
                        "its D* with QMTP's (default 0: off)")
    p.add_argument("--teacher-check-at", default="highest", metavar="highest|lowest|K",
                   help="temperature of the teacher check: highest (default), lowest (where a "
                        "student can differ most from its teacher) or one of the MD "
                        "temperatures")
    p.add_argument("--audit-frames", type=int, default=4, metavar="N",
                   help="frames per temperature the teacher labels at each audit of production "
                        "MD (after passes 1, 2, 4, ...); a student whose errors there exceed "
                        "--audit-factor times its training errors is refined with them and "
                        "production restarts (default 4; 0: no audit)")
    p.add_argument("--max-audit-refinements", type=int, default=2, metavar="N",
                   help="refinements after failed audits (default 2; beyond them a failed "
                        "audit is reported in the notes)")
    p.add_argument("--audit-factor", type=float, default=2.0, metavar="F",
                   help="largest accepted ratio of audit to training errors (default 2)")
    p.add_argument("--no-charges", action="store_true",
                   help="QMTP without charge equilibration (short-range only; faster)")
    p.add_argument("--vacancies", type=int, default=0, help="Li vacancies to create")
    p.add_argument("--dopant", default=None, help="dopant for library garnets (Ga, Al)")
    p.add_argument("--dopant-x", type=float, default=0.0)
    p.add_argument("--scheduler", default=None,
                   help="Dask scheduler address, 'local-dask', 'slurm' or 'pbs'")
    p.add_argument("--workers", type=int, default=1, help="parallel workers (default 1)")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="threads of torch, numba and BLAS in this run and its workers "
                        "(default: one per core, or cores / workers with --workers > 1); give "
                        "cores / jobs to each of several jobs sharing a machine")
    p.add_argument("--ensemble", type=int, default=1, metavar="N",
                   help="train N potentials independently (own teacher data and seed each), "
                        "run each through the workflow on 1/N of the budget and combine them "
                        "with their scatter (default 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", metavar="OUT", help="write the results as JSON")
    p.set_defaults(func=run)


def _config(args: argparse.Namespace, structure: str, run_dir: str) -> Any:
    from superionic.workflows.conductivity import ConductivityConfig

    return ConductivityConfig(
        material=structure, run_dir=run_dir, budget_s=args.budget,
        temperatures_K=args.temperatures, target_T_K=args.at, species=args.species,
        teacher=args.teacher, device=args.device, seed=args.seed,
        min_distance_A=args.min_distance, level=args.level, charges=not args.no_charges,
        target_rel_precision=args.precision, teacher_check_steps=args.teacher_check_steps,
        teacher_check_at=args.teacher_check_at, audit_frames=args.audit_frames,
        audit_factor=args.audit_factor, max_audit_refinements=args.max_audit_refinements,
        target_sigma_factor=args.target_sigma_factor,
        scheduler=args.scheduler, workers=args.workers,
        dopant=args.dopant, dopant_x=args.dopant_x, vacancies=args.vacancies,
        ensemble=args.ensemble, threads=args.threads)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from superionic.cli._common import write_json
    from superionic.workflows.conductivity import run_conductivity

    structures = list(args.structure)
    if len(structures) > 1:
        return _run_batch(args, structures)
    run_dir = args.run_dir or str(Path("runs") / Path(structures[0]).stem)
    res = run_conductivity(_config(args, structures[0], run_dir))
    _print_result(res)
    if args.json:
        write_json(args.json, res.to_dict())
    return 0


def _run_batch(args: argparse.Namespace, structures: list[str]) -> int:
    """Several structures, one run each, through one executor; a failed run is named and the
    others go on. ``--json`` writes ``{"materials": [...]}``, one result (or error) each."""
    from pathlib import Path

    from superionic.cli._common import print_table, write_json
    from superionic.workflows.batch import RunFailure, concurrent_runs, run_many

    stems = [Path(s).stem for s in structures]
    if len(set(stems)) < len(stems):
        from superionic.core.errors import InputError

        raise InputError(f"structures {structures}", field="structure",
                         expected="distinct names: each structure's run directory is "
                                  "named after it")
    root = Path(args.run_dir or "runs")
    cfgs = [_config(args, s, str(root / stem)) for s, stem in zip(structures, stems,
                                                                   strict=True)]
    results = run_many(cfgs, args.scheduler, concurrent_runs(len(cfgs), args.workers),
                       keep_going=True)
    rows = []
    for cfg, res in zip(cfgs, results, strict=True):
        if isinstance(res, RunFailure):
            rows.append((cfg.material, f"failed: {res.error}"))
            continue
        _print_result(res)
        print()
        rows.append((cfg.material, f"sigma({res.target_T_K:g} K) {res.sigma_S_per_cm} S/cm, "
                                   f"Ea {res.Ea_eV} eV; {res.report}"))
    print_table(rows, title=f"Batch of {len(cfgs)} structures")
    if args.json:
        write_json(args.json, {"materials": [
            r.to_dict() if isinstance(r, RunFailure) else r.to_dict() | {"run_dir": c.run_dir}
            for c, r in zip(cfgs, results, strict=True)]})
    return 1 if any(isinstance(r, RunFailure) for r in results) else 0


def _print_result(res: Any) -> None:
    from superionic.cli._common import print_table
    from superionic.core.estimate import Estimate

    exp = res.experiment
    rows = [(f"sigma({res.target_T_K:g} K)", f"{res.sigma_S_per_cm} S/cm"),
            ("Ea", f"{res.Ea_eV} eV"),
            ("Haven ratio", str(res.haven_ratio)),
            ("conduction (MD temperatures)", res.dimensionality),
            (f"conduction ({res.target_T_K:g} K)", res.dimensionality_at_target or "—"),
            ("temperatures (K)", ", ".join(f"{t:g}" for t in res.temperatures_K)),
            ("teacher", str(res.training.get("teacher", "—"))),
            ("refinements", _refinements_summary(res.refinements))]
    if exp.get("sigma_RT_S_per_cm"):
        rows.append(("experiment sigma(RT)", f"{exp['sigma_RT_S_per_cm']:.3g} S/cm "
                                             f"({exp['sigma_source']})"))
    for m in res.members:
        rows.append((f"  member {m['member']} sigma",
                     f"{Estimate.from_dict(m['sigma_S_per_cm'])} S/cm"))
    if res.teacher_check:
        tc = res.teacher_check
        r = Estimate.from_dict(tc["ratio_qmtp_over_teacher"])
        rows.append((f"teacher check ({tc['T_K']:g} K)",
                     f"D*(QMTP) / D*(teacher) = {r} "
                     f"({'within' if tc['within_factor'] else 'outside'} a factor "
                     f"{tc['max_factor']:g})"))
    rows.append(("report", res.report))
    print_table(rows, title=f"Ionic conductivity of {res.material}")
    for note in res.notes:
        print(f"  note: {note}")


def _refinements_summary(refinements: list[dict]) -> str:
    """How many refinements of each kind (grade, audit) the run made."""
    grade = sum(1 for r in refinements if r["reason"].startswith("extrapolation"))
    audit = sum(1 for r in refinements if r["reason"].startswith("teacher audit"))
    return f"{grade} after the extrapolation grade, {audit} after a teacher audit " \
           "(one per temperature that failed)"
