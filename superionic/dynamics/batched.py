"""Batched molecular dynamics of many independent systems with QMTP on a torch device.

All systems (replicas, temperatures, compositions) are concatenated into one set of tensors,
as TorchSim does (Cohen et al., arXiv:2508.06628 (2025)): one model call per step evaluates
every system, so a GPU is kept busy by thousands of atoms even when each cell is small.
Forces come from :class:`~superionic.potentials.qmtp_torch.QMTPTorch` (the same model and
numbers as the numba engine, to float64 rounding). Neighbours are Verlet lists built on the
device (all periodic images within r_cut + skin) and rebuilt when an atom has moved more than
half the skin. Thermostat: Langevin by the BAOAB splitting (Leimkuhler & Matthews, Appl. Math.
Res. Express 2013, 34 (2013)), per-system temperatures; friction 0 gives velocity Verlet (NVE).
Each system writes its own H5MD trajectory (unwrapped positions, velocities); the run
checkpoints and resumes exactly.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ase import Atoms, units

from superionic.core.errors import InputError
from superionic.dynamics.checkpoint import (
    config_hash,
    load_checkpoint,
    save_checkpoint,
    truncate_h5md,
)
from superionic.dynamics.md import SimulationError
from superionic.potentials.qmtp import QMTP
from superionic.potentials.qmtp_torch import Batch, QMTPTorch

#: Verlet skin (Å) added to the model cutoff.
DEFAULT_SKIN_A = 1.0
#: Largest number of pair distances held at once while searching neighbours.
_SEARCH_BLOCK = 4_000_000


def _image_range(cell: torch.Tensor, r: float) -> list[int]:
    """Periodic images needed per axis so that every pair within r is found."""
    inv_t = torch.linalg.inv(cell).T  # rows: reciprocal vectors / 2π
    widths = 1.0 / torch.linalg.norm(inv_t, dim=1)
    return [int(np.ceil(r / float(w))) for w in widths]


def verlet_pairs(positions: torch.Tensor, cell: torch.Tensor, r_list: float
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """All pairs (i, j, shift) of one periodic system with |R_j − R_i + shift · cell| < r_list,
    shift integer (as float); i ≠ j or shift ≠ 0. ``positions`` need not lie in the cell."""
    n = positions.shape[0]
    frac = positions @ torch.linalg.inv(cell)
    fl = torch.floor(frac)
    wrapped = (frac - fl) @ cell
    nx, ny, nz = _image_range(cell, r_list)
    grid = torch.stack(torch.meshgrid(
        *(torch.arange(-m, m + 1, dtype=positions.dtype, device=positions.device)
          for m in (nx, ny, nz)), indexing="ij"), dim=-1).reshape(-1, 3)
    r2 = r_list * r_list
    rows = max(1, _SEARCH_BLOCK // max(1, n))
    out_i, out_j, out_s = [], [], []
    for s in grid:
        offset = s @ cell
        zero = bool((s == 0).all())
        for start in range(0, n, rows):
            stop = min(n, start + rows)
            d = wrapped[None, :, :] - wrapped[start:stop, None, :] + offset
            near = (d * d).sum(dim=-1) < r2
            if zero:
                idx = torch.arange(start, stop, device=positions.device)
                near[idx - start, idx] = False
            i, j = torch.nonzero(near, as_tuple=True)
            out_i.append(i + start)
            out_j.append(j)
            out_s.append(s.expand(i.shape[0], 3))
    i = torch.cat(out_i)
    j = torch.cat(out_j)
    # shift relative to the unwrapped positions: R_j − R_i + (s − ⌊f_j⌋ + ⌊f_i⌋) · cell
    shift = torch.cat(out_s) - fl[j] + fl[i]
    return i, j, shift


@dataclass
class BatchedState:
    """What a batched run needs to continue exactly (see :mod:`.checkpoint`)."""

    step: int
    n_frames: int
    wall_s: float
    md: dict[str, Any]
    config_hash: str


@dataclass
class BatchedMDResult:
    """Summary of a batched run (per-system lists in input order)."""

    n_systems: int
    n_atoms: list[int]
    steps: int
    timestep_fs: float
    temperatures_K: list[float]
    trajectories: list[str]
    atom_steps_per_s: float
    wall_s: float
    resumed_from_step: int
    mean_temperature_K: list[float]
    energy_drift_meV_per_atom_per_ps: list[float] | None
    neighbour_rebuilds: int
    device: str
    max_extrapolation_grades: list[float] | None = None
    stopped_early: str | None = None
    log: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d.pop("log")
        d["n_atoms_total"] = int(sum(self.n_atoms))
        return d


class BatchedMD:
    """Langevin (BAOAB) or NVE dynamics of ``systems`` with one QMTP on ``device``.

    ``temperatures_K``: one value for all systems or one per system. ``friction_per_fs`` 0
    gives NVE. Total charge of each system: the sum of its initial charges (charged models).
    """

    def __init__(self, model: QMTP, systems: Sequence[Atoms], *,
                 temperatures_K: float | Sequence[float], timestep_fs: float = 2.0,
                 friction_per_fs: float = 0.01, device: str = "cpu", seed: int = 0,
                 skin_A: float = DEFAULT_SKIN_A) -> None:
        if not systems:
            raise InputError("no systems to run", expected="at least one periodic structure")
        for k, a in enumerate(systems):
            if not bool(np.all(a.pbc)):
                raise InputError("batched MD needs periodic cells", source=f"system {k}",
                                 field="pbc", expected="pbc=True along all three axes")
            model.species_index(a, source=f"system {k}")
        temps = np.broadcast_to(np.asarray(temperatures_K, float), (len(systems),)).copy()
        if np.any(temps < 0) or not np.all(np.isfinite(temps)):
            raise InputError(f"temperatures {temps.tolist()}", field="temperatures_K",
                             expected="finite temperatures >= 0 K")
        if timestep_fs <= 0 or friction_per_fs < 0:
            raise InputError(f"timestep {timestep_fs} fs, friction {friction_per_fs} /fs",
                             field="timestep_fs", expected="timestep > 0, friction >= 0")
        self.model = model
        self.systems = [a.copy() for a in systems]
        self.device = torch.device(device)
        self.temperatures_K = temps
        self.timestep_fs = float(timestep_fs)
        self.friction_per_fs = float(friction_per_fs)
        self.skin = float(skin_A)
        self.seed = int(seed)
        dev, f64 = self.device, dict(dtype=torch.float64, device=self.device)
        self.torch_model = QMTPTorch(model, device=str(dev), electrostatics="autograd")
        for p in self.torch_model.parameters():
            p.requires_grad_(False)
        sizes = [len(a) for a in self.systems]
        self.slices = np.cumsum([0] + sizes)
        sys_idx = np.repeat(np.arange(len(sizes)), sizes)
        self.system = torch.as_tensor(sys_idx, dtype=torch.long, device=dev)
        self.species = torch.as_tensor(np.concatenate([model.species_index(a)
                                                       for a in self.systems]),
                                       dtype=torch.long, device=dev)
        self.cells = torch.as_tensor(np.array([a.cell.array for a in self.systems]), **f64)
        self.masses = torch.as_tensor(np.concatenate([a.get_masses() for a in self.systems]),
                                      **f64)
        self.positions = torch.as_tensor(np.concatenate([a.positions for a in self.systems]),
                                         **f64)
        self.velocities = torch.zeros_like(self.positions)
        self.kT = torch.as_tensor(temps * units.kB, **f64)
        self.total_charge = torch.as_tensor(
            [float(np.round(a.get_initial_charges().sum(), 8)) for a in self.systems], **f64)
        self.ewald = self._ewald_parameters()
        self.generator = torch.Generator(device=dev)
        self.generator.manual_seed(self.seed)
        self.n_rebuilds = 0
        self._batch: Batch | None = None
        self._ref_positions: torch.Tensor | None = None
        self.forces: torch.Tensor | None = None
        self.energies: torch.Tensor | None = None
        self.basis: torch.Tensor | None = None

    # ------------------------------------------------------------------ set-up
    def _ewald_parameters(self) -> list:
        if not self.model.charges:
            return [None] * len(self.systems)
        from superionic.potentials.ewald import ewald_parameters

        out = []
        for a in self.systems:
            sig = self.model.sigma_[self.model.species_index(a)]
            out.append(ewald_parameters(a.cell.array, len(a), self.model.ewald_accuracy,
                                        sigma_max=float(sig.max())))
        return out

    def maxwell_boltzmann(self) -> None:
        """Draw velocities at each system's temperature, without centre-of-mass motion."""
        kT = self.kT[self.system][:, None]
        noise = torch.randn(self.positions.shape, generator=self.generator,
                            dtype=torch.float64, device=self.device)
        self.velocities = noise * torch.sqrt(kT / self.masses[:, None])
        self._remove_drift()

    def _remove_drift(self) -> None:
        n = len(self.systems)
        p = torch.zeros(n, 3, dtype=torch.float64, device=self.device).index_add(
            0, self.system, self.velocities * self.masses[:, None])
        m = torch.zeros(n, dtype=torch.float64, device=self.device).index_add(
            0, self.system, self.masses)
        self.velocities = self.velocities - (p / m[:, None])[self.system]

    # ------------------------------------------------------------------ neighbours
    def _rebuild(self) -> None:
        r_list = self.model.r_cut + self.skin
        pi, pj, ps, psys = [], [], [], []
        for k in range(len(self.systems)):
            lo, hi = int(self.slices[k]), int(self.slices[k + 1])
            i, j, s = verlet_pairs(self.positions[lo:hi], self.cells[k], r_list)
            pi.append(i + lo)
            pj.append(j + lo)
            ps.append(s)
            psys.append(torch.full_like(i, k))
        dev = self.device
        self._batch = Batch(
            n_systems=len(self.systems),
            n_atoms=torch.as_tensor(np.diff(self.slices), dtype=torch.long, device=dev),
            species=self.species, positions=self.positions, system=self.system,
            cells=self.cells, periodic=[True] * len(self.systems),
            volumes=torch.abs(torch.linalg.det(self.cells)),
            pair_i=torch.cat(pi), pair_j=torch.cat(pj), pair_shift=torch.cat(ps),
            pair_system=torch.cat(psys), total_charge=self.total_charge, ewald=self.ewald,
            atom_slices=[slice(int(self.slices[k]), int(self.slices[k + 1]))
                         for k in range(len(self.systems))],
        )
        self._ref_positions = self.positions.clone()
        self.n_rebuilds += 1

    def _neighbours_current(self) -> bool:
        if self._batch is None:
            return False
        moved = torch.linalg.norm(self.positions - self._ref_positions, dim=1).max()
        return bool(moved < 0.5 * self.skin)

    # ------------------------------------------------------------------ forces
    def compute_forces(self) -> None:
        """Energies (per system) and forces at the current positions."""
        if not self._neighbours_current():
            self._rebuild()
        self._batch.positions = self.positions
        out = self.torch_model(self._batch, forces=True, stress=False)
        self.energies = out["energy"].detach()
        self.forces = out["forces"].detach()
        self.basis = out["basis"].detach()

    # ------------------------------------------------------------------ integration
    def step(self) -> None:
        """One BAOAB step (B: half kick, A: half drift, O: exact Ornstein-Uhlenbeck)."""
        if self.forces is None:
            self.compute_forces()
        dt = self.timestep_fs * units.fs
        inv_m = 1.0 / self.masses[:, None]
        self.velocities = self.velocities + 0.5 * dt * self.forces * inv_m
        self.positions = self.positions + 0.5 * dt * self.velocities
        if self.friction_per_fs > 0:
            c1 = float(np.exp(-self.friction_per_fs * self.timestep_fs))
            sigma = torch.sqrt((1.0 - c1 * c1) * self.kT[self.system][:, None] * inv_m)
            noise = torch.randn(self.positions.shape, generator=self.generator,
                                dtype=torch.float64, device=self.device)
            self.velocities = c1 * self.velocities + sigma * noise
        self.positions = self.positions + 0.5 * dt * self.velocities
        self.compute_forces()
        self.velocities = self.velocities + 0.5 * dt * self.forces * inv_m

    def kinetic_energies(self) -> torch.Tensor:
        """Kinetic energy (eV) per system."""
        e = 0.5 * self.masses * (self.velocities**2).sum(dim=1)
        return torch.zeros(len(self.systems), dtype=torch.float64,
                           device=self.device).index_add(0, self.system, e)

    def instantaneous_temperatures(self) -> np.ndarray:
        """Temperature (K) per system, 3N/2 k_B T = E_kin."""
        n = np.diff(self.slices)
        return self.kinetic_energies().cpu().numpy() / (1.5 * units.kB * n)

    # ------------------------------------------------------------------ state
    def state(self) -> dict[str, Any]:
        return {"positions": self.positions.cpu().numpy(),
                "velocities": self.velocities.cpu().numpy(),
                "generator": self.generator.get_state().cpu().numpy()}

    def set_state(self, state: dict[str, Any]) -> None:
        f64 = dict(dtype=torch.float64, device=self.device)
        self.positions = torch.as_tensor(state["positions"], **f64)
        self.velocities = torch.as_tensor(state["velocities"], **f64)
        self.generator.set_state(torch.as_tensor(state["generator"], dtype=torch.uint8))
        self.forces = None
        self._batch = None


