"""``superionic potential``: train, evaluate and inspect QMTP models."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser("potential", help="QMTP machine-learned potentials")
    sub = p.add_subparsers(dest="potential_command", metavar="ACTION")

    t = sub.add_parser("train", help="train a QMTP on labelled structures (any ASE format)")
    t.add_argument("data", nargs="+", help="labelled structure files (extxyz, .db, OUTCAR, ...)")
    t.add_argument("--level", type=int, default=16, help="MTP level (default 16)")
    t.add_argument("--out", required=True, help="model file to write")
    t.add_argument("--no-charges", action="store_true", help="short-range MTP only")
    t.add_argument("--no-repulsion", action="store_true",
                   help="no ZBL baseline below the shortest distances of the data")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--cutoff", type=float, default=5.0, help="cutoff radius in Å (default 5)")
    t.add_argument("--r-min", type=float, default=None, help="inner radius of the radial basis")
    t.add_argument("--radial-basis-size", type=int, default=8)
    t.add_argument("--epochs", type=int, default=100, help="optimiser steps (0 = linear fit)")
    t.add_argument("--val-fraction", type=float, default=0.1)
    t.add_argument("--optimizer", choices=["lbfgs", "adam"], default="lbfgs")
    t.add_argument("--energy-weight", type=float, default=1.0)
    t.add_argument("--force-weight", type=float, default=0.1)
    t.add_argument("--stress-weight", type=float, default=0.1)
    t.add_argument("--charge-weight", type=float, default=1.0)
    t.add_argument("--device", default=None, help="torch device (default: cuda if available)")
    t.add_argument("--threads", type=int, default=None, help="torch CPU threads for training")
    t.add_argument("--n-inits", type=int, default=1,
                   help="random radial initialisations tried (best linear fit kept)")
    t.add_argument("--json", default=None, help="write RMSEs and history as JSON")
    t.set_defaults(func=run_train)

    e = sub.add_parser("evaluate", help="RMSEs and extrapolation grades of a model on data")
    e.add_argument("model")
    e.add_argument("data", nargs="+")
    e.add_argument("--training-data", nargs="*", default=None,
                   help="structures that define the active set (default: the set stored "
                   "in the model file, else the data itself)")
    e.add_argument("--engine", choices=["numba", "torch"], default="numba")
    e.add_argument("--json", default=None)
    e.set_defaults(func=run_evaluate)

    a = sub.add_parser("audit", help="a model's errors against a teacher on frames of MD "
                                     "it ran (what the extrapolation grade cannot see)")
    a.add_argument("model")
    a.add_argument("trajectories", nargs="+", help="MD trajectories of the model (any format "
                                                   "'superionic diffusion' reads)")
    a.add_argument("--teacher", default="chgnet",
                   help="chgnet, chgnet:r2scan, chgnet:0.2.0, module:function or "
                        "file.py:function (default chgnet)")
    a.add_argument("--frames", type=int, default=8, help="frames per trajectory (default 8)")
    a.add_argument("--after-step", type=int, default=-1, metavar="N",
                   help="only frames after MD step N (e.g. past equilibration)")
    a.add_argument("--training-data", nargs="*", default=None,
                   help="the model's training structures: their errors are the reference "
                        "for the verdict")
    a.add_argument("--factor", type=float, default=2.0,
                   help="largest accepted ratio of audit to training errors (default 2)")
    a.add_argument("--write-labelled", default=None, metavar="OUT",
                   help="write the teacher-labelled frames (extxyz) to add to the training set")
    a.add_argument("--workers", type=int, default=1, help="labelling processes (default 1)")
    a.add_argument("--json", default=None)
    a.set_defaults(func=run_audit)

    i = sub.add_parser("inspect", help="print a model file's header")
    i.add_argument("model")
    i.add_argument("--json", default=None)
    i.set_defaults(func=run_inspect)

    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _fmt(x) -> str:
    return f"{x:.6g}" if isinstance(x, float) else str(x)


def run_train(args: argparse.Namespace) -> int:
    from superionic.cli._common import print_table, write_json
    from superionic.potentials.active_learning import ActiveSet
    from superionic.potentials.training import LossWeights, read_structures, train

    data = read_structures(args.data)
    weights = LossWeights(args.energy_weight, args.force_weight, args.stress_weight,
                          args.charge_weight)
    res = train(data, level=args.level, r_cut=args.cutoff, r_min=args.r_min,
                n_beta=args.radial_basis_size, charges=not args.no_charges, seed=args.seed,
                val_fraction=args.val_fraction, epochs=args.epochs, weights=weights,
                optimizer=args.optimizer, device=args.device, threads=args.threads,
                n_inits=args.n_inits, repulsion=not args.no_repulsion)
    res.model.metadata["training_files"] = [str(p) for p in args.data]
    res.model.save(args.out, active_set=ActiveSet(res.model).fit(data))
    rows = [(f"train {k}", _fmt(v)) for k, v in res.train_rmse.items()]
    rows += [(f"validation {k}", _fmt(v)) for k, v in res.validation_rmse.items()]
    print_table(rows, title=f"QMTP level {args.level} -> {args.out}")
    if args.json:
        write_json(args.json, {"model": str(args.out), **res.to_dict()})
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from superionic.cli._common import print_table, write_json
    from superionic.potentials.active_learning import ActiveSet
    from superionic.potentials.model_file import load_active_set
    from superionic.potentials.qmtp import QMTP
    from superionic.potentials.training import evaluate, read_structures

    model = QMTP.load(args.model)
    data = read_structures(args.data)
    if args.training_data:
        active = ActiveSet(model).fit(read_structures(args.training_data))
    else:
        active = load_active_set(args.model, model) or ActiveSet(model).fit(data)
    out = evaluate(model, data, engine=args.engine, active_set=active)
    out["model"] = str(args.model)
    print_table([(k, _fmt(v)) for k, v in out.items()], title="QMTP evaluation")
    if args.json:
        write_json(args.json, out)
    return 0


def run_inspect(args: argparse.Namespace) -> int:
    import json

    from superionic.cli._common import write_json
    from superionic.potentials.model_file import inspect_model

    header = inspect_model(args.model)
    print(json.dumps(header, indent=2))
    if args.json:
        write_json(args.json, header)
    return 0


def run_audit(args: argparse.Namespace) -> int:
    from superionic.cli._common import print_table, write_json
    from superionic.io.sample import sample_frames
    from superionic.potentials.fidelity import audit_verdict, student_errors
    from superionic.potentials.qmtp import QMTP
    from superionic.potentials.teachers import label, teacher_from_spec
    from superionic.potentials.training import evaluate, read_structures

    model = QMTP.load(args.model)
    teacher = teacher_from_spec(args.teacher)
    reference = evaluate(model, read_structures(args.training_data)) \
        if args.training_data else None
    out: dict = {"model": str(args.model), "teacher": teacher.name, "reference": reference,
                 "trajectories": []}
    rows, labelled_all = [], []
    for path in args.trajectories:
        frames = sample_frames(path, args.frames, after_step=args.after_step)
        labelled = label(frames, teacher, n_workers=args.workers)
        labelled_all += labelled
        e = student_errors(model, labelled)
        entry = {"path": str(path), "frame_steps": [a.info["step"] for a in labelled],
                 "errors": e}
        if reference is not None:
            entry["verdict"] = audit_verdict(e, reference, args.factor)
        out["trajectories"].append(entry)
        verdict = entry.get("verdict")
        rows.append((str(path), f"{1000 * e['energy_rmse_eV_per_atom']:.2f} meV/atom (bias "
                     f"{1000 * e['energy_bias_eV_per_atom']:+.2f}), {e['force_rmse_eV_per_A']:.3f}"
                     " eV/Å" + ("" if verdict is None else "; faithful" if verdict["faithful"]
                                else f"; NOT faithful: {verdict['reason']}")))
    if reference is not None:
        rows.append(("training set", f"{1000 * reference['energy_rmse_eV_per_atom']:.2f} "
                     f"meV/atom, {reference['force_rmse_eV_per_A']:.3f} eV/Å"))
        out["faithful"] = all(t["verdict"]["faithful"] for t in out["trajectories"])
    print_table(rows, title=f"Audit of {args.model} against {teacher.name}")
    if args.write_labelled:
        from ase.io import write

        write(args.write_labelled, labelled_all, format="extxyz")
        out["labelled"] = str(args.write_labelled)
    if args.json:
        write_json(args.json, out)
    return 0
