"""QENS linewidths Γ(Q): jump-diffusion models, weighted fits and model comparison.

Γ is the half width at half maximum (HWHM, meV) of the quasi-elastic Lorentzian, Q in 1/Å.
Models (ħ in meV·ps, τ the residence time in ps, l the jump length in Å):

* Chudley–Elliott, Proc. Phys. Soc. 77, 353 (1961): Γ = (ħ/τ)[1 − sin(Ql)/(Ql)]
* Singwi–Sjölander, Phys. Rev. 119, 863 (1960): Γ = ħDQ²/(1 + DQ²τ)
* Hall–Ross, Mol. Phys. 42, 673 (1981): Γ = (ħ/τ)[1 − exp(−Q²⟨l²⟩/6)]
* Fickian (continuous diffusion): Γ = ħDQ²

All jump models reduce to ħDQ² with D = l²/(6τ) at small Q; Singwi–Sjölander is written here
with ⟨l²⟩ = 6Dτ, so every jump model is (ħ/τ)·g(Ql) and reports l, τ and D = l²/(6τ).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from superionic.core.errors import InputError
from superionic.core.estimate import Estimate
from superionic.core.units import HBAR_MEV_PS
from superionic.experiment._columns import read_columns, require_positive
from superionic.experiment._fitting import (
    LeastSquaresFit,
    akaike_weights,
    fit_curve,
    log_normal_estimate,
)

#: 1 Å²/ps in cm²/s.
A2_PER_PS_TO_CM2_PER_S: float = 1e-4

MODELS: tuple[str, ...] = ("chudley-elliott", "singwi-sjolander", "hall-ross", "fickian")


# --------------------------------------------------------------------------------------------
# models


def chudley_elliott_hwhm_meV(Q_per_A: np.ndarray, l_A: float, tau_ps: float) -> np.ndarray:
    """Γ = (ħ/τ)[1 − sin(Ql)/(Ql)] (Chudley & Elliott 1961)."""
    q = np.asarray(Q_per_A, dtype=float)
    return HBAR_MEV_PS / tau_ps * (1.0 - np.sinc(q * l_A / math.pi))


def singwi_sjolander_hwhm_meV(
    Q_per_A: np.ndarray, D_A2_per_ps: float, tau_ps: float
) -> np.ndarray:
    """Γ = ħDQ²/(1 + DQ²τ) (Singwi & Sjölander 1960)."""
    dq2 = D_A2_per_ps * np.asarray(Q_per_A, dtype=float) ** 2
    return HBAR_MEV_PS * dq2 / (1.0 + dq2 * tau_ps)


def hall_ross_hwhm_meV(Q_per_A: np.ndarray, l_rms_A: float, tau_ps: float) -> np.ndarray:
    """Γ = (ħ/τ)[1 − exp(−Q²⟨l²⟩/6)] with a Gaussian jump-length distribution (Hall & Ross)."""
    q = np.asarray(Q_per_A, dtype=float)
    return HBAR_MEV_PS / tau_ps * -np.expm1(-(q**2) * l_rms_A**2 / 6.0)


def fickian_hwhm_meV(Q_per_A: np.ndarray, D_A2_per_ps: float) -> np.ndarray:
    """Γ = ħDQ² (Fick's law)."""
    return HBAR_MEV_PS * D_A2_per_ps * np.asarray(Q_per_A, dtype=float) ** 2


# shape functions g(x = Q·l) of the jump models, Γ = (ħ/τ)·g
_SHAPES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "chudley-elliott": lambda x: 1.0 - np.sinc(x / math.pi),
    "singwi-sjolander": lambda x: (x**2 / 6.0) / (1.0 + x**2 / 6.0),
    "hall-ross": lambda x: -np.expm1(-(x**2) / 6.0),
}


def linewidth_model(model: str, Q_per_A: np.ndarray, **params: float) -> np.ndarray:
    """Γ(Q) in meV of a named model with parameters ``l_A`` and ``tau_ps`` (``D_A2_per_ps``
    for Fickian)."""
    model = _check_model(model)
    q = np.asarray(Q_per_A, dtype=float)
    if model == "fickian":
        return fickian_hwhm_meV(q, params["D_A2_per_ps"])
    return HBAR_MEV_PS / params["tau_ps"] * _SHAPES[model](q * params["l_A"])


def _check_model(model: str) -> str:
    m = model.lower().replace("_", "-")
    if m not in MODELS:
        raise InputError(f"unknown QENS model {model!r}", field="model", expected=", ".join(MODELS))
    return m


# --------------------------------------------------------------------------------------------
# data


