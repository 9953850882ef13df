"""Hebb–Wagner DC polarisation: current transients and steady-state I–V curves.

Transients: after a voltage step V the current relaxes from I_0 (ions and electrons) to the
electronic steady state I_ss with the chemical-diffusion series of Yokota,
J. Phys. Soc. Jpn. 16, 2213 (1961):
``I(t) = I_ss + (I_0 − I_ss)·(8/π²) Σ_k exp(−(2k+1)² t/τ)/(2k+1)²``, ``τ = L²/(π² D̃)``
(Weppner & Huggins, J. Electrochem. Soc. 124, 1569 (1977)). Then ``t_ion = 1 − I_ss/I_0`` and
``σ_e = (I_ss/V)·L/A``.

I–V curves of a reversible | electrolyte | blocking cell follow Wagner's equation
(Wagner, Proc. CITCE 7, 361 (1957); Hebb, J. Chem. Phys. 20, 185 (1952)):
``I_ss(E) = (A R T/(F L))·[σ_e0 (1 − exp(−FE/RT)) + σ_h0 (exp(FE/RT) − 1)]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from superionic.core.errors import ConvergenceError, InputError
from superionic.core.estimate import Estimate
from superionic.core.units import FARADAY_C_PER_MOL, R_J_PER_MOL_K
from superionic.experiment._columns import read_columns, require_increasing
from superionic.experiment._fitting import (
    LeastSquaresFit,
    fit_curve,
    fit_linear,
    log_normal_estimate,
)

#: Effective diffusion length squared in units of L² for each cell geometry:
#: both electrodes ion-blocking (the profile is antisymmetric about the centre, τ = L²/(π² D̃))
#: or one reversible and one blocking electrode (Dirichlet–Neumann slab, τ = 4L²/(π² D̃)).
#: The series weights are those of the symmetric cell; for the reversible–blocking cell the
#: slowest time constant is what the factor converts, so prefer the long-time model there.
GEOMETRY_FACTOR: dict[str, float] = {"symmetric": 1.0, "reversible-blocking": 4.0}

_PI2_8 = math.pi**2 / 8.0


# --------------------------------------------------------------------------------------------
# readers


@dataclass(frozen=True)
class Transient:
    """A measured current transient I(t) under a constant applied voltage."""

    t_s: np.ndarray
    current_A: np.ndarray
    source: str = ""


@dataclass(frozen=True)
class IVCurve:
    """Steady-state currents I_ss at polarisation voltages E (blocking vs reversible electrode)."""

    E_V: np.ndarray
    current_A: np.ndarray
    current_err_A: np.ndarray | None = None
    source: str = ""


def read_transient(path: str | Path) -> Transient:
    """Read a two-column file: time (s), current (A); time must increase strictly."""
    table = read_columns(path, ("time_s", "current_A"), what="current transient file")
    require_increasing(table, "time_s")
    return Transient(table.column("time_s"), table.column("current_A"), table.source)


def read_iv_curve(path: str | Path) -> IVCurve:
    """Read E (V), I (A) and an optional third column of current errors (A)."""
    table = read_columns(
        path, ("E_V", "current_A", "current_err_A"), min_columns=2, what="I–V curve file"
    )
    err = None
    if table.data.shape[1] == 3:
        err = table.column("current_err_A")
        bad = np.flatnonzero(err <= 0)
        if bad.size:
            raise InputError(
                f"line {int(table.line_numbers[bad[0]])}: error {err[bad[0]]:g}",
                source=table.source,
                field="current_err_A",
                expected="positive current errors",
            )
    return IVCurve(table.column("E_V"), table.column("current_A"), err, table.source)


# --------------------------------------------------------------------------------------------
# transient model


def relaxation_shape(t_over_tau: np.ndarray | float) -> np.ndarray:
    """Normalised Yokota series (8/π²) Σ_k exp(−(2k+1)² s)/(2k+1)², equal to 1 at s = 0.

    For s < 0.1 the exact short-time form 1 − (4/π^{3/2})·√s is used (Poisson summation;
    the neglected terms are O(exp(−π²/4s)) < 1e-10); otherwise 25 terms of the series.
    """
    s = np.asarray(t_over_tau, dtype=float)
    if np.any(s < 0):
        raise InputError("relaxation time argument is negative", expected="t ≥ 0")
    out = np.empty_like(s)
    small = s < 0.1
    out[small] = 1.0 - (4.0 / math.pi**1.5) * np.sqrt(s[small])
    n = (2 * np.arange(25) + 1.0)[:, None]
    out[~small] = (np.exp(-(n**2) * s[~small]) / n**2).sum(axis=0) / _PI2_8
    return out


def transient_current(
    t_s: np.ndarray, I_ss: float, I_0: float, tau_s: float
) -> np.ndarray:
    """Yokota current relaxation I(t) = I_ss + (I_0 − I_ss)·relaxation_shape(t/τ)."""
    return I_ss + (I_0 - I_ss) * relaxation_shape(np.asarray(t_s, dtype=float) / tau_s)


def chemical_diffusion_cm2_per_s(
    tau_s: float, thickness_cm: float, geometry: str = "symmetric"
) -> float:
    """D̃ = g·L²/(π² τ) with g from :data:`GEOMETRY_FACTOR` (Yokota 1961)."""
    return _geometry(geometry) * thickness_cm**2 / (math.pi**2 * tau_s)


def _geometry(geometry: str) -> float:
    try:
        return GEOMETRY_FACTOR[geometry]
    except KeyError:
        raise InputError(
            f"unknown cell geometry {geometry!r}",
            field="geometry",
            expected=" or ".join(GEOMETRY_FACTOR),
        ) from None


@dataclass(frozen=True)
class TransientResult:
    """Hebb–Wagner transient analysis; every number an :class:`Estimate`."""

    voltage_V: float
    I_0_A: Estimate  # initial current used for t_ion
    I_0_fit_A: Estimate  # I_0' extrapolated from the fit to t = 0
    I_ss_A: Estimate
    tau_s: Estimate
    t_ion: Estimate
    t_e: Estimate
    sigma_e_S_per_cm: Estimate | None
    sigma_ion_S_per_cm: Estimate | None
    D_chem_cm2_per_s: Estimate | None
    i0_source: str
    model: str
    geometry: str
    fit: LeastSquaresFit
    t_s: np.ndarray = field(repr=False)
    current_A: np.ndarray = field(repr=False)
    fit_mask: np.ndarray = field(repr=False)

    def fitted_current(self, t_s: np.ndarray | None = None) -> np.ndarray:
        """The fitted model at ``t_s`` (default: the measured times)."""
        t = self.t_s if t_s is None else np.asarray(t_s, dtype=float)
        if self.model == "long-time":
            amp = (self.I_0_fit_A.value - self.I_ss_A.value) / _PI2_8
            return self.I_ss_A.value + amp * np.exp(-t / self.tau_s.value)
        return transient_current(t, self.I_ss_A.value, self.I_0_fit_A.value, self.tau_s.value)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "voltage_V": self.voltage_V,
            "t_ion": self.t_ion,
            "t_e": self.t_e,
            "sigma_e_S_per_cm": self.sigma_e_S_per_cm,
            "sigma_ion_S_per_cm": self.sigma_ion_S_per_cm,
            "I_0_A": self.I_0_A,
            "I_0_fit_A": self.I_0_fit_A,
            "I_ss_A": self.I_ss_A,
            "tau_s": self.tau_s,
            "D_chem_cm2_per_s": self.D_chem_cm2_per_s,
            "i0_source": self.i0_source,
            "model": self.model,
            "geometry": self.geometry,
            "fit": self.fit.stats(),
        }
        return {k: v for k, v in out.items() if v is not None}


def _initial_guess(t: np.ndarray, i: np.ndarray) -> tuple[float, float, float]:
    n_tail = max(3, t.size // 20)
    i_ss = float(np.median(i[-n_tail:]))
    i_0 = float(i[0])
    amp = i_0 - i_ss
    if amp == 0:
        return i_ss, i_0, float(t[-1] - t[0]) / 5 or 1.0
    frac = (i - i_ss) / amp
    below = np.flatnonzero(frac < 0.25)
    t25 = float(t[below[0]]) if below.size else float(t[-1])
    return i_ss, i_0, max(t25 / 1.2, float(t[1] - t[0]))


def fit_transient(
    t_s: np.ndarray,
    current_A: np.ndarray,
    *,
    model: Literal["series", "long-time"] = "series",
    t_min_s: float = 0.0,
    t_max_s: float | None = None,
) -> LeastSquaresFit:
    """Fit the Yokota series (or its long-time exponential) to I(t).

    Parameters of the returned fit: ``I_ss``, ``I_0`` (the extrapolated I_0') and ``ln_tau``
    (τ in the units of ``t_s``). The residual variance scales the covariance.
    """
    t = np.asarray(t_s, dtype=float)
    y = np.asarray(current_A, dtype=float)
    mask = (t >= t_min_s) & (t <= (np.inf if t_max_s is None else t_max_s))
    if mask.sum() < 5:
        raise InputError(
            f"only {int(mask.sum())} points in the fit window",
            field="time_s",
            expected="at least 5 points between t_min and t_max",
        )
    t, y = t[mask], y[mask]
    i_ss0, i_00, tau0 = _initial_guess(t, y)
    names = ("I_ss", "I_0", "ln_tau")
    if model == "series":
        f = lambda x, a, b, ln_tau: transient_current(x, a, b, math.exp(ln_tau))
    elif model == "long-time":
        f = lambda x, a, b, ln_tau: a + (b - a) / _PI2_8 * np.exp(-x / math.exp(ln_tau))
    else:
        raise InputError(f"unknown transient model {model!r}", expected="series or long-time")
    best: LeastSquaresFit | None = None
    for factor in (0.3, 1.0, 3.0):
        try:
            res = fit_curve(
                f, t, y, (i_ss0, i_00, math.log(tau0 * factor)), names, what="current transient"
            )
        except ConvergenceError:  # try the next start
            continue
        if best is None or res.chi2 < best.chi2:
            best = res
    if best is None:
        return fit_curve(f, t, y, (i_ss0, i_00, math.log(tau0)), names, what="current transient")
    return best


def analyse_transient(
    t_s: np.ndarray,
    current_A: np.ndarray,
    voltage_V: float,
    *,
    thickness_cm: float | None = None,
    area_cm2: float | None = None,
    r_total_ohm: float | None = None,
    r_total_stderr_ohm: float = 0.0,
    model: Literal["series", "long-time"] = "series",
    t_min_s: float = 0.0,
    t_max_s: float | None = None,
    geometry: str = "symmetric",
    initial_current: Literal["fit", "first-point"] = "fit",
) -> TransientResult:
    """Hebb–Wagner transient: I_0, I_ss, τ, t_ion = 1 − I_ss/I_0, σ_e = (I_ss/V)·L/A, D̃.

    I_0 is V/R_total when the total (ionic + electronic) resistance from impedance is given,
    because the instrument misses the true initial current; otherwise the fitted I_0'
    extrapolated to t = 0 (``initial_current="fit"``) or the first measured point in the
    fit window (``"first-point"``, error = residual standard deviation).
    """
    if voltage_V == 0 or not math.isfinite(voltage_V):
        raise InputError("applied voltage must be finite and non-zero", field="voltage_V")
    g = _geometry(geometry)
    t = np.asarray(t_s, dtype=float)
    cur = np.asarray(current_A, dtype=float)
    if t.shape != cur.shape or t.ndim != 1:
        raise InputError("time and current arrays differ in shape", expected="two 1-D arrays")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(cur)) and np.all(np.diff(t) > 0)):
        raise InputError(
            "times must increase strictly and all values be finite", field="time_s/current_A"
        )
    fit = fit_transient(t, cur, model=model, t_min_s=t_min_s, t_max_s=t_max_s)
    mask = (t >= t_min_s) & (t <= (np.inf if t_max_s is None else t_max_s))
    method = f"Yokota {model} fit"
    i_ss = fit.estimate("I_ss", "A", method)
    i0_fit = fit.estimate("I_0", "A", method)
    tau = fit.log_estimate("ln_tau", "s", method)
    a, b = fit.value("I_ss"), fit.value("I_0")
    if initial_current not in ("fit", "first-point"):
        raise InputError(
            f"unknown initial current {initial_current!r}", expected="fit or first-point"
        )
    if r_total_ohm is not None or initial_current == "first-point":
        if r_total_ohm is not None:
            if r_total_ohm <= 0:
                raise InputError("R_total must be positive", field="r_total_ohm")
            b = voltage_V / r_total_ohm
            rel = r_total_stderr_ohm / r_total_ohm
            i0 = Estimate(b, abs(b) * rel, unit="A", method="V / R_total (impedance)")
            source = "r_total"
        else:
            b = float(cur[mask][0])
            noise = math.sqrt(fit.chi2 / fit.dof)
            rel = noise / abs(b)
            i0 = Estimate(b, noise, unit="A", method="first measured point")
            source = "first-point"
        # I_0 independent of the fit: relative errors add in quadrature
        te_val = a / b
        te_err = abs(te_val) * math.hypot(i_ss.stderr / a if a else 0.0, rel)
        if a == 0:
            te_err = i_ss.stderr / abs(b)
    else:
        i0 = i0_fit
        te_val = a / b
        # gradient of I_ss/I_0 with respect to (I_ss, I_0, ln_tau)
        te_err = fit.propagate([1.0 / b, -a / b**2, 0.0])
        source = "fit"
    t_e = Estimate(te_val, te_err, method=f"I_ss/I_0 ({source})")
    t_ion = Estimate(1.0 - te_val, te_err, method=f"1 - I_ss/I_0 ({source})")
    sigma_e = sigma_ion = None
    if thickness_cm is not None and area_cm2 is not None:
        if thickness_cm <= 0 or area_cm2 <= 0:
            raise InputError("thickness and area must be positive", field="thickness_cm/area_cm2")
        k = thickness_cm / (area_cm2 * voltage_V)
        sigma_e = Estimate(a * k, abs(i_ss.stderr * k), unit="S/cm", method="(I_ss/V)·L/A")
        # σ_ion = (I_0 − I_ss)/V · L/A
        if source == "fit":
            s_err = fit.propagate([-k, k, 0.0])
        else:
            s_err = math.hypot(i0.stderr * k, i_ss.stderr * k)
        sigma_ion = Estimate((b - a) * k, abs(s_err), unit="S/cm", method="((I_0 - I_ss)/V)·L/A")
    d_chem = None
    if thickness_cm is not None:
        ln_d = math.log(g * thickness_cm**2 / math.pi**2) - fit.value("ln_tau")
        d_chem = log_normal_estimate(
            ln_d,
            fit.stderr("ln_tau"),
            unit="cm2/s",
            method=f"D = {g:g}·L²/(π² τ), {geometry} cell (Yokota 1961)",
        )
    return TransientResult(
        voltage_V=float(voltage_V),
        I_0_A=i0,
        I_0_fit_A=i0_fit,
        I_ss_A=i_ss,
        tau_s=tau,
        t_ion=t_ion,
        t_e=t_e,
        sigma_e_S_per_cm=sigma_e,
        sigma_ion_S_per_cm=sigma_ion,
        D_chem_cm2_per_s=d_chem,
        i0_source=source,
        model=model,
        geometry=geometry,
        fit=fit,
        t_s=t,
        current_A=cur,
        fit_mask=mask,
    )


# --------------------------------------------------------------------------------------------
# steady-state I–V (Wagner equation)


def _fe_rt(E_V: np.ndarray | float, temperature_K: float) -> np.ndarray:
    return FARADAY_C_PER_MOL * np.asarray(E_V, dtype=float) / (R_J_PER_MOL_K * temperature_K)


def wagner_current(
    E_V: np.ndarray,
    sigma_e0_S_per_cm: float,
    sigma_h0_S_per_cm: float,
    *,
    thickness_cm: float,
    area_cm2: float,
    temperature_K: float = 298.15,
) -> np.ndarray:
    """Wagner's steady-state current (A): (ART/FL)[σ_e0(1 − e^{−FE/RT}) + σ_h0(e^{FE/RT} − 1)]."""
    x = _fe_rt(E_V, temperature_K)
    pre = area_cm2 * R_J_PER_MOL_K * temperature_K / (FARADAY_C_PER_MOL * thickness_cm)
    return pre * (sigma_e0_S_per_cm * -np.expm1(-x) + sigma_h0_S_per_cm * np.expm1(x))


def lithium_activity(E_V: np.ndarray | float, temperature_K: float = 298.15) -> np.ndarray:
    """Li activity at the blocking electrode relative to Li metal: a_Li = exp(−FE/RT)."""
    return np.exp(-_fe_rt(E_V, temperature_K))


def local_electronic_conductivity(
    E_V: np.ndarray | float,
    sigma_e0_S_per_cm: float,
    sigma_h0_S_per_cm: float,
    temperature_K: float = 298.15,
) -> tuple[np.ndarray, np.ndarray]:
    """Electron and hole conductivities at polarisation E: σ_e0·e^{−FE/RT}, σ_h0·e^{FE/RT}."""
    x = _fe_rt(E_V, temperature_K)
    return sigma_e0_S_per_cm * np.exp(-x), sigma_h0_S_per_cm * np.exp(x)


@dataclass(frozen=True)
class IVResult:
    """Wagner fit of a Hebb–Wagner I–V curve with local electronic conductivities."""

    sigma_e0_S_per_cm: Estimate
    sigma_h0_S_per_cm: Estimate
    temperature_K: float
    thickness_cm: float
    area_cm2: float
    fit: LeastSquaresFit
    E_V: np.ndarray = field(repr=False)
    current_A: np.ndarray = field(repr=False)
    current_err_A: np.ndarray | None = field(repr=False, default=None)

    def fitted_current(self, E_V: np.ndarray | None = None) -> np.ndarray:
        E = self.E_V if E_V is None else np.asarray(E_V, dtype=float)
        return wagner_current(
            E,
            self.sigma_e0_S_per_cm.value,
            self.sigma_h0_S_per_cm.value,
            thickness_cm=self.thickness_cm,
            area_cm2=self.area_cm2,
            temperature_K=self.temperature_K,
        )

    def curves(self, E_V: np.ndarray | None = None, n: int = 101) -> dict[str, np.ndarray]:
        """σ_e, σ_h and their sum versus E and a_Li, with standard errors (delta method)."""
        if E_V is None:
            E_V = np.linspace(float(np.min(self.E_V)), float(np.max(self.E_V)), n)
        E = np.asarray(E_V, dtype=float)
        x = _fe_rt(E, self.temperature_K)
        ee, eh = np.exp(-x), np.exp(x)
        i_e = self.fit.names.index("sigma_e0")
        i_h = self.fit.names.index("sigma_h0")
        c = self.fit.pcov
        s_e = self.sigma_e0_S_per_cm.value * ee
        s_h = self.sigma_h0_S_per_cm.value * eh
        var_tot = ee**2 * c[i_e, i_e] + eh**2 * c[i_h, i_h] + 2 * ee * eh * c[i_e, i_h]
        return {
            "E_V": E,
            "a_Li": ee,
            "sigma_e_S_per_cm": s_e,
            "sigma_e_stderr_S_per_cm": ee * math.sqrt(max(c[i_e, i_e], 0.0)),
            "sigma_h_S_per_cm": s_h,
            "sigma_h_stderr_S_per_cm": eh * math.sqrt(max(c[i_h, i_h], 0.0)),
            "sigma_eon_S_per_cm": s_e + s_h,
            "sigma_eon_stderr_S_per_cm": np.sqrt(np.maximum(var_tot, 0.0)),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "sigma_e0_S_per_cm": self.sigma_e0_S_per_cm,
            "sigma_h0_S_per_cm": self.sigma_h0_S_per_cm,
            "temperature_K": self.temperature_K,
            "thickness_cm": self.thickness_cm,
            "area_cm2": self.area_cm2,
            "fit": self.fit.stats(),
            "curves": self.curves(),
        }


def fit_wagner_iv(
    E_V: np.ndarray,
    current_A: np.ndarray,
    *,
    thickness_cm: float,
    area_cm2: float,
    temperature_K: float = 298.15,
    current_err_A: np.ndarray | None = None,
) -> IVResult:
    """Fit σ_e0 and σ_h0 of Wagner's equation by (weighted) linear least squares.

    σ_e0, σ_h0 are the electron and hole conductivities at Li-metal activity (E = 0).
    """
    if thickness_cm <= 0 or area_cm2 <= 0 or temperature_K <= 0:
        raise InputError(
            "thickness, area and temperature must be positive",
            field="thickness_cm/area_cm2/temperature_K",
        )
    E = np.asarray(E_V, dtype=float)
    y = np.asarray(current_A, dtype=float)
    if E.shape != y.shape or E.ndim != 1:
        raise InputError("E and I arrays differ in shape", expected="two 1-D arrays")
    x = _fe_rt(E, temperature_K)
    pre = area_cm2 * R_J_PER_MOL_K * temperature_K / (FARADAY_C_PER_MOL * thickness_cm)
    design = np.column_stack([pre * -np.expm1(-x), pre * np.expm1(x)])
    sigma = None if current_err_A is None else np.asarray(current_err_A, dtype=float)
    fit = fit_linear(design, y, ("sigma_e0", "sigma_h0"), sigma=sigma, what="Wagner I–V curve")
    m = "Wagner equation, weighted linear least squares"
    return IVResult(
        sigma_e0_S_per_cm=fit.estimate("sigma_e0", "S/cm", m),
        sigma_h0_S_per_cm=fit.estimate("sigma_h0", "S/cm", m),
        temperature_K=float(temperature_K),
        thickness_cm=float(thickness_cm),
        area_cm2=float(area_cm2),
        fit=fit,
        E_V=E,
        current_A=y,
        current_err_A=sigma,
    )
