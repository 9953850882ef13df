"""Direction-resolved transport: which axes conduct, at the MD temperatures and extrapolated.

An axis conducts when its tracer diffusion coefficient exceeds a tenth of the fastest axis's
and its 95 % interval excludes zero; the count of such axes is the dimensionality of
conduction (1D channels, 2D planes, 3D network). Because the axes can have different
activation energies (LGPS: lower along the c-axis channels than in the ab plane; Mo, Ong &
Ceder, Chem. Mater. 24, 15 (2012)), anisotropy seen in MD at 600–900 K grows or fades on the
way to room temperature: each axis gets its own Arrhenius fit, and the dimensionality is also
given at the target temperature.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

from superionic.core.estimate import Estimate, log_stderr
from superionic.transport.arrhenius import fit_arrhenius

#: An axis conducts when its D exceeds this fraction of the fastest axis's D.
CONDUCTING_FRACTION = 0.1
AXES = ("x", "y", "z")


def conduction_dimensionality(D_axes: Sequence[Estimate]) -> int:
    """Number of axes whose D exceeds ``CONDUCTING_FRACTION`` of the largest and whose 95 %
    interval excludes zero (at least 1 when any axis moves; 0 when none does)."""
    dmax = max(e.value for e in D_axes)
    if not dmax > 0:
        return 0
    n = sum(1 for e in D_axes
            if e.value > CONDUCTING_FRACTION * dmax and e.ci95[0] > 0)  # type: ignore[index]
    return max(n, 1)


def directional_arrhenius(temperatures_K: Sequence[float],
                          D_axes_per_T: Sequence[Sequence[Estimate]],
                          target_T_K: float) -> dict[str, Any]:
    """Arrhenius fit of D* along each Cartesian axis and its extrapolation to ``target_T_K``.

    ``D_axes_per_T[i][a]`` is D* along axis ``a`` at ``temperatures_K[i]``. An axis with a
    non-positive or unbounded estimate at some temperature gets no fit (``None``) and a note.
    Returns Ea and D(target) per axis, each axis's ratio to the fastest at the target
    (independent log-normal errors), the fastest axis and the dimensionality there.
    """
    T = [float(t) for t in temperatures_K]
    ea: list[Estimate | None] = []
    d_target: list[Estimate | None] = []
    notes = []
    for a, name in enumerate(AXES):
        vals = [row[a] for row in D_axes_per_T]
        errs = [log_stderr(e) if e.value > 0 else math.inf for e in vals]
        if not all(math.isfinite(x) and x > 0 for x in errs):
            notes.append(f"D*_{name} not fitted: not positive with a finite interval at every "
                         "temperature")
            ea.append(None)
            d_target.append(None)
            continue
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit = fit_arrhenius(T, [e.value for e in vals], log_stderr=errs, quantity="D")
        notes += [f"D*_{name} Arrhenius fit: {w.message}" for w in caught]
        ea.append(fit.Ea_eV)
        d_target.append(fit.predict(target_T_K))
    fitted = [i for i, d in enumerate(d_target) if d is not None]
    out: dict[str, Any] = {"T_K": float(target_T_K), "axes": list(AXES), "Ea_eV": ea,
                           "D_tracer_cm2_per_s": d_target, "notes": notes}
    if not fitted:
        return out | {"fastest": None, "ratio_to_fastest": [None] * 3, "dimensionality": 0}
    fast = max(fitted, key=lambda i: d_target[i].value)  # type: ignore[union-attr]
    ratios: list[Estimate | None] = []
    for i, d in enumerate(d_target):
        if d is None or i == fast:
            ratios.append(None if d is None else Estimate(1.0, 0.0, (1.0, 1.0)))
        else:
            ratios.append(d.ratio(d_target[fast], method=f"D*_{AXES[i]} / D*_{AXES[fast]} "  # type: ignore[arg-type]
                                                         f"at {target_T_K:g} K"))
    dim = conduction_dimensionality([d for d in d_target if d is not None])
    return out | {"fastest": AXES[fast], "ratio_to_fastest": ratios, "dimensionality": dim}
