"""Slow decay of stack pressure and interfacial contact: SEI growth, pad relaxation, Li creep.

SEI: parabolic growth h(t) = sqrt(h0² + k t) (diffusion-limited film; Peled, J. Electrochem.
Soc. 126, 2047 (1979)). Mechanical reading: the stack is clamped at a fixed interference delta
(m) taken up by a compliant interphase of thickness h and plane-strain modulus E' (Pa), so the
contact pressure is p = E' delta / h(t); the interphase overpotential is eta = j h / sigma_SEI.
Pad: standard linear solid p(t) = (E2 + E1 exp(-t/tau)) eps0 (Zener) and generalised Maxwell
(Prony) p(t) = (E_inf + Σ E_i exp(-t/tau_i)) eps0. Li metal power-law creep
eps_dot = A sigma^n exp(-Q/(R T)) (LePage et al., J. Electrochem. Soc. 166, A89 (2019)); at a
fixed total strain with a series elastic stiffness E, d sigma/dt = -E A' sigma^n, whose
solution is sigma(t) = [sigma0^(1-n) + (n-1) E A' t]^(1/(1-n)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp
from scipy.optimize import brentq

from superionic.core.errors import ConvergenceError, InputError
from superionic.core.units import R_J_PER_MOL_K
from superionic.interface._checks import nonnegative, positive


def _event_crossing(rhs, y0: float, t_end: float, threshold: float, method: str = "Radau"):
    """Integrate dy/dt = rhs(t, y) with an implicit method; first time y falls to threshold."""
    ev = lambda t, y: y[0] - threshold
    ev.terminal = True
    ev.direction = -1
    sol = solve_ivp(rhs, (0.0, t_end), [y0], method=method, events=ev, rtol=1e-10, atol=1e-14 *
                    max(abs(y0), 1.0), dense_output=True)
    if sol.status == -1:
        raise ConvergenceError(f"ODE integration failed: {sol.message}")
    t_hit = float(sol.t_events[0][0]) if len(sol.t_events[0]) else float("inf")
    return t_hit, sol


@dataclass(frozen=True)
class SEIGrowth:
    """Interphase growth in a fixed-displacement stack (SI: m, m²/s, Pa, S/m, A/m²)."""

    h0: float
    k: float
    E_prime: float
    delta: float
    sigma_SEI: float
    j: float = 10.0

    def __post_init__(self) -> None:
        for name in ("h0", "k", "E_prime", "delta", "sigma_SEI"):
            positive(name, getattr(self, name))
        nonnegative("j", self.j, unit="A/m²")

    def thickness(self, t):
        """h(t) = sqrt(h0² + k t) in m."""
        return np.sqrt(self.h0**2 + self.k * np.asarray(t, dtype=float))

    def pressure(self, t):
        """p(t) = E' delta / h(t) in Pa."""
        return self.E_prime * self.delta / self.thickness(t)

    def overpotential(self, t):
        """eta(t) = j h(t) / sigma_SEI in V."""
        return self.j * self.thickness(t) / self.sigma_SEI

    def contact_loss_time(self, p_c: float) -> float:
        """Closed form: t_c = ((E' delta / p_c)² - h0²) / k (0 if already below p_c)."""
        p_c = positive("p_c", p_c, unit="Pa")
        h_c = self.E_prime * self.delta / p_c
        return max((h_c**2 - self.h0**2) / self.k, 0.0)

    def contact_loss_time_numeric(self, p_c: float, t_end: float | None = None) -> float:
        """Integrate dh/dt = k/(2h) (Radau) with an event at E' delta / h = p_c."""
        p_c = positive("p_c", p_c, unit="Pa")
        if self.pressure(0.0) <= p_c:
            return 0.0
        t_end = t_end or 10.0 * self.contact_loss_time(p_c) + 1.0
        # pressure state: dp/dt = -(E' delta / h²) dh/dt = -p³ k / (2 (E' delta)²)
        rhs_p = lambda t, y: [-(y[0] ** 3) * self.k / (2 * (self.E_prime * self.delta) ** 2)]
        t_hit, _ = _event_crossing(rhs_p, float(self.pressure(0.0)), t_end, p_c)
        return t_hit


