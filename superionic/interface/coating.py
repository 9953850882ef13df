"""Cathode coating: potential across cathode | coating | electrolyte, and its thickness window.

Two-carrier (Wagner) resistor chain at open circuit: a steady leakage current flows through
each layer's ionic and electronic resistances in series, j_leak = E / Σ_i L_i (1/s_ion,i +
1/s_el,i), and the Li potential (vs Li/Li+) falls across layer i by j_leak L_i (1/s_ion,i +
1/s_el,i) (Wagner, Z. Phys. Chem. B 21, 25 (1933); Riess, Solid State Ionics 157, 1 (2003)).
The electrolyte at the coating | electrolyte interface sees
  V_int(L) = E r_se / (r_se + L r_c),  r = 1/s_ion + 1/s_el (Ω m per m of thickness),
and the coating adds an ionic resistance R_add = L / s_ion,c (Ω m²) in operation.
Window: L_min from V_int(L_min) = V_ox (electrolyte inside its stability window),
L_max from R_add(L_max) = R_budget; usable if L_min <= L_max.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from superionic.interface._checks import positive


@dataclass(frozen=True)
class CoatingStack:
    """SI: conductivities S/m, thicknesses m, potentials V vs Li/Li+, R_budget Ω m²."""

    E_cathode: float = 4.3
    V_ox: float = 2.5
    sigma_ion_c: float = 1e-4
    sigma_el_c: float = 1e-9
    sigma_ion_se: float = 0.2
    sigma_el_se: float = 1e-7
    L_se: float = 30e-6
    R_budget: float = 5e-3

    def __post_init__(self) -> None:
        for name in ("E_cathode", "V_ox", "sigma_ion_c", "sigma_el_c", "sigma_ion_se",
                     "sigma_el_se", "L_se", "R_budget"):
            positive(name, getattr(self, name))

    @property
    def r_c(self) -> float:
        return 1 / self.sigma_ion_c + 1 / self.sigma_el_c

    @property
    def r_se_total(self) -> float:
        return self.L_se * (1 / self.sigma_ion_se + 1 / self.sigma_el_se)

    def leakage_current(self, L) -> np.ndarray:
        """j_leak (A/m²) at open circuit for coating thickness L (m)."""
        return self.E_cathode / (self.r_se_total + np.asarray(L, dtype=float) * self.r_c)

    def interface_potential(self, L):
        """Li potential (V vs Li/Li+) at the coating | electrolyte interface."""
        return self.E_cathode - self.leakage_current(L) * np.asarray(L, dtype=float) * self.r_c

    def added_resistance(self, L):
        """Ionic resistance of the coating R_add = L / sigma_ion_c (Ω m²)."""
        return np.asarray(L, dtype=float) / self.sigma_ion_c

    def window(self) -> dict:
        """Thickness window (m): L_min from V_int = V_ox, L_max from R_add = R_budget."""
        if self.E_cathode <= self.V_ox:
            L_min = 0.0
        else:
            L_min = self.r_se_total * (self.E_cathode / self.V_ox - 1.0) / self.r_c
        L_max = self.R_budget * self.sigma_ion_c
        return {"L_min_m": float(L_min), "L_max_m": float(L_max), "feasible": bool(L_min <= L_max)}

    def profile(self, L: float, n: int = 200) -> dict:
        """Li potential (V) against position x (m): cathode at 0, coating, electrolyte."""
        L = positive("L", L, unit="m")
        jl = float(self.leakage_current(L))
        x_c = np.linspace(0, L, n // 2)
        x_s = np.linspace(L, L + self.L_se, n // 2)
        V_c = self.E_cathode - jl * x_c * self.r_c
        V_s = V_c[-1] - jl * (x_s - L) * (1 / self.sigma_ion_se + 1 / self.sigma_el_se)
        return {"x_m": np.concatenate([x_c, x_s]), "V": np.concatenate([V_c, V_s]),
                "j_leak_A_per_m2": jl}
