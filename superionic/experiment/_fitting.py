"""Weighted least squares with covariance, information criteria and error propagation.

Shared by the Hebb–Wagner and QENS analyses. With known data errors the covariance is
absolute (chi² with sigma); without them it is scaled by the residual variance, as in
:func:`scipy.optimize.curve_fit`. AIC/BIC follow Burnham & Anderson, *Model Selection and
Multimodel Inference* (2002), eq. 2.1 and 6.1 (Gaussian likelihood).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

from superionic.core.errors import ConvergenceError, InputError
from superionic.core.estimate import Estimate


@dataclass(frozen=True)
class LeastSquaresFit:
    """Result of a (weighted) least-squares fit: parameters, covariance and fit statistics."""

    names: tuple[str, ...]
    popt: np.ndarray
    pcov: np.ndarray
    residuals: np.ndarray  # data − model, unweighted
    chi2: float  # Σ (r/σ)² with known errors, else Σ r²
    n: int
    absolute_sigma: bool

    @property
    def k(self) -> int:
        return len(self.names)

    @property
    def dof(self) -> int:
        return self.n - self.k

    @property
    def reduced_chi2(self) -> float:
        return self.chi2 / self.dof if self.dof > 0 else float("nan")

    @property
    def _neg2loglik(self) -> float:
        if self.absolute_sigma:
            return self.chi2
        return self.n * math.log(max(self.chi2, 1e-300) / self.n)

    @property
    def aic(self) -> float:
        """Akaike information criterion (up to a model-independent constant)."""
        return self._neg2loglik + 2 * self.k

    @property
    def aicc(self) -> float:
        """Small-sample corrected AIC."""
        d = self.n - self.k - 1
        return self.aic + (2 * self.k * (self.k + 1) / d if d > 0 else float("inf"))

    @property
    def bic(self) -> float:
        """Bayesian information criterion (up to a model-independent constant)."""
        return self._neg2loglik + self.k * math.log(self.n)

    def value(self, name: str) -> float:
        return float(self.popt[self.names.index(name)])

    def stderr(self, name: str) -> float:
        i = self.names.index(name)
        return float(math.sqrt(max(self.pcov[i, i], 0.0)))

    def propagate(self, grad: Sequence[float] | np.ndarray) -> float:
        """Standard error of a function of the parameters with gradient ``grad`` (delta method)."""
        g = np.asarray(grad, dtype=float)
        return float(math.sqrt(max(g @ self.pcov @ g, 0.0)))

    def estimate(self, name: str, unit: str = "", method: str = "") -> Estimate:
        return Estimate(self.value(name), self.stderr(name), unit=unit, method=method)

    def log_estimate(self, name: str, unit: str = "", method: str = "") -> Estimate:
        """Estimate of exp(p) for a parameter ``p`` fitted as a logarithm (log-normal interval)."""
        return log_normal_estimate(self.value(name), self.stderr(name), unit=unit, method=method)

    def stats(self) -> dict[str, float]:
        return {
            "n_points": self.n,
            "n_params": self.k,
            "chi2": self.chi2,
            "reduced_chi2": self.reduced_chi2,
            "aic": self.aic,
            "aicc": self.aicc,
            "bic": self.bic,
            "errors_given": self.absolute_sigma,
        }


def log_normal_estimate(
    ln_value: float, ln_stderr: float, unit: str = "", method: str = ""
) -> Estimate:
    """:meth:`Estimate.from_log` that survives a degenerate fit (interval bounds overflow to
    0 or infinity instead of raising)."""
    z = 1.959963984540054

    def _exp(x: float) -> float:
        return math.exp(x) if x < 709.0 else math.inf

    v = _exp(ln_value)
    err = v * ln_stderr if math.isfinite(ln_stderr) else math.inf
    return Estimate(
        v, err, (_exp(ln_value - z * ln_stderr), _exp(ln_value + z * ln_stderr)), unit, method
    )


def _check_dof(n: int, k: int, what: str) -> None:
    if n <= k:
        raise InputError(
            f"{n} data points cannot determine {k} parameters of {what}",
            expected=f"more than {k} points",
        )


def _finish(
    names: Sequence[str],
    popt: np.ndarray,
    pcov: np.ndarray,
    resid: np.ndarray,
    sigma: np.ndarray | None,
    what: str,
) -> LeastSquaresFit:
    if not np.all(np.isfinite(pcov)):
        raise ConvergenceError(
            f"fit of {what} is degenerate: parameter covariance is not finite "
            f"(parameters {dict(zip(names, popt.tolist(), strict=True))})"
        )
    w = resid / sigma if sigma is not None else resid
    return LeastSquaresFit(
        names=tuple(names),
        popt=np.asarray(popt, dtype=float),
        pcov=np.asarray(pcov, dtype=float),
        residuals=np.asarray(resid, dtype=float),
        chi2=float(w @ w),
        n=int(resid.size),
        absolute_sigma=sigma is not None,
    )


def fit_curve(
    f: Callable[..., np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    p0: Sequence[float],
    names: Sequence[str],
    *,
    sigma: np.ndarray | None = None,
    bounds: tuple = (-np.inf, np.inf),
    what: str = "model",
) -> LeastSquaresFit:
    """Non-linear least squares ``y ≈ f(x, *p)``; absolute covariance when ``sigma`` is given."""
    y = np.asarray(y, dtype=float)
    _check_dof(y.size, len(p0), what)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            popt, pcov = curve_fit(
                f,
                x,
                y,
                p0=list(p0),
                sigma=sigma,
                absolute_sigma=sigma is not None,
                bounds=bounds,
                maxfev=20000,
            )
    except (RuntimeError, ValueError, OverflowError, FloatingPointError) as exc:
        raise ConvergenceError(f"fit of {what} failed: {exc}") from exc
    resid = y - f(x, *popt)
    return _finish(names, popt, pcov, resid, sigma, what)


def fit_linear(
    design: np.ndarray,
    y: np.ndarray,
    names: Sequence[str],
    *,
    sigma: np.ndarray | None = None,
    what: str = "linear model",
) -> LeastSquaresFit:
    """Weighted linear least squares ``y ≈ design @ p`` (exact covariance, no iteration)."""
    A = np.asarray(design, dtype=float)
    y = np.asarray(y, dtype=float)
    _check_dof(y.size, A.shape[1], what)
    w = np.ones_like(y) if sigma is None else 1.0 / np.asarray(sigma, dtype=float)
    Aw = A * w[:, None]
    # column scaling keeps the normal equations well conditioned for parameters of any size
    scale = np.linalg.norm(Aw, axis=0)
    if np.any(scale == 0):
        raise InputError(f"{what}: a parameter has no influence on the data")
    q, r = np.linalg.qr(Aw / scale)
    coef_s = np.linalg.solve(r, q.T @ (y * w))
    rinv = np.linalg.inv(r)
    cov_s = rinv @ rinv.T
    popt = coef_s / scale
    pcov = cov_s / np.outer(scale, scale)
    resid = y - A @ popt
    if sigma is None:
        dof = y.size - A.shape[1]
        pcov = pcov * float(resid @ resid) / dof
    return _finish(names, popt, pcov, resid, None if sigma is None else np.asarray(sigma), what)


def akaike_weights(aic: Sequence[float]) -> np.ndarray:
    """Relative likelihoods exp(−ΔAIC/2), normalised (Burnham & Anderson 2002, eq. 2.14)."""
    a = np.asarray(aic, dtype=float)
    d = a - np.nanmin(a)
    w = np.exp(-0.5 * d)
    return w / np.nansum(w)
