"""Molecular dynamics runs with H5MD output, checkpoints and exact resume.

The integrators are ASE's; this module adds what production runs need: a trajectory written
as H5MD (positions, velocities, cell, potential energy) that the transport layer reads,
checkpoints so a killed run resumes where it stopped and gives the same trajectory as an
uninterrupted one (for the stochastic thermostats the random state is checkpointed too), a
check of every sampled frame for NaN forces or energies, and throughput measured over the MD
steps with start-up excluded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms, units
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary

from superionic.core.errors import SuperionicError
from superionic.core.threads import blas_limit
from superionic.dynamics.checkpoint import (
    MDState,
    config_hash,
    load_checkpoint,
    save_checkpoint,
    truncate_h5md,
)
from superionic.dynamics.integrators import make_integrator


class SimulationError(SuperionicError, RuntimeError):
    """The simulation produced something unphysical (NaN forces, exploding energy)."""


@dataclass
class MDResult:
    """Summary of an MD run."""

    n_atoms: int
    steps: int
    timestep_fs: float
    frame_interval_fs: float
    temperature_K: float
    ensemble: str
    trajectory: str
    atom_steps_per_s: float
    wall_s: float
    resumed_from_step: int
    mean_temperature_K: float
    energy_drift_meV_per_atom_per_ps: float | None
    stopped_early: str | None = None
    log: dict[str, list[float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d.pop("log")
        return d


def run_md(
    atoms: Atoms,
    calculator: Any,
    *,
    temperature_K: float,
    timestep_fs: float = 2.0,
    steps: int,
    out: str | Path,
    ensemble: str = "nvt-langevin",
    sample_every: int = 10,
    checkpoint_every: int = 500,
    seed: int = 0,
    friction_per_fs: float = 0.01,
    tau_fs: float = 100.0,
    pressure_GPa: float = 0.0,
    resume: bool = True,
    progress: bool = False,
    stop_if: Callable[[Atoms, int], str | None] | None = None,
    check_every: int | None = None,
    potential_name: str = "",
    blas_threads: int | None = 1,
    checkpoint_on_stop: bool = True,
) -> MDResult:
    """Run ``steps`` MD steps of ``atoms`` with ``calculator``, writing ``out`` (H5MD).

    ``out + '.ckpt'`` holds the checkpoint; with ``resume`` an existing checkpoint of the same
    settings continues the run. ``stop_if(atoms, step)``, called every ``check_every`` steps
    (default: at every sample), may return a reason to stop early (used by active learning when
    the extrapolation grade passes the break grade; checking every step catches a collapse
    that happens between two samples). ``blas_threads``: numpy's BLAS threads during the loop
    (its per-step linear algebra is small; None leaves the library's setting).
    ``checkpoint_on_stop=False`` keeps the last regular checkpoint when ``stop_if`` stops the
    run, so that a run killed after such a stop replays the stretch to it and meets the same
    stop with the same configurations (by default the stop state is checkpointed, so that a
    run stopped for time continues from there).
    """
    from superionic.io.h5md import H5MDWriter

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    ckpt_path = out.with_name(out.name + ".ckpt")
    atoms = atoms.copy()
    cfg = {
        "symbols": atoms.get_chemical_symbols(), "cell": np.round(atoms.cell.array, 8).tolist(),
        "positions": np.round(atoms.positions, 6).tolist(), "T": temperature_K,
        "dt": timestep_fs, "ensemble": ensemble, "sample_every": sample_every, "seed": seed,
        "potential": potential_name, "friction": friction_per_fs, "tau": tau_fs,
    }
    chash = config_hash(cfg)
    rng = np.random.RandomState(seed)
    state = load_checkpoint(ckpt_path, chash) if resume else None
    start_step, n_frames, wall_before = 0, 0, 0.0
    if state is not None and out.exists():
        atoms.set_cell(state.cell)
        atoms.positions = state.positions
        atoms.set_momenta(state.momenta)
        rng.set_state(state.rng_state)
        start_step, n_frames, wall_before = state.step, state.n_frames, state.wall_s
        truncate_h5md(out, n_frames)
    else:
        MaxwellBoltzmannDistribution(atoms, temperature_K=temperature_K, rng=rng)
        Stationary(atoms)
    atoms.calc = calculator
    dyn = make_integrator(atoms, ensemble, timestep_fs=timestep_fs,
                          temperature_K=temperature_K, rng=rng,
                          friction_per_fs=friction_per_fs, tau_fs=tau_fs,
                          pressure_GPa=pressure_GPa)
    writer = H5MDWriter(out, atoms.get_chemical_symbols(), timestep_fs=timestep_fs,
                        frame_interval_fs=timestep_fs * sample_every,
                        masses=atoms.get_masses(), append=start_step > 0,
                        first_step=0)
    buffer: list[dict[str, np.ndarray]] = []
    log: dict[str, list[float]] = {"time_fs": [], "epot_eV": [], "ekin_eV": [], "T_K": []}
    n_atoms = len(atoms)
    step = start_step
    stopped: str | None = None
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=steps, initial=start_step, unit="step", desc=f"MD {temperature_K:g} K")

    def flush() -> None:
        nonlocal n_frames
        if buffer:
            writer.append({k: np.array([b[k] for b in buffer]) for k in buffer[0]})
            n_frames += len(buffer)
            buffer.clear()

    def sample() -> None:
        epot = atoms.get_potential_energy()
        forces = atoms.get_forces()
        if not (np.isfinite(epot) and np.all(np.isfinite(forces))):
            flush()
            raise SimulationError(
                f"non-finite energy or forces at step {step} (of {steps}); the trajectory "
                f"up to frame {n_frames} and the last checkpoint are kept in {out}")
        ekin = atoms.get_kinetic_energy()
        buffer.append({"positions": atoms.positions.copy(), "cells": atoms.cell.array.copy(),
                       "velocities": atoms.get_velocities() * units.fs,
                       "energies": np.array(epot)})
        log["time_fs"].append(step * timestep_fs)
        log["epot_eV"].append(float(epot))
        log["ekin_eV"].append(float(ekin))
        log["T_K"].append(float(ekin / (1.5 * units.kB * n_atoms)))

    def checkpoint(wall: float) -> None:
        flush()
        save_checkpoint(ckpt_path, MDState(step, n_frames, atoms.positions.copy(),
                                           atoms.get_momenta().copy(), atoms.cell.array.copy(),
                                           rng.get_state(), chash, wall))

    if start_step == 0:
        sample()
    t_first = None
    t_start = time.perf_counter()
    # per-step linear algebra (extrapolation grades, integrator) is tiny: one BLAS thread
    with blas_limit(blas_threads):
        try:
            while step < steps:
                dyn.run(1)
                step += 1
                if t_first is None:
                    t_first = time.perf_counter()  # start-up (first force call, JIT) excluded
                    first_step_done = step
                if step % sample_every == 0:
                    sample()
                if stop_if is not None and step % (check_every or sample_every) == 0:
                    stopped = stop_if(atoms, step)
                    if stopped:
                        break
                if step % checkpoint_every == 0:
                    checkpoint(wall_before + time.perf_counter() - t_start)
                if bar is not None:
                    bar.update(1)
            if checkpoint_on_stop or not stopped:
                checkpoint(wall_before + time.perf_counter() - t_start)
        finally:
            flush()
            writer.close()
            if bar is not None:
                bar.close()
    t_end = time.perf_counter()
    timed_steps = step - first_step_done if t_first is not None else 0
    rate = n_atoms * timed_steps / (t_end - t_first) if timed_steps > 0 else float("nan")
    drift = None
    if ensemble == "nve" and len(log["time_fs"]) > 2:
        etot = np.array(log["epot_eV"]) + np.array(log["ekin_eV"])
        slope = np.polyfit(np.array(log["time_fs"]) / 1000.0, etot / n_atoms, 1)[0]
        drift = float(slope * 1000.0)
    return MDResult(
        n_atoms=n_atoms, steps=step, timestep_fs=timestep_fs,
        frame_interval_fs=timestep_fs * sample_every, temperature_K=temperature_K,
        ensemble=ensemble, trajectory=str(out), atom_steps_per_s=float(rate),
        wall_s=wall_before + t_end - t_start, resumed_from_step=start_step,
        mean_temperature_K=float(np.mean(log["T_K"])) if log["T_K"] else float("nan"),
        energy_drift_meV_per_atom_per_ps=drift, stopped_early=stopped, log=log,
    )
