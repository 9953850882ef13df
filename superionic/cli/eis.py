"""``superionic eis``: fit impedance spectra of solid electrolytes, assign bulk and grain
boundary, report conductivities and (for a temperature series) activation energies."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "eis",
        help="impedance spectra -> bulk / grain-boundary conductivity",
        description="Fit equivalent circuits to impedance spectra (CSV/TXT, ZView .z, Gamry "
        ".DTA, BioLogic .mpt) from automatic DRT-based starting values, validate them by the "
        "linear Kramers-Kronig test, assign arcs by capacitance and compute conductivities. "
        "Several files with temperatures give Arrhenius fits of bulk and grain boundary.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="impedance spectra")
    p.add_argument("--thickness", type=float, metavar="CM", help="pellet thickness (cm)")
    p.add_argument("--area", type=float, metavar="CM2", help="electrode area (cm²)")
    p.add_argument("--temperature", type=float, nargs="+", metavar="K",
                   help="temperature(s) in K, one per file (default: from the files)")
    p.add_argument("--circuit", help="circuit, e.g. 'R0-p(R1,CPE1)-p(R2,CPE2)-CPE3' "
                   "(default: proposed from the DRT)")
    p.add_argument("--weighting", choices=("modulus", "proportional", "unit"),
                   default="modulus")
    p.add_argument("--capacitance", choices=("brug", "hsu-mansfeld"), default="brug",
                   help="effective capacitance of R||CPE arcs")
    p.add_argument("--format", dest="fmt", help="force a reader: csv, z, dta, mpt")
    p.add_argument("--starts", type=int, default=10, help="maximum random restarts")
    p.add_argument("--json", metavar="OUT", help="write results as JSON")
    p.add_argument("--plot-dir", metavar="DIR", help="write Nyquist/Bode, DRT, KK plots")
    p.set_defaults(func=run)


def _fmt(e: Any, scale: float = 1.0, unit: str = "") -> str:
    if e is None:
        return "-"
    return f"{e.value * scale:.4g} ± {e.stderr * scale:.2g}{(' ' + unit) if unit else ''}"


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from superionic.cli._common import print_table, write_json
    from superionic.core.errors import InputError
    from superionic.experiment.eis import analyse, arrhenius_series, fit, linear_kk, read_spectrum

    if args.circuit is not None:
        from superionic.experiment.eis import Circuit

        Circuit(args.circuit)  # reject a malformed circuit before reading any file
    if (args.thickness is None) != (args.area is None):
        raise InputError("give both --thickness and --area (or neither)", field="geometry")
    temps = args.temperature
    if temps is not None and len(temps) not in (1, len(args.files)):
        raise InputError(f"{len(temps)} temperatures for {len(args.files)} files",
                         field="--temperature", expected="one per file")
    results: list[dict[str, Any]] = []
    analyses = []
    for i, path in enumerate(args.files):
        spec = read_spectrum(path, fmt=args.fmt)
        T = (temps[i] if len(temps) > 1 else temps[0]) if temps else spec.temperature_K
        kk = linear_kk(spec)
        fr = fit(spec, args.circuit, weighting=args.weighting, n_starts=args.starts)
        an = analyse(fr, args.thickness, args.area, capacitance=args.capacitance,
                     temperature_K=T)
        analyses.append(an)
        rows = [("circuit", fr.circuit), ("chi2 (reduced)", f"{fr.chi2:.4g} "
                                                        f"({fr.chi2_reduced:.3g})"),
                ("KK test", f"{'pass' if kk.passed else 'FAIL'}: max residual "
                            f"{100 * kk.max_residual:.2g} % (threshold "
                            f"{100 * kk.threshold:g} %)")]
        if T is not None:
            rows.append(("temperature", f"{T:.2f} K"))
        for a in an.arcs:
            rows.append((f"arc {a.name} [{a.assignment}]",
                         f"R = {_fmt(a.R_ohm, unit='ohm')}, C = {_fmt(a.C_F, unit='F')}"))
        for key, label in (("sigma_bulk_S_per_cm", "sigma bulk"),
                           ("sigma_gb_S_per_cm", "sigma grain boundary"),
                           ("sigma_total_S_per_cm", "sigma total"),
                           ("sigma_gb_specific_S_per_cm", "sigma gb specific (brick layer)")):
            e = getattr(an, key)
            if e is not None:
                rows.append((label, _fmt(e, 1e3, "mS/cm")))
        for n in an.notes:
            rows.append(("note", n))
        print_table(rows, title=f"{path}")
        entry = {"file": str(path), **an.to_dict(), "circuit": fr.circuit,
                 "parameters": {k: v.to_dict() for k, v in fr.params.items()},
                 "chi2": fr.chi2, "chi2_reduced": fr.chi2_reduced, "aic": fr.aic,
                 "weighting": fr.weighting, "fit": fr.to_dict(), "kk": kk.to_dict()}
        results.append(entry)
        if args.plot_dir:
            from superionic.report.eis_plots import plot_drt, plot_fit, plot_kk

            stem = Path(path).stem
            d = Path(args.plot_dir)
            plot_fit(fr, d / f"{stem}_fit.png", title=f"{stem}: {fr.circuit}")
            if fr.drt is not None:
                plot_drt(fr.drt, d / f"{stem}_drt.png")
            plot_kk(kk, d / f"{stem}_kk.png")
    # one file: its result at the top level; several: a list under "spectra"
    payload: dict[str, Any] = dict(results[0]) if len(results) == 1 else {"spectra": results}
    T_all = [a.temperature_K for a in analyses]
    if len(analyses) > 1 and all(t is not None for t in T_all) and len(set(T_all)) > 1:
        arr = arrhenius_series(analyses)
        rows = [(f"Ea {k}", _fmt(r.Ea_eV, unit="eV")) for k, r in arr.items()]
        if rows:
            print_table(rows, title="Arrhenius (sigma*T)")
        payload["arrhenius"] = {k: r.to_dict() for k, r in arr.items()}
        if args.plot_dir and arr:
            from superionic.report.eis_plots import plot_arrhenius

            plot_arrhenius(T_all, {"bulk": [a.sigma_bulk_S_per_cm for a in analyses],
                                   "grain_boundary": [a.sigma_gb_S_per_cm for a in analyses],
                                   "total": [a.sigma_total_S_per_cm for a in analyses]},
                           arr, Path(args.plot_dir) / "arrhenius.png")
    if args.json:
        write_json(args.json, payload)
    return 0
