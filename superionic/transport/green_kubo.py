"""Green–Kubo transport coefficients from velocities: tracer diffusion and ionic conductivity.

D = (1/d) ∫ <v(0)·v(t)> dt (velocity autocorrelation) and
sigma = 1/(d V k_B T) ∫ <J(0)·J(t)> dt with J = Σ_i q_i v_i (charge current); Green,
J. Chem. Phys. 22, 398 (1954); Kubo, J. Phys. Soc. Jpn. 12, 570 (1957). Autocorrelations use
every time origin (FFT, Wiener–Khinchin); uncertainties come from the scatter of the same
integral over contiguous time blocks, the cutoff from the plateau of the running integral.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import fft, stats
from scipy.integrate import cumulative_trapezoid

from superionic.core.errors import InputError, UnitsError
from superionic.core.estimate import Estimate
from superionic.core.units import (
    A2_PER_FS_TO_CM2_PER_S,
    ANGSTROM_TO_CM,
    E_CHARGE_C,
    KB_EV_PER_K,
)

#: e² / (eV Å fs) expressed in S/cm: (e C²/J) / (1e-8 cm · 1e-15 s).
E2_PER_EV_A_FS_TO_S_PER_CM: float = E_CHARGE_C / (ANGSTROM_TO_CM * 1e-15)
_COLUMN_BATCH = 512


def autocorrelation(x: np.ndarray, max_lag: int | None = None) -> np.ndarray:
    """Multi-origin autocorrelation C(k) = <x(t0)·x(t0+k)>, averaged over all f-k origins.

    ``x`` has shape (f, n, d): the dot product runs over the last axis and the result is
    averaged over the n series (atoms). Computed by zero-padded FFT in batches of columns.
    """
    x = np.asarray(x, float)
    if x.ndim == 2:
        x = x[:, None, :]
    f, n, d = x.shape
    k = f if max_lag is None else min(int(max_lag) + 1, f)
    nfft = fft.next_fast_len(2 * f)
    flat = x.reshape(f, n * d)
    acc = np.zeros(k)
    for j in range(0, n * d, _COLUMN_BATCH):
        spec = fft.rfft(flat[:, j : j + _COLUMN_BATCH], n=nfft, axis=0)
        power = (spec.real**2 + spec.imag**2).sum(axis=1)
        acc += fft.irfft(power, n=nfft)[:k]
    return acc / (f - np.arange(k)) / n


@dataclass(frozen=True, eq=False)
class GreenKuboResult:
    """A Green–Kubo coefficient with its running integral and block statistics."""

    estimate: Estimate
    quantity: str  # "D_tracer" or "sigma"
    time_fs: np.ndarray  # lag times
    acf: np.ndarray  # whole-run autocorrelation (Å²/fs² or e² Å²/fs²)
    running_integral: np.ndarray  # in the unit of the estimate
    block_values: np.ndarray
    cutoff_fs: float
    cutoff_source: str  # "user", "plateau" or "maximum lag (no plateau)"
    n_blocks: int
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "quantity": self.quantity,
            "estimate": self.estimate.to_dict(),
            "cutoff_fs": self.cutoff_fs,
            "cutoff_source": self.cutoff_source,
            "n_blocks": self.n_blocks,
            "block_values": self.block_values.tolist(),
            "notes": list(self.notes),
            "time_fs": self.time_fs.tolist(),
            "running_integral": self.running_integral.tolist(),
        }


def _plateau_index(mean: np.ndarray, sem: np.ndarray) -> int | None:
    """Cutoff index k_c = 2 k: the first k whose running integral stays within one standard
    error of its value at k over the whole window [k, 2 k]."""
    kmax = len(mean) - 1
    for k in range(2, kmax // 2 + 1):
        win = slice(k, 2 * k + 1)
        if np.all(np.abs(mean[win] - mean[k]) <= sem[win]):
            return 2 * k
    return None


def _green_kubo(
    series: np.ndarray,
    frame_interval_fs: float,
    scale: float,
    quantity: str,
    unit: str,
    *,
    cutoff_fs: float | None,
    n_blocks: int,
    max_lag_fs: float | None,
) -> GreenKuboResult:
    """Shared engine: ACF of ``series`` (f, n, d), running integral times ``scale``."""
    if not (frame_interval_fs > 0 and math.isfinite(frame_interval_fs)):
        raise UnitsError("frame interval must be a positive number of fs",
                         field="frame_interval_fs", expected="fs > 0")
    f = series.shape[0]
    if n_blocks < 2:
        raise InputError("block error analysis needs at least two blocks", field="n_blocks")
    block_len = f // n_blocks
    if block_len < 8:
        raise InputError(f"{f} frames are too few for {n_blocks} blocks", field="velocities",
                         expected=f"at least {8 * n_blocks} frames")
    kmax = block_len // 2 if max_lag_fs is None else int(round(max_lag_fs / frame_interval_fs))
    kmax = max(2, min(kmax, block_len - 1))
    dt = float(frame_interval_fs)
    t = np.arange(kmax + 1) * dt
    acf = autocorrelation(series, kmax)
    integral = cumulative_trapezoid(acf, t, initial=0.0) * scale
    blocks = np.stack([
        cumulative_trapezoid(autocorrelation(series[b * block_len:(b + 1) * block_len], kmax),
                             t, initial=0.0) * scale
        for b in range(n_blocks)
    ])
    sem = blocks.std(axis=0, ddof=1) / math.sqrt(n_blocks)
    notes: list[str] = []
    if cutoff_fs is not None:
        kc = int(round(cutoff_fs / dt))
        if not 1 <= kc <= kmax:
            raise InputError(f"integration cutoff {cutoff_fs} fs is outside the usable lags",
                             field="cutoff_fs", expected=f"{dt:g}..{kmax * dt:g} fs")
        source = "user"
    else:
        found = _plateau_index(integral, sem)
        if found is None:
            kc = kmax
            source = "maximum lag (no plateau)"
            msg = (f"Green–Kubo integral of {quantity} shows no plateau within {kmax * dt:g} fs; "
                   "value taken at the maximum lag, a longer run is needed")
            notes.append(msg)
            warnings.warn(msg, stacklevel=3)
        else:
            kc, source = found, "plateau"
    vals = blocks[:, kc]
    se = float(vals.std(ddof=1) / math.sqrt(n_blocks))
    value = float(integral[kc])
    crit = float(stats.t.ppf(0.975, n_blocks - 1))
    est = Estimate(
        value,
        se,
        (value - crit * se, value + crit * se),
        unit,
        f"Green–Kubo, FFT multi-origin ACF integrated to {kc * dt:g} fs ({source}); "
        f"stderr from {n_blocks} time blocks (t interval)",
    )
    return GreenKuboResult(est, quantity, t, acf, integral, vals, kc * dt, source, n_blocks,
                           tuple(notes))


def _check_velocities(velocities: np.ndarray) -> np.ndarray:
    v = np.asarray(velocities, float)
    if v.ndim != 3 or v.shape[2] != 3:
        raise InputError(f"velocities have shape {v.shape}", field="velocities",
                         expected="(frames, atoms, 3) in Å/fs")
    if not np.all(np.isfinite(v)):
        frame = int(np.flatnonzero(~np.isfinite(v).all(axis=(1, 2)))[0])
        raise InputError("non-finite velocity", field="velocities", frame=frame)
    vmax = float(np.abs(v).max())
    if vmax > 1.0:
        raise UnitsError(f"largest velocity component is {vmax:.3g} Å/fs", field="velocities",
                         expected="Å/fs (thermal Li at 1000 K is ~0.01 Å/fs; ASE's internal "
                                  "velocity unit is Å/(10.18 fs))")
    return v


def green_kubo_diffusion(
    velocities: np.ndarray,
    frame_interval_fs: float,
    *,
    indices: np.ndarray | list[int] | None = None,
    cutoff_fs: float | None = None,
    n_blocks: int = 8,
    max_lag_fs: float | None = None,
) -> GreenKuboResult:
    """Tracer diffusion D = (1/3) ∫ <v_i(0)·v_i(t)> dt of the atoms ``indices``, in cm²/s.

    ``velocities`` (f, N, 3) Å/fs sampled every ``frame_interval_fs``; the cutoff is the
    plateau of the running integral unless ``cutoff_fs`` is given.
    """
    v = _check_velocities(velocities)
    if indices is not None:
        v = v[:, np.asarray(indices, int), :]
    scale = A2_PER_FS_TO_CM2_PER_S / 3.0
    return _green_kubo(v, frame_interval_fs, scale, "D_tracer", "cm2/s", cutoff_fs=cutoff_fs,
                       n_blocks=n_blocks, max_lag_fs=max_lag_fs)


def charge_current(velocities: np.ndarray, charges: np.ndarray | list[float]) -> np.ndarray:
    """Charge current J(t) = Σ_i q_i v_i(t), shape (f, 3), in e Å/fs."""
    v = _check_velocities(velocities)
    q = np.asarray(charges, float).ravel()
    if q.size != v.shape[1]:
        raise InputError(f"{q.size} charges for {v.shape[1]} atoms", field="charges",
                         expected="one charge (in e) per atom")
    return np.einsum("fnk,n->fk", v, q)


def green_kubo_conductivity(
    velocities: np.ndarray,
    frame_interval_fs: float,
    charges: np.ndarray | list[float],
    volume_A3: float,
    temperature_K: float,
    *,
    cutoff_fs: float | None = None,
    n_blocks: int = 8,
    max_lag_fs: float | None = None,
) -> GreenKuboResult:
    """Ionic conductivity sigma = 1/(3 V k_B T) ∫ <J(0)·J(t)> dt in S/cm.

    ``charges`` per atom in e (formal or Born charges); only atoms with non-zero charge
    contribute. The current includes all cross-correlations (collective, not Nernst–Einstein).
    """
    if not (volume_A3 > 0 and temperature_K > 0):
        raise InputError("volume and temperature must be positive",
                         field="volume_A3/temperature_K", expected="Å³ > 0, K > 0")
    J = charge_current(velocities, charges)
    scale = E2_PER_EV_A_FS_TO_S_PER_CM / (3.0 * volume_A3 * KB_EV_PER_K * temperature_K)
    return _green_kubo(J[:, None, :], frame_interval_fs, scale, "sigma", "S/cm",
                       cutoff_fs=cutoff_fs, n_blocks=n_blocks, max_lag_fs=max_lag_fs)


def green_kubo_from_trajectory(
    source: Any,
    species: str | list[str] = "Li",
    *,
    temperature_K: float,
    charge: float | dict[str, float] | None = None,
    timestep_fs: float | None = None,
    frame_interval_fs: float | None = None,
    format: str | None = None,
    remove_drift: bool = True,
    cutoff_fs: float | None = None,
    n_blocks: int = 8,
    max_lag_fs: float | None = None,
) -> dict[str, Any]:
    """Green–Kubo D* of each mobile species and the collective sigma of all of them.

    ``source`` is anything :func:`superionic.transport.source.as_reader` accepts (a path,
    a reader) and must carry velocities. With ``remove_drift`` the mass-weighted velocity
    of the immobile framework is subtracted first (the frame in which ions migrate). Charges
    default to formal charges (Li 1, Na 1, Mg 2, ...). Velocities are held in memory.
    """
    from ase.data import atomic_masses, atomic_numbers

    from superionic.io.species import species_indices
    from superionic.transport.analysis import DEFAULT_CHARGES
    from superionic.transport.source import as_reader, frame_interval_of

    reader = as_reader(source, format=format, timestep_fs=timestep_fs,
                       frame_interval_fs=frame_interval_fs)
    info = reader.info
    dt, _, _ = frame_interval_of(reader)
    chunk = reader.read_all()
    if chunk.velocities is None:
        raise InputError("the trajectory stores no velocities", source=info.path,
                         field="velocities", expected="velocities or momenta in every frame")
    v = _check_velocities(chunk.velocities)
    names = [species] if isinstance(species, str) else list(species)
    mobile = species_indices(info, names)
    symbols = np.asarray(info.symbols)
    if remove_drift:
        frame = np.setdiff1d(np.arange(len(symbols)), mobile)
        if frame.size:
            m = np.array([atomic_masses[atomic_numbers[x]] for x in symbols[frame]])
            v = v - np.einsum("fnk,n->fk", v[:, frame], m / m.sum())[:, None, :]
    q = np.zeros(len(symbols))
    for name in names:
        qi = charge.get(name) if isinstance(charge, dict) else charge
        qi = DEFAULT_CHARGES.get(name) if qi is None else qi
        if not qi:
            raise InputError(f"no charge known for species {name!r}", source=info.path,
                             field="charge", expected="charge=<e>, e.g. 1 for Li+")
        q[symbols == name] = float(qi)
    volume = float(np.mean(np.abs(np.linalg.det(chunk.cells))))
    kw = {"cutoff_fs": cutoff_fs, "n_blocks": n_blocks, "max_lag_fs": max_lag_fs}
    out: dict[str, Any] = {
        "D_tracer": {
            name: green_kubo_diffusion(v, dt, indices=np.flatnonzero(symbols == name), **kw)
            for name in names
        },
        "sigma": green_kubo_conductivity(v[:, mobile], dt, q[mobile], volume, temperature_K,
                                         **kw),
        "species": names,
        "frame_interval_fs": dt,
        "volume_A3": volume,
        "temperature_K": float(temperature_K),
        "drift_removed": bool(remove_drift),
        "source": info.path,
    }
    return out


__all__ = [
    "E2_PER_EV_A_FS_TO_S_PER_CM",
    "GreenKuboResult",
    "autocorrelation",
    "charge_current",
    "green_kubo_conductivity",
    "green_kubo_diffusion",
    "green_kubo_from_trajectory",
]
