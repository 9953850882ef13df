"""Circuit elements of impedance spectroscopy: impedance functions, parameters and bounds.

Every element is a small frozen dataclass holding its parameter names (as in the literature),
physical default bounds and a vectorised impedance ``Z(omega, *params)`` in ohm.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

_INF = np.inf


def _z_r(w: np.ndarray, R: float) -> np.ndarray:
    return np.full(w.shape, R, dtype=complex)


def _z_c(w: np.ndarray, C: float) -> np.ndarray:
    return 1.0 / (1j * w * C)


def _z_l(w: np.ndarray, L: float) -> np.ndarray:
    return 1j * w * L


def _z_cpe(w: np.ndarray, Q: float, alpha: float) -> np.ndarray:
    """Constant-phase element Z = 1 / (Q (j omega)^alpha)."""
    return 1.0 / (Q * (1j * w) ** alpha)


def _z_w(w: np.ndarray, sigma: float) -> np.ndarray:
    """Semi-infinite Warburg Z = sigma (1 - j) / sqrt(omega) (Warburg coefficient sigma)."""
    return sigma * (1.0 - 1j) / np.sqrt(w)


def _z_wo(w: np.ndarray, R: float, tau: float) -> np.ndarray:
    """Finite-length Warburg, reflective (open) end: Z = R coth(sqrt(j w tau))/sqrt(j w tau)."""
    s = np.sqrt(1j * w * tau)
    return R / (s * np.tanh(s))


def _z_ws(w: np.ndarray, R: float, tau: float) -> np.ndarray:
    """Finite-length Warburg, transmissive (short) end: Z = R tanh(sqrt(j w tau))/sqrt(j w tau)."""
    s = np.sqrt(1j * w * tau)
    return R * np.tanh(s) / s


def _z_zarc(w: np.ndarray, R: float, tau: float, alpha: float) -> np.ndarray:
    """Cole–Cole arc (ZARC) Z = R / (1 + (j w tau)^alpha)."""
    return R / (1.0 + (1j * w * tau) ** alpha)


def _z_hn(w: np.ndarray, R: float, tau: float, alpha: float, beta: float) -> np.ndarray:
    """Havriliak–Negami Z = R / (1 + (j w tau)^alpha)^beta (Havriliak & Negami, Polymer 8, 161
    (1967))."""
    return R / (1.0 + (1j * w * tau) ** alpha) ** beta


@dataclass(frozen=True)
class ElementType:
    """One kind of circuit element: symbol, parameter names, default bounds and impedance."""

    symbol: str
    params: tuple[str, ...]
    bounds: tuple[tuple[float, float], ...]
    func: Callable[..., np.ndarray]
    units: tuple[str, ...]
    description: str

    def impedance(self, omega: np.ndarray, *values: float) -> np.ndarray:
        return self.func(np.asarray(omega, dtype=float), *values)


_FRACTION = (1e-3, 1.0)

ELEMENTS: dict[str, ElementType] = {
    "R": ElementType("R", ("R",), ((0.0, _INF),), _z_r, ("ohm",), "resistor"),
    "C": ElementType("C", ("C",), ((0.0, _INF),), _z_c, ("F",), "capacitor"),
    "L": ElementType("L", ("L",), ((0.0, _INF),), _z_l, ("H",), "inductor"),
    "CPE": ElementType(
        "CPE", ("Q", "alpha"), ((0.0, _INF), _FRACTION), _z_cpe, ("F s^(alpha-1)", ""),
        "constant-phase element",
    ),
    "W": ElementType("W", ("sigma",), ((0.0, _INF),), _z_w, ("ohm s^-1/2",),
                     "semi-infinite Warburg"),
    "Wo": ElementType("Wo", ("R", "tau"), ((0.0, _INF), (0.0, _INF)), _z_wo, ("ohm", "s"),
                      "finite-length Warburg, reflective boundary"),
    "Ws": ElementType("Ws", ("R", "tau"), ((0.0, _INF), (0.0, _INF)), _z_ws, ("ohm", "s"),
                      "finite-length Warburg, transmissive boundary"),
    "Zarc": ElementType("Zarc", ("R", "tau", "alpha"), ((0.0, _INF), (0.0, _INF), _FRACTION),
                        _z_zarc, ("ohm", "s", ""), "Cole-Cole (ZARC) arc"),
    "HN": ElementType("HN", ("R", "tau", "alpha", "beta"),
                      ((0.0, _INF), (0.0, _INF), _FRACTION, _FRACTION), _z_hn,
                      ("ohm", "s", "", ""), "Havriliak-Negami arc"),
}
#: Aliases accepted in circuit strings.
ALIASES: dict[str, str] = {"Q": "CPE"}
