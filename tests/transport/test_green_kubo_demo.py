"""The bundled CHGNet Li6PS5Cl trajectory: thermostat temperature and the Green–Kubo/Einstein
identity d MSD/dt = 2 d ∫ <v(0)·v(t)> dt on real MD data."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from ase import units
from ase.io import read

from superionic.data import DEMO_TEMPERATURE_K, demo_trajectory_path
from superionic.transport.green_kubo import green_kubo_diffusion


@pytest.fixture(scope="module")
def demo():
    frames = read(demo_trajectory_path(), ":")
    pos = np.array([a.positions for a in frames])
    vel = np.array([a.get_velocities() for a in frames]) * units.fs  # Å/fs
    times = np.array([a.info["time_fs"] for a in frames])
    symbols = np.array(frames[0].get_chemical_symbols())
    return frames, pos, vel, times, symbols


def test_demo_is_thermalised_and_li_diffuses(demo):
    frames, pos, vel, times, symbols = demo
    assert frames[0].info["timestep_fs"] == 2.0
    assert np.allclose(np.diff(times), times[1] - times[0])
    # equipartition: mean kinetic temperature equals the thermostat set point
    t_kin = np.mean([a.get_temperature() for a in frames])
    assert abs(t_kin / DEMO_TEMPERATURE_K - 1) < 0.05
    li = symbols == "Li"
    disp2 = np.sum((pos[-1] - pos[0]) ** 2, axis=-1)
    assert disp2[li].mean() > 8.0  # Å²: Li leaves its site
    assert disp2[~li].mean() < 2.0  # the P-S-Cl framework stays


def test_green_kubo_running_integral_equals_einstein_slope(demo):
    # stationary motion: (1/6) d MSD/dt at lag t = (1/3) ∫_0^t <v(0)·v(t')> dt'
    frames, pos, vel, times, symbols = demo
    dt = float(times[1] - times[0])
    li = np.flatnonzero(symbols == "Li")
    x = pos[:, li]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gk = green_kubo_diffusion(vel, dt, indices=li, n_blocks=4)

    def msd(k):
        return np.mean(np.sum((x[k:] - x[:-k]) ** 2, axis=-1))

    for t_fs in (200.0, 400.0, 600.0):
        k = int(round(t_fs / dt))
        h = k // 4
        slope_cm2_s = (msd(k + h) - msd(k - h)) / (2 * h * dt) / 6.0 * 0.1
        assert gk.running_integral[k] == pytest.approx(slope_cm2_s, rel=0.1)


def test_demo_structure_ordering_matches_cif_occupancies(demo):
    # 48h Li at occupancy 1/2 -> 24 Li; majority species on the S/Cl sites -> Li6PS5Cl, Z = 4
    from pymatgen.core import Composition

    from superionic.data.generate_demo import PACKAGED_CIF, order_argyrodite

    s = order_argyrodite(PACKAGED_CIF)
    assert s.composition == Composition("Li24P4S20Cl4")
    li = [i for i, site in enumerate(s) if site.specie.symbol == "Li"]
    d = s.distance_matrix[np.ix_(li, li)] + np.eye(len(li)) * 1e3
    assert d.min() > 2.0  # one site per 1.9 Å doublet, never both
    frames, *_ = demo
    assert frames[0].get_chemical_formula() == "Cl4Li24P4S20"


def test_from_trajectory_reads_velocities_in_A_per_fs(demo):
    # the I/O path must give the same D* and sigma as ASE momenta/mass × units.fs by hand
    from superionic.transport.green_kubo import (
        green_kubo_conductivity,
        green_kubo_from_trajectory,
    )

    frames, pos, vel, times, symbols = demo
    dt = float(times[1] - times[0])
    li = np.flatnonzero(symbols == "Li")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = green_kubo_from_trajectory(demo_trajectory_path(), "Li",
                                         temperature_K=DEMO_TEMPERATURE_K, n_blocks=4,
                                         remove_drift=False)
        d_hand = green_kubo_diffusion(vel, dt, indices=li, n_blocks=4)
        s_hand = green_kubo_conductivity(vel[:, li], dt, np.ones(li.size),
                                         frames[0].get_volume(), DEMO_TEMPERATURE_K,
                                         n_blocks=4)
    assert res["frame_interval_fs"] == pytest.approx(dt)
    assert res["D_tracer"]["Li"].estimate.value == pytest.approx(d_hand.estimate.value, rel=1e-6)
    assert res["sigma"].estimate.value == pytest.approx(s_hand.estimate.value, rel=1e-6)
