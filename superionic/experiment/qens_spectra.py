"""Fits of measured QENS spectra S(Q, ω): elastic line + Lorentzians ⊗ resolution + background.

Model (Bée, *Quasielastic Neutron Scattering*, Adam Hilger 1988, ch. 4):
``S(ω) = [A_0 δ(ω) + Σ_i A_i L(ω; Γ_i)] ⊗ R(ω) + b_0 + b_1 ω`` with the Lorentzian
``L(ω; Γ) = (1/π) Γ/(ω² + Γ²)`` (Γ = HWHM, meV) and R a unit-area resolution function:
a Gaussian of given FWHM (then L ⊗ R is a Voigt profile) or a measured curve (numerical
quadrature of the analytic Lorentzian over the resolution samples).

File format (energy transfer in meV): blocks of ``energy, S[, error]`` rows each preceded by
a comment ``# Q = 0.85`` (1/Å), or four columns ``Q, energy, S, error`` in one table.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import voigt_profile

from superionic.core.errors import ConvergenceError, InputError
from superionic.core.estimate import Estimate
from superionic.experiment._columns import read_columns, require_increasing
from superionic.experiment._fitting import LeastSquaresFit, fit_curve
from superionic.experiment.qens import LinewidthData

_FWHM_TO_SIGMA = 1.0 / (2.0 * math.sqrt(2.0 * math.log(2.0)))
_Q_COMMENT = re.compile(r"^\s*Q\s*[=:]\s*([-+0-9.eE]+)")


@dataclass(frozen=True)
class Spectrum:
    """One QENS spectrum S(ω) at momentum transfer Q (1/Å); energy transfer in meV."""

    Q_per_A: float
    energy_meV: np.ndarray
    S: np.ndarray
    S_err: np.ndarray | None = None
    source: str = ""


# --------------------------------------------------------------------------------------------
# resolution


@dataclass(frozen=True)
class Resolution:
    """Unit-area instrument resolution: Gaussian of FWHM (meV) or a measured curve."""

    fwhm_meV: float | None = None
    energy_meV: np.ndarray | None = None
    values: np.ndarray | None = None

    def __post_init__(self) -> None:
        if (self.fwhm_meV is None) == (self.values is None):
            raise InputError(
                "give either a Gaussian FWHM or a measured resolution curve",
                field="resolution",
            )
        if self.fwhm_meV is not None and not self.fwhm_meV > 0:
            raise InputError("resolution FWHM must be positive", field="fwhm_meV")
        if self.values is not None:
            e = np.asarray(self.energy_meV, dtype=float)
            r = np.clip(np.asarray(self.values, dtype=float), 0.0, None)
            if e.shape != r.shape or e.size < 3:
                raise InputError("resolution energy and values differ", field="resolution")
            area = float(np.trapezoid(r, e))
            if not area > 0:
                raise InputError("resolution curve has no positive area", field="resolution")
            object.__setattr__(self, "energy_meV", e)
            object.__setattr__(self, "values", r / area)

    @classmethod
    def gaussian(cls, fwhm_meV: float) -> Resolution:
        return cls(fwhm_meV=fwhm_meV)

    @classmethod
    def measured(cls, energy_meV: np.ndarray, values: np.ndarray) -> Resolution:
        """A measured resolution (e.g. vanadium or a low-temperature sample), renormalised."""
        return cls(energy_meV=energy_meV, values=values)

    def elastic(self, w: np.ndarray) -> np.ndarray:
        """R(ω): the resolution-broadened elastic line of unit area."""
        if self.fwhm_meV is not None:
            s = self.fwhm_meV * _FWHM_TO_SIGMA
            return np.exp(-0.5 * (w / s) ** 2) / (s * math.sqrt(2 * math.pi))
        return np.interp(w, self.energy_meV, self.values, left=0.0, right=0.0)

    def lorentzian(self, w: np.ndarray, gamma_meV: float) -> np.ndarray:
        """(L ⊗ R)(ω) for a unit-area Lorentzian of HWHM Γ."""
        if self.fwhm_meV is not None:
            return voigt_profile(w, self.fwhm_meV * _FWHM_TO_SIGMA, gamma_meV)
        e = self.energy_meV
        wt = np.gradient(e)  # quadrature weights on the (possibly uneven) resolution grid
        d = np.asarray(w, dtype=float)[:, None] - e[None, :]
        lor = gamma_meV / math.pi / (d**2 + gamma_meV**2)
        return lor @ (self.values * wt)


def read_resolution(path: str | Path) -> Resolution:
    """Read a measured resolution: energy (meV), R[, error] rows."""
    table = read_columns(path, ("energy_meV", "R", "R_err"), min_columns=2, what="resolution")
    require_increasing(table, "energy_meV")
    return Resolution.measured(table.column("energy_meV"), table.column("R"))


# --------------------------------------------------------------------------------------------
# reader


def read_spectra(path: str | Path) -> list[Spectrum]:
    """Read spectra: ``# Q = value`` blocks of (energy, S[, error]) or a Q, E, S, error table."""
    table = read_columns(
        path, ("col1", "col2", "col3", "col4"), min_columns=2, what="QENS spectra file"
    )
    src = table.source
    ncol = table.data.shape[1]
    if ncol == 4:
        q_all = table.data[:, 0]
        blocks = [(float(q), np.flatnonzero(q_all == q)) for q in dict.fromkeys(q_all.tolist())]
        cols = (1, 2, 3)
    else:
        q_lines = []
        for lineno, text in table.comments:
            m = _Q_COMMENT.match(text)
            if m:
                q_lines.append((lineno, float(m.group(1))))
        if not q_lines:
            raise InputError(
                "no '# Q = value' line found",
                source=src,
                expected="'# Q = <1/Å>' before each block, or four columns Q, E, S, error",
            )
        first = int(table.line_numbers[0])
        if first < q_lines[0][0]:
            raise InputError(
                f"line {first}: data before the first '# Q = ' line", source=src
            )
        starts = [ln for ln, _ in q_lines] + [math.inf]
        blocks = []
        for (ln, q), nxt in zip(q_lines, starts[1:], strict=True):
            idx = np.flatnonzero((table.line_numbers > ln) & (table.line_numbers < nxt))
            if idx.size:
                blocks.append((q, idx))
        cols = (0, 1, 2) if ncol == 3 else (0, 1, None)
    spectra = []
    for q, idx in blocks:
        e = table.data[idx, cols[0]]
        lines = table.line_numbers[idx]
        if not q > 0:
            raise InputError(f"line {int(lines[0])}: Q = {q:g}", source=src, expected="Q > 0")
        bad = np.flatnonzero(np.diff(e) <= 0)
        if bad.size:
            raise InputError(
                f"line {int(lines[bad[0] + 1])}: energy transfer does not increase",
                source=src,
                field="energy_meV",
                expected="increasing energy within each Q",
            )
        err = None
        if cols[2] is not None:
            err = table.data[idx, cols[2]]
            badr = np.flatnonzero(err <= 0)
            if badr.size:
                raise InputError(
                    f"line {int(lines[badr[0]])}: error {err[badr[0]]:g}",
                    source=src,
                    field="S_err",
                    expected="positive errors",
                )
        spectra.append(Spectrum(q, e, table.data[idx, cols[1]], err, src))
    return spectra


