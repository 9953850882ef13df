"""The HTML report of a conductivity run: structure, training, MSDs, Arrhenius, comparison."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from superionic.report.html import Section, write_report

_FOOTER = "superionic conductivity report; every number is in results.json beside this file."


def _fmt(e: dict[str, Any] | Any, digits: int = 3) -> str:
    d = e if isinstance(e, dict) else e.to_dict()
    lo, hi = d["ci95"]
    return f"{d['value']:.{digits}g} [{lo:.{digits}g}, {hi:.{digits}g}]"


def _directional_table(d: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Per-axis Arrhenius fits: Ea, D* at the target temperature, ratio to the fastest axis."""
    rows = []
    for a, ea, dt, r in zip(d["axes"], d["Ea_eV"], d["D_tracer_cm2_per_s"],
                            d["ratio_to_fastest"], strict=True):
        rows.append([a, "—" if ea is None else _fmt(ea), "—" if dt is None else _fmt(dt),
                     "—" if r is None else _fmt(r)])
    return (["axis", "Ea (eV)", f"D* at {d['T_K']:g} K (cm²/s)",
             f"ratio to fastest ({d['fastest']})"], rows)


def _audit_table(audits: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """One row per audited temperature: its MD steps, the student's errors, their ratios."""
    rows = []
    for a in audits:
        for r in a["per_temperature"]:
            e = r["errors"]
            rows.append([str(a["round"]), str(a["pass"]), f"{r['T_K']:g}",
                         f"{r['steps'][0]}–{r['steps'][1]}", str(r["n_frames"]),
                         f"{1000 * e['energy_rmse_eV_per_atom']:.2f} "
                         f"({1000 * e['energy_bias_eV_per_atom']:+.2f})",
                         f"{e['force_rmse_eV_per_A']:.3f}",
                         f"{r['energy_ratio']:.2f} / {r['force_ratio']:.2f}",
                         "yes" if r["faithful"] else f"no (> {r['max_factor']:g})"])
    return (["round", "pass", "T (K)", "MD steps", "frames",
             "energy RMSE (bias) (meV/atom)", "force RMSE (eV/Å)",
             "ratio to training (E / F)", "faithful"], rows)


def write_conductivity_report(result: Any, prod: dict[float, dict[str, Any]],
                              run_dir: str | Path) -> Path:
    """Write ``run_dir/report.html`` with its figures under ``run_dir/figures``."""
    from superionic.report.arrhenius_plots import plot_arrhenius
    from superionic.report.transport_plots import plot_msd

    run_dir = Path(run_dir)
    figs = run_dir / "figures"
    figs.mkdir(parents=True, exist_ok=True)
    sections: list[Section] = []
    exp = result.experiment
    head = [[f"sigma({result.target_T_K:g} K) (S/cm)", _fmt(result.sigma_S_per_cm),
             f"{exp['sigma_RT_S_per_cm']:.3g}" if exp.get("sigma_RT_S_per_cm") else "—"],
            ["Ea (eV)", _fmt(result.Ea_eV),
             f"{exp['Ea_eV']:.3g}" if exp.get("Ea_eV") else "—"],
            ["Haven ratio", _fmt(result.haven_ratio), "—"],
            ["conduction (MD temperatures)", result.dimensionality, "—"]]
    if result.dimensionality_at_target:
        head.append([f"conduction ({result.target_T_K:g} K)", result.dimensionality_at_target,
                     "—"])
    summary = Section("Result", tables=[(["quantity", "prediction [95 % interval]",
                                          "experiment"], head)], notes=list(result.notes))
    if exp:
        summary.paragraphs.append(f"Experimental values: {exp.get('sigma_source', '')}; "
                                  f"Ea: {exp.get('Ea_source', '')}.")
    summary.paragraphs.append(
        "sigma from the Nernst–Einstein relation with the tracer diffusion coefficient at "
        "each temperature (Haven ratio 1), fitted as ln(sigma T) against 1/T and "
        "extrapolated; the measured Haven ratio is reported separately.")
    sections.append(summary)
    s = result.structure
    ordering = s["ordering"]
    sections.append(Section("Structure", tables=[(["item", "value"], [
        ["formula (cell)", s["formula"]], ["atoms", str(s["n_atoms"])],
        ["supercell", "x".join(map(str, ordering["supercell"]))],
        ["oxidation states", str(ordering["oxidation_states"])],
        ["ordering", ordering["method"]],
        ["adjustments", "; ".join(ordering["adjustments"]) or "none"],
        ["relaxation", f"{s['relax']['steps']} FIRE steps, final max force "
                       f"{s['relax']['fmax_eV_per_A']:.3f} eV/Å"]])]))
    tr = result.training
    rm = tr.get("validation_rmse") or {}
    after = tr.get("after_active_learning", {})
    sections.append(Section("Potential (QMTP) training and extrapolation", paragraphs=[
        f"Teacher (labels of every training structure): {tr.get('teacher', '—')}. The "
        "student reproduces its teacher; absolute values carry the teacher's own errors."],
        tables=[(
        ["set", "energy RMSE (meV/atom)", "force RMSE (eV/Å)", "stress RMSE (GPa)",
         "max extrapolation grade"],
        [["validation (initial data)",
          f"{1000 * rm.get('energy_rmse_eV_per_atom', float('nan')):.2f}",
          f"{rm.get('force_rmse_eV_per_A', float('nan')):.3f}",
          f"{rm.get('stress_rmse_GPa', float('nan')):.3f}", "—"],
         ["training set after active learning",
          f"{1000 * after.get('energy_rmse_eV_per_atom', float('nan')):.2f}",
          f"{after.get('force_rmse_eV_per_A', float('nan')):.3f}",
          f"{after.get('stress_rmse_GPa', float('nan')):.3f}",
          f"{after.get('max_extrapolation_grade', float('nan')):.2f}"]]),
        (["iteration", "MD frames", "max grade", "selected", "training set"],
         [[str(h.get("iteration")), str(h.get("md_frames")), f"{h.get('max_grade', 0):.2f}",
           str(h.get("n_selected")), str(h.get("n_training", "—"))]
          for h in result.active_learning])]))
    if result.audits:
        sections[-1].tables.append(_audit_table(result.audits))
        sections[-1].paragraphs.append(
            "Teacher audit: frames of the production MD labelled by the teacher after passes "
            "1, 2, 4, ... of each round, the student's errors there against its errors on its "
            "training set. A failed audit (ratio above the factor) adds the frames to the "
            "training set and restarts production with the refined potential.")
    md = Section("Molecular dynamics and diffusion")
    md.tables.append((["T (K)", "steps", "stopped because", "D* (cm²/s)", "D_sigma (cm²/s)",
                       "H_R", "sigma (S/cm)", "fit window (fs)"],
                      [[f"{r['T_K']:g}", str(r["steps"]), r["stop_reason"],
                        _fmt(r["D_tracer_cm2_per_s"]), _fmt(r["D_sigma_cm2_per_s"]),
                        _fmt(r["haven_ratio"]), _fmt(r["sigma_NE_S_per_cm"]),
                        "–".join(f"{x:.0f}" for x in r["fit_window_fs"])]
                       for r in result.per_temperature]))
    md.tables.append((["T (K)", "D*_x", "D*_y", "D*_z"],
                      [[f"{r['T_K']:g}"] + [_fmt(d) for d in r["D_tracer_xyz_cm2_per_s"]]
                       for r in result.per_temperature]))
    if result.directional:
        md.tables.append(_directional_table(result.directional))
    for T in sorted(prod):
        path = figs / f"msd_T{int(T)}K.png"
        plot_msd(prod[T]["diffusion"], path)
        md.figures.append((path, f"MSD at {T:g} K with the fitted window and its 95 % band"))
    tc = result.teacher_check
    if tc:
        md.tables.append((["check at T (K)", "D* QMTP (cm²/s)", "D* teacher (cm²/s)",
                           "ratio QMTP/teacher", f"within a factor {tc['max_factor']:g}"],
                          [[f"{tc['T_K']:g}", _fmt(tc["D_qmtp_cm2_per_s"]),
                            _fmt(tc["D_teacher_cm2_per_s"]), _fmt(tc["ratio_qmtp_over_teacher"]),
                            "yes" if tc["within_factor"] else "no"]]))
    sections.append(md)
    arr = Section("Arrhenius extrapolation")
    path = figs / "arrhenius.png"
    if result.arrhenius_fit is not None:
        plot_arrhenius(result.arrhenius_fit, path, T_K=result.target_T_K)
        arr.figures.append((path, "sigma T against 1/T with the fit, its 95 % band and the "
                                  f"extrapolation to {result.target_T_K:g} K"))
    sections.append(arr)
    sections.append(Section("Stages", tables=[(["stage", "seconds"],
                                               [[n, f"{t:.1f}"] for n, t in result.stages])]))
    return write_report(run_dir / "report.html",
                        f"Ionic conductivity of {result.material}", sections,
                        footer=_FOOTER)


def write_ensemble_report(result: Any, members: list[Any], run_dir: str | Path) -> Path:
    """Write ``run_dir/report.html`` for an ensemble: the combined numbers, each member's, the
    members' Arrhenius fits on one plot, and the members' own reports by path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from superionic.report.arrhenius_plots import plot_arrhenius

    run_dir = Path(run_dir)
    figs = run_dir / "figures"
    figs.mkdir(parents=True, exist_ok=True)
    exp = result.experiment
    s = result.sigma_S_per_cm
    fe = s.extra["fixed_effect"]
    head = [[f"sigma({result.target_T_K:g} K) (S/cm)", _fmt(s),
             f"{fe['value']:.3g} [{fe['ci95'][0]:.3g}, {fe['ci95'][1]:.3g}]",
             f"{exp['sigma_RT_S_per_cm']:.3g}" if exp.get("sigma_RT_S_per_cm") else "—"],
            ["Ea (eV)", _fmt(result.Ea_eV), "—",
             f"{exp['Ea_eV']:.3g}" if exp.get("Ea_eV") else "—"],
            ["Haven ratio", _fmt(result.haven_ratio), "—", "—"],
            ["conduction (MD temperatures)", result.dimensionality, "—", "—"],
            [f"conduction ({result.target_T_K:g} K)", result.dimensionality_at_target or "—",
             "—", "—"]]
    summary = Section("Result (all potentials)", tables=[(
        ["quantity", "combined [95 % interval]", "members' errors only", "experiment"], head)],
        notes=list(result.notes))
    summary.paragraphs.append(
        f"{len(members)} potentials, each trained from its own teacher data with its own "
        "seed, each run through the whole workflow; the combined interval adds the scatter "
        f"between them ({s.method}). The third column ignores that scatter.")
    rows = [[str(m["member"]), str(m["seed"]), _fmt(m["sigma_S_per_cm"]), _fmt(m["Ea_eV"]),
             _fmt(m["haven_ratio"]), ", ".join(f"{t:g}" for t in m["temperatures_K"]),
             str(m["refinements"]), m["report"]] for m in result.members]
    mem = Section("Members", tables=[(["member", "seed", "sigma (S/cm)", "Ea (eV)", "H_R",
                                       "T (K)", "refinements", "report"], rows)])
    fig, ax = plt.subplots(figsize=(5.6, 4.2), dpi=150, constrained_layout=True)
    for k, m in enumerate(members):
        if m.arrhenius_fit is not None:
            plot_arrhenius(m.arrhenius_fit, None, T_K=result.target_T_K, ax=ax,
                           color=f"C{k % 10}", label=f"member {k}")
    path = figs / "arrhenius_members.png"
    fig.savefig(str(path))
    plt.close(fig)
    mem.figures.append((path, "each member's sigma T against 1/T with its fit, 95 % band and "
                              f"extrapolation to {result.target_T_K:g} K"))
    per_t = Section("Diffusion per temperature (combined over the members)", tables=[(
        ["T (K)", "steps per member", "D* (cm²/s)", "sigma_NE (S/cm)"],
        [[f"{r['T_K']:g}", ", ".join(map(str, r["steps"])), _fmt(r["D_tracer_cm2_per_s"]),
          _fmt(r["sigma_NE_S_per_cm"])] for r in result.per_temperature])])
    return write_report(run_dir / "report.html",
                        f"Ionic conductivity of {result.material} ({len(members)} potentials)",
                        [summary, mem, per_t],
                        footer=_FOOTER)
