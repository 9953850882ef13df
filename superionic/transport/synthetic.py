"""Synthetic trajectories with known transport coefficients, for tests and benchmarks.

Lattice random walkers (isotropic 3D or a 1D channel) hop with probability p per frame by a
distance a, so D* = p a² / (2 d Δt) along the d hopping directions and D* = p a² / (6 Δt) as
the 3D average (Einstein relation, MSD = 2 d D t). Walkers moving in rigid pairs have
D_σ = 2 D*, i.e. H_R = 1/2. Positions are wrapped into a (triclinic, optionally fluctuating
NPT-like) cell; the unwrapped truth is kept, consistent with the TOR convention in which the
affine barostat move of a wrapped position is part of the atom's displacement. Optionally every
walker also rattles about its site: a bounded Ornstein–Uhlenbeck displacement (Uhlenbeck &
Ornstein, Phys. Rev. 36, 823 (1930)) that leaves D* and H_R unchanged but, as caged motion in
real MD, makes successive steps correlated and adds a plateau to the MSD.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from superionic.core.units import A2_PER_FS_TO_CM2_PER_S

__all__ = [
    "SyntheticTrajectory",
    "lattice_steps",
    "ornstein_uhlenbeck",
    "random_walk_trajectory",
    "triclinic_cell",
]


@dataclass
class SyntheticTrajectory:
    """Wrapped trajectory plus its unwrapped truth and the exact transport coefficients."""

    positions: np.ndarray  # (T, N, 3) wrapped, Å
    cells: np.ndarray  # (T, 3, 3) Å, rows are lattice vectors
    symbols: list[str]
    frame_interval_fs: float
    unwrapped: np.ndarray  # (T, N, 3) truth, Å
    D_tracer_A2_per_fs: float  # 3D average, MSD/(6t)
    D_tracer_xyz_A2_per_fs: tuple[float, float, float]
    haven_ratio: float
    mobile_species: str

    @property
    def D_tracer_cm2_per_s(self) -> float:
        return self.D_tracer_A2_per_fs * A2_PER_FS_TO_CM2_PER_S

    @property
    def D_sigma_cm2_per_s(self) -> float:
        return self.D_tracer_cm2_per_s / self.haven_ratio

    @property
    def mobile(self) -> np.ndarray:
        return np.flatnonzero(np.asarray(self.symbols) == self.mobile_species)

    def as_source(self) -> dict:
        """Arrays in the form accepted by ``analyse_diffusion``."""
        return {
            "positions": self.positions,
            "cells": self.cells,
            "symbols": self.symbols,
            "frame_interval_fs": self.frame_interval_fs,
        }


def triclinic_cell(length_A: float = 12.0) -> np.ndarray:
    """A generic triclinic cell (rows a, b, c) of roughly ``length_A`` edges."""
    L = length_A
    return np.array([[L, 0.0, 0.0], [0.31 * L, 0.95 * L, 0.0], [0.22 * L, 0.27 * L, 0.91 * L]])


def lattice_steps(
    rng: np.random.Generator,
    n_steps: int,
    n_walkers: int,
    hop_probability: float,
    hop_length_A: float,
    axes: tuple[int, ...] = (0, 1, 2),
) -> np.ndarray:
    """(n_steps, n_walkers, 3) hops: with probability p a jump ±a along one of ``axes``."""
    steps = np.zeros((n_steps, n_walkers, 3))
    hop = rng.random((n_steps, n_walkers)) < hop_probability
    axis = np.asarray(axes)[rng.integers(0, len(axes), size=(n_steps, n_walkers))]
    sign = rng.choice([-1.0, 1.0], size=(n_steps, n_walkers))
    t, w = np.nonzero(hop)
    steps[t, w, axis[t, w]] = sign[t, w] * hop_length_A
    return steps


def ornstein_uhlenbeck(
    rng: np.random.Generator, n_frames: int, shape: tuple[int, ...], rms: float, tau_frames: float
) -> np.ndarray:
    """(n_frames, *shape) stationary Ornstein–Uhlenbeck (AR(1)) displacements of rms ``rms``
    and correlation time ``tau_frames``: u_k = a u_(k-1) + √(1-a²) rms ξ_k, a = e^(-1/τ)."""
    a = float(np.exp(-1.0 / max(tau_frames, 1e-12)))
    kicks = rng.normal(0.0, rms, size=(n_frames, *shape))
    kicks[1:] *= np.sqrt(1.0 - a * a)
    return lfilter([1.0], [1.0, -a], kicks, axis=0)


def random_walk_trajectory(
    n_walkers: int = 32,
    n_frames: int = 400,
    *,
    hop_probability: float = 0.5,
    hop_length_A: float = 1.0,
    frame_interval_fs: float = 10.0,
    channel_axis: int | None = None,
    correlated_pairs: bool = False,
    cell: np.ndarray | None = None,
    npt_amplitude: float = 0.0,
    n_framework: int = 0,
    framework_vibration_A: float = 0.0,
    drift_A_per_frame: float = 0.0,
    vibration_A: float = 0.0,
    vibration_tau_fs: float = 500.0,
    mobile_species: str = "Li",
    framework_species: str = "S",
    seed: int | np.random.Generator = 0,
) -> SyntheticTrajectory:
    """Lattice random walkers (optionally in rigid pairs, or confined to a 1D channel along
    ``channel_axis``) plus a vibrating host framework, wrapped into ``cell`` whose size
    fluctuates by ``npt_amplitude`` (relative) from frame to frame; a common random drift of
    ``drift_A_per_frame`` per frame moves every atom. ``vibration_A`` > 0 adds to each walker an
    Ornstein–Uhlenbeck rattling of that rms per direction and correlation time
    ``vibration_tau_fs`` (stationary from the first frame, independent between walkers)."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    axes = (0, 1, 2) if channel_axis is None else (int(channel_axis),)
    n_indep = n_walkers // 2 if correlated_pairs else n_walkers
    if correlated_pairs and n_walkers % 2:
        raise ValueError("correlated pairs need an even number of walkers")
    walk = lattice_steps(rng, n_frames - 1, n_indep, hop_probability, hop_length_A, axes)
    if correlated_pairs:
        walk = np.repeat(walk, 2, axis=1)
    n = n_walkers + n_framework
    steps = np.zeros((n_frames - 1, n, 3))
    steps[:, :n_walkers] = walk
    if n_framework and framework_vibration_A > 0:
        vib = rng.normal(0.0, framework_vibration_A, size=(n_frames, n_framework, 3))
        steps[:, n_walkers:] = np.diff(vib, axis=0)
    if vibration_A > 0:
        steps[:, :n_walkers] += np.diff(
            ornstein_uhlenbeck(rng, n_frames, (n_walkers, 3), vibration_A,
                               vibration_tau_fs / frame_interval_fs), axis=0)
    if drift_A_per_frame > 0:
        steps += rng.normal(0.0, drift_A_per_frame / np.sqrt(3), size=(n_frames - 1, 1, 3))
    cell0 = triclinic_cell() if cell is None else np.asarray(cell, dtype=float)
    scale = 1.0 + npt_amplitude * (
        np.sin(np.linspace(0, 6 * np.pi, n_frames)) + rng.normal(0, 0.3, n_frames)
    )
    cells = scale[:, None, None] * cell0[None]
    pos = np.empty((n_frames, n, 3))
    unw = np.empty((n_frames, n, 3))
    s = rng.random((n, 3))
    if correlated_pairs:  # partners start side by side
        s[1:n_walkers:2] = (s[0:n_walkers:2] + 0.05) % 1.0
    pos[0] = unw[0] = s @ cells[0]
    for k in range(n_frames - 1):
        w_aff = s @ cells[k + 1]
        unw[k + 1] = unw[k] + (w_aff - pos[k]) + steps[k]
        s = (w_aff + steps[k]) @ np.linalg.inv(cells[k + 1])
        s -= np.floor(s)
        pos[k + 1] = s @ cells[k + 1]
    p_a2 = hop_probability * hop_length_A**2
    d_xyz = tuple(
        p_a2 / (2.0 * len(axes) * frame_interval_fs) if a in axes else 0.0 for a in range(3)
    )
    return SyntheticTrajectory(
        positions=pos,
        cells=cells,
        symbols=[mobile_species] * n_walkers + [framework_species] * n_framework,
        frame_interval_fs=frame_interval_fs,
        unwrapped=unw,
        D_tracer_A2_per_fs=p_a2 / (6.0 * frame_interval_fs),
        D_tracer_xyz_A2_per_fs=d_xyz,  # type: ignore[arg-type]
        haven_ratio=0.5 if correlated_pairs else 1.0,
        mobile_species=mobile_species,
    )
