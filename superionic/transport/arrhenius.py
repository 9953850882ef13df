"""Arrhenius analysis: activation energy, prefactor and extrapolation with honest intervals.

ln y = ln A - E_a / (k_B T), fitted by weighted least squares in 1/T with each point's
log-scale uncertainty (y = D, or y = sigma·T for conductivity, Nernst–Einstein form
sigma T = A exp(-E_a / k_B T)). Over-dispersed residuals are absorbed by the Birge ratio
(Birge, Phys. Rev. 40, 207 (1932)); curvature (non-Arrhenius behaviour) is tested with an
F-test on a quadratic term in 1/T.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from superionic.core.errors import InputError
from superionic.core.estimate import Estimate
from superionic.core.units import KB_EV_PER_K

_Z95 = 1.959963984540054
#: p-value below which residual chi² counts as over-dispersed (Birge inflation applied).
CHI2_P_THRESHOLD = 0.05
#: p-value of the quadratic-term F-test below which the data are flagged as curved.
CURVATURE_P_THRESHOLD = 0.01

_UNITS = {"D": "cm2/s", "sigma": "S/cm"}


@dataclass(frozen=True, eq=False)
class LinearFit:
    """Weighted straight-line (or polynomial) fit y = X b with its covariance."""

    params: np.ndarray
    cov: np.ndarray
    chi2: float
    dof: int
    birge_ratio: float
    inflated: bool
    weighted: bool
    crit: float  # two-sided 95 % quantile used for intervals (normal or Student t)


def weighted_linear_fit(
    X: np.ndarray, y: np.ndarray, sigma: np.ndarray | None = None
) -> LinearFit:
    """Generalised least squares with diagonal weights 1/sigma², Birge-inflated if needed.

    With ``sigma`` given the covariance is (Xᵀ W X)⁻¹, multiplied by chi²/dof when the
    residual chi² is improbably large (p < 0.05); without ``sigma`` the residual variance is
    estimated from the data and Student-t intervals are used.
    """
    X = np.asarray(X, float)
    y = np.asarray(y, float)
    n, p = X.shape
    dof = n - p
    weighted = sigma is not None
    w = np.ones(n) if sigma is None else 1.0 / np.asarray(sigma, float) ** 2
    A = X.T @ (w[:, None] * X)
    cov = np.linalg.inv(A)
    params = cov @ (X.T @ (w * y))
    resid = y - X @ params
    chi2 = float(np.sum(w * resid**2))
    inflated = False
    birge = math.sqrt(chi2 / dof) if dof > 0 else float("nan")
    crit = _Z95
    if not weighted:
        if dof <= 0:
            raise InputError(
                "cannot estimate an uncertainty from an exact fit without per-point errors",
                expected=f"more than {p} points or per-point standard errors",
            )
        cov = cov * chi2 / dof
        crit = float(stats.t.ppf(0.975, dof))
    elif dof > 0 and stats.chi2.sf(chi2, dof) < CHI2_P_THRESHOLD:
        cov = cov * chi2 / dof
        inflated = True
        crit = float(stats.t.ppf(0.975, dof))
    return LinearFit(params, cov, chi2, dof, birge, inflated, weighted, crit)


def _log_normal_estimate(mu: float, se: float, crit: float, unit: str, method: str) -> Estimate:
    v = math.exp(mu)
    return Estimate(v, v * se, (math.exp(mu - crit * se), math.exp(mu + crit * se)), unit, method)


@dataclass(frozen=True, eq=False)
class ArrheniusResult:
    """Fitted ln y = ln_prefactor - Ea_eV / (k_B T), with y = D or sigma·T."""

    Ea_eV: Estimate
    ln_prefactor: Estimate
    cov: np.ndarray  # 2x2 covariance of (Ea_eV, ln_prefactor)
    chi2: float
    dof: int
    curvature_warning: str | None
    method: str
    quantity: str = "D"
    multiply_by_T: bool = False
    unit: str = "cm2/s"
    crit: float = _Z95
    birge_ratio: float = float("nan")
    inflated: bool = False
    curvature_p_value: float | None = None
    temperatures_K: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ln_y: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ln_y_stderr: np.ndarray | None = None

    def _ln_y(self, T_K: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        T = np.asarray(T_K, float)
        g = np.stack([-1.0 / (KB_EV_PER_K * T), np.ones_like(T)], axis=-1)
        mu = g @ np.array([self.Ea_eV.value, self.ln_prefactor.value])
        var = np.einsum("...i,ij,...j->...", g, self.cov, g)
        if self.multiply_by_T:
            mu = mu - np.log(T)
        return mu, np.sqrt(var)

    def predict(self, T_K: float) -> Estimate:
        """D (or sigma, never sigma·T) at ``T_K`` with its log-normal 95 % interval."""
        mu, se = self._ln_y(np.asarray(float(T_K)))
        return _log_normal_estimate(
            float(mu), float(se), self.crit, self.unit, f"Arrhenius extrapolation to {T_K:g} K"
        )

    def band(self, T_K: Sequence[float] | np.ndarray) -> tuple[np.ndarray, ...]:
        """Arrays (median, lower, upper) of the 95 % confidence band of D or sigma."""
        mu, se = self._ln_y(np.asarray(T_K, float))
        return np.exp(mu), np.exp(mu - self.crit * se), np.exp(mu + self.crit * se)

    @property
    def prefactor(self) -> Estimate:
        """exp(ln_prefactor) with its log-normal interval (cm²/s, or S K/cm for sigma·T)."""
        unit = "S K/cm" if self.multiply_by_T else self.unit
        return _log_normal_estimate(
            self.ln_prefactor.value, self.ln_prefactor.stderr, self.crit, unit, self.method
        )

    @property
    def data(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Fitted points as (T_K, y, ln-stderr) with y = D or sigma (T divided back out)."""
        y = np.exp(self.ln_y - (np.log(self.temperatures_K) if self.multiply_by_T else 0.0))
        return self.temperatures_K, y, self.ln_y_stderr

    def to_dict(self) -> dict[str, Any]:
        return {
            "quantity": self.quantity,
            "fitted": f"ln({self.quantity}*T)" if self.multiply_by_T else f"ln({self.quantity})",
            "Ea_eV": self.Ea_eV.to_dict(),
            "ln_prefactor": self.ln_prefactor.to_dict(),
            "prefactor": self.prefactor.to_dict(),
            "cov_Ea_lnA": self.cov.tolist(),
            "chi2": self.chi2,
            "dof": self.dof,
            "birge_ratio": self.birge_ratio if math.isfinite(self.birge_ratio) else None,
            "errors_inflated": self.inflated,
            "curvature_warning": self.curvature_warning,
            "curvature_p_value": self.curvature_p_value,
            "method": self.method,
            "temperatures_K": self.temperatures_K.tolist(),
        }


