"""One call from a trajectory to D*, D_σ, the Haven ratio and the conductivity, with intervals.

Pipeline: TOR unwrapping (streamed), framework centre-of-mass drift removal, FFT multi-origin
MSDs per direction (tracer and charge-weighted collective), automatic diffusive window, GLS
with the analytic random-walk plus bounded-motion (rattling) MSD covariance (joint for D* and
D_σ; the rattling amplitude and time come from the tracer MSD), a χ² goodness-of-fit check that
inflates the errors of an MSD neither model describes, block averages as a cross-check,
Nernst–Einstein and Einstein–Helfand conductivities.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from superionic.core.errors import InputError
from superionic.core.estimate import Estimate, to_jsonable
from superionic.core.units import A2_PER_FS_TO_CM2_PER_S
from superionic.transport.anisotropy import conduction_dimensionality
from superionic.transport.conductivity import conductivity_estimate
from superionic.transport.covariance import (
    bounded_noise_covariance,
    cross_correlation_ratio,
    random_walk_covariance,
    step_cumulant,
)
from superionic.transport.diffusion import (
    NU_MIN,
    LineFit,
    block_estimate,
    diffusion_estimate,
    fit_lags,
    fit_random_walk,
    satterthwaite_dof,
    select_fit_window,
)
from superionic.transport.haven import haven_ratio
from superionic.transport.msd import MSDCurves, atom_chunks, msd_fft_sum
from superionic.transport.source import as_reader, frame_interval_of
from superionic.transport.unwrap import Unwrapper

__all__ = ["DEFAULT_CHARGES", "DiffusionResult", "analyse_diffusion"]

#: Formal charges (e) of common mobile ions, used when no charge is given.
DEFAULT_CHARGES: dict[str, float] = {
    "Li": 1.0, "Na": 1.0, "K": 1.0, "Ag": 1.0, "Cu": 1.0, "H": 1.0,
    "Mg": 2.0, "Zn": 2.0, "Ca": 2.0, "O": -2.0, "F": -1.0, "Cl": -1.0,
}

_DIRS = ("x", "y", "z")


@dataclass
class DiffusionResult:
    """Transport coefficients of one species set from one trajectory (see ``to_dict``)."""

    species: list[str]
    temperature_K: float
    D_tracer_cm2_per_s: Estimate
    D_sigma_cm2_per_s: Estimate
    haven_ratio: Estimate
    sigma_S_per_cm: Estimate  # Einstein–Helfand, from the collective MSD
    sigma_NE_S_per_cm: Estimate  # Nernst–Einstein from D* (divided by an assumed H_R if given)
    D_tracer_xyz_cm2_per_s: list[Estimate]
    D_sigma_xyz_cm2_per_s: list[Estimate]
    dimensionality: int
    fit_window_fs: tuple[float, float]
    timestep_fs: float | None
    timestep_source: str
    frame_interval_fs: float
    n_frames: int
    n_mobile: int
    charges: dict[str, float]
    volume_A3: float
    msd: MSDCurves
    fit_lines: dict[str, dict[str, Any]] = field(default_factory=dict)
    block_average: dict[str, Any] = field(default_factory=dict)
    drift_removed: bool = False
    positions_on_disk: bool = False
    source: str = ""
    warnings: list[str] = field(default_factory=list)

    def to_dict(self, max_msd_points: int = 1000) -> dict[str, Any]:
        """JSON form. Contract keys: D_tracer_cm2_per_s, D_sigma_cm2_per_s, haven_ratio,
        sigma_S_per_cm (each {"value","stderr","ci95"}), fit_window_fs, timestep_fs."""
        return to_jsonable(
            {
                "D_tracer_cm2_per_s": self.D_tracer_cm2_per_s,
                "D_sigma_cm2_per_s": self.D_sigma_cm2_per_s,
                "haven_ratio": self.haven_ratio,
                "sigma_S_per_cm": self.sigma_S_per_cm,
                "sigma_NE_S_per_cm": self.sigma_NE_S_per_cm,
                "fit_window_fs": list(self.fit_window_fs),
                "timestep_fs": self.timestep_fs,
                "timestep_source": self.timestep_source,
                "frame_interval_fs": self.frame_interval_fs,
                "temperature_K": self.temperature_K,
                "species": self.species,
                "charges": self.charges,
                "n_mobile": self.n_mobile,
                "n_frames": self.n_frames,
                "volume_A3": self.volume_A3,
                "D_tracer_xyz_cm2_per_s": dict(zip(_DIRS, self.D_tracer_xyz_cm2_per_s,
                                                   strict=True)),
                "D_sigma_xyz_cm2_per_s": dict(zip(_DIRS, self.D_sigma_xyz_cm2_per_s,
                                                  strict=True)),
                "dimensionality": self.dimensionality,
                "block_average": self.block_average,
                "fit_lines": self.fit_lines,
                "drift_removed": self.drift_removed,
                "positions_on_disk": self.positions_on_disk,
                "source": self.source,
                "warnings": self.warnings,
                "msd": self.msd.downsampled(max_msd_points).to_dict(),
            }
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DiffusionResult:
        """Rebuild a result from :meth:`to_dict` output (MSD curves as stored)."""
        E = Estimate.from_dict
        ba = {}
        for k, v in d.get("block_average", {}).items():
            ba[k] = E(v) if isinstance(v, dict) and "value" in v else v
        return cls(
            species=list(d["species"]),
            temperature_K=float(d["temperature_K"]),
            D_tracer_cm2_per_s=E(d["D_tracer_cm2_per_s"]),
            D_sigma_cm2_per_s=E(d["D_sigma_cm2_per_s"]),
            haven_ratio=E(d["haven_ratio"]),
            sigma_S_per_cm=E(d["sigma_S_per_cm"]),
            sigma_NE_S_per_cm=E(d["sigma_NE_S_per_cm"]),
            D_tracer_xyz_cm2_per_s=[E(d["D_tracer_xyz_cm2_per_s"][a]) for a in _DIRS],
            D_sigma_xyz_cm2_per_s=[E(d["D_sigma_xyz_cm2_per_s"][a]) for a in _DIRS],
            dimensionality=int(d["dimensionality"]),
            fit_window_fs=(float(d["fit_window_fs"][0]), float(d["fit_window_fs"][1])),
            timestep_fs=d.get("timestep_fs"),
            timestep_source=d.get("timestep_source", "unknown"),
            frame_interval_fs=float(d["frame_interval_fs"]),
            n_frames=int(d["n_frames"]),
            n_mobile=int(d["n_mobile"]),
            charges={k: float(v) for k, v in d.get("charges", {}).items()},
            volume_A3=float(d["volume_A3"]),
            msd=MSDCurves.from_dict(d["msd"]),
            fit_lines=d.get("fit_lines", {}),
            block_average=ba,
            drift_removed=bool(d.get("drift_removed", False)),
            positions_on_disk=bool(d.get("positions_on_disk", False)),
            source=d.get("source", ""),
            warnings=list(d.get("warnings", [])),
        )

    def summary_rows(self) -> list[tuple[str, str]]:
        """(quantity, value) rows for a table."""
        rows = [
            ("species", ", ".join(self.species) + f"  (n = {self.n_mobile})"),
            ("temperature", f"{self.temperature_K:g} K"),
            ("D* (tracer)", str(self.D_tracer_cm2_per_s)),
            ("D_sigma", str(self.D_sigma_cm2_per_s)),
            ("Haven ratio", str(self.haven_ratio)),
            ("sigma (collective)", str(self.sigma_S_per_cm)),
            ("sigma (NE from D*)", str(self.sigma_NE_S_per_cm)),
        ]
        for a, e in zip(_DIRS, self.D_tracer_xyz_cm2_per_s, strict=True):
            rows.append((f"D*_{a}", str(e)))
        rows += [
            ("dimensionality", f"{self.dimensionality}D"),
            ("fit window", f"{self.fit_window_fs[0]:g} – {self.fit_window_fs[1]:g} fs"),
            ("time step", f"{self.timestep_fs} fs (source: {self.timestep_source})"),
            ("frame interval", f"{self.frame_interval_fs:g} fs, {self.n_frames} frames"),
        ]
        for key in ("D_tracer_cm2_per_s", "D_sigma_cm2_per_s", "haven_ratio"):
            e = self.block_average.get(key)
            if isinstance(e, Estimate):
                rows.append((f"block avg {key.split('_cm')[0]}", str(e)))
        return rows


# ---------------------------------------------------------------------------------------------
# streaming stage: unwrap, remove drift, store mobile positions (RAM or disk)


class _PositionStore:
    """Unwrapped mobile positions, in RAM or in a temporary memory-mapped file."""

    def __init__(self, n_atoms: int, budget_bytes: float, n_frames_hint: int | None = None):
        self.n_atoms = n_atoms
        self.budget_bytes = budget_bytes
        self._parts: list[np.ndarray] = []
        self._buf: np.ndarray | None = None
        if n_frames_hint and n_frames_hint * n_atoms * 24 <= budget_bytes:
            self._buf = np.empty((n_frames_hint, n_atoms, 3))
        self._file = None
        self._path: str | None = None
        self.n_frames = 0

    @property
    def on_disk(self) -> bool:
        return self._path is not None

    def append(self, x: np.ndarray) -> None:
        x = np.ascontiguousarray(x, dtype=np.float64)
        n0 = self.n_frames
        self.n_frames += x.shape[0]
        if self._buf is not None:
            if self.n_frames <= self._buf.shape[0]:
                self._buf[n0:self.n_frames] = x
                return
            self._parts, self._buf = [self._buf[:n0]], None  # more frames than announced
        if self._file is None and self.n_frames * self.n_atoms * 24 > self.budget_bytes:
            fd, self._path = tempfile.mkstemp(suffix=".f64", prefix="superionic_msd_")
            self._file = os.fdopen(fd, "wb")
            for part in self._parts:
                self._file.write(part.tobytes())
            self._parts = []
        if self._file is not None:
            self._file.write(x.tobytes())
        else:
            self._parts.append(x)

    def array(self) -> np.ndarray:
        if self._path is not None:
            if self._file is not None:
                self._file.close()
                self._file = None
            return np.memmap(self._path, dtype=np.float64, mode="r",
                             shape=(self.n_frames, self.n_atoms, 3))
        if self._buf is not None:
            return self._buf[: self.n_frames]
        arr = np.concatenate(self._parts) if self._parts else np.zeros((0, self.n_atoms, 3))
        self._parts = [arr]
        return arr

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        if self._path is not None and os.path.exists(self._path):
            os.remove(self._path)


def _masses(symbols: Sequence[str]) -> np.ndarray:
    from ase.data import atomic_masses, atomic_numbers

    unknown = sorted({s for s in symbols if s not in atomic_numbers})
    if unknown:
        raise InputError(f"unknown element symbols {unknown}", field="symbols",
                         expected="chemical element symbols (for the framework masses)")
    return np.array([atomic_masses[atomic_numbers[s]] for s in symbols])


# ---------------------------------------------------------------------------------------------


def _line_dict(fit: LineFit, n_dims: int, dt: float) -> dict[str, Any]:
    """Fitted line in MSD space, msd = a t + c, with Cov(a, c) for the plot band."""
    J = np.diag([2.0 * n_dims, 1.0])
    cov = J @ fit.cov @ J
    return {
        "slope_A2_per_fs": 2.0 * n_dims * fit.slope,
        "intercept_A2": fit.intercept,
        "cov": cov,
        "t_fs": [float(fit.lags[0] * dt), float(fit.lags[-1] * dt)],
    }


def _charges_for(species: list[str], charge: float | dict[str, float] | None) -> dict[str, float]:
    out = {}
    for s in species:
        if isinstance(charge, dict):
            q = charge.get(s, DEFAULT_CHARGES.get(s))
        elif charge is not None:
            q = float(charge)
        else:
            q = DEFAULT_CHARGES.get(s)
        if q is None or q == 0:
            raise InputError(f"no charge known for species {s!r}", field="charge",
                             expected="charge=<e> (e.g. charge=1 for Li+)")
        out[s] = float(q)
    return out


def analyse_diffusion(
    source: Any,
    species: str | Sequence[str] = "Li",
    *,
    temperature_K: float,
    timestep_fs: float | None = None,
    frame_interval_fs: float | None = None,
    format: str | None = None,
    charge: float | dict[str, float] | None = None,
    fit_window_fs: tuple[float | None, float | None] | None = None,
    min_fit_start_fs: float | None = None,
    end_fraction: float = 0.5,
    n_blocks: int = 5,
    remove_drift: bool = True,
    max_jump_A: float | None = None,
    assumed_haven_ratio: float | None = None,
    memory_limit_gb: float = 4.0,
    chunk_frames: int = 1000,
    max_fit_points: int = 64,
    progress: bool = False,
) -> DiffusionResult:
    """Tracer and collective diffusion, Haven ratio and conductivity of ``species``.

    ``source``: a trajectory path (read with :func:`superionic.io.open_trajectory`), a
    TrajectoryReader, a list of ASE Atoms or arrays (see
    :func:`superionic.transport.source.as_reader`). ``fit_window_fs = (start, end)`` overrides
    the automatic diffusive window (either may be None). ``charge`` (e) defaults to the
    common formal charge; a dict gives one per species. ``assumed_haven_ratio`` divides the
    Nernst–Einstein conductivity from D*. Memory for unwrapped positions beyond
    ``memory_limit_gb`` spills to a temporary memory-mapped file.
    """
    if temperature_K is None or not temperature_K > 0:
        raise InputError(f"temperature {temperature_K!r}", field="temperature_K",
                         expected="a positive temperature in K")
    reader = as_reader(source, format=format, timestep_fs=timestep_fs,
                       frame_interval_fs=frame_interval_fs, progress=progress)
    info = reader.info
    dt, ts, ts_source = frame_interval_of(reader)
    species_l = [species] if isinstance(species, str) else list(species)
    symbols = np.asarray(info.symbols)
    mobile = np.flatnonzero(np.isin(symbols, species_l))
    if len(mobile) == 0:
        raise InputError(f"no atoms of species {species_l} in the trajectory",
                         source=info.path, field="species",
                         expected=f"one of {sorted(set(info.symbols))}")
    charges = _charges_for(species_l, charge)
    q = np.array([charges[s] for s in symbols[mobile]])
    frame_mask = ~np.isin(symbols, species_l)
    framework = np.flatnonzero(frame_mask)
    drift = bool(remove_drift and len(framework) > 0)
    warnings: list[str] = []
    if remove_drift and not drift:
        warnings.append("no framework atoms: centre-of-mass drift not removed")
    masses = _masses(symbols[framework]) if drift else None
    budget = memory_limit_gb * 1e9
    store = _PositionStore(len(mobile), 0.5 * budget, info.n_frames)
    try:
        unwrapper = Unwrapper(max_jump_A=max_jump_A, source=info.path)
        sel = np.arange(len(symbols)) if drift else mobile
        volumes: list[np.ndarray] = []
        com0 = None
        # about a dozen chunk-sized work arrays live at once while unwrapping
        chunk_frames = max(16, min(chunk_frames, int(0.1 * budget / (len(sel) * 24 * 12))))
        chunks = reader.chunks(chunk_frames)
        if progress:
            from tqdm.auto import tqdm

            total = None if not info.n_frames else -(-info.n_frames // chunk_frames)
            chunks = tqdm(chunks, desc="unwrap", unit="chunk", total=total)
        for ch in chunks:
            img = None if ch.image_flags is None else ch.image_flags[:, sel]
            u = unwrapper.push(ch.positions[:, sel], ch.cells, img)
            volumes.append(np.abs(np.linalg.det(ch.cells)))
            if drift:
                com = np.tensordot(u[:, framework], masses / masses.sum(), axes=([1], [0]))
                if com0 is None:
                    com0 = com[0].copy()
                x = u[:, mobile] - (com - com0)[:, None, :]
            else:
                x = u if sel is mobile else u[:, mobile]
            store.append(x)
        x = store.array()
        on_disk = store.on_disk
        T = x.shape[0]
        if T < 10:
            raise InputError(f"only {T} frames", source=info.path, field="frames",
                             expected="at least 10 frames (many more for a diffusion fit)")
        volume = float(np.concatenate(volumes).mean())
        result = _analyse_positions(
            x, q, dt, temperature_K, volume, fit_window_fs, min_fit_start_fs, end_fraction,
            n_blocks, assumed_haven_ratio, budget, max_fit_points, warnings,
        )
    finally:
        store.close()
    return DiffusionResult(
        species=species_l,
        temperature_K=float(temperature_K),
        timestep_fs=ts,
        timestep_source=ts_source,
        frame_interval_fs=dt,
        n_frames=T,
        n_mobile=len(mobile),
        charges=charges,
        volume_A3=volume,
        drift_removed=drift,
        positions_on_disk=on_disk,
        source=str(info.path),
        warnings=warnings,
        **result,
    )


def _msds(
    x: np.ndarray, q: np.ndarray, n_blocks: int, budget: float
) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Charge²-weighted tracer MSD, charge-weighted collective MSD, and the same per block."""
    T, N, _ = x.shape
    w = np.sqrt(q * q / np.sum(q * q))  # tracer weights q_i²/Σq² (uniform for one species)
    tracer = np.zeros((T, 3))
    collective_pos = np.zeros((T, 3))
    Tb = T // n_blocks if n_blocks >= 2 else 0
    blocks_tr = [np.zeros((Tb, 3)) for _ in range(n_blocks if Tb else 0)]
    for sl in atom_chunks(N, T, min(0.1 * budget, 256e6)):
        xc = np.asarray(x[:, sl])
        tracer += msd_fft_sum(xc * w[sl, None])
        collective_pos += np.tensordot(xc, q[sl], axes=([1], [0]))
        for b in range(len(blocks_tr)):
            blocks_tr[b] += msd_fft_sum(xc[b * Tb:(b + 1) * Tb] * w[sl, None])
    norm = float(np.sum(q * q))
    collective = msd_fft_sum(collective_pos[:, None, :]) / norm
    blocks = [
        (blocks_tr[b], msd_fft_sum(collective_pos[b * Tb:(b + 1) * Tb, None, :]) / norm)
        for b in range(len(blocks_tr))
    ]
    return tracer, collective, blocks