# --------------------------------------------------------------------------------------------
# model and fit


def spectrum_model(
    energy_meV: np.ndarray,
    resolution: Resolution,
    elastic: float,
    amplitudes: Sequence[float],
    gammas_meV: Sequence[float],
    background: Sequence[float] = (0.0,),
) -> np.ndarray:
    """A_0 R(ω) + Σ A_i (L_i ⊗ R)(ω) + b_0 + b_1 ω (Bée 1988)."""
    w = np.asarray(energy_meV, dtype=float)
    out = elastic * resolution.elastic(w)
    for a, g in zip(amplitudes, gammas_meV, strict=True):
        out = out + a * resolution.lorentzian(w, g)
    for p, b in enumerate(background):
        out = out + b * w**p
    return out


@dataclass(frozen=True)
class SpectrumFit:
    """Fit of one spectrum: linewidths Γ_i (HWHM, meV), intensities, EISF, background."""

    Q_per_A: float
    gammas_meV: tuple[Estimate, ...]
    amplitudes: tuple[Estimate, ...]
    elastic: Estimate
    eisf: Estimate
    background: tuple[float, ...]
    fit: LeastSquaresFit
    resolution: Resolution = field(repr=False)
    spectrum: Spectrum = field(repr=False)

    def predict(self, energy_meV: np.ndarray) -> np.ndarray:
        return spectrum_model(
            energy_meV,
            self.resolution,
            self.elastic.value,
            [a.value for a in self.amplitudes],
            [g.value for g in self.gammas_meV],
            self.background,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "Q_per_A": self.Q_per_A,
            "Gamma_meV": list(self.gammas_meV),
            "amplitudes": list(self.amplitudes),
            "elastic": self.elastic,
            "eisf": self.eisf,
            "background": list(self.background),
            "fit": self.fit.stats(),
        }