@dataclass(frozen=True)
class LinewidthData:
    """Quasi-elastic HWHM Γ(Q) (meV) versus Q (1/Å), with optional standard errors."""

    Q_per_A: np.ndarray
    Gamma_meV: np.ndarray
    Gamma_err_meV: np.ndarray | None = None
    source: str = ""
    label: str = ""

    def __post_init__(self) -> None:
        q = np.asarray(self.Q_per_A, dtype=float)
        g = np.asarray(self.Gamma_meV, dtype=float)
        object.__setattr__(self, "Q_per_A", q)
        object.__setattr__(self, "Gamma_meV", g)
        if q.shape != g.shape or q.ndim != 1:
            raise InputError("Q and Γ arrays differ in shape", expected="two 1-D arrays")
        if self.Gamma_err_meV is not None:
            e = np.asarray(self.Gamma_err_meV, dtype=float)
            if e.shape != q.shape:
                raise InputError("Γ errors differ in shape from Γ", field="Gamma_err_meV")
            if np.any(~np.isfinite(e)) or np.any(e <= 0):
                raise InputError(
                    "Γ errors must be finite and positive", field="Gamma_err_meV"
                )
            object.__setattr__(self, "Gamma_err_meV", e)
        if np.any(~np.isfinite(q)) or np.any(~np.isfinite(g)):
            raise InputError("Q or Γ is not finite", expected="finite numbers")


def read_linewidths(path: str | Path) -> LinewidthData:
    """Read Q (1/Å), HWHM Γ (meV) and an optional third column of Γ errors (meV)."""
    table = read_columns(
        path, ("Q_per_A", "Gamma_meV", "Gamma_err_meV"), min_columns=2, what="Γ(Q) file"
    )
    if any(re.match(r"\s*Q\s*[=:]", text) for _, text in table.comments):
        raise InputError(
            "holds '# Q = ...' blocks, i.e. spectra S(Q, ω), not linewidths Γ(Q)",
            source=table.source,
            expected="Q, Γ[, error] rows, or read it with read_spectra (CLI: --spectra)",
        )
    require_positive(table, "Q_per_A")
    err = None
    if table.data.shape[1] == 3:
        require_positive(table, "Gamma_err_meV")
        err = table.column("Gamma_err_meV")
    return LinewidthData(table.column("Q_per_A"), table.column("Gamma_meV"), err, table.source)


def write_linewidths(data: LinewidthData, path: str | Path) -> Path:
    """Write Γ(Q) as the three-column text file that :func:`read_linewidths` reads."""
    p = Path(path)
    err = data.Gamma_err_meV
    cols = [data.Q_per_A, data.Gamma_meV] + ([err] if err is not None else [])
    header = "Q_per_A Gamma_meV" + (" Gamma_err_meV" if err is not None else "")
    label = f"{data.label}: " if data.label else ""
    np.savetxt(p, np.column_stack(cols), header=f"{label}QENS HWHM (meV) vs Q (1/Å)\n{header}")
    return p


# --------------------------------------------------------------------------------------------
# fits


@dataclass(frozen=True)
class LinewidthFit:
    """Fit of one model to Γ(Q): jump length, residence time and diffusion coefficient."""

    model: str
    l_A: Estimate  # NaN for Fickian
    tau_ps: Estimate  # NaN for Fickian
    D_cm2_per_s: Estimate
    fit: LeastSquaresFit
    akaike_weight: float = float("nan")
    data: LinewidthData | None = field(default=None, repr=False)

    def predict(self, Q_per_A: np.ndarray) -> np.ndarray:
        """Γ(Q) in meV of the fitted model."""
        if self.model == "fickian":
            return fickian_hwhm_meV(Q_per_A, self.D_cm2_per_s.value / A2_PER_PS_TO_CM2_PER_S)
        return linewidth_model(
            self.model, Q_per_A, l_A=self.l_A.value, tau_ps=self.tau_ps.value
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "l_A": self.l_A,
            "tau_ps": self.tau_ps,
            "D_cm2_per_s": self.D_cm2_per_s,
            "akaike_weight": self.akaike_weight,
            **self.fit.stats(),
        }


_NAN = Estimate(float("nan"), float("nan"))


def _profile_start(shape, q, g, w) -> tuple[float, float]:
    """Grid over ln l with the linear amplitude ħ/τ solved exactly: global start for the fit."""
    qmax, qmin = float(q.max()), float(q.min())
    ls = np.geomspace(0.05 / qmax, 50.0 / qmin, 400)
    best = (math.inf, 1.0, 1.0)
    for l in ls:
        s = shape(q * l) * w
        ss = float(s @ s)
        if ss <= 0:
            continue
        amp = float(s @ (g * w)) / ss
        if amp <= 0:
            continue
        r = g * w - amp * s
        c = float(r @ r)
        if c < best[0]:
            best = (c, l, HBAR_MEV_PS / amp)
    return best[1], best[2]


