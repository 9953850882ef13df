"""Model covariance of multi-origin MSDs of a random walk, evaluated exactly.

For a walk with i.i.d. vector steps ξ (covariance Σ, fourth moment m4 = E|ξ|⁴, m2 = E|ξ|²), two
windows A, B of the trajectory overlapping in o = |A ∩ B| steps give (Isserlis for the Gaussian
part, plus the fourth cumulant of the steps)

    Cov[|Σ_A ξ|², |Σ_B ξ|²] = 2 tr(Σ²) o² + κ o,     κ = m4 - m2² - 2 tr(Σ²).

Averaging over the T - k and T - k' origins of lags k and k' yields

    Cov[MSD(k), MSD(k')] = (2 tr(Σ²) Ω₂(k, k') + κ Ω₁(k, k')) / N,
    Ω_p(k, k') = Σ_t Σ_t' o(t, k; t', k')^p / ((T - k)(T - k')),

for N independent particles (cf. Qian, Sheetz & Elson, Biophys. J. 60, 910 (1991) for k = k';
McCluskey et al., J. Chem. Theory Comput. 21, 79 (2025) for the use in diffusion fits). The
double sums are reduced exactly to single sums over the origin offset d = t' - t.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

__all__ = [
    "bounded_noise_covariance",
    "cross_correlation_ratio",
    "overlap_matrices",
    "random_walk_covariance",
    "step_cumulant",
]


def _count_overlap(T: int, k: np.ndarray, kp: np.ndarray, d: np.ndarray):
    """Number of origin pairs with offset d = t' - t, and their window overlap o(d)."""
    o = np.minimum(k, d + kp) - np.maximum(0, d)
    cnt = np.minimum(T - k - 1, T - kp - 1 - d) - np.maximum(0, -d) + 1
    return np.clip(cnt, 0, None).astype(float), np.clip(o, 0, None).astype(float)


