"""Arrhenius plots: log10 sigma (or D) against 1000/T with the fit, its 95 % band and the
extrapolated value."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from superionic.transport.arrhenius import ArrheniusResult

_Z95 = 1.959963984540054
_LABELS = {
    "sigma": (r"$\sigma$ (S cm$^{-1}$)", r"$\sigma$"),
    "D": (r"$D$ (cm$^{2}$ s$^{-1}$)", r"$D$"),
}


def plot_arrhenius(
    fit: ArrheniusResult,
    path: str | Path | None = None,
    *,
    T_K: float | None = 300.0,
    ax=None,
    label: str | None = None,
    color: str = "C0",
):
    """Draw the fitted points (95 % error bars), fit line, 95 % confidence band and the
    extrapolation to ``T_K``; save to ``path`` when given. Returns the matplotlib Figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(4.8, 3.8), dpi=150, constrained_layout=True)
    else:
        fig = ax.figure
    T, y, ln_se = fit.data
    ylab, sym = _LABELS.get(fit.quantity, (fit.quantity, fit.quantity))
    x = 1000.0 / T
    logy = np.log10(y)
    # 95 % bars, symmetric on the log scale
    yerr = None if ln_se is None else _Z95 * np.asarray(ln_se) / np.log(10.0)
    ax.errorbar(x, logy, yerr=yerr, fmt="o", color=color, ms=5, capsize=3,
                label=label or f"MD {sym}")
    T_all = list(T) + ([T_K] if T_K else [])
    xs = np.linspace(1000.0 / max(T_all) * 0.97, 1000.0 / min(T_all) * 1.03, 200)
    med, lo_b, hi_b = fit.band(1000.0 / xs)
    ea = fit.Ea_eV
    ax.plot(xs, np.log10(med), "-", color=color, lw=1.5,
            label=f"fit, $E_a$ = {ea.value:.3f} ± {ea.stderr:.3f} eV")
    ax.fill_between(xs, np.log10(lo_b), np.log10(hi_b), color=color, alpha=0.2, lw=0,
                    label="95 % confidence band")
    if T_K:
        p = fit.predict(T_K)
        lo_p, hi_p = p.ci95  # type: ignore[misc]
        ax.errorbar([1000.0 / T_K], [np.log10(p.value)],
                    yerr=[[np.log10(p.value) - np.log10(lo_p)],
                          [np.log10(hi_p) - np.log10(p.value)]],
                    fmt="s", mfc="white", color=color, ms=6, capsize=3,
                    label=f"{sym}({T_K:g} K) = {p.value:.3g} {fit.unit}")
    ax.set_xlabel(r"1000 / $T$ (K$^{-1}$)")
    ax.set_ylabel(r"log$_{10}$ " + ylab)
    top = ax.secondary_xaxis("top", functions=(lambda v: 1000.0 / np.maximum(v, 1e-9),
                                               lambda v: 1000.0 / np.maximum(v, 1e-9)))
    lo_x, hi_x = ax.get_xlim()
    nice = [200, 250, 300, 400, 500, 600, 800, 1000, 1200, 1500, 2000, 3000]
    top.set_xticks([t for t in nice if lo_x <= 1000.0 / t <= hi_x])
    top.set_xlabel(r"$T$ (K)")
    if fit.curvature_warning:
        ax.text(0.02, 0.02, "non-Arrhenius curvature detected", transform=ax.transAxes,
                fontsize=7, color="crimson")
    ax.legend(fontsize=7, frameon=False)
    if path is not None:
        fig.savefig(str(path))
    return fig


__all__ = ["plot_arrhenius"]
