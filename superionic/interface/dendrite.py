"""Linear stability of Li deposition at a Li | solid-electrolyte interface.

Model (stated; a reduced two-sided form of the picture of Monroe & Newman, J. Electrochem.
Soc. 152, A396 (2005), not their full surface-tension-coupled solution): a surface mode of
amplitude A and wavenumber k (1/m) raises the deposition potential by
  Δμ/V_m = gamma k² A + k A Gamma,
  Gamma = 4 G_s (1-nu_s)/(3-4 nu_s) - 4 G_Li (1+nu_Li)/(3-4 nu_Li)   (Pa).
Both half-spaces carry the bonded interface displacement A cos kx (plane strain, no slip).
The electrolyte pushes back on the deposit with the normal traction 4 G_s k A (1-nu_s)/(3-4nu_s)
(work V_m sigma_nn per mole deposited: stabilising); the metal under the protrusion is
stretched, and V_m times the trace of its interfacial stress, 4 G_Li k A (1+nu_Li)/(3-4nu_Li),
lowers the potential of the deposit (destabilising). Mechanical suppression needs Gamma > 0:
G_s/G_Li > (1+nu_Li)(3-4nu_s)/((3-4nu_Li)(1-nu_s)), i.e. (1+nu)/(1-nu) = 1.99 for equal
nu = 0.33, the "about twice that of lithium" of Monroe & Newman (their full analysis gives a
somewhat different dependence on the Poisson ratios).
Ohmic current focusing in the electrolyte (conductivity kappa, S/m) with linear charge-transfer
resistance R_ct (Ω m²) gives the growth rate
  omega(k) = (V_m/F) k (j - kappa (V_m/F)(gamma k² + Gamma k)) / (1 + kappa k R_ct)   (1/s),
so modes grow for k < k_c, k_c = [-Gamma + sqrt(Gamma² + 4 gamma j F/(kappa V_m))]/(2 gamma),
and a defect of size l (k = 2π/l) is stable below j_crit = kappa V_m (gamma k² + Gamma k)/F,
which scales as 2π kappa Gamma V_m/(F l).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from superionic.core.units import FARADAY_C_PER_MOL
from superionic.interface._checks import nonnegative, poisson, positive


def stress_coefficient(G_s: float, nu_s: float, G_Li: float, nu_Li: float) -> float:
    """Gamma (Pa): net mechanical rise of the deposition potential per unit k A (see module)."""
    positive("G_s", G_s, unit="Pa")
    positive("G_Li", G_Li, unit="Pa")
    poisson("nu_s", nu_s)
    poisson("nu_Li", nu_Li)
    return (4 * G_s * (1 - nu_s) / (3 - 4 * nu_s)
            - 4 * G_Li * (1 + nu_Li) / (3 - 4 * nu_Li))


def critical_modulus_ratio(nu_s: float, nu_Li: float) -> float:
    """G_s/G_Li at which Gamma = 0 (mechanical stabilisation threshold)."""
    poisson("nu_s", nu_s)
    poisson("nu_Li", nu_Li)
    return (1 + nu_Li) * (3 - 4 * nu_s) / ((3 - 4 * nu_Li) * (1 - nu_s))


@dataclass(frozen=True)
class DepositionStability:
    """Parameters (SI): moduli Pa, V_m m³/mol, gamma J/m², kappa S/m, R_ct Ω m², j A/m²."""

    G_s: float
    nu_s: float
    G_Li: float = 3.4e9
    nu_Li: float = 0.42
    V_m: float = 1.30e-5
    gamma: float = 0.5
    kappa: float = 0.2
    R_ct: float = 1e-4
    j: float = 10.0

    def __post_init__(self) -> None:
        for name in ("G_s", "G_Li", "V_m", "kappa"):
            positive(name, getattr(self, name))
        for name in ("gamma", "R_ct", "j"):
            nonnegative(name, getattr(self, name))
        poisson("nu_s", self.nu_s)
        poisson("nu_Li", self.nu_Li)

    @property
    def Gamma(self) -> float:
        return stress_coefficient(self.G_s, self.nu_s, self.G_Li, self.nu_Li)

    def growth_rate(self, k, j: float | None = None):
        """omega(k) in 1/s (positive = roughness grows)."""
        j = self.j if j is None else j
        k = np.asarray(k, dtype=float)
        c = self.V_m / FARADAY_C_PER_MOL
        return c * k * (j - self.kappa * c * (self.gamma * k**2 + self.Gamma * k)) / (
            1.0 + self.kappa * k * self.R_ct)

    def critical_wavenumber(self, j: float | None = None) -> float:
        """Closed-form zero crossing k_c (1/m); inf when no positive root (all k unstable)."""
        j = self.j if j is None else j
        c = self.V_m / FARADAY_C_PER_MOL
        G = self.Gamma
        if self.gamma == 0:
            return float(j / (self.kappa * c * G)) if G > 0 else float("inf")
        return float((-G + np.sqrt(G * G + 4 * self.gamma * j / (self.kappa * c))) /
                     (2 * self.gamma))

    def critical_current_density(self, l) -> np.ndarray | float:
        """j_crit (A/m²) below which a defect of size l (m), k = 2π/l, does not grow (0: never)."""
        l = positive("l", l, unit="m")
        k = 2 * np.pi / np.asarray(l)
        out = self.kappa * self.V_m * (self.gamma * k**2 + self.Gamma * k) / FARADAY_C_PER_MOL
        out = np.maximum(out, 0.0)
        return float(out) if np.ndim(out) == 0 else out
