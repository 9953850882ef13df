"""Interface fracture and shear: spring-layer energy, mixed-mode criteria, shear lag.

Spring layer of normal/tangential stiffness k_n, k_t (Pa/m) under normal traction p (Pa,
tensile positive) and shear tau (Pa): G_I = <p>²/(2 k_n), G_II = tau²/(2 k_t), G = G_I + G_II.
Mode mixity psi = atan(sqrt(G_II/G_I)) = atan(tau sqrt(k_n) / (p sqrt(k_t))) (0 = mode I).
Mixed-mode criteria: power law (G_I/G_Ic)^a + (G_II/G_IIc)^b = 1 (Wu & Reuter 1965) and
Benzeggagh-Kenane, G_c = G_Ic + (G_IIc - G_Ic) (G_II/G)^eta (Compos. Sci. Technol. 56, 439
(1996)). Shear lag: a film (thickness h_f, biaxial modulus E_f) bonded by an interlayer of
shear stiffness k_s (Pa/m) to a rigid substrate, with chemical eigenstrain eps*(x) = beta c(x):
N' = tau, N = E_f h_f (u' - eps*), tau = k_s u (Volkersen 1938; Hutchinson & Suo, Adv. Appl.
Mech. 29, 63 (1992)), i.e. u'' - lambda² u = eps*'(x), lambda² = k_s/(E_f h_f), N(0)=N(L)=0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_bvp
from scipy.optimize import brentq

from superionic.core.errors import ConvergenceError, InputError
from superionic.interface._checks import positive


@dataclass(frozen=True)
class SpringLayer:
    """Linear spring interface with stiffnesses k_n, k_t (Pa/m) and toughnesses (J/m²)."""

    k_n: float
    k_t: float
    G_Ic: float
    G_IIc: float
    criterion: str = "bk"  # "bk" (Benzeggagh-Kenane) or "power"
    eta_bk: float = 2.0
    a: float = 1.0
    b: float = 1.0

    def __post_init__(self) -> None:
        for name in ("k_n", "k_t", "G_Ic", "G_IIc", "eta_bk", "a", "b"):
            positive(name, getattr(self, name))
        if self.criterion not in ("bk", "power"):
            raise InputError(f"unknown criterion {self.criterion!r}", field="criterion",
                             expected="'bk' or 'power'")

    def energies(self, p, tau) -> tuple[np.ndarray, np.ndarray]:
        """(G_I, G_II) in J/m²; compressive p stores no mode-I energy (crack faces closed)."""
        p = np.asarray(p, dtype=float)
        tau = np.asarray(tau, dtype=float)
        return np.maximum(p, 0.0) ** 2 / (2 * self.k_n), tau**2 / (2 * self.k_t)

    def mode_mixity(self, p, tau):
        """psi = atan(tau sqrt(k_n) / (p sqrt(k_t))) in rad, in [0, π/2] for p >= 0."""
        GI, GII = self.energies(p, tau)
        return np.arctan2(np.sqrt(GII), np.sqrt(GI))

    def failure_index(self, p, tau):
        """>= 1 means delamination: G/G_c (BK) or the power-law sum."""
        GI, GII = self.energies(p, tau)
        if self.criterion == "power":
            return (GI / self.G_Ic) ** self.a + (GII / self.G_IIc) ** self.b
        G = GI + GII
        with np.errstate(invalid="ignore", divide="ignore"):
            beta = np.where(G > 0, GII / np.where(G > 0, G, 1.0), 0.0)
        Gc = self.G_Ic + (self.G_IIc - self.G_Ic) * beta**self.eta_bk
        return G / Gc

    def critical_traction(self, psi) -> np.ndarray:
        """Magnitude s = sqrt(p² + tau²) (Pa) at failure along a proportional path of mixity psi."""
        psi = np.asarray(psi, dtype=float)
        # unit-traction direction with the requested energy mixity
        c, s = np.cos(psi), np.sin(psi)
        p1, t1 = c * np.sqrt(self.k_n), s * np.sqrt(self.k_t)
        norm = np.hypot(p1, t1)
        p1, t1 = p1 / norm, t1 / norm
        out = np.empty(np.broadcast(psi).shape)
        for idx in np.ndindex(out.shape):
            f = lambda lam, i=idx: float(self.failure_index(lam * p1[i], lam * t1[i])) - 1.0
            hi = 1.0
            while f(hi) < 0:
                hi *= 2.0
            out[idx] = brentq(f, 0.0, hi, xtol=1e-12 * hi, rtol=1e-12)
        return out


@dataclass(frozen=True)
class ShearLagResult:
    """Profile along the film: x (m), u (m), film force N (N/m), interface shear tau (Pa)."""

    x: np.ndarray
    u: np.ndarray
    N: np.ndarray
    tau: np.ndarray
    lambda_per_m: float


def shear_lag_profile(
    c: Callable[[np.ndarray], np.ndarray],
    dcdx: Callable[[np.ndarray], np.ndarray],
    L: float,
    h_f: float,
    E_f: float,
    k_s: float,
    beta: float,
    n: int = 401,
) -> ShearLagResult:
    """Solve the shear-lag ODE u'' - lambda² u = beta c'(x) with free ends (solve_bvp).

    c: concentration (any unit) along x in [0, L] (m); beta: eigenstrain per unit c;
    E_f: biaxial film modulus (Pa); h_f: film thickness (m); k_s: interlayer stiffness (Pa/m).
    Far from the ends and for gradients slow on 1/lambda, tau -> -E_f h_f beta dc/dx.
    """
    L = positive("L", L, unit="m")
    h_f = positive("h_f", h_f, unit="m")
    E_f = positive("E_f", E_f, unit="Pa")
    k_s = positive("k_s", k_s, unit="Pa/m")
    lam2 = k_s / (E_f * h_f)
    x = np.linspace(0.0, L, n)

    def rhs(xx, y):
        return np.vstack([y[1], lam2 * y[0] + beta * dcdx(xx)])

    def bc(ya, yb):
        return np.array([ya[1] - beta * c(np.array([0.0]))[0], yb[1] - beta * c(np.array([L]))[0]])

    y0 = np.zeros((2, n))
    y0[1] = beta * c(x)
    sol = solve_bvp(rhs, bc, x, y0, tol=1e-8, max_nodes=200000)
    if not sol.success:
        raise ConvergenceError(f"shear-lag boundary-value solve failed: {sol.message}")
    u, up = sol.sol(x)
    N = E_f * h_f * (up - beta * c(x))
    return ShearLagResult(x, u, N, k_s * u, float(np.sqrt(lam2)))