def _curvature_test(
    x: np.ndarray, ln_y: np.ndarray, sigma: np.ndarray | None, chi2_lin: float
) -> tuple[float | None, np.ndarray | None]:
    """F-test of a quadratic term in 1/T: p-value and the quadratic coefficients."""
    n = len(x)
    if n < 4:
        return None, None
    xs = (x - x.mean()) / x.std()
    X2 = np.stack([np.ones(n), xs, xs**2], axis=1)
    w = np.ones(n) if sigma is None else 1.0 / sigma**2
    b, *_ = np.linalg.lstsq(X2 * np.sqrt(w)[:, None], ln_y * np.sqrt(w), rcond=None)
    chi2_q = float(np.sum(w * (ln_y - X2 @ b) ** 2))
    dof_q = n - 3
    if chi2_q <= 0:
        return 0.0, b
    F = (chi2_lin - chi2_q) / (chi2_q / dof_q)
    return float(stats.f.sf(F, 1, dof_q)), b


def fit_arrhenius(
    temperatures_K: Sequence[float] | np.ndarray,
    values: Sequence[float] | np.ndarray,
    stderr: Sequence[float] | np.ndarray | None = None,
    *,
    multiply_by_T: bool = False,
    log_stderr: Sequence[float] | np.ndarray | None = None,
    quantity: str = "D",
) -> ArrheniusResult:
    """Weighted Arrhenius fit of y = A exp(-Ea / k_B T) (y = D, or sigma·T if multiply_by_T).

    ``stderr`` are standard errors of ``values`` (converted to ln scale by the delta method,
    stderr/value); ``log_stderr`` gives the ln-scale errors directly and takes precedence.
    Without either, the scatter of the points sets the uncertainty (t intervals).
    """
    src = "fit_arrhenius"
    T = np.asarray(temperatures_K, float).ravel()
    y = np.asarray(values, float).ravel()
    if T.shape != y.shape:
        raise InputError("temperatures and values differ in length", source=src,
                         field="values", expected=f"{T.size} values")
    if T.size < 2 or np.unique(T).size < 2:
        raise InputError("an Arrhenius fit needs at least two distinct temperatures",
                         source=src, field="temperatures_K")
    if np.any(~np.isfinite(T)) or np.any(T <= 0):
        raise InputError("temperatures must be finite and positive", source=src,
                         field="temperatures_K", expected="K > 0")
    if np.any(~np.isfinite(y)) or np.any(y <= 0):
        bad = int(np.flatnonzero(~(np.isfinite(y) & (y > 0)))[0])
        raise InputError(f"value #{bad} = {y[bad]!r} cannot be put on a log scale",
                         source=src, field="values", expected="finite positive numbers")
    sig: np.ndarray | None = None
    if log_stderr is not None:
        sig = np.asarray(log_stderr, float).ravel()
        basis = "log_stderr"
    elif stderr is not None:
        sig = np.asarray(stderr, float).ravel() / y
        basis = "delta-method stderr/value"
    if sig is not None:
        if sig.shape != y.shape or np.any(~np.isfinite(sig)) or np.any(sig <= 0):
            raise InputError("per-point uncertainties must be finite, positive, one per value",
                             source=src, field="stderr")
    order = np.argsort(T)
    T, y = T[order], y[order]
    if sig is not None:
        sig = sig[order]
    ln_y = np.log(y * T) if multiply_by_T else np.log(y)
    x = 1.0 / T
    X = np.stack([-x / KB_EV_PER_K, np.ones_like(x)], axis=1)
    lf = weighted_linear_fit(X, ln_y, sig)
    parts = [f"weighted least squares of ln({quantity}{'·T' if multiply_by_T else ''}) vs 1/T"]
    parts.append(f"weights from {basis}" if sig is not None else "unweighted, scatter-based")
    if lf.inflated:
        parts.append(f"errors inflated by Birge ratio {lf.birge_ratio:.2f} "
                     f"(chi2={lf.chi2:.1f}, dof={lf.dof})")
        warnings.warn(
            f"Arrhenius residuals exceed their stated errors (chi2={lf.chi2:.1f} for "
            f"{lf.dof} dof); uncertainties inflated by the Birge ratio {lf.birge_ratio:.2f}",
            stacklevel=2,
        )
    method = "; ".join(parts)
    p_curv, b = _curvature_test(x, ln_y, sig, lf.chi2)
    curv_msg = None
    if p_curv is not None and p_curv < CURVATURE_P_THRESHOLD:
        xs_mu, xs_sd = x.mean(), x.std()
        # local apparent Ea = -k_B d ln y / d(1/T) of the quadratic fit, at both ends
        slope = lambda xx: (b[1] + 2 * b[2] * (xx - xs_mu) / xs_sd) / xs_sd  # noqa: E731
        ea_hot = -KB_EV_PER_K * slope(x.min())
        ea_cold = -KB_EV_PER_K * slope(x.max())
        curv_msg = (
            f"non-Arrhenius curvature (quadratic term in 1/T, F-test p={p_curv:.2g}): apparent "
            f"Ea {ea_cold:.3f} eV at {T.min():.0f} K vs {ea_hot:.3f} eV at {T.max():.0f} K; "
            "extrapolation is unreliable"
        )
        warnings.warn(curv_msg, stacklevel=2)
    se = np.sqrt(np.diag(lf.cov))
    unit = _UNITS.get(quantity, "")
    ln_unit = f"ln({'S K/cm' if multiply_by_T else unit})"
    ea, lna = (Estimate(lf.params[k], se[k], (lf.params[k] - lf.crit * se[k],
                                              lf.params[k] + lf.crit * se[k]), u, method)
               for k, u in ((0, "eV"), (1, ln_unit)))
    return ArrheniusResult(
        Ea_eV=ea,
        ln_prefactor=lna,
        cov=lf.cov,
        chi2=lf.chi2,
        dof=lf.dof,
        curvature_warning=curv_msg,
        method=method,
        quantity=quantity,
        multiply_by_T=multiply_by_T,
        unit=unit,
        crit=lf.crit,
        birge_ratio=lf.birge_ratio,
        inflated=lf.inflated,
        curvature_p_value=p_curv,
        temperatures_K=T,
        ln_y=ln_y,
        ln_y_stderr=sig,
    )