def _inflation(fit: LineFit, name: str | None = None, warnings: list[str] | None = None) -> float:
    """√(χ²/dof) when the GLS residual exceeds its 97.5 % quantile under the covariance model
    (the MSD is not a random walk plus bounded motion), else 1; warns under ``name``."""
    if not fit.misfit:
        return 1.0
    g = math.sqrt(fit.chi2_per_dof)
    if warnings is not None and name is not None:
        warnings.append(
            f"{name}: the tracer MSD departs from the random-walk-plus-rattling model "
            f"(χ²/dof = {fit.chi2_per_dof:.3g} over {fit.dof} degrees of freedom, above its "
            f"97.5 % quantile); its standard error is inflated by √(χ²/dof) = {g:.3g}"
        )
    return g


def _noise_of(fit: LineFit) -> tuple[float, float]:
    """(s², τ) of the bounded motion found in a tracer fit."""
    return fit.noise_var_A2, fit.noise_tau_frames


def _fit_set(
    tr: np.ndarray,
    co: np.ndarray,
    lags: np.ndarray,
    dt: float,
    n_eff: float,
    kappa: tuple[float, np.ndarray],
    r_corr: float = 1.0,
    directional: bool = True,
) -> dict[str, Any]:
    """GLS fits of tracer and collective MSDs (per direction and 3D) plus Cov(D*, D_σ).

    ``n_eff`` independent tracers; ``r_corr`` (≥ 1) shrinks the Gaussian part of the tracer
    covariance to N/r particles for correlated motion (κ terms keep ``n_eff``).
    """
    k3, kdir = kappa
    n_g = n_eff / r_corr
    kdir = np.asarray(kdir) / r_corr  # (2trΣ²Ω₂ + κΩ₁)/n_g with κ -> κ/r equals κΩ₁/n_eff
    k3_tr = k3 / r_corr
    floor = 1e-12 * max(float(tr[lags].sum(axis=1).max()), 1e-300) / (lags[-1] * dt)
    out: dict[str, Any] = {}
    if directional:
        d_tr, s_tr, d_co, s_co, f_tr_dir, f_co_dir = [], [], [], [], [], []
        for a in range(3):
            da, fa = fit_random_walk(tr[:, a], lags, dt, n_dims=1, n_particles=n_g,
                                     kappa=kdir[a])
            # independent rattling gives the charge-weighted collective MSD the same bounded
            # part (s², τ) as the tracer MSD, where it is far better determined
            dc, fc = fit_random_walk(co[:, a], lags, dt, n_dims=1, n_particles=1.0,
                                     kappa=kdir[a] * r_corr / n_eff, noise=_noise_of(fa),
                                     plateau_shape=False)
            d_tr.append(da)
            d_co.append(dc)
            f_tr_dir.append(fa)
            f_co_dir.append(fc)
            s_tr.append(2.0 * max(da, floor) * dt)
            # a collective estimate near or below zero would make its own variance vanish:
            # the variance scale never drops below that of H_R = 10
            s_co.append(2.0 * max(dc, 0.1 * da, floor) * dt)
        s_tr_a, s_co_a = np.array(s_tr), np.array(s_co)
        out["dir"] = (f_tr_dir, f_co_dir)
    else:
        s_tr_a = s_co_a = None
    D_tr, f_tr = fit_random_walk(tr.sum(axis=1), lags, dt, n_dims=3, n_particles=n_g,
                                 kappa=k3_tr, step_var_per_dim=s_tr_a)
    D_co, f_co = fit_random_walk(co.sum(axis=1), lags, dt, n_dims=3, n_particles=1.0,
                                 kappa=k3 / n_eff, step_var_per_dim=s_co_a, noise=_noise_of(f_tr),
                                 plateau_shape=False)
    if s_co_a is None:
        s_co_a = np.full(3, 2.0 * max(D_co, 0.1 * D_tr, floor) * dt)
    c_cross = random_walk_covariance(len(tr), lags, s_co_a, k3, n_eff)
    if f_tr.noise_var_A2 > 0 and f_tr.noise_tau_frames > 0:
        c_cross = c_cross + bounded_noise_covariance(
            len(tr), lags, s_co_a, np.full(3, f_tr.noise_var_A2), f_tr.noise_tau_frames, n_eff)
    cov = float(f_tr.weights[0] @ c_cross @ f_co.weights[0])
    out.update(D_tr=D_tr, f_tr=f_tr, D_co=D_co, f_co=f_co, cov=cov)
    return out


