"""Plots of the interface models (one figure per model result from superionic.interface)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _fig(ncols: int = 1):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(4.8 * ncols, 3.8), squeeze=False)
    return fig, axes[0]


def _save(fig, path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(p, dpi=200)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return p


def _crit_line(ax, value, label, horizontal=True):
    if value is not None and np.isfinite(value):
        (ax.axhline if horizontal else ax.axvline)(value, ls="--", c="0.4", lw=1, label=label)


def plot_result(result: dict, path: str | Path) -> Path:
    """Write the standard figure of one ``run_model`` result to ``path`` (PNG/PDF)."""
    m = result["model"]
    r = {k: (np.asarray(v) if isinstance(v, (list, tuple)) else v) for k, v in result.items()}
    if m == "contact":
        fig, (ax,) = _fig()
        ax.loglog(r["curve"]["phi"], np.asarray(r["curve"]["R_interface_ohm_m2"]) * 1e4)
        ax.set(xlabel="contact fraction φ", ylabel="interface resistance (Ω cm²)")
    elif m == "roughness":
        fig, (ax, ax2) = _fig(2)
        ax.loglog(r["P_Pa"] / 1e6, r["phi"], label="Greenwood–Williamson")
        ax.loglog(r["P_Pa"] / 1e6, r["phi_plastic"], "--", label="plastic limit P/H")
        ax.set(xlabel="nominal pressure (MPa)", ylabel="real contact fraction")
        ax.legend()
        ax2.loglog(r["P_Pa"] / 1e6, np.asarray(r["n_spots_per_m2"]) * 1e-12)
        ax2.set(xlabel="nominal pressure (MPa)", ylabel="contact spots (µm⁻²)")
    elif m == "jkr":
        fig, (ax,) = _fig()
        ax.plot(r["P_N"] * 1e6, r["a_m"] * 1e6, label="JKR")
        ax.plot(r["P_N"] * 1e6, r["a_hertz_m"] * 1e6, "--", label="Hertz")
        ax.set(xlabel="load (µN)", ylabel="contact radius (µm)")
        ax.legend()
    elif m == "spring_layer":
        fig, (ax,) = _fig()
        ax.plot(np.degrees(r["psi_rad"]), r["critical_traction_Pa"] / 1e6)
        ax.set(xlabel="mode mixity ψ (deg)", ylabel="critical traction (MPa)")
    elif m == "shear_lag":
        fig, (ax,) = _fig()
        ax.plot(r["x_m"] * 1e6, r["tau_Pa"] / 1e6, label="shear lag")
        ax.plot(r["x_m"] * 1e6, r["tau_slow_gradient_Pa"] / 1e6, "--", label="−E h β dc/dx")
        ax.set(xlabel="position (µm)", ylabel="interfacial shear (MPa)")
        ax.legend()
    elif m in ("sei", "relaxation", "creep"):
        fig, (ax,) = _fig()
        t = r["t_s"] / 3600
        for key in ("p_Pa", "p_sls_Pa", "p_prony_Pa", "sigma_Pa"):
            if key in r:
                ax.plot(t, np.asarray(r[key]) / 1e6, label=key.split("_")[1] if "_" in key
                        else key)
        _crit_line(ax, r["p_c_Pa"] / 1e6, "contact threshold")
        _crit_line(ax, r["t_contact_loss_s"] / 3600, "contact loss", horizontal=False)
        if m == "creep":
            ax.set_xscale("log")
        ax.set(xlabel="time (h)", ylabel="stack pressure (MPa)")
        ax.legend()
    elif m == "runaway":
        fig, (ax,) = _fig()
        I, a = r["I_A"], r["a0_m"]
        ax.pcolormesh(I, a * 1e6, np.asarray(r["runaway"], dtype=float), cmap="coolwarm",
                      shading="nearest", vmin=0, vmax=1)
        Ic = np.asarray(r.get("I_crit_frozen_A", []), dtype=float)
        if Ic.size and np.all(np.isfinite(Ic)):
            keep = (Ic >= I.min()) & (Ic <= I.max())
            ax.plot(Ic[keep], a[keep] * 1e6, "k--", label="frozen-spot threshold")
            ax.legend(fontsize=7)
        ax.set(xscale="log", yscale="log", xlabel="current (A)",
               ylabel="initial contact radius (µm)", title="red: runaway, blue: stable")
    elif m == "dendrite":
        fig, (ax, ax2, ax3) = _fig(3)
        ax.plot(r["k_per_m"] * 1e-6, r["omega_per_s"])
        ax.axhline(0, c="0.6", lw=0.8)
        _crit_line(ax, r["k_c_per_m"] * 1e-6, "k_c", horizontal=False)
        ax.set(xlabel="wavenumber (1/µm)", ylabel="growth rate (1/s)")
        ax.legend()
        ratio = r["G_s_sweep_Pa"] / r["parameters"]["G_Li"]
        ax2.plot(ratio, r["j_crit_vs_G_s_A_per_m2"] / 10, label=f"l = {r['parameters']['l']:.2g} m")
        _crit_line(ax2, r["critical_modulus_ratio"], "Γ = 0", horizontal=False)
        ax2.set(xlabel="G_s / G_Li", ylabel="critical current density (mA/cm²)")
        ax2.legend()
        ax3.loglog(r["l_m"] * 1e6, np.maximum(r["j_crit_A_per_m2"], 1e-30) / 10)
        ax3.set(xlabel="defect size l (µm)", ylabel="critical current density (mA/cm²)")
    elif m == "coating":
        fig, (ax, ax2) = _fig(2)
        ax.semilogx(r["L_m"] * 1e9, r["V_interface_V"])
        _crit_line(ax, r["V_ox_V"], "oxidation limit")
        ax.axvspan(r["L_min_m"] * 1e9, max(r["L_max_m"], r["L_min_m"]) * 1e9, color="g",
                   alpha=0.15, label="window")
        ax.set(xlabel="coating thickness (nm)", ylabel="potential at coating|SE (V vs Li)")
        ax.legend()
        ax2.plot(r["profile_x_m"] * 1e6, r["profile_V"])
        ax2.set(xlabel="position from cathode (µm)", ylabel="Li potential (V vs Li)")
    elif m == "chemical_stability":
        fig, (ax,) = _fig()
        for name, d in r["reactions"].items():
            ax.plot(r["T_K"], d["dG_kJ_per_mol"], label=name)
        ax.axhline(0, c="0.6", lw=0.8)
        ax.set(xlabel="temperature (K)", ylabel="ΔG (kJ/mol)")
        ax.legend(fontsize=7)
    else:
        raise ValueError(f"no plot for model {m!r}")
    return _save(fig, path)