# ---------------------------------------------------------------------------------------------
# Fits from the JSON results written by `superionic diffusion --json`
# ---------------------------------------------------------------------------------------------

#: Result keys read for each fitted quantity: (JSON key, quantity, multiply_by_T).
RESULT_KEYS = {
    "sigma": ("sigma_S_per_cm", "sigma", True),
    "D": ("D_tracer_cm2_per_s", "D", False),
}


def _log_point(entry: Any, source: str, key: str) -> tuple[float, float | None] | None:
    """(value, ln-scale stderr) of one result entry; None when absent."""
    if entry is None:
        return None
    if isinstance(entry, (int, float)):
        return float(entry), None
    if not isinstance(entry, dict) or "value" not in entry:
        raise InputError("malformed estimate", source=source, field=key,
                         expected='{"value", "stderr", "ci95": [lo, hi]}')
    v = entry["value"]
    if v is None or not np.isfinite(v) or v <= 0:
        return None
    ci = entry.get("ci95")
    if ci and ci[0] is not None and ci[1] is not None and ci[0] > 0 and ci[1] > ci[0]:
        return float(v), float((math.log(ci[1]) - math.log(ci[0])) / (2 * _Z95))
    se = entry.get("stderr")
    if se is not None and np.isfinite(se) and se > 0:
        return float(v), float(se) / float(v)
    return float(v), None


