"""Plots of impedance spectra: Nyquist (equal aspect) and Bode with fit and residuals, the DRT,
Kramers–Kronig residuals and the Arrhenius plot of bulk / grain-boundary conductivity."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | Path | None) -> Any:
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=200, bbox_inches="tight")
        _plt().close(fig)
    return fig


def _ohm_scale(Z: np.ndarray) -> tuple[float, str]:
    m = float(np.nanmax(np.abs(Z)))
    for f, u in ((1e6, "M\u03a9"), (1e3, "k\u03a9")):
        if m >= 10 * f:
            return f, u
    return 1.0, "\u03a9"


def _arc_window(Z: np.ndarray) -> tuple[float, float] | None:
    """Z' range of the arcs when a low-frequency spike would dwarf them: up to the last local
    minimum of -Z'' before the spike (points ordered high to low frequency)."""
    y = -Z.imag
    mins = [i for i in range(1, y.size - 1) if y[i] <= y[i - 1] and y[i] < y[i + 1]]
    if not mins:
        return None
    i = mins[-1]
    if y[i + 1:].max() < 3 * max(y[: i + 1].max(), 1e-300):
        return None
    lo = float(min(Z.real[: i + 1].min(), 0.0))
    hi = float(Z.real[i] + 0.15 * (Z.real[i] - lo))
    return lo, hi


def plot_nyquist(f_Hz: np.ndarray, Z: np.ndarray, Z_fit: np.ndarray | None = None,
                 ax: Any = None, label: str = "data") -> Any:
    """Nyquist plot, -Z'' vs Z' with equal axis scales; decades of frequency marked."""
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4.5))
    s, u = _ohm_scale(Z)
    ax.plot(Z.real / s, -Z.imag / s, "o", ms=3.5, mfc="none", label=label)
    if Z_fit is not None:
        ax.plot(Z_fit.real / s, -Z_fit.imag / s, "-", lw=1.5, label="fit")
    for dec in range(int(np.floor(np.log10(f_Hz.min()))), int(np.ceil(np.log10(f_Hz.max())))):
        i = int(np.argmin(np.abs(np.log10(f_Hz) - dec)))
        if abs(np.log10(f_Hz[i]) - dec) < 0.05:
            ax.annotate(f"$10^{{{dec}}}$", (Z[i].real / s, -Z[i].imag / s), fontsize=7,
                        xytext=(3, 4), textcoords="offset points", color="0.35")
    lim = _arc_window(Z)
    if lim is not None:
        ax.set_xlim(lim[0] / s, lim[1] / s)
        ax.set_ylim(-0.05 * (lim[1] - lim[0]) / s, 0.95 * (lim[1] - lim[0]) / s)
        ax.set_aspect("equal", adjustable="box")
        ax.set_title("arcs (electrode spike truncated)", fontsize=8)
    else:
        ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel(f"Z' ({u})")
    ax.set_ylabel(f"\u2212Z'' ({u})")
    ax.legend(frameon=False, fontsize=8)
    return ax


def plot_bode(f_Hz: np.ndarray, Z: np.ndarray, Z_fit: np.ndarray | None = None,
              axes: Sequence[Any] | None = None) -> Sequence[Any]:
    """Bode plot: |Z| (log-log) and phase (degrees) against frequency."""
    plt = _plt()
    if axes is None:
        _, axes = plt.subplots(2, 1, figsize=(5, 5), sharex=True)
    a1, a2 = axes
    a1.loglog(f_Hz, np.abs(Z), "o", ms=3.5, mfc="none", label="data")
    a2.semilogx(f_Hz, np.degrees(np.angle(Z)), "o", ms=3.5, mfc="none")
    if Z_fit is not None:
        a1.loglog(f_Hz, np.abs(Z_fit), "-", lw=1.5, label="fit")
        a2.semilogx(f_Hz, np.degrees(np.angle(Z_fit)), "-", lw=1.5)
    a1.set_ylabel("|Z| (\u03a9)")
    a2.set_ylabel("phase (\u00b0)")
    a2.set_xlabel("frequency (Hz)")
    a1.legend(frameon=False, fontsize=8)
    return axes


def _residual_panel(ax: Any, f_Hz: np.ndarray, rr: np.ndarray, ri: np.ndarray,
                    threshold: float | None = None) -> None:
    ax.semilogx(f_Hz, 100 * rr, "o-", ms=3, lw=0.8, label="\u0394Z'/|Z|")
    ax.semilogx(f_Hz, 100 * ri, "s-", ms=3, lw=0.8, label="\u0394Z''/|Z|")
    ax.axhline(0, color="0.5", lw=0.6)
    if threshold is not None:
        for sgn in (-1, 1):
            ax.axhline(100 * sgn * threshold, color="r", ls="--", lw=0.8)
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("residual (%)")
    ax.legend(frameon=False, fontsize=8, ncol=2)


