"""QENS from molecular dynamics: self-intermediate scattering F_s(Q, t) and its linewidths.

``F_s(Q, t) = ⟨exp(iQ·[r(t0 + t) − r(t0)])⟩`` averaged over time origins, atoms and Q
directions (Van Hove, Phys. Rev. 95, 249 (1954)). For a powder the direction average is exact:
``⟨sin(Q|Δr|)/(Q|Δr|)⟩``. The decay of each F_s(Q, t), fitted with exp(−t/τ_Q) (or a stretched
exponential), gives the Lorentzian HWHM Γ(Q) = ħ/τ_Q that a neutron experiment measures
(Bée, *Quasielastic Neutron Scattering*, 1988, ch. 3), so MD and experiment share one plot.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from scipy.special import gamma as gamma_fn

from superionic.core.errors import ConvergenceError, InputError
from superionic.core.estimate import Estimate
from superionic.core.units import HBAR_MEV_PS
from superionic.experiment._fitting import LeastSquaresFit, fit_curve, log_normal_estimate
from superionic.experiment.qens import LinewidthData
from superionic.io.base import TrajectoryReader


@dataclass(frozen=True)
class IntermediateScattering:
    """F_s(Q, t): ``F[i, j]`` at ``Q_per_A[i]`` and lag time ``t_ps[j]`` (t_ps[0] = 0)."""

    Q_per_A: np.ndarray
    t_ps: np.ndarray
    F: np.ndarray
    n_origins: np.ndarray  # number of time origins behind each lag
    method: str


def fibonacci_directions(n: int) -> np.ndarray:
    """``n`` near-uniform unit vectors on a half sphere (±q give the same real F_s)."""
    if n < 1:
        raise InputError("need at least one direction", field="directions")
    i = np.arange(n) + 0.5
    z = 1.0 - i / n  # z in (0, 1): upper half sphere
    phi = math.pi * (3.0 - math.sqrt(5.0)) * i
    r = np.sqrt(1.0 - z**2)
    return np.column_stack([r * np.cos(phi), r * np.sin(phi), z])


def _lags(n_frames: int, max_lag: int | None, n_lags: int | None) -> np.ndarray:
    top = n_frames // 2 if max_lag is None else min(max_lag, n_frames - 1)
    if top < 1:
        raise InputError(f"{n_frames} frames give no time lags", expected="at least 2 frames")
    if n_lags is None or n_lags >= top + 1:
        return np.arange(top + 1)
    lags = np.unique(np.round(np.geomspace(1, top, n_lags - 1)).astype(int))
    return np.concatenate([[0], lags])


def _check_positions(positions_A: np.ndarray, dt_fs: float, q: np.ndarray) -> np.ndarray:
    pos = np.asarray(positions_A, dtype=float)
    if pos.ndim != 3 or pos.shape[2] != 3:
        raise InputError(
            f"positions have shape {pos.shape}", field="positions", expected="(frames, atoms, 3)"
        )
    if not dt_fs > 0:
        raise InputError("frame interval must be positive", field="dt_fs")
    if np.any(~(q > 0)):
        raise InputError("Q values must be positive", field="Q_per_A")
    return pos


def self_intermediate_scattering(
    positions_A: np.ndarray,
    dt_fs: float,
    Q_per_A: Sequence[float] | np.ndarray,
    *,
    method: Literal["isotropic", "directions"] = "isotropic",
    directions: int | np.ndarray = 26,
    max_lag: int | None = None,
    n_lags: int | None = 200,
    max_origins: int = 500,
) -> IntermediateScattering:
    """F_s(Q, t) from unwrapped positions (frames, atoms, 3) in Å with frame interval in fs.

    ``isotropic``: exact powder average ⟨sin(Q|Δr|)/(Q|Δr|)⟩ over atoms and up to
    ``max_origins`` evenly spaced origins per lag, at ``n_lags`` log-spaced lags
    (None: every lag up to ``max_lag``, default half the trajectory).
    ``directions``: ⟨cos(q·Δr)⟩ over the given unit vectors (or a Fibonacci half-sphere set of
    that many) and all time origins, by FFT autocorrelation (Wiener–Khinchin).
    """
    q = np.atleast_1d(np.asarray(Q_per_A, dtype=float))
    pos = _check_positions(positions_A, dt_fs, q)
    n_f = pos.shape[0]
    if method == "isotropic":
        lags = _lags(n_f, max_lag, n_lags)
        F = np.empty((q.size, lags.size))
        n_orig = np.empty(lags.size, dtype=int)
        for j, lag in enumerate(lags):
            n_o = n_f - lag
            origins = np.unique(np.linspace(0, n_o - 1, min(n_o, max_origins)).astype(int))
            r = np.linalg.norm(pos[origins + lag] - pos[origins], axis=-1).ravel()
            x = np.outer(q, r)
            F[:, j] = np.divide(np.sin(x), x, out=np.ones_like(x), where=x > 0).mean(axis=1)
            n_orig[j] = origins.size
        desc = "isotropic powder average sin(Qr)/(Qr), direct"
    elif method == "directions":
        dirs = (
            fibonacci_directions(int(directions))
            if np.isscalar(directions)
            else np.asarray(directions, dtype=float)
        )
        if dirs.ndim != 2 or dirs.shape[1] != 3:
            raise InputError("directions must be (n, 3)", field="directions")
        dirs = dirs / np.linalg.norm(dirs, axis=1, keepdims=True)
        top = n_f // 2 if max_lag is None else min(max_lag, n_f - 1)
        lags = np.arange(top + 1)
        nfft = 1 << int(math.ceil(math.log2(2 * n_f)))
        F = np.zeros((q.size, lags.size))
        for d in dirs:
            p = pos @ d  # (frames, atoms): projections on this direction
            for i, qi in enumerate(q):
                rho = np.exp(1j * qi * p)
                spec = np.fft.fft(rho, n=nfft, axis=0)
                acf = np.fft.ifft(spec * spec.conj(), axis=0)[: top + 1].real
                F[i] += acf.sum(axis=1)
        n_orig = n_f - lags
        F /= dirs.shape[0] * pos.shape[1] * n_orig[None, :]
        desc = f"average over {dirs.shape[0]} Q directions, all origins (FFT)"
    else:
        raise InputError(f"unknown method {method!r}", expected="isotropic or directions")
    t_ps = lags * dt_fs * 1e-3
    return IntermediateScattering(q, t_ps, F, np.asarray(n_orig), desc)


# --------------------------------------------------------------------------------------------
# decay fits


@dataclass(frozen=True)
class DecayFit:
    """Fit A·exp(−(t/τ)^β) of one F_s(Q, t); Γ = ħ/⟨τ⟩ with ⟨τ⟩ = τΓ(1/β)/β."""

    Q_per_A: float
    tau_ps: Estimate  # mean relaxation time ⟨τ⟩ (τ itself when β = 1)
    Gamma_meV: Estimate
    beta: Estimate
    amplitude: Estimate
    fit: LeastSquaresFit
    t_window_ps: tuple[float, float]


def _mean_tau(tau: float, beta: float) -> float:
    return tau * gamma_fn(1.0 / beta) / beta


def fit_decay(
    t_ps: np.ndarray,
    F: np.ndarray,
    Q_per_A: float = float("nan"),
    *,
    kind: Literal["exponential", "stretched"] = "exponential",
    fit_amplitude: bool = True,
    t_min_ps: float = 0.0,
    floor: float = 0.1,
) -> DecayFit:
    """Fit the decay of F_s(Q, t) from ``t_min_ps`` until F first drops below ``floor``.

    ``fit_amplitude`` lets A < 1 absorb the fast vibrational (Debye–Waller) drop. Errors come
    from the fit covariance (scaled by the residuals; successive lags are correlated, so treat
    them as indicative).
    """
    t = np.asarray(t_ps, dtype=float)
    y = np.asarray(F, dtype=float)
    below = np.flatnonzero(y < floor)
    end = int(below[0]) if below.size else t.size
    m = np.zeros(t.size, dtype=bool)
    m[:end] = True
    m &= t >= t_min_ps
    if m.sum() < 4:
        raise ConvergenceError(
            f"F_s(Q = {Q_per_A:g} 1/Å, t) falls below {floor} within {int(m.sum())} lags: "
            "use a shorter frame interval or smaller Q"
        )
    tw, yw = t[m], y[m]
    pos = yw > 0
    slope = np.polyfit(tw[pos], np.log(yw[pos]), 1)[0] if pos.sum() > 1 else -1.0 / tw[-1]
    tau0 = 1.0 / max(-slope, 1e-12)
    if kind == "exponential":
        names = ("ln_A", "ln_tau") if fit_amplitude else ("ln_tau",)

        def f(x, *p):
            ln_a = p[0] if fit_amplitude else 0.0
            return np.exp(ln_a - x / math.exp(p[-1]))

        p0 = ([0.0] if fit_amplitude else []) + [math.log(tau0)]
    elif kind == "stretched":
        names = (("ln_A",) if fit_amplitude else ()) + ("ln_tau", "ln_beta")

        def f(x, *p):
            ln_a = p[0] if fit_amplitude else 0.0
            ln_tau, ln_beta = p[-2], p[-1]
            return np.exp(ln_a - (x / math.exp(ln_tau)) ** math.exp(ln_beta))

        p0 = ([0.0] if fit_amplitude else []) + [math.log(tau0), 0.0]
    else:
        raise InputError(f"unknown decay kind {kind!r}", expected="exponential or stretched")
    fit = fit_curve(f, tw, yw, p0, names, what=f"F_s(Q = {Q_per_A:g} 1/Å, t)")
    amp = (
        fit.log_estimate("ln_A", method="fit")
        if fit_amplitude
        else Estimate(1.0, 0.0, method="fixed")
    )
    ln_tau = fit.value("ln_tau")
    if kind == "stretched":
        beta = fit.log_estimate("ln_beta", method="fit")
        b = beta.value
        # ln⟨τ⟩ = ln τ + ln Γ(1/β) − ln β; d/d ln β = −ψ(1/β)/β − 1
        from scipy.special import digamma

        grad = np.zeros(fit.k)
        grad[fit.names.index("ln_tau")] = 1.0
        grad[fit.names.index("ln_beta")] = -digamma(1.0 / b) / b - 1.0
        ln_mean = math.log(_mean_tau(math.exp(ln_tau), b))
        ln_err = fit.propagate(grad)
    else:
        beta = Estimate(1.0, 0.0, method="fixed")
        ln_mean, ln_err = ln_tau, fit.stderr("ln_tau")
    tau = log_normal_estimate(ln_mean, ln_err, unit="ps", method=f"{kind} fit of F_s(Q,t)")
    gam = log_normal_estimate(
        math.log(HBAR_MEV_PS) - ln_mean, ln_err, unit="meV", method="Γ = ħ/⟨τ_Q⟩"
    )
    return DecayFit(float(Q_per_A), tau, gam, beta, amp, fit, (float(tw[0]), float(tw[-1])))


@dataclass(frozen=True)
class MDLinewidths:
    """Γ(Q) from an MD trajectory with the per-Q decay fits and F_s(Q, t)."""

    data: LinewidthData
    decays: tuple[DecayFit, ...]
    fs: IntermediateScattering = field(repr=False)
    skipped_Q_per_A: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "Q_per_A": self.data.Q_per_A,
            "Gamma_meV": [d.Gamma_meV for d in self.decays],
            "tau_ps": [d.tau_ps for d in self.decays],
            "beta": [d.beta for d in self.decays],
            "method": self.fs.method,
            "skipped_Q_per_A": list(self.skipped_Q_per_A),
        }


def md_linewidths(
    positions_A: np.ndarray,
    dt_fs: float,
    Q_per_A: Sequence[float] | np.ndarray,
    *,
    kind: Literal["exponential", "stretched"] = "exponential",
    fit_amplitude: bool = True,
    t_min_ps: float = 0.0,
    floor: float = 0.1,
    n_blocks: int = 5,
    skip_failed: bool = False,
    **fs_kwargs: Any,
) -> MDLinewidths:
    """Γ(Q) = ħ/τ_Q from the F_s(Q, t) decays of an MD trajectory of the mobile species.

    ``positions_A`` must be unwrapped (frames, atoms, 3); ``fs_kwargs`` go to
    :func:`self_intermediate_scattering`. The atoms are split into ``n_blocks`` groups; the
    spread of the groups' Γ gives the standard error (the covariance of one fit ignores the
    correlation between lags and is far too small). ``n_blocks=1`` keeps the fit covariance.
    With ``skip_failed`` a Q whose F_s decays too fast for the frame interval is left out
    (listed in ``skipped_Q_per_A``) instead of raising. For real MD set ``t_min_ps`` past the
    vibrational drop of F_s (a few hundred fs) and keep ``fit_amplitude`` so that the
    plateau A < 1 (Debye–Waller factor) is not mistaken for diffusion.
    """
    pos = np.asarray(positions_A, dtype=float)
    n_atoms = pos.shape[1] if pos.ndim == 3 else 0
    n_blocks = max(1, min(int(n_blocks), n_atoms))
    groups = np.array_split(np.arange(n_atoms), n_blocks) if n_atoms else [slice(None)]
    parts = [
        self_intermediate_scattering(pos[:, g], dt_fs, Q_per_A, **fs_kwargs) for g in groups
    ]
    weights = [len(g) / n_atoms for g in groups] if n_atoms else [1.0]
    F = sum(w * p.F for w, p in zip(weights, parts, strict=True))
    fs = IntermediateScattering(
        parts[0].Q_per_A, parts[0].t_ps, F, parts[0].n_origins, parts[0].method
    )

    def one(F_: np.ndarray, i: int) -> DecayFit:
        return fit_decay(
            fs.t_ps, F_[i], float(fs.Q_per_A[i]), kind=kind, fit_amplitude=fit_amplitude,
            t_min_ps=t_min_ps, floor=floor,
        )

    decays: list[DecayFit] = []
    kept: list[int] = []
    skipped: list[float] = []
    for i, q in enumerate(fs.Q_per_A):
        try:
            decays.append(one(fs.F, i))
            kept.append(i)
        except ConvergenceError:
            if not skip_failed:
                raise
            skipped.append(float(q))
    if not decays:
        raise ConvergenceError(
            "no F_s(Q, t) could be fitted: the frame interval is too long for these Q "
            f"({fs.Q_per_A.tolist()} 1/Å)"
        )
    if n_blocks > 1:
        for k, i in enumerate(kept):
            ln_tau = []
            for p in parts:
                try:
                    ln_tau.append(math.log(one(p.F, i).tau_ps.value))
                except ConvergenceError:
                    continue
            if len(ln_tau) >= 2:
                # standard error of ln τ from the spread over independent groups of atoms
                err = float(np.std(ln_tau, ddof=1)) / math.sqrt(len(ln_tau))
                decays[k] = _with_log_error(decays[k], err, len(ln_tau))
    q_kept = fs.Q_per_A[kept]
    data = LinewidthData(
        q_kept,
        np.array([d.Gamma_meV.value for d in decays]),
        np.array([max(d.Gamma_meV.stderr, 1e-300) for d in decays]),
        label="MD F_s(Q,t)",
    )
    return MDLinewidths(data, tuple(decays), fs, tuple(skipped))


def md_linewidths_from_trajectory(
    trajectory: str | Path | TrajectoryReader,
    Q_per_A: Sequence[float] | np.ndarray,
    *,
    species: str | Sequence[str] = "Li",
    format: str | None = None,
    frame_interval_fs: float | None = None,
    chunk_size: int = 1000,
    **kwargs: Any,
) -> MDLinewidths:
    """:func:`md_linewidths` for the ``species`` atoms of a trajectory file or reader.

    Frames are streamed in chunks and unwrapped (image flags when stored, else the
    minimum-image step between frames); only the selected atoms are kept in memory.
    """
    from superionic.io.open import open_trajectory
    from superionic.io.species import species_indices
    from superionic.transport.unwrap import Unwrapper

    reader = (
        trajectory
        if isinstance(trajectory, TrajectoryReader)
        else open_trajectory(trajectory, format, frame_interval_fs=frame_interval_fs)
    )
    info = reader.info
    dt = frame_interval_fs if frame_interval_fs is not None else info.frame_interval_fs
    if dt is None or not dt > 0:
        raise InputError(
            "time between frames is unknown", source=info.path, field="frame_interval_fs",
            expected="frame_interval_fs in fs",
        )
    idx = species_indices(info, list(species) if not isinstance(species, str) else species)
    unwrapper = Unwrapper(source=info.path)
    blocks = []
    for chunk in reader.chunks(chunk_size):
        flags = None if chunk.image_flags is None else chunk.image_flags[:, idx]
        blocks.append(unwrapper.push(chunk.positions[:, idx], chunk.cells, flags))
    if not blocks:
        raise InputError("trajectory holds no frames", source=info.path)
    return md_linewidths(np.concatenate(blocks), float(dt), Q_per_A, **kwargs)


def _with_log_error(d: DecayFit, ln_err: float, n_blocks: int) -> DecayFit:
    how = f"; stderr from {n_blocks} atom blocks"
    tau = log_normal_estimate(
        math.log(d.tau_ps.value), ln_err, unit="ps", method=d.tau_ps.method + how
    )
    gam = log_normal_estimate(
        math.log(d.Gamma_meV.value), ln_err, unit="meV", method=d.Gamma_meV.method + how
    )
    return DecayFit(d.Q_per_A, tau, gam, d.beta, d.amplitude, d.fit, d.t_window_ps)