def arrhenius_fits_from_results(
    results: list[dict], *, sigma_key: str = "sigma_S_per_cm"
) -> dict[str, ArrheniusResult]:
    """Fit sigma·T and D_tracer from diffusion results; keys "sigma" and "D" when present.

    ``sigma_key`` picks the conductivity entry (e.g. ``sigma_NE_S_per_cm`` for the
    Nernst–Einstein value from D*, when the collective one is too noisy).
    """
    fits: dict[str, ArrheniusResult] = {}
    for name, (key, quantity, times_T) in RESULT_KEYS.items():
        key = sigma_key if name == "sigma" else key
        T, y, s = [], [], []
        for i, r in enumerate(results):
            src = str(r.get("result_file", r.get("source", f"result #{i}")))
            if "temperature_K" not in r or r["temperature_K"] is None:
                raise InputError("no temperature", source=src, field="temperature_K",
                                 expected="a number in K")
            pt = _log_point(r.get(key), src, key)
            if pt is None:
                continue
            T.append(float(r["temperature_K"]))
            y.append(pt[0])
            s.append(pt[1])
        if len(T) < 2:
            continue
        log_se = None if any(v is None for v in s) else s
        fits[name] = fit_arrhenius(T, y, multiply_by_T=times_T, log_stderr=log_se,
                                   quantity=quantity)
    if not fits:
        raise InputError(
            "need results at two or more distinct temperatures with sigma_S_per_cm or "
            "D_tracer_cm2_per_s", field="temperature_K",
        )
    return fits


def summarize_arrhenius(
    fits: dict[str, ArrheniusResult],
    *,
    T_K: float = 300.0,
    quantity: str = "sigma",
    sigma_key: str = "sigma_S_per_cm",
) -> dict[str, Any]:
    """JSON-ready summary: Ea (from ``quantity``), sigma and D at ``T_K``, every fit in full."""
    if quantity not in fits:
        quantity = next(iter(fits))
    out: dict[str, Any] = {
        "Ea_eV": fits[quantity].Ea_eV.to_dict(),
        "Ea_source": sigma_key if quantity == "sigma" else RESULT_KEYS[quantity][0],
        "T_K": float(T_K),
    }
    if "sigma" in fits:
        out["sigma_at_T_S_per_cm"] = fits["sigma"].predict(T_K).to_dict()
        out["Ea_from_sigma_T_eV"] = fits["sigma"].Ea_eV.to_dict()
    if "D" in fits:
        out["D_at_T_cm2_per_s"] = fits["D"].predict(T_K).to_dict()
        out["Ea_from_D_eV"] = fits["D"].Ea_eV.to_dict()
    warn = [f"{k}: {f.curvature_warning}" for k, f in fits.items() if f.curvature_warning]
    out["curvature_warning"] = "; ".join(warn) if warn else None
    out["fits"] = {k: f.to_dict() for k, f in fits.items()}
    return out


def arrhenius_from_results(
    results: list[dict],
    *,
    T_K: float = 300.0,
    quantity: str = "sigma",
    sigma_key: str = "sigma_S_per_cm",
) -> dict[str, Any]:
    """Arrhenius fits of several `superionic diffusion` results, extrapolated to ``T_K``."""
    fits = arrhenius_fits_from_results(results, sigma_key=sigma_key)
    return summarize_arrhenius(fits, T_K=T_K, quantity=quantity, sigma_key=sigma_key)


__all__ = [
    "ArrheniusResult",
    "LinearFit",
    "arrhenius_fits_from_results",
    "arrhenius_from_results",
    "fit_arrhenius",
    "summarize_arrhenius",
    "weighted_linear_fit",
]
