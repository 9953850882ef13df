"""Green–Kubo against Ornstein–Uhlenbeck (Langevin) velocities with known D = kT/(m γ)."""

from __future__ import annotations

import numpy as np
import pytest
from ase import units
from scipy.signal import lfilter

from superionic.core.errors import UnitsError
from superionic.core.units import KB_EV_PER_K
from superionic.transport.green_kubo import (
    E2_PER_EV_A_FS_TO_S_PER_CM,
    autocorrelation,
    green_kubo_conductivity,
    green_kubo_diffusion,
)

T_K, MASS_AMU, GAMMA_PER_FS, DT_FS = 800.0, 6.94, 0.01, 2.0
# <v_x²> = kT/m in Å²/fs² (ASE velocity unit is Å per ASE time; 1 fs = units.fs ASE time)
S2 = KB_EV_PER_K * T_K / MASS_AMU * units.fs**2
D_TRUE_A2_PER_FS = S2 / GAMMA_PER_FS  # Einstein relation D = kT / (m γ)
D_TRUE = D_TRUE_A2_PER_FS * 0.1  # cm²/s


def ou_velocities(seed: int, n_frames: int, n_atoms: int) -> np.ndarray:
    """Exact OU update v' = a v + sqrt(kT/m (1 - a²)) ξ, a = exp(-γ Δt), stationary start."""
    rng = np.random.default_rng(seed)
    a = np.exp(-GAMMA_PER_FS * DT_FS)
    xi = rng.normal(0.0, np.sqrt(S2 * (1 - a * a)), (n_frames, n_atoms, 3))
    xi[0] = rng.normal(0.0, np.sqrt(S2), (n_atoms, 3))
    return lfilter([1.0], [1.0, -a], xi, axis=0)


@pytest.fixture(scope="module")
def ou():
    return ou_velocities(1, 20000, 32)


def test_autocorrelation_matches_direct_sum():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4, 3))
    direct = [np.mean(np.sum(x[: 200 - k] * x[k:], axis=-1)) for k in range(50)]
    assert np.allclose(autocorrelation(x, 49), direct, rtol=1e-10, atol=1e-12)


def test_vacf_is_exponential(ou):
    # <v(0)·v(t)> = 3 kT/m exp(-γ t) for the OU process
    acf = autocorrelation(ou, 100)
    t = np.arange(101) * DT_FS
    assert np.allclose(acf, 3 * S2 * np.exp(-GAMMA_PER_FS * t), atol=0.03 * 3 * S2)


def test_gk_diffusion_matches_kT_over_m_gamma(ou):
    r = green_kubo_diffusion(ou, DT_FS)
    assert r.cutoff_source == "plateau"
    assert r.estimate.contains(D_TRUE)
    assert abs(r.estimate.value / D_TRUE - 1) < 0.08
    assert 0 < r.estimate.stderr / D_TRUE < 0.08
    # user cutoff at 10 τ: the running integral there is D (1 - e^-10)
    r10 = green_kubo_diffusion(ou, DT_FS, cutoff_fs=1000.0)
    assert r10.estimate.contains(D_TRUE)


def test_gk_agrees_with_einstein_slope_of_same_trajectory(ou):
    # positions integrated by the trapezoid rule; MSD(t) = 6 D (t - τ (1 - e^{-t/τ}))
    x = np.cumsum(0.5 * (ou[1:] + ou[:-1]) * DT_FS, axis=0)
    lags = np.arange(250, 1001, 50)  # 5 τ .. 20 τ
    msd = np.array([np.mean(np.sum((x[k:] - x[:-k]) ** 2, axis=-1)) for k in lags])
    slope = np.polyfit(lags * DT_FS, msd, 1)[0]
    d_einstein = slope / 6.0 * 0.1
    gk = green_kubo_diffusion(ou, DT_FS).estimate
    assert abs(d_einstein - D_TRUE) / D_TRUE < 0.1
    assert abs(d_einstein - gk.value) < 2.0 * gk.stderr + 0.03 * D_TRUE


def test_gk_conductivity_equals_nernst_einstein_for_independent_ions():
    # independent ions: <J·J> = Σ q_i² <v·v>, so sigma = Σ q_i² D / (V k_B T)
    n_atoms, volume = 32, 1500.0
    v = ou_velocities(2, 40000, n_atoms)
    q = np.where(np.arange(n_atoms) % 2 == 0, 1.0, -2.0)
    r = green_kubo_conductivity(v, DT_FS, q, volume, T_K)
    sigma_ne = (np.sum(q**2) * D_TRUE_A2_PER_FS / (volume * KB_EV_PER_K * T_K)
                * E2_PER_EV_A_FS_TO_S_PER_CM)
    assert r.estimate.unit == "S/cm"
    assert r.estimate.contains(sigma_ne)
    assert abs(r.estimate.value / sigma_ne - 1) < 0.2


def test_velocities_in_wrong_units_are_rejected(ou):
    with pytest.raises(UnitsError, match="Å/fs"):
        green_kubo_diffusion(ou / units.fs * 1e3, DT_FS)
