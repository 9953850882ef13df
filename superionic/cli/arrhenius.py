"""`superionic arrhenius`: activation energy and room-temperature extrapolation from several
`superionic diffusion --json` results."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from superionic.core.errors import InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "arrhenius",
        help="fit Ea from diffusion results at several temperatures and extrapolate",
        description=(
            "Weighted Arrhenius fit of sigma·T (and of D_tracer) against 1/T from JSON files "
            "written by `superionic diffusion --json`, with the covariance of (Ea, ln A), a "
            "curvature test, and sigma and D extrapolated to --at."
        ),
    )
    p.add_argument("results", nargs="+", metavar="RESULT.json",
                   help="diffusion results, one per temperature")
    p.add_argument("--at", type=float, default=300.0, metavar="T_K",
                   help="temperature to extrapolate to, K (default 300)")
    p.add_argument("--quantity", choices=("sigma", "D"), default="sigma",
                   help="which fit gives the headline Ea: sigma·T (default) or D_tracer")
    p.add_argument("--sigma-key", default="sigma_S_per_cm", metavar="KEY",
                   help="conductivity entry of the result files (default sigma_S_per_cm, the "
                        "collective value; sigma_NE_S_per_cm uses Nernst–Einstein from D*)")
    p.add_argument("--json", metavar="OUT", help="write the results as JSON")
    p.add_argument("--plot", metavar="PNG", help="write an Arrhenius plot")
    p.set_defaults(func=run)


def _load(path: str) -> dict:
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError:
        raise InputError("file not found", source=path) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg}, line {exc.lineno})", source=path) from None
    if not isinstance(data, dict):
        raise InputError("top level is not an object", source=path,
                         expected="the JSON written by `superionic diffusion --json`")
    data = dict(data)
    data["result_file"] = str(p)
    return data


def run(args: argparse.Namespace) -> int:
    from superionic.cli._common import print_table, write_json
    from superionic.core.estimate import Estimate
    from superionic.transport.arrhenius import arrhenius_fits_from_results, summarize_arrhenius

    if not args.at > 0:
        raise InputError(f"--at {args.at} is not a temperature", field="--at", expected="K > 0")
    results = [_load(f) for f in args.results]
    fits = arrhenius_fits_from_results(results, sigma_key=args.sigma_key)
    if args.quantity not in fits:
        key = args.sigma_key if args.quantity == "sigma" else "D_tracer_cm2_per_s"
        raise InputError(f"no two result files hold a usable {key} at distinct temperatures",
                         field=key)
    summary = summarize_arrhenius(fits, T_K=args.at, quantity=args.quantity,
                                  sigma_key=args.sigma_key)
    summary["input_files"] = [r["result_file"] for r in results]

    rows = [("temperatures (K)", ", ".join(f"{t:g}" for t in fits[args.quantity].temperatures_K))]
    for name, fit in fits.items():
        label = "sigma·T" if name == "sigma" else "D_tracer"
        rows.append((f"Ea from {label}", f"{fit.Ea_eV} (chi2={fit.chi2:.2f}, dof={fit.dof})"))
    if "sigma_at_T_S_per_cm" in summary:
        s = Estimate.from_dict(summary["sigma_at_T_S_per_cm"]).scaled(1e3, "mS/cm")
        rows.append((f"sigma({args.at:g} K)", str(s)))
    if "D_at_T_cm2_per_s" in summary:
        rows.append((f"D({args.at:g} K)", str(Estimate.from_dict(summary["D_at_T_cm2_per_s"]))))
    print_table(rows, title="Arrhenius fit")
    if summary["curvature_warning"]:
        print(f"  warning: {summary['curvature_warning']}")
    if args.json:
        write_json(args.json, summary)
    if args.plot:
        from superionic.report.arrhenius_plots import plot_arrhenius

        plot_arrhenius(fits[args.quantity], args.plot, T_K=args.at)
    return 0
