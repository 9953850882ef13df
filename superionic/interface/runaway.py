"""Hot-spot runaway at a constriction: coupled contact radius a(t) and temperature T(t).

Model (stated): a current I passes through one circular contact spot of radius a (m). Its
constriction resistance R_c = rho(T)/(2a) (Holm) dissipates I² R_c (W) into a lumped hot spot
of heat capacity C (J/K) that loses heat by spreading conduction into the half-space,
4 k a (T - T0) (conductance of a disc, Carslaw & Jaeger), and by a lumped path h (W/K):
    C dT/dt = I² rho(T)/(2a) - (4 k a + h)(T - T0).
The metal around the spot creeps away under a constant driving stress sigma_d (Pa), softened
by heat (power-law creep, LePage et al. J. Electrochem. Soc. 166, A89 (2019)):
    da/dt = -a A sigma_d^n exp(-Q/(R T)).
rho(T) = rho0 [1 + alpha (T - T0)] (metal-like) or rho0 exp(E_a/(k_B)(1/T - 1/T0))
(Arrhenius electrolyte). Runaway: T reaches T_cap or a falls to a_min before t_end (events).
Frozen contact (A = 0, linear rho): a steady state exists only for I < sqrt(2 a g/(rho0 alpha)),
g = 4 k a + h.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.integrate import solve_ivp

from superionic.core.errors import ConvergenceError, InputError
from superionic.core.units import KB_EV_PER_K, R_J_PER_MOL_K
from superionic.interface._checks import nonnegative, positive


@dataclass(frozen=True)
class HotSpot:
    """Parameters of the hot-spot model (SI; E_a in eV, Q in J/mol)."""

    rho0: float = 5.0  # Ω m (Li6PS5Cl, 2 mS/cm)
    rho_model: str = "arrhenius"
    alpha: float = 4.4e-3  # 1/K (linear model)
    E_a: float = 0.33  # eV (Arrhenius model)
    k: float = 0.5  # W/(m K)
    h: float = 0.0  # W/K
    C: float = 1e-9  # J/K
    A: float = 5.75e-36  # Pa^-n s^-1
    n: float = 6.56
    Q: float = 37e3  # J/mol
    sigma_d: float = 0.3e6  # Pa
    T0: float = 298.15  # K
    T_cap: float = 453.65  # K (Li melting point)
    a_min_fraction: float = 1e-3
    t_end: float = 3600.0  # s

    def __post_init__(self) -> None:
        for name in ("rho0", "k", "C", "n", "Q", "T0", "T_cap", "a_min_fraction", "t_end"):
            positive(name, getattr(self, name))
        for name in ("alpha", "E_a", "h", "A", "sigma_d"):
            nonnegative(name, getattr(self, name))
        if self.rho_model not in ("linear", "arrhenius"):
            raise InputError(f"unknown rho_model {self.rho_model!r}", field="rho_model",
                             expected="'linear' or 'arrhenius'")
        if self.T_cap <= self.T0:
            raise InputError("T_cap must exceed T0", field="T_cap")

    def rho(self, T):
        T = np.asarray(T, dtype=float)
        if self.rho_model == "linear":
            return self.rho0 * (1.0 + self.alpha * (T - self.T0))
        return self.rho0 * np.exp(self.E_a / KB_EV_PER_K * (1.0 / T - 1.0 / self.T0))

    def creep_rate(self, T):
        return self.A * self.sigma_d**self.n * np.exp(-self.Q / (R_J_PER_MOL_K * T))

    def rhs(self, t: float, y: np.ndarray, I: float) -> list[float]:
        """State (a, T, E_joule, E_lost); the last two integrate the heat flows (J)."""
        a, T = max(y[0], 1e-300), y[1]
        P_j = I * I * self.rho(T) / (2.0 * a)
        P_l = (4.0 * self.k * a + self.h) * (T - self.T0)
        return [-a * self.creep_rate(T), (P_j - P_l) / self.C, P_j, P_l]

    def critical_current_frozen(self, a: float) -> float:
        """Runaway current of a frozen spot, linear rho: sqrt(2 a g / (rho0 alpha)) (A)."""
        if self.rho_model != "linear" or self.alpha <= 0:
            return float("inf")
        return float(np.sqrt(2 * a * (4 * self.k * a + self.h) / (self.rho0 * self.alpha)))


@dataclass(frozen=True)
class RunawayResult:
    """Trajectory and outcome of one hot-spot run."""

    t: np.ndarray
    a: np.ndarray
    T: np.ndarray
    E_joule: np.ndarray
    E_lost: np.ndarray
    runaway: bool
    reason: str
    t_runaway: float


def simulate_hot_spot(model: HotSpot, I: float, a0: float, method: str = "Radau") -> RunawayResult:
    """Integrate the hot-spot ODEs from (a0, T0) with terminal events T = T_cap, a = a_min."""
    nonnegative("I", I, unit="A")
    positive("a0", a0, unit="m")
    a_min = model.a_min_fraction * a0

    def ev_T(t, y, I):
        return y[1] - model.T_cap

    def ev_a(t, y, I):
        return y[0] - a_min

    for ev in (ev_T, ev_a):
        ev.terminal = True
    ev_T.direction, ev_a.direction = 1, -1
    sol = solve_ivp(model.rhs, (0.0, model.t_end), [a0, model.T0, 0.0, 0.0], method=method,
                    events=(ev_T, ev_a), args=(float(I),), rtol=1e-9,
                    atol=[1e-12 * a0, 1e-9, 1e-18, 1e-18])
    if sol.status == -1:
        raise ConvergenceError(f"hot-spot integration failed: {sol.message}")
    hitT, hita = len(sol.t_events[0]) > 0, len(sol.t_events[1]) > 0
    reason = "T_cap" if hitT else ("a_min" if hita else "stable")
    t_run = float(sol.t[-1]) if (hitT or hita) else float("inf")
    return RunawayResult(sol.t, sol.y[0], sol.y[1], sol.y[2], sol.y[3], hitT or hita, reason,
                         t_run)


def runaway_map(model: HotSpot, currents, radii, method: str = "Radau") -> np.ndarray:
    """Boolean map runaway[i_radius, i_current] over a (current A, initial radius m) grid.

    Vectorised: all grid points are integrated as one block-diagonal stiff system (Radau with
    a sparse Jacobian pattern). States are s = a/a0 and T; past the thresholds the rates use
    the capped values min(T, T_cap) and stop shrinking at s = a_min_fraction, so a point that
    crossed stays beyond its threshold and the classification is read from the final state.
    """
    I = np.asarray(positive("currents", currents, unit="A"), dtype=float).ravel()
    a = np.asarray(positive("radii", radii, unit="m"), dtype=float).ravel()
    Ig, ag = np.meshgrid(I, a)
    Ig, ag = Ig.ravel(), ag.ravel()
    M = Ig.size
    smin = model.a_min_fraction
    m = model

    def rhs(t, y):
        s, T = y[:M], y[M:]
        Tc = np.minimum(T, m.T_cap)
        se = np.maximum(s, smin)
        ds = -np.maximum(s - smin, 0.0) * m.creep_rate(Tc)
        P_j = Ig**2 * m.rho(Tc) / (2.0 * ag * se)
        dT = (P_j - (4.0 * m.k * ag * se + m.h) * (T - m.T0)) / m.C
        return np.concatenate([ds, dT])

    from scipy.sparse import bmat, identity

    eye = identity(M, format="csr")
    pattern = bmat([[eye, eye], [eye, eye]], format="csr")
    y0 = np.concatenate([np.ones(M), np.full(M, m.T0)])
    sol = solve_ivp(rhs, (0.0, m.t_end), y0, method=method, jac_sparsity=pattern,
                    rtol=1e-6, atol=np.concatenate([np.full(M, 1e-9), np.full(M, 1e-6)]),
                    t_eval=[m.t_end])
    if sol.status == -1:
        raise ConvergenceError(f"runaway sweep failed: {sol.message}")
    s_end, T_end = sol.y[:M, -1], sol.y[M:, -1]
    run = (T_end >= m.T_cap * (1 - 1e-9)) | (s_end <= smin * (1 + 1e-6))
    return run.reshape(a.size, I.size)


def runaway_map_pointwise(model: HotSpot, currents, radii) -> np.ndarray:
    """Same map from one event-terminated integration per grid point (reference method)."""
    I = np.asarray(positive("currents", currents, unit="A"), dtype=float).ravel()
    a = np.asarray(positive("radii", radii, unit="m"), dtype=float).ravel()
    return np.array([[simulate_hot_spot(model, i, r).runaway for i in I] for r in a])


def with_parameters(model: HotSpot, **changes) -> HotSpot:
    """A copy of ``model`` with some parameters replaced (re-validated)."""
    return replace(model, **changes)