def fit_linewidths(data: LinewidthData, model: str = "chudley-elliott") -> LinewidthFit:
    """Weighted least-squares fit of one model to Γ(Q) (absolute errors when given).

    Parameters are fitted as logarithms (positivity); l, τ and D = l²/(6τ) carry their
    covariance-propagated errors and log-normal intervals.
    """
    model = _check_model(model)
    q, g, err = data.Q_per_A, data.Gamma_meV, data.Gamma_err_meV
    w = np.ones_like(g) if err is None else 1.0 / err
    method = f"{model} weighted least squares" if err is not None else f"{model} least squares"
    if model == "fickian":
        d0 = float((q**2 * w**2) @ g / ((q**2 * w) @ (q**2 * w))) / HBAR_MEV_PS
        fit = fit_curve(
            lambda x, ln_d: fickian_hwhm_meV(x, math.exp(ln_d)),
            q,
            g,
            (math.log(max(d0, 1e-12)),),
            ("ln_D",),
            sigma=err,
            what="Fickian Γ(Q)",
        )
        ln_d = fit.value("ln_D") + math.log(A2_PER_PS_TO_CM2_PER_S)
        d = log_normal_estimate(ln_d, fit.stderr("ln_D"), unit="cm2/s", method=method)
        return LinewidthFit(model, _NAN, _NAN, d, fit, data=data)
    shape = _SHAPES[model]
    l0, tau0 = _profile_start(shape, q, g, w)
    f = lambda x, ln_l, ln_tau: HBAR_MEV_PS / math.exp(ln_tau) * shape(x * math.exp(ln_l))
    fit = fit_curve(
        f, q, g, (math.log(l0), math.log(tau0)), ("ln_l", "ln_tau"), sigma=err,
        what=f"{model} Γ(Q)",
    )
    l_est = fit.log_estimate("ln_l", "Å", method)
    tau_est = fit.log_estimate("ln_tau", "ps", method)
    # ln D = 2 ln l − ln τ − ln 6 (+ Å²/ps → cm²/s)
    ln_d = 2 * fit.value("ln_l") - fit.value("ln_tau") + math.log(A2_PER_PS_TO_CM2_PER_S / 6.0)
    d = log_normal_estimate(
        ln_d, fit.propagate([2.0, -1.0]), unit="cm2/s", method=f"{method}; D = l²/(6τ)"
    )
    return LinewidthFit(model, l_est, tau_est, d, fit, data=data)


@dataclass(frozen=True)
class ModelComparison:
    """Fits of several models to one Γ(Q) set, ranked by AIC (lowest first)."""

    fits: tuple[LinewidthFit, ...]
    criterion: str = "aic"

    @property
    def best(self) -> LinewidthFit:
        return self.fits[0]

    def __getitem__(self, model: str) -> LinewidthFit:
        m = _check_model(model)
        for f in self.fits:
            if f.model == m:
                return f
        raise KeyError(model)

    def to_dict(self) -> dict[str, Any]:
        return {
            "criterion": self.criterion,
            "best": self.best.model,
            "models": {f.model: f.to_dict() for f in self.fits},
        }


def compare_models(
    data: LinewidthData, models: Sequence[str] = MODELS, criterion: str = "aic"
) -> ModelComparison:
    """Fit every model and rank by AIC, AICc or BIC; Akaike weights from AIC.

    A model whose fit fails to converge is left out; an error is raised if all fail.
    """
    from superionic.core.errors import ConvergenceError

    if criterion not in ("aic", "aicc", "bic"):
        raise InputError(f"unknown criterion {criterion!r}", expected="aic, aicc or bic")
    fits: list[LinewidthFit] = []
    failures: list[str] = []
    for m in models:
        try:
            fits.append(fit_linewidths(data, m))
        except ConvergenceError as exc:
            failures.append(f"{m}: {exc}")
    if not fits:
        raise ConvergenceError("no Γ(Q) model converged: " + "; ".join(failures))
    weights = akaike_weights([f.fit.aic for f in fits])
    fits = [
        LinewidthFit(f.model, f.l_A, f.tau_ps, f.D_cm2_per_s, f.fit, float(wt), f.data)
        for f, wt in zip(fits, weights, strict=True)
    ]
    fits.sort(key=lambda f: getattr(f.fit, criterion))
    return ModelComparison(tuple(fits), criterion)
