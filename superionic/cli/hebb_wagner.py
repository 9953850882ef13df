"""``superionic hebb-wagner``: DC polarisation transients and steady-state I–V curves."""

from __future__ import annotations

import argparse
from typing import Any

_MISSING = {"value": None, "stderr": None}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "hebb-wagner",
        help="ionic transference number and electronic conductivity from DC polarisation",
        description=(
            "Analyse a Hebb–Wagner DC polarisation. FILE holds time (s), current (A) under "
            "the step voltage --voltage; with --iv it holds steady-state E (V), I (A) "
            "[, error (A)] of a reversible | electrolyte | blocking cell."
        ),
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("--voltage", type=float, metavar="V", help="applied step voltage (V)")
    p.add_argument("--thickness", type=float, metavar="CM", help="sample thickness L (cm)")
    p.add_argument("--area", type=float, metavar="CM2", help="electrode area A (cm²)")
    p.add_argument("--temperature", type=float, default=298.15, metavar="K",
                   help="temperature (K) for --iv (default 298.15)")
    p.add_argument("--r-total", type=float, metavar="OHM",
                   help="total (ionic + electronic) resistance from impedance: I_0 = V/R_total")
    p.add_argument("--r-total-err", type=float, default=0.0, metavar="OHM",
                   help="standard error of --r-total")
    p.add_argument("--i0", choices=("fit", "first-point"), default="fit",
                   help="I_0 without --r-total: fit extrapolated to t = 0 (default) or the "
                   "first measured point")
    p.add_argument("--iv", action="store_true", help="FILE is a steady-state I–V curve")
    p.add_argument("--model", choices=("series", "long-time"), default="series",
                   help="transient model: full Yokota series or long-time exponential")
    p.add_argument("--t-min", type=float, default=0.0, metavar="S",
                   help="ignore data before this time (s), e.g. double-layer charging")
    p.add_argument("--geometry", choices=("symmetric", "reversible-blocking"),
                   default="symmetric",
                   help="τ = L²/(π²D̃) (symmetric, default) or 4L²/(π²D̃) (reversible-blocking)")
    p.add_argument("--json", metavar="OUT", help="write results as JSON")
    p.add_argument("--plot", metavar="PNG", help="write a plot")
    p.set_defaults(func=run)


def _transient(args: argparse.Namespace) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    from superionic.core.errors import InputError
    from superionic.experiment.hebb_wagner import analyse_transient, read_transient

    if args.voltage is None:
        raise InputError("a current transient needs --voltage V", field="voltage")
    tr = read_transient(args.file)
    res = analyse_transient(
        tr.t_s, tr.current_A, args.voltage,
        thickness_cm=args.thickness, area_cm2=args.area,
        r_total_ohm=args.r_total, r_total_stderr_ohm=args.r_total_err,
        model=args.model, t_min_s=args.t_min, geometry=args.geometry,
        initial_current=args.i0,
    )
    payload = res.to_dict()
    payload["source"] = tr.source
    if res.sigma_e_S_per_cm is None:
        payload["sigma_e_S_per_cm"] = dict(_MISSING, note="needs --thickness and --area")
    if res.D_chem_cm2_per_s is None:
        payload["D_chem_cm2_per_s"] = dict(_MISSING, note="needs --thickness")
    rows = [
        ("t_ion", str(res.t_ion)),
        ("t_e", str(res.t_e)),
        ("I_0", f"{res.I_0_A} ({res.i0_source})"),
        ("I_ss", str(res.I_ss_A)),
        ("tau", str(res.tau_s)),
    ]
    if res.sigma_e_S_per_cm is not None:
        rows.append(("sigma_e", str(res.sigma_e_S_per_cm)))
    if res.D_chem_cm2_per_s is not None:
        rows.append(("D_chem", str(res.D_chem_cm2_per_s)))
    if args.plot:
        from superionic.report.hebb_wagner_plots import plot_transient

        plot_transient(res, args.plot)
    return payload, rows


def _iv(args: argparse.Namespace) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    from superionic.core.errors import InputError
    from superionic.core.estimate import Estimate
    from superionic.experiment.hebb_wagner import fit_wagner_iv, read_iv_curve

    if args.thickness is None or args.area is None:
        raise InputError("--iv needs --thickness CM and --area CM2", field="thickness/area")
    iv = read_iv_curve(args.file)
    res = fit_wagner_iv(
        iv.E_V, iv.current_A, thickness_cm=args.thickness, area_cm2=args.area,
        temperature_K=args.temperature, current_err_A=iv.current_err_A,
    )
    payload = res.to_dict()
    payload["source"] = iv.source
    # electronic conductivity at Li-metal activity (E = 0): σ_e0 + σ_h0
    fit = res.fit
    s_tot = Estimate(
        res.sigma_e0_S_per_cm.value + res.sigma_h0_S_per_cm.value,
        fit.propagate([1.0, 1.0]), unit="S/cm", method="σ_e0 + σ_h0 at a_Li = 1 (E = 0)",
    )
    payload["sigma_e_S_per_cm"] = s_tot
    if args.r_total is not None:
        g = args.thickness / args.area
        s_all = g / args.r_total
        rel = args.r_total_err / args.r_total
        te = s_tot.value / s_all
        te_err = abs(te) * ((s_tot.stderr / s_tot.value) ** 2 + rel**2) ** 0.5
        payload["t_ion"] = Estimate(1 - te, te_err, method="1 - σ_eon(a_Li=1)·R_total·A/L")
    else:
        payload["t_ion"] = dict(_MISSING, note="an I–V curve gives t_ion only with --r-total")
    rows = [
        ("sigma_e0", str(res.sigma_e0_S_per_cm)),
        ("sigma_h0", str(res.sigma_h0_S_per_cm)),
        ("sigma_eon(a_Li=1)", str(s_tot)),
        ("reduced chi2", f"{fit.reduced_chi2:.3g}"),
    ]
    if args.plot:
        from superionic.report.hebb_wagner_plots import plot_iv

        plot_iv(res, args.plot)
    return payload, rows


def run(args: argparse.Namespace) -> int:
    from superionic.cli._common import print_table, write_json
    from superionic.cli.qens import nan_to_none
    from superionic.core.estimate import to_jsonable

    payload, rows = _iv(args) if args.iv else _transient(args)
    print_table(rows, title=f"Hebb–Wagner {'I–V' if args.iv else 'transient'}: {args.file}")
    if args.json:
        write_json(args.json, nan_to_none(to_jsonable(payload)))
    return 0