def _analyse_positions(
    x: np.ndarray,
    q: np.ndarray,
    dt: float,
    temperature_K: float,
    volume_A3: float,
    fit_window_fs: tuple[float | None, float | None] | None,
    min_fit_start_fs: float | None,
    end_fraction: float,
    n_blocks: int,
    assumed_haven_ratio: float | None,
    budget: float,
    max_fit_points: int,
    warnings: list[str],
) -> dict[str, Any]:
    T, N, _ = x.shape
    tracer, collective, blocks = _msds(x, q, n_blocks, budget)
    time_fs = np.arange(T) * dt
    start_fs, end_fs = fit_window_fs if fit_window_fs is not None else (None, None)
    w2 = q * q / np.sum(q * q)
    n_eff = float(1.0 / np.sum(w2 * w2))  # Kish effective number of tracer particles
    m_dir = tracer[int(end_fraction * (T - 1))]
    d_eff = float(m_dir.sum() ** 2 / max(np.sum(m_dir**2), 1e-300))  # 1 for a 1D channel
    k0, k1, warn = select_fit_window(
        time_fs, tracer.sum(axis=1), start_fs=start_fs, end_fs=end_fs,
        min_start_fs=min_fit_start_fs, end_fraction=end_fraction,
        n_effective=n_eff, n_dims_effective=min(max(d_eff, 1.0), 3.0),
    )
    warnings += warn
    lags = fit_lags(k0, k1, max_fit_points)
    kblock = max(1, k0)
    k3, _ = step_cumulant(x, kblock)
    kdir = np.array([step_cumulant(x, kblock, (a,))[0] for a in range(3)])
    # correlated hops make the tracer MSD noisier: N -> N/r in its Gaussian covariance term
    r_corr = cross_correlation_ratio(x, kblock, np.sqrt(w2))
    fits = _fit_set(tracer, collective, lags, dt, n_eff, (k3, kdir), r_corr)
    f_tr_dir, f_co_dir = fits["dir"]
    method = "GLS, analytic random-walk + bounded-motion MSD covariance"
    f_tr, f_co = fits["f_tr"], fits["f_co"]
    # the goodness of fit is judged on the tracer MSD: the collective one has a single noisy
    # walker whose own D sets its covariance scale, so its χ² is not a reliable test
    g_tr = _inflation(f_tr, "D* and D_sigma", warnings)
    se_tr, se_co = f_tr.slope_stderr * g_tr, f_co.slope_stderr * g_tr
    rattle = {"rattling_rms_A": math.sqrt(f_tr.noise_var_A2),
              "rattling_time_fs": f_tr.noise_tau_frames * dt}
    D_tr = diffusion_estimate(fits["D_tr"], se_tr, method, n_effective_tracers=n_eff / r_corr,
                              chi2_per_dof=f_tr.chi2_per_dof, **rattle)
    D_co = diffusion_estimate(fits["D_co"], se_co, method + ", collective")
    g_dir = [_inflation(f) for f in f_tr_dir]
    D_tr_xyz = [diffusion_estimate(f.slope, f.slope_stderr * g, method)
                for f, g in zip(f_tr_dir, g_dir, strict=True)]
    D_co_xyz = [diffusion_estimate(f.slope, f.slope_stderr * g, method)
                for f, g in zip(f_co_dir, g_dir, strict=True)]
    H = haven_ratio(fits["D_tr"], se_tr, fits["D_co"], se_co, fits["cov"] * g_tr * g_tr)
    for name, e in (("D*", D_tr), ("D_sigma", D_co)):
        if not e.value > 0 or e.stderr > 0.5 * e.value:
            warnings.append(
                f"{name} is poorly determined (relative standard error above 50 %), so its "
                "interval is very wide: run longer or simulate more mobile ions"
            )
        nu = satterthwaite_dof(e.value, e.stderr)
        if not nu >= NU_MIN:
            warnings.append(
                f"{name} undetermined: its standard error exceeds its value (ν = {nu:.2g} < "
                f"{NU_MIN:g} degrees of freedom), so its 95 % interval has no finite upper bound"
            )
    if "undetermined" in str(H.extra.get("note", "")):
        warnings.append(f"haven_ratio {H.extra['note']}")
    sum_q2_per_A3 = float(np.sum(q * q)) / volume_A3
    sigma = conductivity_estimate(D_co, sum_q2_per_A3, temperature_K,
                                  method="Einstein-Helfand (collective MSD)")
    sigma_ne = conductivity_estimate(
        D_tr, sum_q2_per_A3, temperature_K, haven_ratio=assumed_haven_ratio or 1.0,
        method="Nernst-Einstein from D*" + (
            f" / assumed H_R = {assumed_haven_ratio:g}" if assumed_haven_ratio else ""),
    )
    block = _block_average(blocks, k0, k1, dt, n_eff, end_fraction, (k3, kdir), r_corr,
                           max_fit_points)
    return {
        "D_tracer_cm2_per_s": D_tr,
        "D_sigma_cm2_per_s": D_co,
        "haven_ratio": H,
        "sigma_S_per_cm": sigma,
        "sigma_NE_S_per_cm": sigma_ne,
        "D_tracer_xyz_cm2_per_s": D_tr_xyz,
        "D_sigma_xyz_cm2_per_s": D_co_xyz,
        "dimensionality": conduction_dimensionality(D_tr_xyz),
        "fit_window_fs": (float(lags[0] * dt), float(lags[-1] * dt)),
        "msd": MSDCurves(time_fs, tracer, collective),
        "fit_lines": {
            "tracer": _line_dict(fits["f_tr"], 3, dt),
            "collective": _line_dict(fits["f_co"], 3, dt),
            **{f"tracer_{a}": _line_dict(f, 1, dt) for a, f in zip(_DIRS, f_tr_dir, strict=True)},
            **{f"collective_{a}": _line_dict(f, 1, dt)
               for a, f in zip(_DIRS, f_co_dir, strict=True)},
        },
        "block_average": block,
    }


