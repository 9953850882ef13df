"""QENS plots: Γ(Q) data with model fits and MD points, and fitted S(Q, ω) spectra."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from superionic.experiment.qens import LinewidthData, LinewidthFit, ModelComparison
from superionic.experiment.qens_spectra import SpectrumFit

_LABELS = {
    "chudley-elliott": "Chudley–Elliott",
    "singwi-sjolander": "Singwi–Sjölander",
    "hall-ross": "Hall–Ross",
    "fickian": "Fickian",
}


def plot_linewidths(
    data: LinewidthData | None,
    fits: ModelComparison | Sequence[LinewidthFit] = (),
    md: LinewidthData | Sequence[LinewidthData] | None = None,
    path: str | Path | None = None,
    ax=None,
):
    """Γ(Q) from experiment (with errors), model curves and MD points on one plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 4.2), constrained_layout=True)
    fit_list = list(fits.fits) if isinstance(fits, ModelComparison) else list(fits)
    md_list = [] if md is None else ([md] if isinstance(md, LinewidthData) else list(md))
    qs = [d.Q_per_A for d in ([data] if data is not None else []) + md_list]
    qmax = max(float(np.max(q)) for q in qs) if qs else 2.0
    if data is not None:
        ax.errorbar(data.Q_per_A, data.Gamma_meV, data.Gamma_err_meV, fmt="o", ms=5,
                    color="k", capsize=2, label=data.label or "experiment")
    qq = np.linspace(0.0, 1.05 * qmax, 300)[1:]
    for i, f in enumerate(fit_list):
        lab = _LABELS.get(f.model, f.model)
        if f.model != "fickian":
            lab += f": l = {f.l_A.value:.2f} Å, τ = {f.tau_ps.value:.3g} ps"
        lab += f", AIC {f.fit.aic:.1f}"
        ax.plot(qq, f.predict(qq), ls=("-", "--", "-.", ":")[i % 4], color=f"C{i}", label=lab)
    for j, d in enumerate(md_list):
        ax.errorbar(d.Q_per_A, d.Gamma_meV, d.Gamma_err_meV, fmt="s", ms=5, mfc="none",
                    color=f"C{len(fit_list) + j}", capsize=2, label=d.label or "MD")
    ax.set_xlabel("Q (Å$^{-1}$)")
    ax.set_ylabel("Γ, HWHM (meV)")
    ax.set_xlim(0, 1.05 * qmax)
    ax.set_ylim(bottom=0)
    ax.legend(frameon=False, fontsize=7)
    fig = fig or ax.figure
    if path is not None:
        fig.savefig(path, dpi=200)
    return fig


def plot_spectrum_fit(fit: SpectrumFit, path: str | Path | None = None, ax=None):
    """One measured S(Q, ω) with the total fit and its components."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 4.0), constrained_layout=True)
    sp = fit.spectrum
    ax.errorbar(sp.energy_meV, sp.S, sp.S_err, fmt=".", ms=3, color="0.4", label="data")
    w = np.linspace(float(sp.energy_meV.min()), float(sp.energy_meV.max()), 600)
    ax.plot(w, fit.predict(w), "k-", lw=1.4, label="fit")
    bg = sum(b * w**p for p, b in enumerate(fit.background)) + 0 * w
    ax.plot(w, fit.elastic.value * fit.resolution.elastic(w) + bg, ":", color="C0",
            label="elastic")
    for i, (a, g) in enumerate(zip(fit.amplitudes, fit.gammas_meV, strict=True)):
        ax.plot(w, a.value * fit.resolution.lorentzian(w, g.value) + bg, "--", color=f"C{i + 1}",
                label=f"Lorentzian Γ = {g.value:.3g} ± {g.stderr:.2g} meV")
    ax.plot(w, bg, "-", color="0.7", lw=0.8, label="background")
    ax.set_xlabel("energy transfer ħω (meV)")
    ax.set_ylabel("S(Q, ω) (arb. units)")
    ax.set_title(f"Q = {fit.Q_per_A:g} Å$^{{-1}}$")
    ax.legend(frameon=False, fontsize=7)
    fig = fig or ax.figure
    if path is not None:
        fig.savefig(path, dpi=200)
    return fig
