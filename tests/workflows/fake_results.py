"""A conductivity result with known sigma(300 K), Ea and conduction, for workflow tests that
stand in for whole runs."""

import math

from superionic.core.estimate import Estimate
from superionic.transport.arrhenius import fit_arrhenius
from superionic.workflows.conductivity import ConductivityResult


def fake_result(sigma_300: float, Ea: float, dim_target: str = "3D") -> ConductivityResult:
    temps = [600.0, 700.0, 800.0, 900.0]
    kB = 8.617333262e-5
    sig = [sigma_300 * 300 / T * math.exp(-Ea / kB * (1 / T - 1 / 300)) for T in temps]
    fit = fit_arrhenius(temps, sig, multiply_by_T=True, log_stderr=[0.1] * 4,
                        quantity="sigma")
    rows = [{"T_K": T, "steps": 1000, "D_tracer_cm2_per_s": Estimate.from_log(
                math.log(s * 1e-3), 0.1).to_dict(),
             "sigma_NE_S_per_cm": Estimate.from_log(math.log(s), 0.1).to_dict()}
            for T, s in zip(temps, sig, strict=True)]
    return ConductivityResult(
        material="Li3N", target_T_K=300.0, sigma_S_per_cm=fit.predict(300.0), Ea_eV=fit.Ea_eV,
        haven_ratio=Estimate.from_log(math.log(0.6), 0.1), temperatures_K=temps,
        per_temperature=rows, arrhenius=fit.to_dict(), dimensionality="3D",
        structure={"ordering": {"method": "ordered"}}, training={}, active_learning=[],
        teacher_check=None, experiment={}, stages=[("train", 1.0)], arrhenius_fit=fit,
        dimensionality_at_target=dim_target)


def result_with_pid(cfg):
    """A stand-in for a whole run: a fixed result that names the process that made it."""
    import os

    res = fake_result(0.3, 0.15)
    res.material = cfg.material
    res.notes = [f"pid {os.getpid()}", f"threads {cfg.threads}", f"scheduler {cfg.scheduler}"]
    return res