def fit_spectrum(
    spectrum: Spectrum,
    resolution: Resolution,
    *,
    n_lorentzians: int = 1,
    background: str = "flat",
    elastic: bool = True,
    energy_range_meV: tuple[float, float] | None = None,
) -> SpectrumFit:
    """Least-squares fit of one spectrum; Γ fitted as ln Γ (positive), Γ_1 < Γ_2 at the start.

    ``background``: "none", "flat" or "linear". Several starting widths are tried and the
    lowest chi² kept.
    """
    if n_lorentzians not in (1, 2):
        raise InputError("n_lorentzians must be 1 or 2", field="n_lorentzians")
    n_bg = {"none": 0, "flat": 1, "linear": 2}.get(background)
    if n_bg is None:
        raise InputError(f"unknown background {background!r}", expected="none, flat or linear")
    w, s, err = spectrum.energy_meV, spectrum.S, spectrum.S_err
    if energy_range_meV is not None:
        m = (w >= energy_range_meV[0]) & (w <= energy_range_meV[1])
        w, s = w[m], s[m]
        err = None if err is None else err[m]
    n_el = 1 if elastic else 0

    def f(x, *p):
        a0 = p[0] if n_el else 0.0
        k = n_el
        amps = p[k : k + n_lorentzians]
        gams = np.exp(p[k + n_lorentzians : k + 2 * n_lorentzians])
        return spectrum_model(x, resolution, a0, amps, gams, p[k + 2 * n_lorentzians :])

    names = (
        (["A_elastic"] if n_el else [])
        + [f"A_{i + 1}" for i in range(n_lorentzians)]
        + [f"ln_Gamma_{i + 1}" for i in range(n_lorentzians)]
        + [f"b_{i}" for i in range(n_bg)]
    )
    area = float(np.trapezoid(np.clip(s, 0, None), w)) or 1.0
    bg0 = float(np.median(np.sort(s)[: max(2, s.size // 10)]))
    span = float(w.max() - w.min())
    res_w = resolution.fwhm_meV or 0.05 * span
    lo = [0.0] * (n_el + n_lorentzians) + [-np.inf] * n_lorentzians + [-np.inf] * n_bg
    best: LeastSquaresFit | None = None
    last_exc: Exception | None = None
    for g0 in np.geomspace(0.1 * res_w, 0.5 * span, 6):
        gam0 = [g0 * 5.0**i for i in range(n_lorentzians)]
        p0 = (
            [0.3 * area] * n_el
            + [0.7 * area / n_lorentzians] * n_lorentzians
            + [math.log(g) for g in gam0]
            + ([bg0] if n_bg else [])
            + [0.0] * (n_bg - 1)
        )
        try:
            res = fit_curve(
                f, w, s, p0, names, sigma=err, bounds=(lo, np.inf),
                what=f"spectrum at Q = {spectrum.Q_per_A:g} 1/Å",
            )
        except ConvergenceError as exc:
            last_exc = exc
            continue
        if best is None or res.chi2 < best.chi2:
            best = res
    if best is None:
        raise ConvergenceError(
            f"spectrum at Q = {spectrum.Q_per_A:g} 1/Å could not be fitted: {last_exc}"
        )
    order = np.argsort([best.value(f"ln_Gamma_{i + 1}") for i in range(n_lorentzians)])
    method = "resolution-convolved Lorentzian fit"
    gammas = tuple(best.log_estimate(f"ln_Gamma_{i + 1}", "meV", method) for i in order)
    amps = tuple(best.estimate(f"A_{i + 1}", "", method) for i in order)
    if n_el:
        a0 = best.estimate("A_elastic", "", method)
        # EISF = A_0 / (A_0 + Σ A_i)
        ia = [best.names.index("A_elastic")] + [best.names.index(f"A_{i + 1}") for i in order]
        tot = a0.value + sum(a.value for a in amps)
        grad = np.zeros(best.k)
        for j in ia:
            grad[j] = -a0.value / tot**2
        grad[ia[0]] += 1.0 / tot
        eisf = Estimate(a0.value / tot, best.propagate(grad), method="A_0/(A_0 + ΣA_i)")
    else:
        a0 = Estimate(0.0, 0.0)
        eisf = Estimate(0.0, 0.0, method="no elastic line")
    bgv = tuple(best.value(f"b_{i}") for i in range(n_bg))
    return SpectrumFit(
        spectrum.Q_per_A, gammas, amps, a0, eisf, bgv, best, resolution, spectrum
    )


def fit_spectra(
    spectra: Sequence[Spectrum],
    resolution: Resolution,
    *,
    n_lorentzians: int = 1,
    background: str = "flat",
    elastic: bool = True,
    energy_range_meV: tuple[float, float] | None = None,
    component: int = 0,
) -> tuple[LinewidthData, list[SpectrumFit]]:
    """Fit every spectrum; Γ(Q) of Lorentzian ``component`` (0 = narrowest) with errors."""
    fits = [
        fit_spectrum(
            sp,
            resolution,
            n_lorentzians=n_lorentzians,
            background=background,
            elastic=elastic,
            energy_range_meV=energy_range_meV,
        )
        for sp in spectra
    ]
    q = np.array([f.Q_per_A for f in fits])
    g = np.array([f.gammas_meV[component].value for f in fits])
    e = np.array([f.gammas_meV[component].stderr for f in fits])
    if np.any(~(e > 0)):
        e = None  # a degenerate error: leave the Γ(Q) fit unweighted
    order = np.argsort(q)
    data = LinewidthData(
        q[order], g[order], None if e is None else e[order],
        source=spectra[0].source if spectra else "", label="S(Q,ω) fits",
    )
    return data, [fits[i] for i in order]
