"""Solid-electrolyte physics from fitted circuits: effective capacitances, assignment of arcs to
bulk / grain boundary / electrode, conductivities with propagated uncertainties, brick-layer
grain-boundary conductivity and Arrhenius analysis of temperature series.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from superionic.core.errors import InputError
from superionic.core.estimate import Estimate
from superionic.experiment.eis.circuits import Element, Parallel
from superionic.experiment.eis.fit import Arc, FitResult, arc_tau, find_arcs

ASSIGNMENTS = ("bulk", "grain_boundary", "electrode")


def brug_capacitance(Q: float, alpha: float, R_parallel: float,
                     R_series: float | None = None) -> float:
    """Effective capacitance of a CPE (Brug et al., J. Electroanal. Chem. 176, 275 (1984)).

    R||CPE: C = (Q R^(1-alpha))^(1/alpha). With a series resistance R_s (surface
    distribution, Brug eq. 20): C = Q^(1/alpha) (1/R_s + 1/R)^((alpha-1)/alpha).
    """
    if R_series is None or R_series <= 0:
        return (Q * R_parallel ** (1.0 - alpha)) ** (1.0 / alpha)
    return Q ** (1.0 / alpha) * (1.0 / R_series + 1.0 / R_parallel) ** ((alpha - 1.0) / alpha)


def hsu_mansfeld_capacitance(Q: float, alpha: float, omega_max: float) -> float:
    """C = Q omega_max^(alpha-1), omega_max the angular frequency of the arc's -Z'' maximum
    (Hsu & Mansfeld, Corrosion 57, 747 (2001))."""
    return Q * omega_max ** (alpha - 1.0)


@dataclass(frozen=True)
class CapacitanceBoundaries:
    """Specific capacitance ranges C·t/A (F/cm) of Irvine, Sinclair & West, Adv. Mater. 2,
    132 (1990): bulk ~1e-12, grain boundary 1e-11 to 1e-8, surface layer / sample–electrode
    interface 1e-9 to 1e-5. Boundaries used: bulk < ``bulk_max`` <= grain boundary <
    ``gb_max`` <= electrode (surface layer or electrode interface)."""

    bulk_max_F_per_cm: float = 1e-11
    gb_max_F_per_cm: float = 1e-7

    def assign(self, C_specific_F_per_cm: float) -> str:
        if C_specific_F_per_cm < self.bulk_max_F_per_cm:
            return "bulk"
        if C_specific_F_per_cm < self.gb_max_F_per_cm:
            return "grain_boundary"
        return "electrode"

    def describe(self) -> str:
        return (f"C*t/A < {self.bulk_max_F_per_cm:g} F/cm: bulk; < {self.gb_max_F_per_cm:g}"
                " F/cm: grain boundary; above: electrode/surface layer (Irvine, Sinclair & West,"
                " Adv. Mater. 2, 132 (1990))")


def conductivity_S_per_cm(R_ohm: float, thickness_cm: float, area_cm2: float) -> float:
    """sigma = t / (R A)."""
    return thickness_cm / (R_ohm * area_cm2)


def brick_layer_gb_conductivity_S_per_cm(R_gb_ohm: float, C_bulk_F: float, C_gb_F: float,
                                         thickness_cm: float, area_cm2: float) -> float:
    """Specific grain-boundary conductivity in the brick-layer model,
    sigma_gb,sp = (t/A)(1/R_gb)(C_bulk/C_gb) (Haile, West & Campbell, J. Mater. Res. 13, 1576
    (1998))."""
    return thickness_cm / area_cm2 / R_gb_ohm * C_bulk_F / C_gb_F


# --------------------------------------------------------------------------- propagation
def _propagate_log(func: Callable[[dict[str, float]], float], fit: FitResult,
                   unit: str, method: str) -> Estimate:
    """Estimate of a positive function of the fitted parameters, with its log-scale standard
    error by the delta method on the full covariance (central differences)."""
    v = {**fit.fixed, **fit.values}
    y = func(v)
    if not (np.isfinite(y) and y > 0):
        return Estimate(y, math.nan, unit=unit, method=method)
    g = np.zeros(len(fit.param_names))
    for i, n in enumerate(fit.param_names):
        h = 1e-6 * max(abs(v[n]), 1e-300)
        vp, vm = dict(v), dict(v)
        vp[n] += h
        vm[n] -= h
        g[i] = (math.log(func(vp)) - math.log(func(vm))) / (2 * h)
    cov = np.where(np.isfinite(fit.covariance), fit.covariance, np.inf)
    used = g != 0
    if np.any(~np.isfinite(cov[np.ix_(used, used)])):
        return Estimate(y, math.inf, ci95=(0.0, math.inf), unit=unit, method=method)
    var = float(g[used] @ cov[np.ix_(used, used)] @ g[used])
    return Estimate.from_log(math.log(y), math.sqrt(max(var, 0.0)), unit=unit, method=method)


def _arc_R(arc: Arc) -> Callable[[dict[str, float]], float]:
    return lambda v: v[arc.R]


def _arc_C(arc: Arc, capacitance: str, omega_max: float | None = None
           ) -> Callable[[dict[str, float]], float]:
    if arc.kind == "RC":
        return lambda v: v[arc.cap]
    if arc.kind == "RQ":
        q, a = f"{arc.cap}_Q", f"{arc.cap}_alpha"
        if capacitance == "hsu-mansfeld":
            return lambda v: hsu_mansfeld_capacitance(
                v[q], v[a], omega_max if omega_max else 1.0 / arc_tau(arc, v))
        return lambda v: brug_capacitance(v[q], v[a], v[arc.R])
    return lambda v: arc_tau(arc, v) / v[arc.R]


@dataclass
class ArcResult:
    """One fitted arc: resistance, effective capacitance, time constant, assignment."""

    name: str
    kind: str
    R_ohm: Estimate
    C_F: Estimate
    tau_s: float
    alpha: float | None
    C_specific_F_per_cm: float
    assignment: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "R_ohm": self.R_ohm.to_dict(),
                "C_F": self.C_F.to_dict(), "tau_s": self.tau_s, "alpha": self.alpha,
                "C_specific_F_per_cm": self.C_specific_F_per_cm,
                "assignment": self.assignment}


@dataclass
class EISAnalysis:
    """Bulk / grain-boundary / total conductivity of one spectrum, from its fit."""

    arcs: list[ArcResult]
    R_bulk_ohm: Estimate | None
    R_gb_ohm: Estimate | None
    R_total_ohm: Estimate | None
    sigma_bulk_S_per_cm: Estimate | None
    sigma_gb_S_per_cm: Estimate | None
    sigma_total_S_per_cm: Estimate | None
    sigma_gb_specific_S_per_cm: Estimate | None
    thickness_cm: float | None
    area_cm2: float | None
    temperature_K: float | None
    boundaries: CapacitanceBoundaries
    capacitance_method: str
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        def d(e: Estimate | None) -> dict | None:
            return None if e is None else e.to_dict()

        return {
            "arcs": [a.to_dict() for a in self.arcs],
            "R_bulk_ohm": d(self.R_bulk_ohm), "R_gb_ohm": d(self.R_gb_ohm),
            "R_total_ohm": d(self.R_total_ohm),
            "sigma_bulk_S_per_cm": d(self.sigma_bulk_S_per_cm),
            "sigma_gb_S_per_cm": d(self.sigma_gb_S_per_cm),
            "sigma_total_S_per_cm": d(self.sigma_total_S_per_cm),
            "sigma_gb_specific_S_per_cm": d(self.sigma_gb_specific_S_per_cm),
            "thickness_cm": self.thickness_cm, "area_cm2": self.area_cm2,
            "temperature_K": self.temperature_K,
            "assignment_rule": self.boundaries.describe(),
            "capacitance_method": self.capacitance_method, "notes": list(self.notes),
        }


def _series_R_names(fit: FitResult) -> list[str]:
    tree = fit.circuit_obj.tree
    kids = tree.children if not isinstance(tree, (Parallel, Element)) else (tree,)
    return [c.name for c in kids if isinstance(c, Element) and c.etype.symbol == "R"]


def analyse(fit: FitResult, thickness_cm: float | None = None, area_cm2: float | None = None,
            *, capacitance: str = "brug",
            boundaries: CapacitanceBoundaries | None = None,
            temperature_K: float | None = None) -> EISAnalysis:
    """Assign the arcs of a fit and turn resistances into conductivities sigma = t/(R A).

    Capacitances: ``'brug'`` (R||CPE, Brug 1984) or ``'hsu-mansfeld'``; Zarc/HN use
    C = tau/R. The specific capacitance C·t/A (F/cm) decides the assignment
    (:class:`CapacitanceBoundaries`); without geometry the cell constant is taken as 1/cm.
    When no arc is bulk, the series resistance (high-frequency intercept) is taken as bulk.
    """
    if capacitance not in ("brug", "hsu-mansfeld"):
        raise InputError(f"unknown capacitance formula {capacitance!r}", field="capacitance",
                         expected="'brug' or 'hsu-mansfeld'")
    geometry = thickness_cm is not None and area_cm2 is not None
    if geometry and (thickness_cm <= 0 or area_cm2 <= 0):  # type: ignore[operator]
        raise InputError("thickness and area must be positive", field="geometry",
                         expected="thickness in cm and area in cm² > 0")
    cell = thickness_cm / area_cm2 if geometry else 1.0  # type: ignore[operator]
    bnd = boundaries or CapacitanceBoundaries()
    notes: list[str] = []
    if not geometry:
        notes.append("no thickness/area: cell constant taken as 1 /cm for the assignment; "
                     "conductivities not computed")
    v = {**fit.fixed, **fit.values}
    method_c = "Brug (R||CPE)" if capacitance == "brug" else "Hsu-Mansfeld"
    arcs: list[ArcResult] = []
    for arc in find_arcs(fit.circuit_obj):
        R = _propagate_log(_arc_R(arc), fit, "ohm", "fitted arc resistance")
        C = _propagate_log(_arc_C(arc, capacitance), fit, "F",
                           method_c if arc.kind == "RQ" else "C = tau/R")
        tau = arc_tau(arc, v)
        alpha = (v.get(f"{arc.cap}_alpha") if arc.kind == "RQ" else
                 v.get(f"{arc.element.name}_alpha") if arc.kind in ("Zarc", "HN")
                 else 1.0)  # type: ignore[union-attr]
        name = arc.R if arc.kind in ("RC", "RQ") else arc.element.name  # type: ignore[union-attr]
        cs = C.value * cell
        arcs.append(ArcResult(name, arc.kind, R, C, tau, alpha, cs, bnd.assign(cs)))
    arc_list = find_arcs(fit.circuit_obj)

    def total(kinds: Sequence[str], extra_R: Sequence[str] = ()) -> Estimate | None:
        sel = [a for a, r in zip(arc_list, arcs, strict=True) if r.assignment in kinds]
        if not sel and not extra_R:
            return None
        return _propagate_log(lambda w: sum(w[a.R] for a in sel) + sum(w[n] for n in extra_R),
                              fit, "ohm", "sum of fitted resistances")

    R_b = total(["bulk"])
    bulk_from_intercept: list[str] = []
    if R_b is None:
        bulk_from_intercept = _series_R_names(fit)
        if bulk_from_intercept:
            R_b = total([], bulk_from_intercept)
            notes.append("no bulk arc in the measured window: bulk resistance taken as the "
                         "high-frequency intercept " + "+".join(bulk_from_intercept))
    R_gb = total(["grain_boundary"])
    R_tot = total(["bulk", "grain_boundary"], bulk_from_intercept) if (R_b or R_gb) else None

    def sigma(R: Estimate | None, what: str) -> Estimate | None:
        if R is None or not geometry:
            return None
        val = conductivity_S_per_cm(R.value, thickness_cm, area_cm2)  # type: ignore[arg-type]
        rel = R.stderr / R.value if R.value > 0 else math.inf
        if not math.isfinite(rel):
            return Estimate(val, math.inf, ci95=(0.0, math.inf), unit="S/cm",
                            method=f"sigma = t/(R A), {what}")
        return Estimate.from_log(math.log(val), rel, unit="S/cm",
                                 method=f"sigma = t/(R A), {what}")

    sb, sg, st = sigma(R_b, "bulk"), sigma(R_gb, "grain boundary"), sigma(R_tot, "total")
    s_sp = None
    bulk_arcs = [a for a in arc_list if arcs[arc_list.index(a)].assignment == "bulk"]
    gb_arcs = [a for a in arc_list if arcs[arc_list.index(a)].assignment == "grain_boundary"]
    if geometry and bulk_arcs and gb_arcs:
        ab = max(bulk_arcs, key=lambda a: v[a.R])
        ag = max(gb_arcs, key=lambda a: v[a.R])
        cb, cg = _arc_C(ab, capacitance), _arc_C(ag, capacitance)
        s_sp = _propagate_log(
            lambda w: brick_layer_gb_conductivity_S_per_cm(
                sum(w[a.R] for a in gb_arcs), cb(w), cg(w), thickness_cm, area_cm2),
            fit, "S/cm", "brick-layer model (t/A)(1/R_gb)(C_bulk/C_gb)")
    return EISAnalysis(
        arcs=arcs, R_bulk_ohm=R_b, R_gb_ohm=R_gb, R_total_ohm=R_tot, sigma_bulk_S_per_cm=sb,
        sigma_gb_S_per_cm=sg, sigma_total_S_per_cm=st, sigma_gb_specific_S_per_cm=s_sp,
        thickness_cm=thickness_cm, area_cm2=area_cm2, temperature_K=temperature_K,
        boundaries=bnd, capacitance_method=method_c, notes=notes,
    )


def arrhenius_series(analyses: Sequence[EISAnalysis],
                     temperatures_K: Sequence[float] | None = None) -> dict[str, Any]:
    """Arrhenius fits of sigma·T for bulk, grain boundary and total conductivity over a
    temperature series (``superionic.transport.arrhenius.fit_arrhenius``, multiply_by_T)."""
    from superionic.transport.arrhenius import fit_arrhenius

    T = list(temperatures_K) if temperatures_K is not None else [a.temperature_K
                                                                 for a in analyses]
    if len(T) != len(analyses) or any(t is None for t in T):
        raise InputError("every spectrum needs a temperature for the Arrhenius analysis",
                         field="temperature", expected="one temperature (K) per spectrum")
    out: dict[str, Any] = {}
    for key, attr in (("bulk", "sigma_bulk_S_per_cm"), ("grain_boundary", "sigma_gb_S_per_cm"),
                      ("total", "sigma_total_S_per_cm")):
        pts = [(t, getattr(a, attr)) for t, a in zip(T, analyses, strict=True)
               if getattr(a, attr) is not None and getattr(a, attr).value > 0]
        if len({p[0] for p in pts}) < 2:
            continue
        Ts = np.array([p[0] for p in pts], dtype=float)
        vals = np.array([p[1].value for p in pts])
        se = np.array([p[1].stderr for p in pts])
        ok = np.all(np.isfinite(se) & (se > 0))
        out[key] = fit_arrhenius(Ts, vals, se if ok else None, multiply_by_T=True,
                                 quantity=f"sigma_{key}")
    return out