@dataclass(frozen=True)
class Prony:
    """Generalised Maxwell relaxation modulus E(t) = E_inf + Σ E_i exp(-t/tau_i) (Pa, s)."""

    E_inf: float
    E_i: tuple[float, ...]
    tau_i: tuple[float, ...]

    def __post_init__(self) -> None:
        nonnegative("E_inf", self.E_inf, unit="Pa")
        if len(self.E_i) != len(self.tau_i) or not self.E_i:
            raise InputError("E_i and tau_i must be non-empty and of equal length",
                             field="E_i/tau_i")
        positive("E_i", self.E_i, unit="Pa")
        positive("tau_i", self.tau_i, unit="s")

    def modulus(self, t):
        t = np.asarray(t, dtype=float)[..., None]
        return self.E_inf + np.sum(np.asarray(self.E_i) * np.exp(-t / np.asarray(self.tau_i)), -1)

    def pressure(self, t, eps0: float):
        """Stress relaxation p(t) = E(t) eps0 at a held strain eps0 (Pa)."""
        positive("eps0", eps0)
        return self.modulus(t) * eps0

    def contact_loss_time(self, eps0: float, p_c: float) -> float:
        """First t with p(t) = p_c (brentq on the monotone relaxation; inf if never)."""
        positive("p_c", p_c, unit="Pa")
        f = lambda t: float(self.pressure(t, eps0)) - p_c
        if f(0.0) <= 0:
            return 0.0
        if self.E_inf * eps0 >= p_c:
            return float("inf")
        hi = max(self.tau_i)
        while f(hi) > 0:
            hi *= 2.0
        return float(brentq(f, 0.0, hi, xtol=1e-12 * hi))


def standard_linear_solid(E1: float, E2: float, tau: float) -> Prony:
    """Zener model p(t) = (E2 + E1 exp(-t/tau)) eps0: a one-term Prony series with E_inf = E2."""
    positive("E1", E1, unit="Pa")
    positive("E2", E2, unit="Pa")
    positive("tau", tau, unit="s")
    return Prony(E_inf=E2, E_i=(E1,), tau_i=(tau,))


def sls_contact_loss_time(E1: float, E2: float, tau: float, eps0: float, p_c: float) -> float:
    """Closed form t = -tau ln((p_c/eps0 - E2)/E1) for E2 eps0 < p_c < (E1 + E2) eps0."""
    r = (p_c / eps0 - E2) / E1
    if r >= 1:
        return 0.0
    if r <= 0:
        return float("inf")
    return float(-tau * np.log(r))


@dataclass(frozen=True)
class PowerLawCreep:
    """Li metal power-law creep eps_dot = A sigma^n exp(-Q/(R T)), sigma in Pa, A in Pa^-n s^-1."""

    A: float
    n: float
    Q: float
    T: float = 298.15

    def __post_init__(self) -> None:
        for name in ("A", "n", "Q", "T"):
            positive(name, getattr(self, name))

    @property
    def A_eff(self) -> float:
        """A exp(-Q/(R T)) in Pa^-n s^-1."""
        return self.A * np.exp(-self.Q / (R_J_PER_MOL_K * self.T))

    def strain_rate(self, sigma):
        return self.A_eff * np.abs(np.asarray(sigma, dtype=float)) ** self.n

    def relaxation(self, t, sigma0: float, E: float):
        """sigma(t) at fixed total strain, series elastic stiffness E (Pa), closed form."""
        positive("sigma0", sigma0, unit="Pa")
        positive("E", E, unit="Pa")
        t = np.asarray(t, dtype=float)
        if np.isclose(self.n, 1.0):
            return sigma0 * np.exp(-E * self.A_eff * t)
        return (sigma0 ** (1 - self.n) + (self.n - 1) * E * self.A_eff * t) ** (1 / (1 - self.n))

    def contact_loss_time(self, sigma0: float, E: float, p_c: float) -> float:
        """Closed form t = (p_c^(1-n) - sigma0^(1-n)) / ((n-1) E A')."""
        positive("p_c", p_c, unit="Pa")
        if p_c >= sigma0:
            return 0.0
        if np.isclose(self.n, 1.0):
            return float(np.log(sigma0 / p_c) / (E * self.A_eff))
        return float((p_c ** (1 - self.n) - sigma0 ** (1 - self.n))
                     / ((self.n - 1) * E * self.A_eff))

    def contact_loss_time_numeric(self, sigma0: float, E: float, p_c: float) -> float:
        """Integrate d sigma/dt = -E A' sigma^n (LSODA) with an event at sigma = p_c."""
        t_guess = self.contact_loss_time(sigma0, E, p_c)
        rhs = lambda t, y: [-E * self.A_eff * max(y[0], 0.0) ** self.n]
        t_hit, _ = _event_crossing(rhs, sigma0, 10 * t_guess + 1.0, p_c, method="LSODA")
        return t_hit
