"""Linear Kramers–Kronig test: passes causal data, flags drift."""

import numpy as np

from superionic.experiment.eis import Spectrum, linear_kk
from superionic.experiment.eis.circuits import Circuit

F = np.logspace(6, -1, 57)
TEXT = "R0-p(R1,CPE1)-p(R2,CPE2)-CPE3"
P = {"R0": 20.0, "R1": 1000.0, "CPE1_Q": 4e-9, "CPE1_alpha": 0.9, "R2": 2000.0,
     "CPE2_Q": 9e-8, "CPE2_alpha": 0.8, "CPE3_Q": 1e-6, "CPE3_alpha": 0.85}


def test_causal_spectrum_passes_and_noise_is_measured():
    Z = Circuit(TEXT).impedance(F, P)
    rng = np.random.default_rng(0)
    Zn = Z + 0.002 * np.abs(Z) * (rng.normal(size=Z.size) + 1j * rng.normal(size=Z.size))
    kk = linear_kk(Spectrum(F, Zn))
    assert kk.passed and kk.mu < 0.85
    assert kk.max_residual < kk.threshold
    # the residual variance estimates the injected noise (0.2 % per component)
    assert 0.0015 < np.sqrt(kk.noise_variance) < 0.0027


def test_drifting_spectrum_fails():
    # the electrode interface changes during the sweep (1 s overhead + 2 cycles per point):
    # its CPE coefficient grows by 30 % from the first to the last point -> non-stationary
    t = np.cumsum(1.0 + 2.0 / F)
    t = t / t[-1]
    c = Circuit(TEXT)
    Z = np.array([c.impedance([f], {**P, "CPE3_Q": P["CPE3_Q"] * (1 + 0.3 * ti)})[0]
                  for f, ti in zip(F, t, strict=True)])
    rng = np.random.default_rng(1)
    Z = Z + 0.002 * np.abs(Z) * (rng.normal(size=Z.size) + 1j * rng.normal(size=Z.size))
    kk = linear_kk(Spectrum(F, Z))
    assert not kk.passed
    assert kk.max_residual > 2 * kk.threshold
