"""Multi-origin mean-squared displacements by FFT, per Cartesian direction.

Fast correlation algorithm of Kneller, Keiner, Meyer & Schumann, Comput. Phys. Commun. 91,
191 (1995) (nMOLDYN; Calandrini et al., Collection SFN 12, 201 (2011)):
``MSD(m) = S1(m) - 2 S2(m)`` with ``S2`` the position autocorrelation from a zero-padded FFT
and ``S1`` from running sums, O(T log T) per atom instead of O(T²).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy import fft as sp_fft

__all__ = [
    "MSDCurves",
    "atom_chunks",
    "msd_direct",
    "msd_fft_sum",
]


def msd_fft_sum(x: np.ndarray) -> np.ndarray:
    """Multi-origin MSD of ``x`` (T, n, 3), summed over the n particles, per direction.

    Returns ``(T, 3)``: entry ``[m, a]`` is ``Σ_i <(x_i,a(t+m) - x_i,a(t))²>_t`` averaged over the
    ``T - m`` origins.
    """
    x = np.asarray(x, dtype=float)
    T = x.shape[0]
    if T == 0:
        return np.zeros((0, x.shape[-1]))
    x = x - x.mean(axis=0, keepdims=True)  # shift-invariant; limits cancellation
    nfft = sp_fft.next_fast_len(2 * T - 1, real=True)
    f = sp_fft.rfft(x, n=nfft, axis=0)
    power = f.real**2 + f.imag**2
    del f
    s2 = sp_fft.irfft(power, n=nfft, axis=0)[:T].sum(axis=1)  # (T, 3)
    sq = (x * x).sum(axis=1)  # (T, 3)
    csum = np.concatenate([np.zeros((1, sq.shape[1])), np.cumsum(sq, axis=0)])
    m = np.arange(T)
    # Σ_{t<T-m} x_t² + Σ_{t>=m} x_t²
    s1 = csum[T - m] + (csum[T] - csum[m])
    n_orig = (T - m)[:, None].astype(float)
    return (s1 - 2.0 * s2) / n_orig


def msd_direct(x: np.ndarray) -> np.ndarray:
    """Reference O(T²) multi-origin MSD, same layout as :func:`msd_fft_sum`."""
    x = np.asarray(x, dtype=float)
    T = x.shape[0]
    out = np.zeros((T, x.shape[-1]))
    for m in range(1, T):
        d = x[m:] - x[:-m]
        out[m] = (d * d).sum(axis=1).mean(axis=0)
    return out


def atom_chunks(n_atoms: int, n_frames: int, budget_bytes: float) -> Iterator[slice]:
    """Slices over atoms so that one FFT work array stays below ``budget_bytes``."""
    # per direction: padded input, complex spectrum, power spectrum, inverse (~ 2T each)
    per_atom = 3 * 8 * 2 * 5 * max(n_frames, 1)
    size = max(1, int(budget_bytes // per_atom))
    for a in range(0, n_atoms, size):
        yield slice(a, min(a + size, n_atoms))


@dataclass
class MSDCurves:
    """MSD curves of one analysis, per direction (columns x, y, z), in Å².

    ``tracer[m]`` is the self MSD averaged over the mobile ions; ``collective[m]`` is
    ``<|Σ_i q_i Δr_i|²> / Σ_i q_i²`` (Einstein–Helfand; equals ``<|Σ Δr|²>/N`` for one species),
    so both have the slope 2 D per direction for uncorrelated ions.
    """

    time_fs: np.ndarray  # (T,)
    tracer: np.ndarray  # (T, 3)
    collective: np.ndarray  # (T, 3)

    def total(self, which: str = "tracer") -> np.ndarray:
        """Sum over the three directions (the 3D MSD)."""
        return getattr(self, which).sum(axis=1)

    def downsampled(self, max_points: int = 1000) -> MSDCurves:
        """Every k-th lag so that at most ``max_points`` remain (for JSON and plots)."""
        step = max(1, int(np.ceil(len(self.time_fs) / max_points)))
        return MSDCurves(self.time_fs[::step], self.tracer[::step], self.collective[::step])

    def to_dict(self) -> dict:
        return {
            "time_fs": self.time_fs,
            "tracer_A2": self.tracer,
            "collective_A2": self.collective,
        }

    @classmethod
    def from_dict(cls, d: dict) -> MSDCurves:
        return cls(
            np.asarray(d["time_fs"], dtype=float),
            np.asarray(d["tracer_A2"], dtype=float).reshape(-1, 3),
            np.asarray(d["collective_A2"], dtype=float).reshape(-1, 3),
        )
