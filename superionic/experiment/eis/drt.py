"""Distribution of relaxation times (DRT) by Tikhonov-regularised non-negative least squares.

Z(w) = R_inf + j w L + 1/(j w C_s) + integral gamma(ln tau) / (1 + j w tau) d ln tau,
discretised on a log-spaced tau grid (Saccoccio et al., Electrochim. Acta 147, 470 (2014);
Wan et al., Electrochim. Acta 184, 483 (2015)). The regularisation parameter is chosen by
generalised cross-validation (Golub, Heath & Wahba, Technometrics 21, 215 (1979)) evaluated on
the linear ridge problem. Peaks of gamma give the number of arcs, their resistances (areas) and
time constants (positions), the starting point of every circuit fit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import nnls
from scipy.signal import find_peaks

from superionic.core.threads import single_blas_thread
from superionic.experiment.eis.spectrum import Spectrum


@dataclass(frozen=True)
class DRTPeak:
    """One relaxation: resistance (peak area, ohm), time constant (peak position, s), the
    capacitance C = tau/R (F) and the peak's width in ln(tau)."""

    R_ohm: float
    tau_s: float
    C_F: float
    width_ln_tau: float
    in_range: bool


@dataclass
class DRTResult:
    """Regularised DRT: grid, gamma (ohm per unit ln tau), series terms, peaks, and the
    low-frequency tail (electrode behaviour). ``candidates`` adds the peaks resolved at a
    hundred times weaker regularisation (possible overlapping arcs)."""

    tau_s: np.ndarray
    gamma_ohm: np.ndarray
    R_inf_ohm: float
    L_H: float
    C_series_F: float
    lam: float
    peaks: list[DRTPeak]
    Z_fit: np.ndarray
    tail_alpha: float | None = None
    tail_Q: float | None = None
    tail_rising: bool = False
    gcv: dict = field(default_factory=dict)
    candidates: list[DRTPeak] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "tau_s": self.tau_s, "gamma_ohm": self.gamma_ohm, "R_inf_ohm": self.R_inf_ohm,
            "L_H": self.L_H, "C_series_F": self.C_series_F, "lambda": self.lam,
            "peaks": [p.__dict__ for p in self.peaks], "tail_alpha": self.tail_alpha,
            "tail_Q": self.tail_Q, "tail_rising": self.tail_rising,
        }


