"""Ionic conductivity from diffusion coefficients (Nernst–Einstein) in S/cm.

σ = (Σ_i q_i² e² / V) D / (k_B T) (Nernst–Einstein; divided by H_R when D* stands in for D_σ).
For one species Σ q_i²/V = n q², the textbook σ = n q² D / (k_B T); with D = D_σ from the
charge-weighted collective MSD it equals the Einstein–Helfand conductivity
σ = d<|Σ q_i Δr_i|²>/dt / (2 d V k_B T).
"""

from __future__ import annotations

from superionic.core.estimate import Estimate
from superionic.core.units import A3_TO_CM3, E_CHARGE_C, KB_J_PER_K

__all__ = ["nernst_einstein_S_per_cm", "conductivity_estimate"]


def nernst_einstein_S_per_cm(
    D_cm2_per_s: float,
    number_density_per_A3: float,
    charge: float,
    temperature_K: float,
    haven_ratio: float = 1.0,
) -> float:
    """σ = n q² D / (k_B T H_R) in S/cm for one carrier of charge ``charge`` (units of e)."""
    return conductivity_factor(number_density_per_A3 * charge**2, temperature_K) * (
        D_cm2_per_s / haven_ratio
    )


def conductivity_factor(sum_q2_per_A3: float, temperature_K: float) -> float:
    """Factor (Σ q² e²/V)/(k_B T) turning D in cm²/s into σ in S/cm; Σq²/V in e²/Å³."""
    if temperature_K <= 0:
        raise ValueError("temperature must be positive (K)")
    return sum_q2_per_A3 / A3_TO_CM3 * E_CHARGE_C**2 / (KB_J_PER_K * temperature_K)


def conductivity_estimate(
    D: Estimate,
    sum_q2_per_A3: float,
    temperature_K: float,
    haven_ratio: float = 1.0,
    method: str = "Nernst-Einstein",
) -> Estimate:
    """σ Estimate (S/cm) from a D Estimate (cm²/s); the interval scales with D's."""
    s = D.scaled(conductivity_factor(sum_q2_per_A3, temperature_K) / haven_ratio, "S/cm")
    return Estimate(s.value, s.stderr, s.ci95, "S/cm", method, dict(D.extra))
