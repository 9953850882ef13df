"""How faithfully a student potential reproduces its teacher where its own MD goes.

The extrapolation grade (:mod:`.active_learning`; Podryabinkin & Shapeev, Comput. Mater. Sci.
140, 171 (2017)) measures how far a configuration lies outside the training set in the space of
the potential's basis functions. It does not see a potential that interpolates badly between
training configurations: a spurious low-energy basin its own MD then falls into and stays in,
with every grade below one. Errors on a held-out set do not see it either, because that set
was drawn like the training set, not by the student's dynamics. Evaluating a potential on
the configurations of its own long MD is the test that exposes such failures (Stocker et al.,
Mach. Learn.: Sci. Technol. 3, 045010 (2022); Fu et al., Trans. Mach. Learn. Res. (2023)).

The audit labels a few frames of the student's production MD with the teacher and compares
the student's errors there with its errors on its own training set. The errors on the
student's frames should be of the same size; a ratio well above one means the MD explores
configurations the student gets wrong, and its diffusion coefficients are not the teacher's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ase import Atoms

#: Errors below these are treated as equal to them when forming ratios, so that a training set
#: fitted almost exactly does not turn small absolute errors into large ratios.
ENERGY_FLOOR_EV_PER_ATOM = 1e-3
FORCE_FLOOR_EV_PER_A = 0.03


def student_errors(model: Any, labelled: Sequence[Atoms]) -> dict[str, float]:
    """The student's errors against teacher labels on ``labelled`` (energy RMSE and mean
    signed error per atom, force RMSE): :func:`superionic.potentials.training.evaluate`."""
    from superionic.potentials.training import evaluate

    e = evaluate(model, list(labelled))
    return {k: e[k] for k in ("energy_rmse_eV_per_atom", "energy_bias_eV_per_atom",
                              "force_rmse_eV_per_A", "n_structures")}


def audit_verdict(errors: dict[str, float], reference: dict[str, float],
                  max_factor: float = 2.0) -> dict[str, Any]:
    """Compare the student's errors on its MD frames with its errors on the training set.

    Faithful when both the energy RMSE and the force RMSE stay within ``max_factor`` of the
    training set's (each floored at :data:`ENERGY_FLOOR_EV_PER_ATOM`,
    :data:`FORCE_FLOOR_EV_PER_A`). Returns the ratios, the verdict and, when unfaithful, the
    reason in words.
    """
    e_ref = max(reference["energy_rmse_eV_per_atom"], ENERGY_FLOOR_EV_PER_ATOM)
    f_ref = max(reference["force_rmse_eV_per_A"], FORCE_FLOOR_EV_PER_A)
    e_ratio = errors["energy_rmse_eV_per_atom"] / e_ref
    f_ratio = errors["force_rmse_eV_per_A"] / f_ref
    bad = []
    if not e_ratio <= max_factor:
        bad.append(f"energy RMSE {1000 * errors['energy_rmse_eV_per_atom']:.1f} meV/atom "
                   f"(bias {1000 * errors['energy_bias_eV_per_atom']:+.1f}) is {e_ratio:.1f}x "
                   "the training set's")
    if not f_ratio <= max_factor:
        bad.append(f"force RMSE {errors['force_rmse_eV_per_A']:.3f} eV/Å is {f_ratio:.1f}x "
                   "the training set's")
    return {"errors": dict(errors),
            "reference": {k: reference[k] for k in ("energy_rmse_eV_per_atom",
                                                     "force_rmse_eV_per_A")},
            "energy_ratio": float(e_ratio), "force_ratio": float(f_ratio),
            "max_factor": float(max_factor), "faithful": not bad, "reason": "; ".join(bad)}
