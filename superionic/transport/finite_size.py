"""Finite-size corrections of diffusion coefficients from periodic simulations.

Hydrodynamic self-interaction makes D(L) = D_inf - C / L in a periodic box of edge L;
C = k_B T ξ / (6 π η) (Dünweg & Kremer, J. Chem. Phys. 99, 6983 (1993); Yeh & Hummer,
J. Phys. Chem. B 108, 15873 (2004), Eq. 1, ξ = 2.837297 for a cubic lattice).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from superionic.core.errors import InputError
from superionic.core.estimate import Estimate
from superionic.core.units import KB_J_PER_K
from superionic.transport.arrhenius import weighted_linear_fit

#: Madelung-like constant ξ of the Yeh–Hummer correction for a cubic periodic lattice.
XI_CUBIC: float = 2.837297
_M2_PER_S_TO_CM2_PER_S = 1.0e4
_ANGSTROM_TO_M = 1.0e-10


@dataclass(frozen=True, eq=False)
class FiniteSizeResult:
    """Fit of D(L) = D_inf - C / L across supercell sizes."""

    D_inf: Estimate  # cm²/s
    C: Estimate  # cm²/s · Å
    cov: np.ndarray  # 2x2 covariance of (D_inf, C)
    chi2: float
    dof: int
    method: str
    box_lengths_A: np.ndarray
    D_cm2_per_s: np.ndarray
    implied_viscosity_Pa_s: Estimate | None = None

    def predict(self, box_length_A: float) -> Estimate:
        """D at box edge ``box_length_A`` from the fit, with its 95 % interval."""
        g = np.array([1.0, -1.0 / box_length_A])
        mu = float(g @ np.array([self.D_inf.value, self.C.value]))
        se = float(math.sqrt(g @ self.cov @ g))
        crit = (self.D_inf.ci95[1] - self.D_inf.value) / self.D_inf.stderr  # type: ignore[index]
        return Estimate(mu, se, (mu - crit * se, mu + crit * se), "cm2/s", self.method)

    def to_dict(self) -> dict[str, Any]:
        return {
            "D_inf_cm2_per_s": self.D_inf.to_dict(),
            "C_cm2_per_s_A": self.C.to_dict(),
            "cov": self.cov.tolist(),
            "chi2": self.chi2,
            "dof": self.dof,
            "method": self.method,
            "box_lengths_A": self.box_lengths_A.tolist(),
            "D_cm2_per_s": self.D_cm2_per_s.tolist(),
            "implied_viscosity_Pa_s": (
                None if self.implied_viscosity_Pa_s is None
                else self.implied_viscosity_Pa_s.to_dict()
            ),
        }


def yeh_hummer_coefficient(
    temperature_K: float, viscosity_Pa_s: float, xi: float = XI_CUBIC
) -> float:
    """C = k_B T ξ / (6 π η) in cm²/s · Å, so that D_inf = D_PBC + C / L (Yeh–Hummer Eq. 1)."""
    if not (temperature_K > 0 and viscosity_Pa_s > 0):
        raise InputError("temperature and shear viscosity must be positive",
                         field="viscosity_Pa_s", expected="K > 0 and Pa s > 0")
    c_m3_per_s = KB_J_PER_K * temperature_K * xi / (6.0 * math.pi * viscosity_Pa_s)
    return c_m3_per_s * _M2_PER_S_TO_CM2_PER_S / _ANGSTROM_TO_M


def yeh_hummer_correction(
    D_pbc_cm2_per_s: Estimate | float,
    box_length_A: float,
    temperature_K: float,
    viscosity_Pa_s: float,
    *,
    viscosity_stderr_Pa_s: float = 0.0,
    xi: float = XI_CUBIC,
) -> Estimate:
    """D_inf = D_PBC + k_B T ξ / (6 π η L) (Yeh & Hummer 2004, Eq. 1), in cm²/s.

    The uncertainty of D_PBC (an Estimate) and of η (``viscosity_stderr_Pa_s``) propagate
    to first order; the correction shifts the interval of D_PBC.
    """
    if not box_length_A > 0:
        raise InputError("box length must be positive", field="box_length_A", expected="Å > 0")
    corr = yeh_hummer_coefficient(temperature_K, viscosity_Pa_s, xi) / box_length_A
    corr_se = corr * viscosity_stderr_Pa_s / viscosity_Pa_s
    if isinstance(D_pbc_cm2_per_s, Estimate):
        d = D_pbc_cm2_per_s
        se = math.hypot(d.stderr, corr_se)
        lo, hi = d.ci95  # type: ignore[misc]
        half_lo = math.hypot(d.value - lo, 1.959963984540054 * corr_se)
        half_hi = math.hypot(hi - d.value, 1.959963984540054 * corr_se)
        v = d.value + corr
        return Estimate(v, se, (v - half_lo, v + half_hi), "cm2/s",
                        f"{d.method}; Yeh–Hummer corrected (η={viscosity_Pa_s:g} Pa s)")
    v = float(D_pbc_cm2_per_s) + corr
    return Estimate(v, corr_se, None, "cm2/s",
                    f"Yeh–Hummer corrected (η={viscosity_Pa_s:g} Pa s, L={box_length_A:g} Å)")


def fit_finite_size(
    box_lengths_A: Sequence[float] | np.ndarray,
    D_cm2_per_s: Sequence[float] | np.ndarray,
    stderr: Sequence[float] | np.ndarray | None = None,
    *,
    temperature_K: float | None = None,
    xi: float = XI_CUBIC,
) -> FiniteSizeResult:
    """Weighted fit of D(L) = D_inf - C / L across supercell edges L (Yeh & Hummer 2004).

    With ``stderr`` the points are weighted by 1/stderr² (Birge-inflated when the residuals
    demand it); without it the scatter sets the uncertainty. With ``temperature_K`` the
    implied shear viscosity η = k_B T ξ / (6 π C) is reported too.
    """
    L = np.asarray(box_lengths_A, float).ravel()
    D = np.asarray(D_cm2_per_s, float).ravel()
    if L.shape != D.shape or np.unique(L).size < 2 or np.any(L <= 0):
        raise InputError("need one D per box length and at least two distinct positive sizes",
                         source="fit_finite_size", field="box_lengths_A")
    sig = None
    if stderr is not None:
        sig = np.asarray(stderr, float).ravel()
        if sig.shape != D.shape or np.any(~(sig > 0)):
            raise InputError("stderr must be positive, one per point",
                             source="fit_finite_size", field="stderr")
    X = np.stack([np.ones_like(L), -1.0 / L], axis=1)
    lf = weighted_linear_fit(X, D, sig)
    se = np.sqrt(np.diag(lf.cov))
    method = "weighted least squares of D vs 1/L" if sig is not None else \
        "least squares of D vs 1/L (scatter-based errors)"
    if lf.inflated:
        method += f"; errors inflated by Birge ratio {lf.birge_ratio:.2f}"
    est = [
        Estimate(p, s, (p - lf.crit * s, p + lf.crit * s), u, method)
        for p, s, u in zip(lf.params, se, ("cm2/s", "cm2/s*A"), strict=True)
    ]
    eta = None
    if temperature_K is not None and est[1].value > 0:
        c0 = yeh_hummer_coefficient(temperature_K, 1.0, xi)  # C for η = 1 Pa s
        v = c0 / est[1].value
        lo, hi = est[1].ci95  # type: ignore[misc]
        ci = (c0 / hi, c0 / lo) if lo > 0 else (c0 / hi, math.inf)
        eta = Estimate(v, v * est[1].stderr / est[1].value, ci, "Pa s",
                       "η = k_B T ξ / (6 π C), Yeh–Hummer")
    return FiniteSizeResult(est[0], est[1], lf.cov, lf.chi2, lf.dof, method, L, D, eta)


__all__ = [
    "XI_CUBIC",
    "FiniteSizeResult",
    "fit_finite_size",
    "yeh_hummer_coefficient",
    "yeh_hummer_correction",
]