def _block_average(
    blocks: list[tuple[np.ndarray, np.ndarray]],
    k0: int,
    k1: int,
    dt: float,
    n_eff: float,
    end_fraction: float,
    kappa: tuple[float, np.ndarray],
    r_corr: float,
    max_fit_points: int,
) -> dict[str, Any]:
    """D*, D_σ, H_R from independent time blocks: mean, standard error, t-interval, and the
    covariance of (ln D*, ln D_σ) over blocks."""
    if len(blocks) < 2:
        return {}
    Tb = blocks[0][0].shape[0]
    e = min(k1, int(end_fraction * (Tb - 1)))
    s = min(k0, max(1, e // 4))
    if e - s < 2:
        return {"note": "blocks too short for the fit window"}
    lags = fit_lags(s, e, max_fit_points)
    d_tr, d_co = [], []
    for tr, co in blocks:
        f = _fit_set(tr, co, lags, dt, n_eff, kappa, r_corr, directional=False)
        d_tr.append(f["D_tr"])
        d_co.append(f["D_co"])
    d_tr_a = np.array(d_tr) * A2_PER_FS_TO_CM2_PER_S
    d_co_a = np.array(d_co) * A2_PER_FS_TO_CM2_PER_S
    out: dict[str, Any] = {
        "n_blocks": len(blocks),
        "block_length_fs": Tb * dt,
        "fit_window_fs": [float(lags[0] * dt), float(lags[-1] * dt)],
        "D_tracer_cm2_per_s": block_estimate(d_tr_a, "cm^2/s"),
        "D_sigma_cm2_per_s": block_estimate(d_co_a, "cm^2/s"),
    }
    m_tr, m_co = d_tr_a.mean(), d_co_a.mean()
    if m_tr > 0 and m_co > 0:
        n = len(blocks)
        c = np.cov(np.vstack([d_tr_a / m_tr, d_co_a / m_co])) / n  # Cov of ln of block means
        var_ln = max(float(c[0, 0] + c[1, 1] - 2 * c[0, 1]), 0.0)
        from scipy import stats

        tq = float(stats.t.ppf(0.975, n - 1))
        h = m_tr / m_co
        se = math.sqrt(var_ln)
        out["haven_ratio"] = Estimate(
            h, h * se, (h * math.exp(-tq * se), h * math.exp(tq * se)), "",
            "block average, ratio of block means", {"n_blocks": n},
        )
        out["cov_ln_D_tracer_D_sigma"] = c
    return out
