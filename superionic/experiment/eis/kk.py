"""Kramers–Kronig validation by the linear KK test (Schönleber, Klotz & Ivers-Tiffée,
Electrochim. Acta 131, 20 (2014)).

The spectrum is fitted by a series of M Voigt (RC) elements with fixed, log-spaced time
constants tau_k spanning [1/omega_max, 1/omega_min] (widened by a factor 3 at each end),
plus a series R, L and C; the R_k are found by linear least squares weighted by 1/|Z|.
M is increased until the over-fitting measure
mu = 1 - sum_{R_k<0} |R_k| / sum_{R_k>=0} R_k falls below ``mu_crit`` (0.85).
The relative residuals (Z - Z_KK)/|Z| per frequency then show whether the data are causal,
linear and stationary: the test passes when every residual lies within ``threshold``
(default 1 %).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from superionic.core.threads import single_blas_thread
from superionic.experiment.eis.spectrum import Spectrum

#: the tau grid reaches this factor beyond [1/omega_max, 1/omega_min], which keeps the end
#: points of the spectrum from being under-fitted
_TAU_EXT = 3.0


@dataclass
class KKResult:
    """Linear KK test: number of RC elements, mu, residuals per frequency and the verdict."""

    M: int
    mu: float
    mu_crit: float
    tau_s: np.ndarray
    R_ohm: np.ndarray
    Z_fit: np.ndarray
    f_Hz: np.ndarray
    residuals_real: np.ndarray
    residuals_imag: np.ndarray
    threshold: float
    passed: bool
    chi2: float
    noise_variance: float

    @property
    def max_residual(self) -> float:
        return float(max(np.abs(self.residuals_real).max(), np.abs(self.residuals_imag).max()))

    def to_dict(self) -> dict:
        return {
            "passed": self.passed, "threshold": self.threshold,
            "criterion": f"max |(Z - Z_KK)/|Z|| < {self.threshold:g} (Z' and Z'')",
            "max_residual": self.max_residual, "M": self.M, "mu": self.mu,
            "mu_crit": self.mu_crit, "chi2": self.chi2, "f_Hz": self.f_Hz,
            "residuals_real": self.residuals_real, "residuals_imag": self.residuals_imag,
            "method": "linear Kramers-Kronig test (Schoenleber et al. 2014)",
        }


def _lin_kk_fit(w: np.ndarray, Z: np.ndarray, M: int) -> tuple[np.ndarray, np.ndarray,
                                                                 np.ndarray]:
    tau = np.logspace(np.log10(1.0 / w.max() / _TAU_EXT), np.log10(_TAU_EXT / w.min()), M)
    cols = [np.ones_like(w, dtype=complex), 1j * w, 1.0 / (1j * w)]
    cols += [1.0 / (1.0 + 1j * w * t) for t in tau]
    A = np.column_stack(cols)
    wt = 1.0 / np.abs(Z)
    Ar = np.vstack([A.real * wt[:, None], A.imag * wt[:, None]])
    b = np.concatenate([Z.real * wt, Z.imag * wt])
    scale = np.linalg.norm(Ar, axis=0)
    scale[scale == 0] = 1.0
    x, *_ = np.linalg.lstsq(Ar / scale, b, rcond=None)
    x = x / scale
    return tau, x, A @ x


@single_blas_thread
def linear_kk(spectrum: Spectrum, *, mu_crit: float = 0.85, threshold: float = 0.01,
              max_M: int | None = None) -> KKResult:
    """Linear KK test of a spectrum; M chosen automatically by the mu criterion."""
    f, Z = spectrum.f_Hz, spectrum.Z
    w = 2 * np.pi * f
    n = f.size
    max_M = max_M or max(3, min(n - 4, int(1.5 * np.log10(w.max() / w.min()) * 7)))
    M, mu = 3, 1.0
    tau, x, Zf = _lin_kk_fit(w, Z, M)
    for M in range(3, max_M + 1):
        tau, x, Zf = _lin_kk_fit(w, Z, M)
        Rk = x[3:]
        pos = Rk[Rk >= 0].sum()
        neg = np.abs(Rk[Rk < 0]).sum()
        mu = 1.0 - neg / pos if pos > 0 else 0.0
        if mu < mu_crit:
            break
    rr = (Z.real - Zf.real) / np.abs(Z)
    ri = (Z.imag - Zf.imag) / np.abs(Z)
    chi2 = float(rr @ rr + ri @ ri)
    dof = max(2 * n - (M + 3), 1)
    passed = bool(max(np.abs(rr).max(), np.abs(ri).max()) < threshold)
    return KKResult(M=M, mu=float(mu), mu_crit=mu_crit, tau_s=tau, R_ohm=x[3:], Z_fit=Zf,
                    f_Hz=f, residuals_real=rr, residuals_imag=ri, threshold=threshold,
                    passed=passed, chi2=chi2, noise_variance=chi2 / dof)