def run_batched_md(model: QMTP, systems: Sequence[Atoms], *,
                   temperatures_K: float | Sequence[float], steps: int, out_dir: str | Path,
                   timestep_fs: float = 2.0, friction_per_fs: float = 0.01,
                   sample_every: int = 10, checkpoint_every: int = 500, device: str = "cpu",
                   seed: int = 0, resume: bool = True, progress: bool = False,
                   names: Sequence[str] | None = None,
                   checkpoint_name: str = "checkpoint.pkl", active_set: Any = None,
                   break_grade: float | None = None, check_every: int = 1
                   ) -> BatchedMDResult:
    """Run ``steps`` steps of every system together; trajectories ``out_dir/NAME.h5``.

    ``out_dir/checkpoint_name`` holds the state every ``checkpoint_every`` steps; a rerun with
    the same settings continues from it (frames written after it are dropped and recomputed).
    With an ``active_set`` (:class:`~superionic.potentials.active_learning.ActiveSet` of the
    model) each system's extrapolation grade is taken every ``check_every`` steps from the
    basis the force call already computed; the largest per system is reported, and the run
    stops (``stopped_early``) as soon as one passes ``break_grade`` (default: the active
    learning break grade), the potential being outside its training domain there.
    """
    from superionic.io.h5md import H5MDWriter

    if steps < 0 or sample_every < 1 or checkpoint_every < 1:
        raise InputError(f"steps {steps}, sample_every {sample_every}, checkpoint_every "
                         f"{checkpoint_every}", field="steps",
                         expected="steps >= 0, sample_every >= 1, checkpoint_every >= 1")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = list(names) if names is not None else [f"system_{k:04d}" for k in
                                                   range(len(systems))]
    if len(names) != len(systems) or len(set(names)) != len(names):
        raise InputError(f"{len(names)} names for {len(systems)} systems", field="names",
                         expected="one distinct name per system")
    md = BatchedMD(model, systems, temperatures_K=temperatures_K, timestep_fs=timestep_fs,
                   friction_per_fs=friction_per_fs, device=device, seed=seed)
    cfg = {"systems": [(a.get_chemical_symbols(), np.round(a.cell.array, 8).tolist(),
                        np.round(a.positions, 6).tolist()) for a in systems],
           "T": md.temperatures_K.tolist(), "dt": timestep_fs, "friction": friction_per_fs,
           "sample_every": sample_every, "seed": seed, "names": names,
           "model": [np.asarray(getattr(model, k)).tobytes().hex()[:64]
                     for k in ("xi_", "radial_coeffs_")]}
    chash = config_hash(cfg)
    ckpt = out_dir / checkpoint_name
    paths = [out_dir / f"{n}.h5" for n in names]
    start_step, n_frames, wall_before = 0, 0, 0.0
    state = load_checkpoint(ckpt, chash) if resume else None
    if state is not None and all(p.exists() for p in paths):
        md.set_state(state.md)
        start_step, n_frames, wall_before = state.step, state.n_frames, state.wall_s
        for p in paths:
            truncate_h5md(p, n_frames)
    else:
        md.maxwell_boltzmann()
    writers = [H5MDWriter(p, a.get_chemical_symbols(), timestep_fs=timestep_fs,
                          frame_interval_fs=timestep_fs * sample_every, masses=a.get_masses(),
                          append=start_step > 0) for p, a in zip(paths, systems, strict=True)]
    if active_set is not None and break_grade is None:
        from superionic.potentials.active_learning import DEFAULT_BREAK_GRADE

        break_grade = DEFAULT_BREAK_GRADE
    max_grades = [0.0] * len(systems)
    stopped: str | None = None

    def watch() -> str | None:
        basis = md.basis.cpu().numpy()
        for k, a in enumerate(systems):
            g = float(active_set.grade_from_basis(
                basis[int(md.slices[k]):int(md.slices[k + 1])], a)[0])
            max_grades[k] = max(max_grades[k], g)
            if g > break_grade:
                return (f"system {names[k]}: extrapolation grade {g:.3g} > {break_grade:g} "
                        f"at step {step}")
        return None

    log: dict[str, list] = {"time_fs": [], "epot_eV": [], "ekin_eV": []}
    buffers: list[list[dict[str, np.ndarray]]] = [[] for _ in systems]
    step = start_step

    def sample() -> None:
        if md.forces is None:
            md.compute_forces()
        e = md.energies.cpu().numpy()
        if not (np.all(np.isfinite(e)) and bool(torch.isfinite(md.forces).all())):
            flush()
            raise SimulationError(
                f"non-finite energy or forces at step {step} (of {steps}); frames up to "
                f"{n_frames} and the last checkpoint are kept in {out_dir}")
        pos = md.positions.cpu().numpy()
        vel = md.velocities.cpu().numpy() * units.fs
        for k, a in enumerate(systems):
            sl = slice(int(md.slices[k]), int(md.slices[k + 1]))
            buffers[k].append({"positions": pos[sl].copy(), "cells": a.cell.array.copy(),
                               "velocities": vel[sl].copy(), "energies": np.array(e[k])})
        log["time_fs"].append(step * timestep_fs)
        log["epot_eV"].append(e)
        log["ekin_eV"].append(md.kinetic_energies().cpu().numpy())

    def flush() -> None:
        nonlocal n_frames
        for w, buf in zip(writers, buffers, strict=True):
            if buf:
                w.append({k: np.array([b[k] for b in buf]) for k in buf[0]})
        n_frames += len(buffers[0])
        for buf in buffers:
            buf.clear()

    def checkpoint(wall: float) -> None:
        flush()
        save_checkpoint(ckpt, BatchedState(step, n_frames, wall, md.state(), chash))

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=steps, initial=start_step, unit="step",
                   desc=f"batched MD ({len(systems)} systems)")
    if start_step == 0:
        sample()
    t_first = None
    first_step = step
    t_start = time.perf_counter()
    try:
        while step < steps:
            md.step()
            step += 1
            if t_first is None:
                if md.device.type == "cuda":
                    torch.cuda.synchronize(md.device)
                t_first, first_step = time.perf_counter(), step  # start-up excluded
            if step % sample_every == 0:
                sample()
            if active_set is not None and step % check_every == 0:
                stopped = watch()
                if stopped:
                    break
            if step % checkpoint_every == 0:
                checkpoint(wall_before + time.perf_counter() - t_start)
            if bar is not None:
                bar.update(1)
        if md.device.type == "cuda":
            torch.cuda.synchronize(md.device)
        t_end = time.perf_counter()
        checkpoint(wall_before + t_end - t_start)
    finally:
        flush()
        for w in writers:
            w.close()
        if bar is not None:
            bar.close()
    n_total = int(md.slices[-1])
    timed = step - first_step
    rate = n_total * timed / (t_end - t_first) if t_first is not None and timed > 0 \
        else float("nan")
    sizes = np.diff(md.slices)
    ekin = np.array(log["ekin_eV"]) if log["ekin_eV"] else np.zeros((0, len(systems)))
    mean_t = (ekin.mean(axis=0) / (1.5 * units.kB * sizes)).tolist() if len(ekin) else \
        [float("nan")] * len(systems)
    drift = None
    if friction_per_fs == 0 and len(log["time_fs"]) > 2:
        etot = (np.array(log["epot_eV"]) + ekin) / sizes
        t_ps = np.array(log["time_fs"]) / 1000.0
        drift = [float(np.polyfit(t_ps, etot[:, k], 1)[0] * 1000.0) for k in range(len(sizes))]
    return BatchedMDResult(
        n_systems=len(systems), n_atoms=sizes.tolist(), steps=step, timestep_fs=timestep_fs,
        temperatures_K=md.temperatures_K.tolist(), trajectories=[str(p) for p in paths],
        atom_steps_per_s=float(rate), wall_s=wall_before + t_end - t_start,
        resumed_from_step=start_step, mean_temperature_K=mean_t,
        energy_drift_meV_per_atom_per_ps=drift, neighbour_rebuilds=md.n_rebuilds,
        device=str(md.device),
        max_extrapolation_grades=max_grades if active_set is not None else None,
        stopped_early=stopped, log=log)