def _design(omega: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """Complex design matrix: columns R_inf, L, 1/C_s, gamma_k on the tau grid (trapezoid)."""
    lt = np.log(tau)
    d = np.gradient(lt)
    kernel = 1.0 / (1.0 + 1j * omega[:, None] * tau[None, :]) * d[None, :]
    return np.column_stack([np.ones_like(omega), 1j * omega, 1.0 / (1j * omega), kernel])


def _second_difference(m: int, offset: int) -> np.ndarray:
    D = np.zeros((m - 2, m + offset))
    for i in range(m - 2):
        D[i, offset + i: offset + i + 3] = (1.0, -2.0, 1.0)
    return D


def low_frequency_tail(f_Hz: np.ndarray, Z: np.ndarray, n: int = 5) -> tuple[float, float, bool]:
    """CPE-like tail at the lowest frequencies: alpha from the slope of log|Z''| vs log omega,
    Q from Z'' = -sin(alpha pi/2) / (Q omega^alpha); 'rising' when the tail is a steep spike."""
    order = np.argsort(f_Hz)
    w = 2 * np.pi * f_Hz[order][:n]
    zi = -Z[order][:n].imag
    ok = zi > 0
    if ok.sum() < 3:
        return 0.9, 1e-6, False
    slope = np.polyfit(np.log(w[ok]), np.log(zi[ok]), 1)[0]
    alpha = float(np.clip(-slope, 0.3, 1.0))
    Q = float(np.median(np.sin(alpha * np.pi / 2) / (zi[ok] * w[ok] ** alpha)))
    zr = Z[order][:n].real
    phase_deg = np.degrees(np.arctan2(zi[0], zr[0]))
    rising = bool(-slope > 0.45 and phase_deg > 35.0)
    return alpha, Q, rising


@single_blas_thread
def compute_drt(spectrum: Spectrum, *, points_per_decade: int = 10, extend_decades: float = 1.0,
                lam: float | None = None, series_capacitance: bool = True,
                min_peak_fraction: float = 0.01) -> DRTResult:
    """Regularised DRT of a spectrum (modulus-weighted), lambda by GCV unless given.

    Peaks holding less than ``min_peak_fraction`` of the total polarisation resistance are
    dropped. Peaks whose tau lies outside the measured window 1/(2 pi f) are marked
    ``in_range=False`` (partially observed arcs, electrode tails)."""
    f, Z = spectrum.f_Hz, spectrum.Z
    w = 2 * np.pi * f
    tmin = 1.0 / w.max() / 10**extend_decades
    tmax = 1.0 / w.min() * 10**extend_decades
    m = int(np.ceil(np.log10(tmax / tmin) * points_per_decade)) + 1
    tau = np.logspace(np.log10(tmin), np.log10(tmax), m)
    alpha_t, Q_t, rising = low_frequency_tail(f, Z)
    Ac = _design(w, tau)
    if rising:
        # blocking-electrode spike: a series CPE column with the tail's exponent
        Ac[:, 2] = (1j * w) ** (-alpha_t)
    if not series_capacitance:
        Ac[:, 2] = 0.0
    wt = 1.0 / np.abs(Z)
    A = np.vstack([Ac.real * wt[:, None], Ac.imag * wt[:, None]])
    b = np.concatenate([Z.real * wt, Z.imag * wt])
    # scale the series columns individually and the gamma columns by one common factor, so
    # that the curvature penalty acts on gamma in ohm uniformly over the grid
    cs = np.linalg.norm(A, axis=0)
    cs[cs == 0] = 1.0
    cs[3:] = np.median(cs[3:])
    As = A / cs
    D = _second_difference(m, 3) / cs[3]
    I = np.zeros((m, m + 3))
    I[:, 3:] = np.eye(m) / cs[3]
    P = D.T @ D + 1e-3 * I.T @ I
    # GCV on the ridge problem in standard form: with P = R^T R (Cholesky), B = As R^-1 and
    # its SVD, the influence-matrix trace and residual are closed-form in lambda
    Rchol = np.linalg.cholesky(P + 1e-12 * np.trace(P) / P.shape[0] * np.eye(P.shape[0])).T
    B = np.linalg.solve(Rchol.T, As.T).T
    U, sv, _ = np.linalg.svd(B, full_matrices=False)
    beta = U.T @ b
    r_perp = float(b @ b - beta @ beta)
    n = b.size
    gcv_vals: dict[float, float] = {}
    if lam is None:
        s2 = sv**2
        grid = s2.max() * np.logspace(-16, 0, 49)
        best = (np.inf, grid[0])
        for lg in grid:
            filt = lg / (s2 + lg)
            res2 = float(np.sum((filt * beta) ** 2)) + max(r_perp, 0.0)
            tr = n - float(np.sum(s2 / (s2 + lg)))
            g = n * res2 / max(tr, 1e-12) ** 2
            gcv_vals[float(lg)] = g
            if g < best[0]:
                best = (g, lg)
        lam_used = float(best[1])
    else:
        lam_used = float(lam)
    L_chol = Rchol.T
    b_aug = np.concatenate([b, np.zeros(P.shape[0])])
    def solve(lam_: float) -> np.ndarray:
        A_aug = np.vstack([As, np.sqrt(lam_) * L_chol.T])
        xs, _ = nnls(A_aug, b_aug, maxiter=50 * A_aug.shape[1])
        return xs / cs

    x = solve(lam_used)
    # weaker regularisation resolves overlapping arcs: extra candidate peaks for the fits
    weak = solve(lam_used * 1e-2)[3:]
    R_inf, L, invC = float(x[0]), float(x[1]), float(x[2])
    gamma = x[3:]
    Z_fit = Ac @ x
    peaks = _find_peaks(tau, gamma, w, min_peak_fraction)
    candidates = list(peaks)
    for pk in _find_peaks(tau, weak, w, min_peak_fraction):
        if all(abs(np.log(pk.tau_s / q.tau_s)) > 0.7 for q in candidates):
            candidates.append(pk)
    if rising and invC > 0:
        Q_t = 1.0 / invC
    return DRTResult(
        tau_s=tau, gamma_ohm=gamma, R_inf_ohm=R_inf, L_H=L,
        C_series_F=(1.0 / invC if invC > 0 and not rising else np.inf), lam=lam_used, peaks=peaks,
        Z_fit=Z_fit, tail_alpha=alpha_t, tail_Q=Q_t, tail_rising=rising, gcv=gcv_vals,
        candidates=candidates,
    )


def _find_peaks(tau: np.ndarray, gamma: np.ndarray, w: np.ndarray,
                min_fraction: float) -> list[DRTPeak]:
    lt = np.log(tau)
    d = np.gradient(lt)
    total = float(np.sum(gamma * d))
    if total <= 0:
        return []
    g = np.concatenate([[0.0], gamma, [0.0]])
    idx, _ = find_peaks(g, prominence=0.02 * g.max())
    idx = idx - 1
    if idx.size == 0:
        return []
    # split the grid at the minima between neighbouring peaks
    bounds = [0]
    for a, b in zip(idx[:-1], idx[1:], strict=True):
        bounds.append(a + int(np.argmin(gamma[a: b + 1])))
    bounds.append(gamma.size)
    lo_tau, hi_tau = 1.0 / w.max(), 1.0 / w.min()
    out = []
    for k, p in enumerate(idx):
        s = slice(bounds[k], bounds[k + 1] + (1 if k + 1 == len(idx) else 0))
        area = float(np.sum(gamma[s] * d[s]))
        if area < min_fraction * total:
            continue
        wts = gamma[s] * d[s]
        mean_lt = float(np.sum(wts * lt[s]) / area)
        width = float(np.sqrt(max(np.sum(wts * (lt[s] - mean_lt) ** 2) / area, 0.0)))
        # quadratic interpolation of the peak position in ln tau
        if 0 < p < gamma.size - 1:
            y0, y1, y2 = gamma[p - 1], gamma[p], gamma[p + 1]
            den = y0 - 2 * y1 + y2
            shift = 0.5 * (y0 - y2) / den if den != 0 else 0.0
            ltp = lt[p] + np.clip(shift, -0.5, 0.5) * (lt[1] - lt[0])
        else:
            ltp = lt[p]
        tp = float(np.exp(ltp))
        in_range = bool(lo_tau / 3.0 <= tp <= hi_tau * 3.0)
        out.append(DRTPeak(R_ohm=area, tau_s=tp, C_F=tp / area, width_ln_tau=width,
                           in_range=in_range))
    return out