def plot_fit(fit: Any, path: str | Path | None = None, title: str | None = None) -> Any:
    """Figure of a circuit fit (a ``FitResult``): Nyquist, Bode |Z| and phase, residuals."""
    plt = _plt()
    fig = plt.figure(figsize=(10, 7))
    gs = fig.add_gridspec(3, 2, height_ratios=[1, 1, 0.7])
    ax_n = fig.add_subplot(gs[0:2, 0])
    ax_m = fig.add_subplot(gs[0, 1])
    ax_p = fig.add_subplot(gs[1, 1], sharex=ax_m)
    ax_r = fig.add_subplot(gs[2, :])
    plot_nyquist(fit.f_Hz, fit.Z, fit.Z_fit, ax=ax_n)
    plot_bode(fit.f_Hz, fit.Z, fit.Z_fit, axes=(ax_m, ax_p))
    _residual_panel(ax_r, fit.f_Hz, fit.residuals_real, fit.residuals_imag)
    fig.suptitle(title or f"{fit.circuit}   \u03c7\u00b2 = {fit.chi2:.3g} ({fit.weighting})",
                 fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def plot_drt(drt: Any, path: str | Path | None = None) -> Any:
    """Distribution of relaxation times gamma(tau) with the detected peaks."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.semilogx(drt.tau_s, drt.gamma_ohm, "-", lw=1.5)
    for p in drt.peaks:
        ax.axvline(p.tau_s, color="0.6", ls=":", lw=0.8)
        txt = (f"R={p.R_ohm:.3g} \u03a9\nC={p.C_F:.2g} F" if p.in_range
               else "outside the\nmeasured window")
        ax.annotate(txt, (p.tau_s, ax.get_ylim()[1]), fontsize=7, ha="center", va="top")
    ax.set_xlabel("\u03c4 (s)")
    ax.set_ylabel("\u03b3(ln \u03c4) (\u03a9)")
    ax.set_title(f"DRT (Tikhonov, \u03bb = {drt.lam:.2g} by GCV)", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def plot_kk(kk: Any, path: str | Path | None = None) -> Any:
    """Linear Kramers–Kronig residuals per frequency with the pass threshold."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.2))
    _residual_panel(ax, kk.f_Hz, kk.residuals_real, kk.residuals_imag, kk.threshold)
    verdict = "pass" if kk.passed else "FAIL"
    ax.set_title(f"linear KK: M = {kk.M}, \u03bc = {kk.mu:.2f}, max |residual| = "
                 f"{100 * kk.max_residual:.2g} % ({verdict} at {100 * kk.threshold:g} %)",
                 fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def plot_arrhenius(temperatures_K: Sequence[float], sigmas: Mapping[str, Sequence[Any]],
                   fits: Mapping[str, Any] | None = None, path: str | Path | None = None
                   ) -> Any:
    """log10(sigma T) against 1000/T for bulk, grain boundary and total, with the Arrhenius
    lines (``ArrheniusResult`` from superionic.transport.arrhenius) and their Ea."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    T = np.asarray(temperatures_K, dtype=float)
    for key, ests in sigmas.items():
        pts = [(t, e) for t, e in zip(T, ests, strict=True) if e is not None]
        if not pts:
            continue
        tt = np.array([p[0] for p in pts])
        v = np.array([p[1].value for p in pts])
        se = np.array([p[1].stderr for p in pts])
        y = np.log10(v * tt)
        yerr = np.where(np.isfinite(se), se / v / np.log(10), 0.0)
        label = key.replace("_", " ")
        res = (fits or {}).get(key)
        if res is not None:
            label += f": Ea = {res.Ea_eV.value:.3f} \u00b1 {res.Ea_eV.stderr:.3f} eV"
        h = ax.errorbar(1000 / tt, y, yerr=yerr, fmt="o", ms=4, capsize=2, label=label)
        if res is not None:
            tg = np.linspace(tt.min(), tt.max(), 50)
            ax.plot(1000 / tg, [np.log10(res.predict(t).value * t) for t in tg], "-",
                    color=h[0].get_color(), lw=1)
    ax.set_xlabel("1000/T (K\u207b\u00b9)")
    ax.set_ylabel("log\u2081\u2080(\u03c3T / S K cm\u207b\u00b9)")
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return _save(fig, path)