def _pair_sums(T: int, k: np.ndarray, kp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Σ_d count(d) o(d) and Σ_d count(d) o(d)² for arrays of lag pairs (k, k'), exactly.

    Both count(d) and o(d) are piecewise linear in d with kinks at k - k', 0, k - T and T - k';
    on each piece the sums are polynomials in the piece length (Faulhaber).
    """
    k = np.asarray(k, dtype=np.int64)
    kp = np.asarray(kp, dtype=np.int64)
    dmin, dmax = -kp + 1, k - 1
    b = np.stack([dmin, k - kp, np.zeros_like(k), k - T, T - kp, dmax], axis=1)
    b = np.sort(np.clip(b, dmin[:, None], dmax[:, None]), axis=1)
    lo = b
    hi = np.concatenate([b[:, 1:] - 1, dmax[:, None]], axis=1)
    # b[:, -1] = dmax, so the last piece is the single point dmax; pieces cover [dmin, dmax]
    L = np.clip(hi - lo + 1, 0, None).astype(float)
    kk, kkp = k[:, None], kp[:, None]
    c0, o0 = _count_overlap(T, kk, kkp, lo)
    c1_, o1_ = _count_overlap(T, kk, kkp, lo + 1)
    c1 = np.where(L >= 2, c1_ - c0, 0.0)
    o1 = np.where(L >= 2, o1_ - o0, 0.0)
    s0 = L
    s1 = L * (L - 1) / 2
    s2 = (L - 1) * L * (2 * L - 1) / 6
    s3 = s1 * s1
    sum1 = c0 * o0 * s0 + (c0 * o1 + c1 * o0) * s1 + c1 * o1 * s2
    sum2 = (c0 * o0 * o0 * s0 + (2 * c0 * o0 * o1 + c1 * o0 * o0) * s1
            + (c0 * o1 * o1 + 2 * c1 * o0 * o1) * s2 + c1 * o1 * o1 * s3)
    return sum1.sum(axis=1), sum2.sum(axis=1)


@lru_cache(maxsize=64)
def _overlap_cached(T: int, lags: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    lag = np.asarray(lags, dtype=np.int64)
    i, j = np.triu_indices(len(lag))
    s1, s2 = _pair_sums(T, lag[i], lag[j])
    norm = (T - lag[i]).astype(float) * (T - lag[j])
    om1 = np.zeros((len(lag), len(lag)))
    om2 = np.zeros_like(om1)
    om1[i, j] = om1[j, i] = s1 / norm
    om2[i, j] = om2[j, i] = s2 / norm
    om1.setflags(write=False)
    om2.setflags(write=False)
    return om1, om2


def overlap_matrices(n_frames: int, lags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(Ω₁, Ω₂) for the integer ``lags`` (frames) of a trajectory of ``n_frames`` frames."""
    lags_t = tuple(int(k) for k in np.asarray(lags))
    if any(k < 1 or k >= n_frames for k in lags_t):
        raise ValueError("lags must lie in 1 .. n_frames - 1")
    return _overlap_cached(int(n_frames), lags_t)


def random_walk_covariance(
    n_frames: int,
    lags: np.ndarray,
    step_var_per_dim: np.ndarray,
    kappa: float,
    n_particles: float,
) -> np.ndarray:
    """Covariance matrix of MSD(lags) for ``n_particles`` independent random walkers.

    ``step_var_per_dim`` holds the per-frame step variance of each direction summed in the MSD
    (Σ diagonal), ``kappa`` the per-frame fourth-cumulant term κ of the module docstring.
    """
    om1, om2 = overlap_matrices(n_frames, lags)
    tr_sigma2 = float(np.sum(np.square(step_var_per_dim)))
    kappa = max(float(kappa), -2.0 * tr_sigma2)  # a single step has Var|ξ|² = κ + 2trΣ² ≥ 0
    return (2.0 * tr_sigma2 * om2 + kappa * om1) / float(n_particles)


def step_cumulant(
    x: np.ndarray, block: int, dims: tuple[int, ...] = (0, 1, 2)
) -> tuple[float, np.ndarray]:
    """Per-frame κ and step variances from non-overlapping ``block``-frame displacements.

    ``x`` is (T, n, 3) unwrapped positions. Cumulants of sums of i.i.d. steps add, so the
    block value divided by ``block`` is the per-frame value even when steps within a block are
    correlated at short times. A negative κ is shrunk towards 0 (Gaussian steps) when it is
    within about two standard errors of 0. Returns (κ per frame, per-frame variance of each
    direction in ``dims``).
    """
    T = x.shape[0]
    nb = (T - 1) // block
    if nb < 1:
        return 0.0, np.zeros(len(dims))
    idx = np.arange(nb + 1) * block
    dx = np.diff(np.asarray(x[idx])[..., list(dims)], axis=0).reshape(-1, len(dims))
    var = (dx * dx).mean(axis=0)
    r2 = (dx * dx).sum(axis=1)
    r4 = r2 * r2
    m2 = r2.mean()
    kappa = r4.mean() - m2 * m2 - 2.0 * float(np.sum(var * var))
    # the fourth moment is noisy: a negative κ (sub-Gaussian steps, which would shrink the
    # variance) is pulled towards 0 unless it stands out of its standard error (positive-part
    # James–Stein factor 1 - (2 SE/κ)²); a positive one (jumps) is kept, erring on the safe side
    se2 = float(r4.var()) / max(len(r4) - 1, 1)
    if kappa < 0.0:
        kappa *= max(0.0, 1.0 - 4.0 * se2 / (kappa * kappa))
    return kappa / block, var / block


def cross_correlation_ratio(
    x: np.ndarray, block: int, weights: np.ndarray | None = None, min_blocks: int = 8
) -> float:
    """r = Σ_ij tr(C_ij²) / Σ_i tr(C_ii²) for the step covariances C_ij between particles.

    Correlated motion (ions hopping together) makes the tracer MSD of N particles as noisy as
    that of N/r independent ones (r = 2 for rigid pairs). Estimated without bias from
    non-overlapping ``block``-frame displacements Δ_ib via the U-statistic
    Σ_{b≠b'} (Σ_i Δ_ib·Δ_ib')², per direction; 1 when fewer than ``min_blocks`` blocks exist.
    """
    T, n = x.shape[0], x.shape[1]
    nb = (T - 1) // block
    if nb < min_blocks or n < 2:
        return 1.0
    idx = np.arange(nb + 1) * block
    dx = np.diff(np.asarray(x[idx]), axis=0)  # (nb, n, 3)
    if weights is not None:  # particle weights w_i (tracer MSD = Σ w_i² |Δr_i|²)
        dx = dx * np.asarray(weights)[None, :, None]
    num = den = 0.0
    off = ~np.eye(nb, dtype=bool)
    for a in range(3):
        d = dx[..., a]
        m = d @ d.T  # (nb, nb): Σ_i Δ_ib Δ_ib'
        d2 = d * d
        num += float((m[off] ** 2).sum())
        den += float(((d2 @ d2.T)[off]).sum())
    if den <= 0:
        return 1.0
    return float(np.clip(num / den, 1.0, n))


def bounded_noise_covariance(
    n_frames: int,
    lags: np.ndarray,
    step_var_per_dim: np.ndarray,
    noise_var_per_dim: np.ndarray,
    tau_frames: float,
    n_particles: float,
) -> np.ndarray:
    """Extra covariance of MSD(lags) when each walker also carries a bounded displacement u.

    Positions x = w + u with w the random walk and u a stationary Gaussian (Ornstein–Uhlenbeck,
    ρ(j) = a^|j|, a = e^(-1/τ)) rattling of variance s² per direction: the localisation-noise
    model of Michalet, Phys. Rev. E 82, 041914 (2010) and Bullerjahn, von Bülow & Hummer,
    J. Chem. Phys. 153, 024116 (2020), with the noise correlated over τ frames. For lags past τ
    the squared displacement |Δw + Δu|² adds (per direction, Isserlis, with the origin sums
    done about the four points where ρ couples the two windows; exact to O(a^k))

        cross term  2Δw·Δu:  8 σ_w² s² [(k_< τ_int - S₁ (1 + a^Δ)) (T - k_>) - S₁ (T - k - k')₊],
        noise term  |Δu|²:   4 s⁴ [(ρ₂(Δ) + τ₂) (T - k_>) + τ₂ (T - k - k')₊],

    both over (T - k)(T - k') and ``n_particles``; Δ = |k - k'|, k_< = min, k_> = max,
    τ_int = Σ_j ρ(j), S₁ = Σ_(j>0) j ρ(j), ρ₂(Δ) = Σ_j ρ(j) ρ(j + Δ), τ₂ = ρ₂(0).
    """
    kmin, kmax, dk, both, norm = _lag_geometry(int(n_frames), tuple(int(v) for v in lags))
    T = float(n_frames)
    tau = max(float(tau_frames), 1e-6)
    a = math.exp(-1.0 / tau)
    tau_int = (1.0 + a) / (1.0 - a)
    tau2 = (1.0 + a * a) / (1.0 - a * a)
    s1 = a / (1.0 - a) ** 2
    a_dk = np.exp(-dk / tau)
    rho2 = a_dk * (dk + tau2)
    sw = np.asarray(step_var_per_dim, dtype=float)
    s2 = np.asarray(noise_var_per_dim, dtype=float)
    cross = 8.0 * float(np.sum(sw * s2)) * (
        np.clip(kmin * tau_int - s1 * (1.0 + a_dk), 0.0, None) * (T - kmax) - s1 * both
    )
    quartic = 4.0 * float(np.sum(s2 * s2)) * ((rho2 + tau2) * (T - kmax) + tau2 * both)
    return (cross + quartic) * (norm / float(n_particles))


@lru_cache(maxsize=64)
def _lag_geometry(T: int, lags: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """min, max, |k - k'|, (T - k - k')₊ and 1/((T - k)(T - k')) over pairs of ``lags``."""
    k = np.asarray(lags, dtype=float)
    K, Kp = k[:, None], k[None, :]
    out = (np.minimum(K, Kp), np.maximum(K, Kp), np.abs(K - Kp),
           np.clip(T - K - Kp, 0.0, None), 1.0 / ((T - K) * (T - Kp)))
    for arr in out:
        arr.setflags(write=False)
    return out
