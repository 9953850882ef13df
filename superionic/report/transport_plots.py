"""Plots of diffusion analyses: MSD curves with the fitted window, line and 95 % band."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["plot_msd"]

_Z95 = 1.959963984540054
_COLOURS = {"x": "#1f77b4", "y": "#2ca02c", "z": "#d62728"}


def _band(line: dict[str, Any], t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fitted MSD a t + c and its 95 % half-width from Cov(a, c)."""
    a, c = line["slope_A2_per_fs"], line["intercept_A2"]
    cov = np.asarray(line["cov"], dtype=float)
    y = a * t + c
    var = cov[0, 0] * t**2 + 2 * cov[0, 1] * t + cov[1, 1]
    return y, _Z95 * np.sqrt(np.clip(var, 0.0, None))


def plot_msd(result: Any, path: str | Path, *, dpi: int = 200) -> Path:
    """MSD vs time for a :class:`~superionic.transport.analysis.DiffusionResult`.

    Left: tracer and collective 3D MSD (linear axes) with the shaded fit window, the GLS lines
    and their 95 % bands, plus per-direction tracer MSDs. Right: the same on log-log axes
    with a slope-1 guide, where ballistic, caged and diffusive regimes show.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    msd = result.msd
    t_ps = msd.time_fs / 1000.0
    lines = result.fit_lines
    t0, t1 = result.fit_window_fs
    fig, (ax, axl) = plt.subplots(1, 2, figsize=(10.5, 4.2), constrained_layout=True)
    for a_ in (ax, axl):
        a_.axvspan(t0 / 1000.0, t1 / 1000.0, color="0.9", zorder=0, label="fit window")
    tr3 = msd.tracer.sum(axis=1)
    co3 = msd.collective.sum(axis=1)
    ax.plot(t_ps, tr3, color="k", lw=1.4, label="tracer (self)")
    ax.plot(t_ps, co3, color="#9467bd", lw=1.0, alpha=0.85, label="collective (charge)")
    for i, d in enumerate("xyz"):
        ax.plot(t_ps, msd.tracer[:, i], color=_COLOURS[d], lw=0.8, ls="--",
                label=f"tracer {d}")
        ax.plot(t_ps, msd.collective[:, i], color=_COLOURS[d], lw=0.6, ls=":", alpha=0.7,
                label=f"collective {d}")
    tf = np.linspace(t0, t1, 200)
    for key, colour in (("tracer", "k"), ("collective", "#9467bd")):
        if key in lines:
            y, hw = _band(lines[key], tf)
            ax.plot(tf / 1000.0, y, color=colour, lw=1.0, ls=":")
            ax.fill_between(tf / 1000.0, y - hw, y + hw, color=colour, alpha=0.2, lw=0)
    D = result.D_tracer_cm2_per_s
    Ds = result.D_sigma_cm2_per_s
    ax.set_title(
        f"{', '.join(result.species)} at {result.temperature_K:g} K: "
        f"D* = {D.value:.3g} cm²/s, D$_\\sigma$ = {Ds.value:.3g} cm²/s, "
        f"H$_R$ = {result.haven_ratio.value:.2f}",
        fontsize=10,
    )
    ax.set_xlabel("time lag (ps)")
    ax.set_ylabel("MSD (Å²)")
    ax.set_xlim(0, t_ps[-1])
    ax.legend(fontsize=7, frameon=False, loc="upper left", ncol=2)
    pos = t_ps > 0
    axl.loglog(t_ps[pos], tr3[pos], color="k", lw=1.4, label="tracer")
    cpos = pos & (co3 > 0)
    axl.loglog(t_ps[cpos], co3[cpos], color="#9467bd", lw=1.0, alpha=0.85,
               label="collective")
    if np.any(tr3[pos] > 0):
        k = int(np.searchsorted(msd.time_fs, t0))
        k = min(max(k, 1), len(tr3) - 1)
        guide = tr3[k] * t_ps[pos] / t_ps[k]
        axl.loglog(t_ps[pos], guide, color="0.5", lw=0.8, ls="--", label="slope 1")
        axl.set_ylim(max(tr3[pos][tr3[pos] > 0].min(), 1e-6) * 0.5, None)
    axl.set_xlabel("time lag (ps)")
    axl.set_ylabel("MSD (Å²)")
    axl.legend(fontsize=8, frameon=False, loc="upper left")
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, dpi=dpi)
    plt.close(fig)
    return p
