"""Rough-surface contact: Greenwood-Williamson asperities, plastic limit, JKR adhesion.

Greenwood & Williamson, Proc. R. Soc. A 295, 300 (1966): summits of density eta (m⁻²), tip
radius R (m) and Gaussian heights of standard deviation sigma (m) against a flat at separation
d; per summit of interference w, Hertz area π R w and load (4/3) E* R^½ w^{3/2}. Summits whose
interference exceeds w_c = R (π H / 2E*)² (GW eq. 8) flow plastically: area 2π R w, load H·area.
Plastic limit: phi = P/H. JKR: Johnson, Kendall & Roberts, Proc. R. Soc. A 324, 301 (1971).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.integrate import quad
from scipy.optimize import brentq
from scipy.special import erfc

from superionic.core.errors import InputError
from superionic.interface._checks import nonnegative, positive

_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)
_QUAD = {"limit": 200, "epsabs": 0.0, "epsrel": 1e-10}


def gaussian_tail_moment(n: float, h: float) -> float:
    """F_n(h) = ∫_h^∞ (s - h)^n φ(s) ds for the standard normal density φ (GW eq. 6)."""
    f = lambda s: (s - h) ** n * _INV_SQRT_2PI * np.exp(-0.5 * s * s)
    val, _ = quad(f, h, h + 40.0, **_QUAD)
    return float(val)


def gaussian_tail_moment_closed(n: int, h: float) -> float:
    """Closed forms F_0 = erfc(h/√2)/2 and F_1 = φ(h) - h F_0 (second method for tests)."""
    F0 = 0.5 * erfc(h / np.sqrt(2.0))
    if n == 0:
        return float(F0)
    if n == 1:
        return float(_INV_SQRT_2PI * np.exp(-0.5 * h * h) - h * F0)
    raise InputError("closed form only for n = 0 or 1", field="n")


@dataclass(frozen=True)
class GreenwoodWilliamson:
    """GW rough contact of a surface against a flat (SI units).

    eta: summit density (m⁻²); R: summit radius (m); sigma: std of summit heights (m);
    E_star: contact modulus (Pa); H: hardness (Pa), ``inf`` for purely elastic summits.
    """

    eta: float
    R: float
    sigma: float
    E_star: float
    H: float = float("inf")

    def __post_init__(self) -> None:
        positive("eta", self.eta, unit="m^-2")
        positive("R", self.R, unit="m")
        positive("sigma", self.sigma, unit="m")
        positive("E_star", self.E_star, unit="Pa")
        if not (np.isinf(self.H) and self.H > 0):
            positive("H", self.H, unit="Pa")

    @property
    def w_c(self) -> float:
        """Critical interference for plastic flow, w_c = R (π H / (2 E*))² (m)."""
        if np.isinf(self.H):
            return float("inf")
        return self.R * (np.pi * self.H / (2 * self.E_star)) ** 2

    @property
    def plasticity_index(self) -> float:
        """GW plasticity index psi = (E*/H) sqrt(sigma/R)."""
        return (self.E_star / self.H) * np.sqrt(self.sigma / self.R)

    def _integrals(self, h: float) -> tuple[float, float, float]:
        """(spots per m², real contact fraction, nominal pressure Pa) at separation h = d/sigma."""
        sc = h + self.w_c / self.sigma
        phi_s = lambda s: _INV_SQRT_2PI * np.exp(-0.5 * s * s)
        w = lambda s: self.sigma * (s - h)
        up = h + 40.0
        el_end = min(sc, up)
        A_el = quad(lambda s: np.pi * self.R * w(s) * phi_s(s), h, el_end, **_QUAD)[0]
        P_el = quad(lambda s: (4 / 3) * self.E_star * np.sqrt(self.R) * w(s) ** 1.5 * phi_s(s),
                    h, el_end, **_QUAD)[0]
        A_pl = P_pl = 0.0
        if sc < up:
            A_pl = quad(lambda s: 2 * np.pi * self.R * w(s) * phi_s(s), sc, up, **_QUAD)[0]
            P_pl = self.H * A_pl
        n = 0.5 * erfc(h / np.sqrt(2.0))
        return self.eta * n, self.eta * (A_el + A_pl), self.eta * (P_el + P_pl)

    def _log_pressure_gap(self, h: float, log_p: float) -> float:
        return float(np.log(self._integrals(h)[2]) - log_p)

    def at_separation(self, h: float) -> dict:
        """Spot density, contact fraction and nominal pressure at standardised separation h."""
        n, phi, P = self._integrals(float(h))
        return {"h": float(h), "n_spots_per_m2": n, "phi": phi, "P_Pa": P}

    def at_pressure(self, P) -> dict:
        """Solve P(h) = P for the separation and return contact fraction and spot count."""
        P = positive("P", P, unit="Pa")
        Ps = np.atleast_1d(P)
        lo, hi = -4.0, 12.0
        P_lo, P_hi = self._integrals(lo)[2], self._integrals(hi)[2]
        out = {"P_Pa": [], "h": [], "phi": [], "n_spots_per_m2": [], "mean_spot_radius_m": []}
        for p in Ps:
            if not (P_hi < p < P_lo):
                raise InputError(
                    f"nominal pressure {p:.4g} Pa lies outside the GW range "
                    f"({P_hi:.3g}, {P_lo:.3g}) Pa for these roughness parameters", field="P")
            h = brentq(self._log_pressure_gap, lo, hi, args=(float(np.log(p)),), xtol=1e-12)
            n, phi, _ = self._integrals(h)
            out["P_Pa"].append(float(p))
            out["h"].append(h)
            out["phi"].append(phi)
            out["n_spots_per_m2"].append(n)
            out["mean_spot_radius_m"].append(float(np.sqrt(phi / (np.pi * n))))
        if np.ndim(P) == 0:
            return {k: v[0] for k, v in out.items()}
        return {k: np.asarray(v) for k, v in out.items()}


def plastic_contact_fraction(P, H: float):
    """Fully plastic limit of the real contact fraction, phi = P / H (capped at 1)."""
    nonnegative("P", P, unit="Pa")
    positive("H", H, unit="Pa")
    return np.minimum(np.asarray(P, dtype=float) / H, 1.0)


@dataclass(frozen=True)
class JKR:
    """JKR adhesive contact of a sphere (radius R, m) on a flat.

    E_star: contact modulus (Pa); w: work of adhesion (J/m²); K = 4E*/3.
    a³ = (R/K)[P + 3πwR + sqrt(6πwRP + (3πwR)²)] (JKR 1971, eq. 8).
    """

    R: float
    E_star: float
    w: float

    def __post_init__(self) -> None:
        positive("R", self.R, unit="m")
        positive("E_star", self.E_star, unit="Pa")
        nonnegative("w", self.w, unit="J/m²")

    @property
    def K(self) -> float:
        return 4.0 * self.E_star / 3.0

    @property
    def pull_off_force(self) -> float:
        """Pull-off force under load control, P_c = -(3/2) π w R (N)."""
        return -1.5 * np.pi * self.w * self.R

    def contact_radius(self, P):
        """Contact radius (m) at load P (N, tensile negative); NaN below the pull-off force."""
        P = np.asarray(P, dtype=float)
        c = 3.0 * np.pi * self.w * self.R
        disc = 2.0 * c * P + c * c
        with np.errstate(invalid="ignore"):
            a3 = (self.R / self.K) * (P + c + np.sqrt(np.where(disc >= 0, disc, np.nan)))
            a = np.cbrt(np.where(a3 >= 0, a3, np.nan))
        return float(a) if a.ndim == 0 else a

    @property
    def a0(self) -> float:
        """Contact radius at zero load, a0³ = 6π w R² / K."""
        return float(np.cbrt(6.0 * np.pi * self.w * self.R**2 / self.K))


def hertz_contact_radius(P, R: float, E_star: float):
    """Hertz contact radius a = (3 P R / (4 E*))^(1/3) (Hertz 1882; Johnson eq. 4.22)."""
    P = nonnegative("P", P, unit="N")
    return np.cbrt(3.0 * np.asarray(P) * R / (4.0 * E_star))
