"""Diffusion coefficients from MSD curves: covariance-aware GLS, fit window, block averages.

``MSD(t) = 2 d D t + c`` is fitted by generalised least squares with the analytic
random-walk covariance of the multi-origin MSD (:mod:`superionic.transport.covariance`; the
approach of McCluskey, Coles & Morgan, J. Chem. Theory Comput. 21, 79 (2025), in closed form
instead of MCMC), plus the covariance of bounded motion (rattling about sites, localisation
noise; Michalet, Phys. Rev. E 82, 041914 (2010); Bullerjahn, von Bülow & Hummer, J. Chem. Phys.
153, 024116 (2020)) whose plateau c and relaxation time are estimated from the same MSD; without
it the GLS weights pile up, with alternating signs, on the window edges and any relaxing caged
motion biases D high under a narrow interval. A residual χ² above its 97.5 % quantile flags an
MSD that neither model describes. The interval is the scaled-χ² (Satterthwaite) interval of a
quadratic form in Gaussian displacements, ν = 2 (D/σ_D)², which is right-skewed like the
estimator itself, and open above when ν < ``NU_MIN``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import stats
from scipy.linalg import cho_factor, cho_solve

from superionic.core.estimate import Estimate
from superionic.transport.covariance import (
    _pair_sums,
    bounded_noise_covariance,
    random_walk_covariance,
)

__all__ = [
    "LineFit",
    "block_estimate",
    "fit_lags",
    "gls_line",
    "fit_random_walk",
    "NU_MIN",
    "satterthwaite_dof",
    "scaled_chi2_interval",
    "select_fit_window",
]


@dataclass(frozen=True)
class LineFit:
    """GLS fit of ``y = slope · x + intercept`` at ``lags`` (frames)."""

    slope: float
    intercept: float
    cov: np.ndarray  # (2, 2) covariance of (slope, intercept)
    weights: np.ndarray  # (2, M): the linear map y -> (slope, intercept)
    lags: np.ndarray  # (M,) lags in frames
    msd_cov: np.ndarray  # (M, M) model covariance of the fitted MSD values
    chi2: float = float("nan")  # generalised residual rᵀ C⁻¹ r
    dof: int = 0  # M - 2
    noise_var_A2: float = 0.0  # bounded-motion variance per direction, s² (Å²)
    noise_tau_frames: float = 0.0  # its correlation time (frames)

    @property
    def slope_stderr(self) -> float:
        return float(math.sqrt(max(self.cov[0, 0], 0.0)))

    @property
    def chi2_per_dof(self) -> float:
        return self.chi2 / self.dof if self.dof > 0 else float("nan")

    @property
    def misfit(self) -> bool:
        """Whether χ²/dof exceeds its 97.5 % quantile under the covariance model."""
        return self.dof > 0 and self.chi2 > _chi2_quantile(0.975, self.dof)


@lru_cache(maxsize=256)
def _chi2_quantile(q: float, dof: int) -> float:
    return float(stats.chi2.ppf(q, dof))


def _pinv_psd(c: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(0.5 * (c + c.T))
    cut = max(w.max(), 0.0) * 1e-12
    inv_w = np.where(w > cut, 1.0 / np.where(w > cut, w, 1.0), 0.0)
    return (v * inv_w) @ v.T


def gls_line(
    x: np.ndarray, y: np.ndarray, c: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Generalised least squares for a straight line: (β, Cov β, W) with β = W y."""
    return gls_x(np.column_stack([x, np.ones_like(x)]), y, c)


