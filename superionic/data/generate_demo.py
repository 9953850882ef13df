"""Regenerate the bundled demonstration trajectory (Li6PS5Cl, CHGNet, Langevin NVT).

Run ``python -m superionic.data.generate_demo --help``. The structure is the OBELiX
Li6PS5Cl entry (Therrien et al., arXiv 2502.14234; measurement DOI 10.1021/jacs.7b06327),
ordered as documented in :func:`order_argyrodite`; forces come from the CHGNet 0.3.0 weights
bundled with the ``chgnet`` package, so nothing is downloaded.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

#: OBELiX Li6PS5Cl CIF (identical to reference-cifs/122.cif) shipped with the package.
PACKAGED_CIF = Path(__file__).parents[1] / "materials" / "data" / "Li6PS5Cl.cif"
#: Default output file, next to this module.
DEFAULT_OUTPUT = Path(__file__).with_name("li6ps5cl_chgnet_800K.traj")


def order_argyrodite(cif_path: str | Path):
    """Ordered Li6PS5Cl cell (52 atoms) from the partially occupied argyrodite CIF.

    Rules: (i) a site shared by S and Cl (4a/4d anion disorder) takes its majority species;
    (ii) the half-occupied Li 48h sites come in doublets (pairs ~1.9 Å apart around a 24g
    position); exactly one site of each doublet is kept, chosen greedily (in CIF order) to
    maximise the smallest Li–Li distance to the sites already kept.
    """
    from pymatgen.core import Structure

    s = Structure.from_file(str(cif_path))
    species, coords = [], []
    li_idx = []
    for site in s:
        comp = site.species
        if site.is_ordered and comp.num_atoms >= 0.999:
            species.append(site.specie.symbol)
            coords.append(site.frac_coords)
            continue
        elements = sorted(comp.items(), key=lambda kv: -kv[1])
        if elements[0][0].symbol == "Li" and len(elements) == 1:
            li_idx.append(len(coords))
            species.append("Li")
            coords.append(site.frac_coords)
        else:
            species.append(elements[0][0].symbol)
            coords.append(site.frac_coords)
    full = Structure(s.lattice, species, coords)
    dist = full.distance_matrix
    li = np.array(li_idx)
    dli = dist[np.ix_(li, li)] + np.eye(len(li)) * 1e9
    partner = np.argmin(dli, axis=1)
    if not np.all(partner[partner] == np.arange(len(li))):
        raise RuntimeError("Li 48h sites do not form unique nearest-neighbour doublets")
    keep: list[int] = []
    done = np.zeros(len(li), bool)
    for i in range(len(li)):
        if done[i]:
            continue
        j = partner[i]
        done[i] = done[j] = True
        if not keep:
            keep.append(i)
            continue
        di = dli[i, keep].min()
        dj = dli[j, keep].min()
        keep.append(i if di >= dj else j)
    drop = sorted(set(range(len(li))) - set(keep))
    full.remove_sites([int(li[k]) for k in drop])
    return full


def run(
    cif: Path,
    output: Path,
    temperature_K: float,
    timestep_fs: float,
    n_steps: int,
    n_equil: int,
    interval: int,
    friction_per_fs: float,
    seed: int,
    max_wall_s: float,
    threads: int,
) -> Path:
    """Relax, equilibrate and run Langevin MD; write every ``interval``-th step to ``output``."""
    import torch
    from ase import units
    from ase.io.trajectory import Trajectory
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary
    from ase.optimize import FIRE
    from chgnet.model import CHGNet
    from chgnet.model.dynamics import CHGNetCalculator

    from superionic.core.structures import to_atoms

    torch.set_num_threads(threads)
    atoms = to_atoms(order_argyrodite(cif))
    model = CHGNet.load(model_name="0.3.0", verbose=False)
    atoms.calc = CHGNetCalculator(model=model, use_device="cpu")
    FIRE(atoms, logfile=None).run(fmax=0.1, steps=200)
    rng = np.random.default_rng(seed)
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature_K, rng=rng)
    Stationary(atoms)
    dyn = Langevin(
        atoms,
        timestep=timestep_fs * units.fs,
        temperature_K=temperature_K,
        friction=friction_per_fs / units.fs,
        rng=rng,
    )
    t0 = time.time()
    for k in range(n_equil):
        dyn.run(1)
        if k % 100 == 0:
            print(f"equil {k} T={atoms.get_temperature():.0f} K {time.time() - t0:.0f} s",
                  flush=True)
    # ASE dynamics never wraps positions: stored frames are continuous (unwrapped)
    tmp = output.with_suffix(".part.traj")
    traj = Trajectory(str(tmp), "w")
    frame_dt = interval * timestep_fs

    def write_frame(step: int) -> None:
        a = atoms.copy()
        a.calc = None
        a.info.update(
            timestep_fs=timestep_fs,
            time_fs=step * timestep_fs,
            frame_interval_fs=frame_dt,
            temperature_K=temperature_K,
            wrapped=False,
        )
        traj.write(a)

    t1 = time.time()
    write_frame(0)
    for step in range(1, n_steps + 1):
        dyn.run(1)
        if step % interval == 0:
            write_frame(step)
            if (step // interval) % 25 == 0:
                el = time.time() - t1
                print(f"step {step} t={step * timestep_fs / 1000:.2f} ps "
                      f"T={atoms.get_temperature():.0f} K {el:.0f} s", flush=True)
            if time.time() - t0 > max_wall_s:
                print(f"wall-time cap reached at step {step}", flush=True)
                break
    traj.close()
    os.replace(tmp, output)
    return output


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cif", type=Path, default=None,
                   help="argyrodite CIF with partial occupancies (default: the OBELiX "
                        "Li6PS5Cl CIF shipped in superionic/materials/data)")
    p.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    p.add_argument("--temperature", type=float, default=800.0, help="K")
    p.add_argument("--timestep", type=float, default=2.0, help="fs")
    p.add_argument("--steps", type=int, default=10000, help="production MD steps")
    p.add_argument("--equil", type=int, default=500, help="equilibration steps (not stored)")
    p.add_argument("--interval", type=int, default=10, help="store every N-th step")
    p.add_argument("--friction", type=float, default=0.005, help="Langevin friction, 1/fs")
    p.add_argument("--seed", type=int, default=20240601)
    p.add_argument("--max-wall", type=float, default=1.0e9, help="stop after this many s")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    if a.cif is None:
        a.cif = PACKAGED_CIF
    if not a.cif.exists():
        p.error(f"CIF not found: {a.cif} (give the OBELiX Li6PS5Cl CIF with --cif)")
    out = run(a.cif, a.output, a.temperature, a.timestep, a.steps, a.equil, a.interval,
              a.friction, a.seed, a.max_wall, a.threads)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
