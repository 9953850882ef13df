"""Haven ratio H_R = D*/D_σ with a joint interval that accounts for the D*–D_σ correlation.

Murch, Solid State Ionics 7, 177 (1982). D* and D_σ come from the same trajectory, so their
estimates are correlated; the covariance enters Var(ln H_R) = ε*² + ε_σ² − 2 Cov/(D* D_σ)
(ε = relative standard error). The interval treats H_R/Ĥ_R as an F(ν*, ν_σ) variate with
Satterthwaite degrees of freedom ν = 2/ε² (ν* reduced by the covariance term); with fewer than
``NU_MIN`` degrees of freedom on a side the interval is open there (0 or ∞).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from superionic.core.estimate import Estimate
from superionic.transport.diffusion import NU_MIN

__all__ = ["haven_ratio"]


def haven_ratio(
    d_tracer: float,
    se_tracer: float,
    d_sigma: float,
    se_sigma: float,
    cov: float = 0.0,
    method: str = "GLS joint covariance",
) -> Estimate:
    """H_R = D*/D_σ with delta-method stderr and an F/scaled-χ² 95 % interval.

    ``cov`` is Cov(D̂*, D̂_σ) in the same units squared as the diffusion coefficients.
    """
    if not (d_tracer > 0 and d_sigma > 0 and np.isfinite(se_tracer) and np.isfinite(se_sigma)):
        return Estimate(float("nan"), float("nan"), (float("nan"), float("nan")), "", method,
                        {"note": "D_sigma or D* not positive; Haven ratio undefined"})
    h = d_tracer / d_sigma
    e1 = (se_tracer / d_tracer) ** 2
    e2 = (se_sigma / d_sigma) ** 2
    c = cov / (d_tracer * d_sigma)
    var_ln = max(e1 + e2 - 2.0 * c, 1e-300)
    corr = c / math.sqrt(e1 * e2) if e1 > 0 and e2 > 0 else 0.0
    e1_eff = e1 - 2.0 * c
    extra: dict[str, Any] = {"corr_Dtracer_Dsigma": corr}
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        if e1_eff > 1e-12 and e2 > 1e-300:
            nu1, nu2 = 2.0 / e1_eff, 2.0 / e2
            lo, hi = h / stats.f.ppf(0.975, nu1, nu2), h / stats.f.ppf(0.025, nu1, nu2)
        else:
            nu1 = nu2 = 2.0 / var_ln
            lo, hi = h * stats.chi2.ppf(0.025, nu1) / nu1, h * stats.chi2.ppf(0.975, nu1) / nu1
    # fewer than NU_MIN degrees of freedom: the ratio is not bounded on that side
    notes = []
    if 2.0 / max(e2, 1e-300) < NU_MIN:
        lo = 0.0
        notes.append("D_sigma has no finite upper bound, so H_R has no lower bound above 0")
    if 2.0 / max(e1, 1e-300) < NU_MIN:
        hi = math.inf
        notes.append("D* has no finite upper bound, so H_R has no finite upper bound")
    if notes:
        extra["note"] = "undetermined: " + "; ".join(notes)  # ν = 2/ε² of D* or D_σ
    ci = (float(lo) if np.isfinite(lo) else 0.0, float(hi) if np.isfinite(hi) else math.inf)
    return Estimate(h, h * math.sqrt(var_ln), ci, "", method, extra)