def gls_x(
    X: np.ndarray, y: np.ndarray, c: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Generalised least squares ``y = X β`` with covariance ``c``: (β, Cov β, W), β = W y."""
    try:
        jitter = 1e-12 * float(np.trace(c)) / len(c)
        cf = cho_factor(c + jitter * np.eye(len(c)), lower=True, check_finite=False)
        ci_X = cho_solve(cf, X, check_finite=False)
    except (np.linalg.LinAlgError, ValueError):
        ci_X = _pinv_psd(c) @ X
    cov = np.linalg.inv(X.T @ ci_X)
    W = cov @ ci_X.T
    return W @ y, cov, W


def fit_lags(start: int, end: int, max_points: int = 64) -> np.ndarray:
    """Up to ``max_points`` evenly spaced integer lags in ``[start, end]`` (frames)."""
    start = max(1, int(start))
    end = max(start + 1, int(end))
    return np.unique(np.rint(np.linspace(start, end, min(max_points, end - start + 1))).astype(int))


#: z-score above which the MSD intercept is taken as the plateau of bounded motion.
PLATEAU_Z = 2.0


def _relaxation_frames(msd: np.ndarray, start: int, slope_x: float, plateau: float) -> float:
    """Lag (frames) by which the bounded part of the MSD, MSD(k) - slope·x(k), reaches
    1 - 1/e of its plateau (the correlation time τ of an Ornstein–Uhlenbeck rattling)."""
    k = np.arange(1, max(start, 1) + 1)
    excess = np.asarray(msd)[k] - slope_x * k
    above = np.flatnonzero(excess >= (1.0 - math.exp(-1.0)) * plateau)
    return float(k[above[0]]) if len(above) else float(max(start, 1))


def fit_random_walk(
    msd: np.ndarray,
    lags: np.ndarray,
    frame_interval_fs: float,
    *,
    n_dims: int,
    n_particles: float,
    kappa: float = 0.0,
    step_var_per_dim: np.ndarray | None = None,
    iterations: int = 3,
    bounded_noise: bool = True,
    noise: tuple[float, float] | None = None,
    plateau_shape: bool = True,
) -> tuple[float, LineFit]:
    """D (Å²/fs) from ``MSD = 2 d D t + c`` by GLS with the random-walk covariance.

    ``msd`` is the full curve indexed by lag in frames (summed over the ``n_dims`` directions).
    The step variances in the covariance come from ``step_var_per_dim`` when given, otherwise
    from the current estimate of D (isotropic). With ``bounded_noise`` the covariance also holds
    the bounded (rattling, localisation-noise) motion whose plateau is the intercept,
    c = 2 d s², with its correlation time read off the MSD before the window
    (:func:`superionic.transport.covariance.bounded_noise_covariance`); D, s² and τ are refined
    together over ``iterations``; ``noise = (s², τ)`` (Å² per direction, frames) fixes them
    instead (as for a collective MSD, whose own plateau is too noisy to estimate them). With
    ``plateau_shape`` the intercept column is the Ornstein–Uhlenbeck approach to the plateau,
    1 - e^(-k/τ), rather than a constant.
    """
    n_frames = len(msd)
    t = lags * frame_interval_fs
    x = 2.0 * n_dims * t
    y = np.asarray(msd)[lags]
    X = np.column_stack([x, np.ones_like(x)])
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    scale = max(abs(float(y.max())), 1e-300) / max(float(x.max()), 1e-300)
    n_iter = max(1, iterations if step_var_per_dim is None else 1)
    if bounded_noise and noise is None:
        n_iter += 3  # a plain random-walk GLS first, then (D, s², τ) refined thrice
    fit = None
    cov = np.zeros((2, 2))
    detected = False
    for it in range(n_iter):
        if step_var_per_dim is None:
            d_cur = max(float(beta[0]), 1e-6 * scale)
            sv = np.full(n_dims, 2.0 * d_cur * frame_interval_fs)
        else:
            sv = np.asarray(step_var_per_dim, dtype=float)
        c = random_walk_covariance(n_frames, lags, sv, kappa, n_particles)
        s2 = tau = 0.0
        if noise is not None:
            s2, tau = (float(v) for v in noise)
        elif bounded_noise and it > 0 and beta[1] > 0 and (
            detected or beta[1] > PLATEAU_Z * math.sqrt(max(cov[1, 1], 0.0))
        ):
            # a plateau that stands out of its noise: bounded motion on top of the walk
            detected = True
            s2 = float(beta[1]) / (2.0 * n_dims)
            tau = _relaxation_frames(
                msd, int(lags[0]), max(float(beta[0]), 0.0) * 2.0 * n_dims * frame_interval_fs,
                float(beta[1]))
        if s2 > 0 and tau > 0:
            c = c + bounded_noise_covariance(
                n_frames, lags, sv, np.full(n_dims, s2), tau, n_particles)
        # the rattling plateau is reached as 1 - ρ(k) (Ornstein–Uhlenbeck)
        shaped = plateau_shape and tau > 0
        X = np.column_stack([x, 1.0 - np.exp(-lags / tau) if shaped else np.ones_like(x)])
        beta, cov, W = gls_x(X, y, c)
        fit = LineFit(float(beta[0]), float(beta[1]), cov, W, lags, c,
                      noise_var_A2=s2, noise_tau_frames=tau)
    assert fit is not None
    r = y - X @ np.array([fit.slope, fit.intercept])
    try:
        chi2 = float(r @ np.linalg.solve(fit.msd_cov, r))
    except np.linalg.LinAlgError:
        chi2 = float(r @ _pinv_psd(fit.msd_cov) @ r)
    fit = dataclasses.replace(fit, chi2=chi2, dof=len(lags) - 2)
    return fit.slope, fit


#: Below this many Satterthwaite degrees of freedom (relative standard error above 1) the
#: estimate has no finite 95 % upper bound worth quoting.
NU_MIN = 2.0


def satterthwaite_dof(value: float, stderr: float) -> float:
    """ν = 2 (value/stderr)² of a positive quadratic-form estimator (nan if undefined)."""
    if not (np.isfinite(value) and np.isfinite(stderr)) or value <= 0 or stderr <= 0:
        return float("nan")
    return 2.0 * (value / stderr) ** 2


def scaled_chi2_interval(value: float, stderr: float) -> tuple[float, float]:
    """95 % interval of a positive quadratic-form estimator, ``value·ν/χ²_ν`` with ν = 2(v/σ)².

    For ν < ``NU_MIN`` the upper bound is infinite: the data do not bound the value from above.
    """
    nu = satterthwaite_dof(value, stderr)
    if not np.isfinite(nu):
        return (value - 1.959963984540054 * stderr, value + 1.959963984540054 * stderr)
    q_hi = float(stats.chi2.ppf(0.975, nu))
    lower = value * nu / q_hi if q_hi > 0 else 0.0
    if nu < NU_MIN:
        return (lower, math.inf)
    return (lower, value * nu / float(stats.chi2.ppf(0.025, nu)))


def diffusion_estimate(
    d_A2_per_fs: float, stderr_A2_per_fs: float, method: str, **extra
) -> Estimate:
    """An Estimate in cm²/s with the scaled-χ² interval."""
    from superionic.core.units import A2_PER_FS_TO_CM2_PER_S as f

    lo, hi = scaled_chi2_interval(d_A2_per_fs, stderr_A2_per_fs)
    return Estimate(
        d_A2_per_fs * f, stderr_A2_per_fs * f, (lo * f, hi * f), "cm^2/s", method, extra
    )


def block_estimate(values: np.ndarray, unit: str = "", method: str = "block average") -> Estimate:
    """Mean of independent block values with its standard error and Student-t 95 % interval."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    n = len(v)
    if n < 2:
        return Estimate(float(v.mean()) if n else float("nan"), float("nan"),
                        (float("nan"), float("nan")), unit, method, {"n_blocks": n})
    mean = float(v.mean())
    sem = float(v.std(ddof=1) / math.sqrt(n))
    q = float(stats.t.ppf(0.975, n - 1))
    return Estimate(mean, sem, (mean - q * sem, mean + q * sem), unit, method,
                    {"n_blocks": n, "block_values": v.tolist()})


def _slope_stderr(n_frames: int, k: np.ndarray, n_indep: float) -> np.ndarray:
    """Standard error of β = ln(MSD(2k)/MSD(k))/ln 2 for a Gaussian random walk of
    ``n_indep`` independent one-dimensional walkers (relative MSD covariance 2 Ω₂/(n k k'))."""
    k = np.asarray(k, dtype=np.int64)
    s1, s2 = _pair_sums(n_frames, np.concatenate([k, k, 2 * k]), np.concatenate([k, 2 * k, 2 * k]))
    n = len(k)
    norm = lambda a, b: (n_frames - a).astype(float) * (n_frames - b)  # noqa: E731
    r_kk = 2 * s2[:n] / norm(k, k) / (k * k)
    r_k2k = 2 * s2[n:2 * n] / norm(k, 2 * k) / (2.0 * k * k)
    r_2k2k = 2 * s2[2 * n:] / norm(2 * k, 2 * k) / (4.0 * k * k)
    var = np.clip(r_kk + r_2k2k - 2 * r_k2k, 0.0, None) / n_indep
    return np.sqrt(var) / math.log(2.0)


def select_fit_window(
    time_fs: np.ndarray,
    msd: np.ndarray,
    *,
    start_fs: float | None = None,
    end_fs: float | None = None,
    min_start_fs: float | None = None,
    end_fraction: float = 0.5,
    slope_tol: float = 0.15,
    n_effective: float | None = None,
    n_dims_effective: float = 3.0,
) -> tuple[int, int, list[str]]:
    """Diffusive window ``[start, end]`` in frames (lags) and any warnings.

    The end is ``end_fraction`` of the trajectory (or ``end_fs``). The start is the first lag
    after ``min_start_fs`` (default: 5 % of the run, at most 1 ps) from which the mean log-log
    slope of the MSD over a factor of two in lag stays within ``slope_tol`` of 1 up to twice
    that lag, i.e. past the ballistic and caged regimes (or ``start_fs``). Given the number of
    independent walkers ``n_effective`` (and the effective number of directions), the
    tolerance widens by two standard errors of β under the random-walk covariance, so noise
    alone does not push the window later.
    """
    warnings: list[str] = []
    T = len(time_fs)
    dt = float(time_fs[1] - time_fs[0])
    total = dt * (T - 1)
    if end_fs is None:
        end = int(math.floor(end_fraction * (T - 1)))
    else:
        end = int(round(end_fs / dt))
    end = min(max(end, 2), T - 1)
    if start_fs is not None:
        start = int(round(start_fs / dt))
    else:
        if min_start_fs is None:
            min_start_fs = min(1000.0, 0.05 * total)
        kmin = max(1, int(math.ceil(min_start_fs / dt - 1e-9)))
        # mean log-log slope over a factor of two in lag, β = ln(MSD(2k)/MSD(k))/ln 2, robust
        # to noise; a ballistic-to-cage crossing of slope 1 does not pass it
        k = np.unique(np.rint(np.geomspace(kmin, max(kmin, end // 2), 40)).astype(int))
        k = k[2 * k <= T - 1]
        m = np.asarray(msd)
        ok = (m[k] > 0) & (m[np.minimum(2 * k, T - 1)] > 0)
        beta = np.full(len(k), np.nan)
        beta[ok] = np.log(m[2 * k[ok]] / m[k[ok]]) / math.log(2.0)
        tol = np.full(len(k), slope_tol)
        if n_effective is not None and len(k):
            tol += 2.0 * _slope_stderr(T, k, n_effective * n_dims_effective)
        good = np.abs(beta - 1.0) <= tol
        # ... and must stay so up to twice the lag (β ≈ 1 from k to 4k)
        cand = [i for i in range(len(k) - 1) if good[(k >= k[i]) & (k <= 2 * k[i])].all()]
        if cand and k[cand[0]] <= end // 2:
            start = int(k[cand[0]])
        else:
            start = max(kmin, end // 4)
            warnings.append(
                "no diffusive regime (log-log MSD slope ≈ 1) found before half the fit end; "
                f"fitting from {start * dt:g} fs; the run may be too short"
            )
    if end_fs is None and start_fs is None and start > end // 2:
        start = max(1, end // 2)
    start = max(1, min(start, end - 1))
    if end - start < 2:
        warnings.append("fit window holds fewer than three lags")
    return start, end, warnings
