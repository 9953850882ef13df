"""Plots of Hebb–Wagner polarisation: current transient with fit, I–V curve and σ_eon(a_Li)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from superionic.experiment.hebb_wagner import IVResult, TransientResult


def plot_transient(result: TransientResult, path: str | Path | None = None, ax=None):
    """I(t) data, the Yokota fit and the I_0 / I_ss levels; returns the figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 4.0), constrained_layout=True)
    sign = np.sign(result.voltage_V) or 1.0
    t = result.t_s
    ax.plot(t, sign * result.current_A * 1e6, ".", ms=3, color="0.45", label="data")
    tt = np.linspace(float(t[result.fit_mask].min()), float(t.max()), 400)
    ax.plot(tt, sign * result.fitted_current(tt) * 1e6, "-", color="C0", lw=1.6,
            label=f"{result.model} fit, τ = {result.tau_s.value:.3g} s")
    ax.axhline(sign * result.I_ss_A.value * 1e6, color="C1", ls="--", lw=1,
               label=f"$I_{{ss}}$ = {result.I_ss_A.value:.3g} A")
    ax.axhline(sign * result.I_0_A.value * 1e6, color="C2", ls=":", lw=1,
               label=f"$I_0$ ({result.i0_source}) = {result.I_0_A.value:.3g} A")
    ax.set_xlabel("time (s)")
    ax.set_ylabel(f"current (µA){'' if sign > 0 else ', sign flipped'}")
    ax.set_title(
        f"Hebb–Wagner, V = {result.voltage_V:g} V: $t_{{ion}}$ = "
        f"{result.t_ion.value:.4f} ± {result.t_ion.stderr:.2g}"
    )
    ax.legend(frameon=False, fontsize=8)
    fig = fig or ax.figure
    if path is not None:
        fig.savefig(path, dpi=200)
    return fig


def plot_iv(result: IVResult, path: str | Path | None = None):
    """I_ss(E) with the Wagner fit, and σ_e, σ_h versus Li activity; returns the figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4.0), constrained_layout=True)
    E = result.E_V
    if result.current_err_A is not None:
        a1.errorbar(E, np.abs(result.current_A), result.current_err_A, fmt="o", ms=4,
                    color="0.3", label="data")
    else:
        a1.plot(E, np.abs(result.current_A), "o", ms=4, color="0.3", label="data")
    EE = np.linspace(float(E.min()), float(E.max()), 300)
    a1.plot(EE, np.abs(result.fitted_current(EE)), "-", color="C0", label="Wagner fit")
    a1.set_yscale("log")
    a1.set_xlabel("polarisation E vs Li (V)")
    a1.set_ylabel("steady-state current |$I_{ss}$| (A)")
    a1.legend(frameon=False)
    c = result.curves(EE)
    for key, lab, col in (("sigma_e", "electrons $σ_e$", "C0"), ("sigma_h", "holes $σ_h$", "C3")):
        v, e = c[f"{key}_S_per_cm"], c[f"{key}_stderr_S_per_cm"]
        a2.plot(c["a_Li"], v, color=col, label=lab)
        a2.fill_between(c["a_Li"], np.clip(v - 1.96 * e, v * 1e-3, None), v + 1.96 * e,
                        color=col, alpha=0.2, lw=0)
    a2.plot(c["a_Li"], c["sigma_eon_S_per_cm"], "k--", lw=1, label="total $σ_{eon}$")
    a2.set_xscale("log")
    a2.set_yscale("log")
    a2.set_xlabel("Li activity $a_{Li}$ (vs Li metal)")
    a2.set_ylabel("electronic conductivity (S/cm)")
    a2.set_title(f"T = {result.temperature_K:g} K")
    a2.legend(frameon=False)
    if path is not None:
        fig.savefig(path, dpi=200)
    return fig
