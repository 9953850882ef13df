"""``superionic qens``: jump-diffusion models fitted to QENS linewidths Γ(Q) or spectra S(Q, ω)."""

from __future__ import annotations

import argparse
import math
from typing import Any

MODEL_CHOICES = ("chudley-elliott", "singwi-sjolander", "hall-ross", "fickian", "all")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "qens",
        help="fit Chudley–Elliott / Singwi–Sjölander / Hall–Ross / Fickian models to QENS Γ(Q)",
        description=(
            "Fit QENS linewidths. FILE holds Q (1/Å), HWHM Γ (meV) and optionally Γ errors "
            "(meV); with --spectra it holds S(Q, ω) blocks ('# Q = value' then energy (meV), "
            "S, error rows, or four columns Q, energy, S, error), fitted first per Q with an "
            "elastic line plus Lorentzians convolved with the resolution."
        ),
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("--model", choices=MODEL_CHOICES, default="all",
                   help="model to fit; 'all' fits every model and reports the best (default)")
    p.add_argument("--criterion", choices=("aic", "aicc", "bic"), default="aic",
                   help="criterion that picks the best model with --model all (default aic)")
    p.add_argument("--spectra", action="store_true", help="FILE holds spectra S(Q, ω)")
    p.add_argument("--resolution-fwhm", type=float, metavar="MEV",
                   help="Gaussian resolution FWHM (meV) for --spectra")
    p.add_argument("--resolution", metavar="RESFILE",
                   help="measured resolution (energy meV, R) for --spectra")
    p.add_argument("--lorentzians", type=int, choices=(1, 2), default=1,
                   help="quasi-elastic Lorentzians per spectrum (default 1)")
    p.add_argument("--background", choices=("none", "flat", "linear"), default="flat")
    p.add_argument("--md", metavar="MDFILE",
                   help="Γ(Q) from simulation (same format as FILE) to plot and report alongside")
    p.add_argument("--trajectory", metavar="TRAJ",
                   help="MD trajectory: Γ(Q) = ħ/τ_Q from F_s(Q, t) at the Q values of FILE")
    p.add_argument("--species", default="Li", help="mobile species in TRAJ (default Li)")
    p.add_argument("--frame-interval-fs", type=float, metavar="FS",
                   help="time between stored frames of TRAJ when the file does not state it")
    p.add_argument("--traj-format", metavar="FMT", help="format of TRAJ (default: detected)")
    p.add_argument("--md-t-min", type=float, default=0.0, metavar="PS",
                   help="fit F_s(Q, t) from this lag on (ps), past the vibrational drop")
    p.add_argument("--json", metavar="OUT", help="write results as JSON")
    p.add_argument("--plot", metavar="PNG", help="write a Γ(Q) plot")
    p.set_defaults(func=run)


def nan_to_none(obj: Any) -> Any:
    """Replace non-finite floats by None so that the JSON output is strict."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [nan_to_none(v) for v in obj]
    return obj


def run(args: argparse.Namespace) -> int:
    from superionic.cli._common import print_table, write_json
    from superionic.core.errors import InputError
    from superionic.core.estimate import to_jsonable
    from superionic.experiment.qens import MODELS, compare_models, read_linewidths

    spectra_payload = None
    if args.spectra:
        from superionic.experiment.qens_spectra import (
            Resolution,
            fit_spectra,
            read_resolution,
            read_spectra,
        )

        if (args.resolution is None) == (args.resolution_fwhm is None):
            raise InputError(
                "--spectra needs exactly one of --resolution FILE or --resolution-fwhm MEV",
                field="resolution",
            )
        res = (
            read_resolution(args.resolution)
            if args.resolution
            else Resolution.gaussian(args.resolution_fwhm)
        )
        data, sfits = fit_spectra(
            read_spectra(args.file), res, n_lorentzians=args.lorentzians,
            background=args.background,
        )
        spectra_payload = [f.to_dict() for f in sfits]
    else:
        data = read_linewidths(args.file)
    models = MODELS if args.model == "all" else (args.model,)
    comp = compare_models(data, models, criterion=args.criterion)
    best = comp.best
    payload: dict[str, Any] = {
        "model": best.model,
        "l_A": best.l_A,
        "tau_ps": best.tau_ps,
        "D_cm2_per_s": best.D_cm2_per_s,
        "reduced_chi2": best.fit.reduced_chi2,
        "criterion": comp.criterion,
        "comparison": comp.to_dict()["models"],
        "data": {
            "source": data.source,
            "Q_per_A": data.Q_per_A,
            "Gamma_meV": data.Gamma_meV,
            "Gamma_err_meV": data.Gamma_err_meV,
        },
    }
    if spectra_payload is not None:
        payload["spectra"] = spectra_payload
    from dataclasses import replace

    md_sets = []
    if args.md:
        md_sets.append(("md", replace(read_linewidths(args.md), label="MD")))
    if args.trajectory:
        from superionic.experiment.qens_md import md_linewidths_from_trajectory

        md_run = md_linewidths_from_trajectory(
            args.trajectory, data.Q_per_A, species=args.species, format=args.traj_format,
            frame_interval_fs=args.frame_interval_fs, skip_failed=True,
            t_min_ps=args.md_t_min,
        )
        label = f"MD {args.species}, F_s(Q,t)"
        md_sets.append(("md_trajectory", replace(md_run.data, source=args.trajectory,
                                                 label=label)))
        payload["md_trajectory_fits"] = md_run.to_dict()
        if md_run.skipped_Q_per_A:
            print(f"  MD: F_s(Q,t) decays within a few frames at Q = "
                  f"{list(md_run.skipped_Q_per_A)} 1/Å; left out")
    for key, md in md_sets:
        payload[key] = {
            "source": md.source,
            "Q_per_A": md.Q_per_A,
            "Gamma_meV": md.Gamma_meV,
            "Gamma_err_meV": md.Gamma_err_meV,
            "Gamma_over_best_model": md.Gamma_meV / best.predict(md.Q_per_A),
        }
    rows = []
    for f in comp.fits:
        jump = "" if f.model == "fickian" else f"l = {f.l_A}, τ = {f.tau_ps}, "
        rows.append(
            (f.model, f"{jump}D = {f.D_cm2_per_s}; AIC {f.fit.aic:.2f}, BIC {f.fit.bic:.2f}, "
             f"χ²_red {f.fit.reduced_chi2:.3g}")
        )
    print_table(rows, title=f"QENS Γ(Q) fits of {data.source} (best by {comp.criterion}: "
                f"{best.model})")
    if args.json:
        write_json(args.json, nan_to_none(to_jsonable(payload)))
    if args.plot:
        from superionic.report.qens_plots import plot_linewidths

        plot_linewidths(data, comp, md=[m for _, m in md_sets], path=args.plot)
    return 0
