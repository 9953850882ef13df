"""Thermostats and integrators: thin wrappers over ASE's maintained implementations."""

from __future__ import annotations

from typing import Any

import numpy as np
from ase import Atoms, units

from superionic.core.errors import InputError

ENSEMBLES = ("nvt-langevin", "nvt-bussi", "nvt-nose-hoover", "nve", "npt")


def make_integrator(
    atoms: Atoms,
    ensemble: str,
    *,
    timestep_fs: float,
    temperature_K: float,
    rng: np.random.Generator,
    friction_per_fs: float = 0.01,
    tau_fs: float = 100.0,
    pressure_GPa: float = 0.0,
    barostat_tau_fs: float = 1000.0,
) -> Any:
    """An ASE dynamics object for ``ensemble``.

    nvt-langevin: Langevin (ASE, Allen–Tildesley scheme); nvt-bussi: stochastic velocity
    rescaling (Bussi, Donadio, Parrinello, J. Chem. Phys. 126, 014101 (2007)); nvt-nose-hoover:
    Nose–Hoover chains (Martyna, Klein, Tuckerman, J. Chem. Phys. 97, 2635 (1992)); nve:
    velocity Verlet; npt: isotropic MTK barostat with Nose–Hoover chains (needs stress).
    """
    dt = timestep_fs * units.fs
    if ensemble == "nvt-langevin":
        from ase.constraints import FixCom
        from ase.md.langevin import Langevin

        atoms.set_constraint(FixCom())  # no centre-of-mass drift from the random forces
        return Langevin(atoms, dt, temperature_K=temperature_K,
                        friction=friction_per_fs / units.fs, rng=rng, fixcm=False)
    if ensemble == "nvt-bussi":
        from ase.md.bussi import Bussi

        return Bussi(atoms, dt, temperature_K=temperature_K, taut=tau_fs * units.fs, rng=rng)
    if ensemble == "nvt-nose-hoover":
        from ase.md.nose_hoover_chain import NoseHooverChainNVT

        return NoseHooverChainNVT(atoms, dt, temperature_K=temperature_K,
                                  tdamp=tau_fs * units.fs)
    if ensemble == "nve":
        from ase.md.verlet import VelocityVerlet

        return VelocityVerlet(atoms, dt)
    if ensemble == "npt":
        from ase.md.nose_hoover_chain import IsotropicMTKNPT

        return IsotropicMTKNPT(atoms, dt, temperature_K=temperature_K,
                               pressure_au=pressure_GPa * units.GPa, tdamp=tau_fs * units.fs,
                               pdamp=barostat_tau_fs * units.fs)
    raise InputError(f"unknown ensemble '{ensemble}'", field="ensemble",
                     expected=f"one of {ENSEMBLES}")
