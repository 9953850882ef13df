"""Complex non-linear least-squares fits of equivalent circuits with automatic starting values.

The real and imaginary residuals, divided by the chosen weights (modulus |Z|, proportional
|Z'| and |Z''|, or unit), are stacked and minimised with ``scipy.optimize.least_squares``
(Macdonald, Electrochim. Acta 35, 1483 (1990); Orazem & Tribollet, *Electrochemical Impedance
Spectroscopy*, ch. 19). Positive parameters are fitted in log space. Starting values come from
the peaks of the regularised DRT (:mod:`superionic.experiment.eis.drt`), then a multi-start of
DRT-derived perturbations keeps the lowest chi². Standard errors come from the Jacobian,
cov = (J^T J)^-1 chi²/(N - p).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import least_squares

from superionic.core.errors import ConvergenceError, InputError
from superionic.core.estimate import Estimate
from superionic.core.threads import single_blas_thread
from superionic.experiment.eis.circuits import Circuit, Element, Parallel
from superionic.experiment.eis.drt import DRTPeak, DRTResult, compute_drt
from superionic.experiment.eis.spectrum import Spectrum

WEIGHTINGS = ("modulus", "proportional", "unit")
_ARC_CAPACITIVE = ("C", "CPE")


def weights(Z: np.ndarray, weighting: str) -> tuple[np.ndarray, np.ndarray]:
    """Standard deviations assumed for Z' and Z'' under a weighting scheme."""
    if weighting == "modulus":
        s = np.abs(Z)
        return s, s
    if weighting == "proportional":
        floor = 1e-6 * np.abs(Z).max()
        return np.maximum(np.abs(Z.real), floor), np.maximum(np.abs(Z.imag), floor)
    if weighting == "unit":
        one = np.ones(Z.size)
        return one, one
    raise InputError(f"unknown weighting {weighting!r}", field="weighting",
                     expected=" | ".join(WEIGHTINGS))


def weighted_residuals(Z_model: np.ndarray, Z: np.ndarray, sr: np.ndarray, si: np.ndarray
                       ) -> np.ndarray:
    return np.concatenate([(Z_model.real - Z.real) / sr, (Z_model.imag - Z.imag) / si])


# --------------------------------------------------------------------------- circuit anatomy
@dataclass(frozen=True)
class Arc:
    """A relaxation of the circuit: R||C, R||CPE, a Zarc or an HN element."""

    kind: str  # 'RC', 'RQ', 'Zarc', 'HN'
    R: str  # parameter names
    cap: str | None = None  # element name of the C/CPE
    element: Element | None = None


def find_arcs(circuit: Circuit) -> list[Arc]:
    """Arcs of a circuit in string order: p(R, C|CPE) pairs (other branches allowed) and
    Zarc/HN elements."""
    arcs: list[Arc] = []

    def walk(node: Any) -> None:
        if isinstance(node, Element):
            if node.etype.symbol in ("Zarc", "HN"):
                arcs.append(Arc(node.etype.symbol, f"{node.name}_R", None, node))
            return
        if isinstance(node, Parallel):
            leaves = [c for c in node.children if isinstance(c, Element)]
            rs = [e for e in leaves if e.etype.symbol == "R"]
            caps = [e for e in leaves if e.etype.symbol in _ARC_CAPACITIVE]
            if rs and caps:
                kind = "RC" if caps[0].etype.symbol == "C" else "RQ"
                arcs.append(Arc(kind, rs[0].name, caps[0].name, caps[0]))
            for c in node.children:
                if not (isinstance(c, Element) and (c in rs[:1] or c in caps[:1])):
                    walk(c)
            return
        for c in node.children:
            walk(c)

    walk(circuit.tree)
    return arcs


def arc_tau(arc: Arc, v: dict[str, float]) -> float:
    """Time constant of an arc: RC: R C; R||CPE: (R Q)^(1/alpha); Zarc/HN: tau."""
    if arc.kind == "RC":
        return v[arc.R] * v[arc.cap]
    if arc.kind == "RQ":
        return (v[arc.R] * v[f"{arc.cap}_Q"]) ** (1.0 / v[f"{arc.cap}_alpha"])
    return v[f"{arc.element.name}_tau"]  # type: ignore[union-attr]


def _arc_param_names(arc: Arc, circuit: Circuit) -> list[str]:
    if arc.kind in ("Zarc", "HN"):
        return list(arc.element.param_names)  # type: ignore[union-attr]
    cap = next(e for e in circuit.elements if e.name == arc.cap)
    return [arc.R, *cap.param_names]


def _sort_arcs(circuit: Circuit, p: np.ndarray) -> np.ndarray:
    """Arcs in series are interchangeable; order those of one kind by increasing tau (string
    order = high to low frequency, the bulk first) so that results are reproducible."""
    names = circuit.param_names
    v = circuit.values_dict(p)
    out = dict(zip(names, p.tolist(), strict=True))
    arcs = [a for a in find_arcs(circuit) if _is_top(circuit, a)]
    for kind in ("RC", "RQ", "Zarc", "HN"):
        group = [a for a in arcs if a.kind == kind]
        pn = [_arc_param_names(a, circuit) for a in group]
        if len(group) < 2 or any(n not in out for lst in pn for n in lst):
            continue
        order = np.argsort([arc_tau(a, v) for a in group], kind="stable")
        vals = [[v[n] for n in lst] for lst in pn]
        for slot, src in enumerate(order):
            for n, val in zip(pn[slot], vals[src], strict=True):
                out[n] = val
    return np.array([out[n] for n in names])


def _is_top(circuit: Circuit, arc: Arc) -> bool:
    """Whether an arc sits directly in the top-level series chain (then it may be reordered)."""
    tree = circuit.tree
    kids = tree.children if not isinstance(tree, (Parallel, Element)) else (tree,)
    for c in kids:
        if arc.kind in ("Zarc", "HN") and c is arc.element:
            return True
        if isinstance(c, Parallel) and len(c.children) == 2 and all(
                isinstance(x, Element) for x in c.children):
            if {x.name for x in c.children} == {arc.R, arc.cap}:
                return True
    return False


# --------------------------------------------------------------------------- starting values
def _arc_values(arc: Arc, R: float, tau: float, alpha: float, circuit: Circuit
                ) -> dict[str, float]:
    if arc.kind == "RC":
        return {arc.R: R, arc.cap: tau / R}
    if arc.kind == "RQ":
        return {arc.R: R, f"{arc.cap}_Q": tau**alpha / R, f"{arc.cap}_alpha": alpha}
    name = arc.element.name  # type: ignore[union-attr]
    vals = {f"{name}_R": R, f"{name}_tau": tau, f"{name}_alpha": alpha}
    if arc.kind == "HN":
        vals[f"{name}_beta"] = 0.95
    return vals


def _assign_peaks(peaks: list[DRTPeak], n: int, f_Hz: np.ndarray, total_R: float
                  ) -> list[tuple[float, float]]:
    """(R, tau) for ``n`` arcs from DRT peaks: keep the n largest, fold the rest into their
    nearest neighbour, or split the widest peak when there are fewer peaks than arcs."""
    items = [(p.R_ohm, p.tau_s, p.width_ln_tau) for p in peaks]
    if not items:
        tmid = 1.0 / (2 * np.pi * np.sqrt(f_Hz.max() * f_Hz.min()))
        items = [(max(total_R, 1e-3), tmid, 2.0)]
    items.sort(key=lambda x: x[1])
    while len(items) > n:
        k = int(np.argmin([x[0] for x in items]))
        small = items.pop(k)
        j = int(np.argmin([abs(math.log(x[1] / small[1])) for x in items]))
        R, t, wdt = items[j]
        items[j] = (R + small[0], t, wdt)
    while len(items) < n:
        k = int(np.argmax([x[0] * max(x[2], 0.3) for x in items]))
        R, t, wdt = items.pop(k)
        sep = math.exp(max(wdt, 0.7))
        items[k:k] = [(R / 2, t / sep, wdt / 2), (R / 2, t * sep, wdt / 2)]
    return [(R, t) for R, t, _ in items]


def arc_start_options(drt: DRTResult, n: int, f_Hz: np.ndarray, pol: float,
                      max_options: int = 12) -> list[list[tuple[float, float]]]:
    """Alternative (R, tau) assignments for ``n`` arcs, most plausible first: subsets of the
    DRT candidate peaks (largest total area first), and the largest peaks plus a hidden arc
    in each gap of the tau window (small arcs masked by a larger neighbour)."""
    from itertools import combinations

    if n == 0:
        return [[]]
    cands = sorted([p for p in drt.candidates if p.in_range], key=lambda p: -p.R_ohm)[:6]
    pts = [(p.R_ohm, p.tau_s) for p in cands]
    t_lo, t_hi = 1.0 / (2 * np.pi * f_Hz.max()), 1.0 / (2 * np.pi * f_Hz.min())
    opts: list[list[tuple[float, float]]] = []
    if len(pts) >= n:
        combos = sorted(combinations(pts, n), key=lambda c: -sum(x[0] for x in c))
        opts.extend(sorted(c, key=lambda x: x[1]) for c in combos)
    keep = sorted(pts[: n - 1], key=lambda x: x[1]) if n >= 1 else []
    while len(keep) < n - 1:
        keep.append((pol / n, math.sqrt(t_lo * t_hi)))
        keep.sort(key=lambda x: x[1])
    edges = [t_lo] + [x[1] for x in keep] + [t_hi]
    Rref = min((x[0] for x in keep), default=max(pol, 1e-3))
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        if b / a < 3.0:
            continue
        opts.append(sorted(keep + [(0.1 * Rref, math.sqrt(a * b))], key=lambda x: x[1]))
    seen: list[list[tuple[float, float]]] = []
    for o in opts:
        if len(o) == n and o not in seen:
            seen.append(o)
    return seen[:max_options]


def initial_values(circuit: Circuit, spectrum: Spectrum, drt: DRTResult | None = None,
                   alpha0: float = 0.85, pairs: list[tuple[float, float]] | None = None
                   ) -> dict[str, float]:
    """Starting values of every free parameter from the DRT: series R from R_inf, each arc's
    R and tau from a DRT peak (arcs in string order = increasing tau), C = tau/R,
    Q = tau^alpha/R, electrode elements from the low-frequency tail."""
    drt = drt if drt is not None else compute_drt(spectrum)
    f, Z = spectrum.f_Hz, spectrum.Z
    w = 2 * np.pi * f
    arcs = find_arcs(circuit)
    in_range = [p for p in drt.peaks if p.in_range]
    pol = float(Z.real.max() - Z.real.min())
    vals: dict[str, float] = {}
    if pairs is None:
        pairs = _assign_peaks(in_range, len(arcs), f, pol)
    for arc, (R, tau) in zip(arcs, pairs, strict=True):
        vals.update(_arc_values(arc, R, tau, alpha0, circuit))
    arc_params = set(vals)
    used = {a.cap for a in arcs if a.cap} | {a.element.name for a in arcs if a.element}
    used_R = {a.R for a in arcs}
    loose = [e for e in circuit.elements if e.name not in used and e.name not in used_R]
    series_R = [e for e in loose if e.etype.symbol == "R"]
    R_inf = max(drt.R_inf_ohm, 1e-3 * max(np.abs(Z).min(), 1e-12))
    for e in series_R:
        vals[e.name] = R_inf / len(series_R)
    # low-frequency tail: what remains after R_inf and the arcs
    z_model = R_inf + sum(R / (1 + (1j * w * t) ** alpha0) for R, t in pairs)
    z_rem = Z - z_model
    a_t = drt.tail_alpha if drt.tail_alpha is not None else 0.9
    Q_t = drt.tail_Q if drt.tail_Q is not None else 1e-6
    i_low = int(np.argmin(f))
    w_low = w[i_low]
    for e in loose:
        s = e.etype.symbol
        if s == "R" or e.name in arc_params:
            continue
        if s == "L":
            vals[e.name] = drt.L_H if drt.L_H > 0 else 1e-3 / w.max() * max(np.abs(Z).min(), 1)
        elif s == "C":
            vals[e.name] = (drt.C_series_F if np.isfinite(drt.C_series_F)
                            else 1.0 / (w_low * max(abs(Z[i_low].imag), 1e-12)))
        elif s == "CPE":
            vals[f"{e.name}_Q"] = Q_t
            vals[f"{e.name}_alpha"] = min(max(a_t, 0.5), 0.99)
        elif s == "W":
            vals[f"{e.name}_sigma"] = max(abs(z_rem[i_low].imag), 1e-6) * math.sqrt(w_low)
        elif s in ("Wo", "Ws"):
            vals[f"{e.name}_R"] = max(abs(z_rem[i_low].real), 1e-3 * pol, 1e-9)
            vals[f"{e.name}_tau"] = 1.0 / w_low
        elif s in ("Zarc", "HN"):
            vals.update(_arc_values(Arc(s, f"{e.name}_R", None, e), pol, 1 / w_low, alpha0,
                                    circuit))
    return {k: v for k, v in vals.items() if k in circuit.param_names}


# --------------------------------------------------------------------------- result
@dataclass
class FitResult:
    """Outcome of a circuit fit: parameters as Estimates, covariance and correlation (in
    :attr:`param_names` order), goodness of fit and the DRT that seeded it."""

    circuit: str
    param_names: list[str]
    params: dict[str, Estimate]
    values: dict[str, float]
    covariance: np.ndarray
    correlation: np.ndarray
    chi2: float
    chi2_reduced: float
    aic: float
    bic: float
    weighting: str
    n_points: int
    f_Hz: np.ndarray
    Z: np.ndarray
    Z_fit: np.ndarray
    success: bool
    message: str
    initial: dict[str, float]
    n_starts: int
    fixed: dict[str, float] = field(default_factory=dict)
    drt: DRTResult | None = None
    source: str = ""
    _circuit_obj: Circuit | None = field(default=None, repr=False)

    @property
    def circuit_obj(self) -> Circuit:
        if self._circuit_obj is None:
            self._circuit_obj = Circuit(self.circuit, fixed=self.fixed)
        return self._circuit_obj

    def impedance(self, f_Hz: np.ndarray) -> np.ndarray:
        """Model impedance (ohm) at arbitrary frequencies."""
        return self.circuit_obj.impedance(f_Hz, self.values)

    @property
    def residuals_real(self) -> np.ndarray:
        """(Z'_data - Z'_fit)/|Z| per frequency."""
        return (self.Z.real - self.Z_fit.real) / np.abs(self.Z)

    @property
    def residuals_imag(self) -> np.ndarray:
        return (self.Z.imag - self.Z_fit.imag) / np.abs(self.Z)

    def to_dict(self) -> dict[str, Any]:
        return {
            "circuit": self.circuit,
            "parameters": {k: v.to_dict() for k, v in self.params.items()},
            "fixed": dict(self.fixed),
            "correlation": {"names": self.param_names, "matrix": self.correlation},
            "chi2": self.chi2, "chi2_reduced": self.chi2_reduced, "aic": self.aic,
            "bic": self.bic, "weighting": self.weighting, "n_points": self.n_points,
            "success": self.success, "message": self.message, "initial": self.initial,
            "n_starts": self.n_starts, "source": self.source,
        }


# --------------------------------------------------------------------------- fitting
@dataclass
class _Problem:
    circuit: Circuit
    f: np.ndarray
    Z: np.ndarray
    sr: np.ndarray
    si: np.ndarray
    log_mask: np.ndarray
    lo: np.ndarray
    hi: np.ndarray

    @classmethod
    def build(cls, circuit: Circuit, spectrum: Spectrum, weighting: str) -> _Problem:
        sr, si = weights(spectrum.Z, weighting)
        names = circuit.param_names
        b = np.array([circuit.bound(n) for n in names], dtype=float).reshape(-1, 2)
        log_mask = b[:, 0] >= 0.0
        with np.errstate(divide="ignore"):
            lo = np.where(log_mask, np.log(np.maximum(b[:, 0], 0.0)), b[:, 0])
            hi = np.where(log_mask, np.log(b[:, 1]), b[:, 1])
        return cls(circuit, spectrum.f_Hz, spectrum.Z, sr, si, log_mask, lo, hi)

    def to_theta(self, p: np.ndarray) -> np.ndarray:
        th = np.where(self.log_mask, np.log(np.maximum(np.abs(p), 1e-300)), p)
        span = np.where(np.isfinite(self.hi - self.lo), self.hi - self.lo, 1.0)
        eps = np.minimum(1e-6 * np.maximum(np.abs(th), 1.0), 0.01 * span)
        return np.clip(th, self.lo + eps, self.hi - eps)

    def to_p(self, th: np.ndarray) -> np.ndarray:
        return np.where(self.log_mask, np.exp(th), th)

    def residuals(self, th: np.ndarray) -> np.ndarray:
        zm = self.circuit.impedance(self.f, self.to_p(th))
        r = weighted_residuals(zm, self.Z, self.sr, self.si)
        return np.where(np.isfinite(r), r, 1e10)

    def set_box(self, p_ref: np.ndarray, decades: float = 8.0) -> None:
        """Replace infinite bounds of log parameters by p_ref x 10^(+-decades), keeping the
        search finite (no overflow) yet far wider than any plausible DRT error."""
        th = np.log(np.maximum(np.abs(p_ref), 1e-300))
        span = decades * math.log(10.0)
        self.lo = np.where(self.log_mask & ~np.isfinite(self.lo), th - span, self.lo)
        self.hi = np.where(self.log_mask & ~np.isfinite(self.hi), th + span, self.hi)

    def solve(self, p0: np.ndarray) -> Any:
        th0 = self.to_theta(p0)
        return least_squares(self.residuals, th0, bounds=(self.lo, self.hi), method="trf",
                             x_scale="jac", xtol=1e-10, ftol=1e-10, gtol=1e-10, max_nfev=2000)


def _perturb(base: dict[str, float], circuit: Circuit, rng: np.random.Generator
             ) -> dict[str, float]:
    out = {}
    for k, v in base.items():
        lo, hi = circuit.bound(k)
        if k.endswith(("_alpha", "_beta")):
            out[k] = float(np.clip(rng.uniform(0.6, 1.0), lo, hi))
        else:
            out[k] = v * math.exp(rng.normal(0.0, 0.8))
    return out


@single_blas_thread
def fit(spectrum: Spectrum, circuit: str | Circuit | None = None, *,
        initial: dict[str, float] | None = None, fixed: dict[str, float] | None = None,
        bounds: dict[str, tuple[float, float]] | None = None, weighting: str = "modulus",
        n_starts: int = 8, seed: int = 0, drt: DRTResult | None = None) -> FitResult:
    """Fit an equivalent circuit to a spectrum by complex non-linear least squares.

    ``circuit=None`` proposes one from the DRT (:func:`auto_circuit`), fits it and its
    neighbours with one arc fewer and more, and keeps the lowest BIC. Starting values are
    ``initial`` where given, otherwise DRT-derived (:func:`initial_values`), followed by
    the alternative peak assignments of :func:`arc_start_options` and up to ``n_starts - 1``
    random perturbations (of the DRT start and of the best solution so far). The lowest chi²
    is kept; the search stops once it reaches the noise floor measured by the linear KK fit
    and a second start agrees with it. Arcs in series are returned ordered by increasing
    tau. ``fixed`` holds parameters constant; ``bounds`` replaces default bounds.
    """
    weights(spectrum.Z[:1], weighting)
    if drt is None:
        drt = compute_drt(spectrum)
    if circuit is None:
        if initial or fixed or bounds:
            raise InputError("initial values, fixed parameters and bounds need an explicit "
                             "circuit", field="circuit",
                             expected="a circuit string such as 'R0-p(R1,CPE1)-CPE2'")
        return _fit_auto(spectrum, drt, weighting=weighting, n_starts=n_starts, seed=seed)
    if isinstance(circuit, str):
        circ = Circuit(circuit, fixed=dict(fixed or {}), bounds=dict(bounds or {}))
    else:
        circ = Circuit(circuit.text, fixed={**circuit.fixed, **(fixed or {})},
                       bounds={**circuit.bounds, **(bounds or {})})
    names = circ.param_names
    if not names:
        raise InputError("every parameter is fixed; nothing to fit", field="fixed")
    start = initial_values(circ, spectrum, drt)
    if initial:
        unknown = set(initial) - set(circ.all_param_names)
        if unknown:
            raise InputError(f"unknown parameters in initial values: {sorted(unknown)}",
                             field="initial", expected=str(names))
        start.update({k: v for k, v in initial.items() if k in names})
    prob = _Problem.build(circ, spectrum, weighting)
    prob.set_box(np.array([start[n] for n in names]))
    target = _noise_floor_chi2(spectrum, weighting, len(names))
    starts = [start]
    n_arcs = len(find_arcs(circ))
    pol = float(spectrum.Z.real.max() - spectrum.Z.real.min())
    if not initial:
        for pairs in arc_start_options(drt, n_arcs, spectrum.f_Hz, pol):
            starts.append(initial_values(circ, spectrum, drt, pairs=pairs))
    n_structured = len(starts)
    rng = np.random.default_rng(seed)
    best = None
    costs: list[float] = []
    for k in range(n_structured + max(0, n_starts - 1)):
        if k >= len(starts):
            ref = start if (k % 2 == 0 or best is None) else dict(
                zip(names, prob.to_p(best.x).tolist(), strict=True))
            starts.append(_perturb(ref, circ, rng))
        p0 = np.array([starts[k][n] for n in names])
        try:
            res = prob.solve(p0)
        except (ValueError, FloatingPointError):
            continue
        costs.append(float(res.cost))
        if best is None or res.cost < best.cost:
            best = res
        good = 2.0 * best.cost <= target
        agree = sum(abs(c - best.cost) <= 1e-4 * best.cost for c in costs)
        if good and agree >= 2:
            break
    if best is None:
        raise ConvergenceError(f"no start of the fit of {circ.string} converged")
    p_best = prob.to_p(best.x)
    p_sorted = _sort_arcs(circ, p_best)
    if not np.array_equal(p_sorted, p_best):
        best = prob.solve(p_sorted)
    return _result(prob, circ, best, spectrum, weighting, start, len(costs), drt)


def _fit_auto(spectrum: Spectrum, drt: DRTResult, **kw: Any) -> FitResult:
    """Fit the DRT-proposed circuit and the ones with one arc fewer and one more; keep the
    lowest BIC (Schwarz, Ann. Stat. 6, 461 (1978)): extra arcs must pay for themselves."""
    proposed = auto_circuit(spectrum, drt=drt)
    n = proposed.count("p(")
    spike = not proposed.endswith(")")
    inductive = proposed.startswith("L0")
    best: FitResult | None = None
    for m in sorted({max(1, n - 1), n, min(n + 1, 4)}):
        try:
            res = fit(spectrum, _auto_text(m, spike, inductive), drt=drt, **kw)
        except ConvergenceError:
            continue
        if best is None or res.bic < best.bic - 1e-9:
            best = res
    if best is None:
        raise ConvergenceError("no automatically proposed circuit could be fitted")
    return best


def _noise_floor_chi2(spectrum: Spectrum, weighting: str, k: int, factor: float = 1.05
                      ) -> float:
    """chi² a correct circuit should reach: the noise variance measured by the linear KK fit
    (a near-complete causal model) times the degrees of freedom, times ``factor``."""
    from superionic.experiment.eis.kk import linear_kk

    kk = linear_kk(spectrum)
    sr, si = weights(spectrum.Z, weighting)
    r = weighted_residuals(kk.Z_fit, spectrum.Z, sr, si)
    dof_kk = max(r.size - (kk.M + 3), 1)
    return factor * float(r @ r) / dof_kk * max(r.size - k, 1)


def _result(prob: _Problem, circ: Circuit, res: Any, spectrum: Spectrum, weighting: str,
            start: dict[str, float], n_done: int, drt: DRTResult | None) -> FitResult:
    names = circ.param_names
    p = prob.to_p(res.x)
    r = res.fun
    n = r.size
    k = len(names)
    chi2 = float(r @ r)
    dof = max(n - k, 1)
    chi2_red = chi2 / dof
    J = res.jac
    U, s, Vt = np.linalg.svd(J, full_matrices=False)
    tol = s.max() * max(J.shape) * np.finfo(float).eps if s.size else 0.0
    # pseudo-inverse of J^T J; parameters with a component along an unresolved direction
    # (singular value below tolerance, e.g. a parameter pinned at a bound) get infinite variance
    keep = s > max(tol, 1e-10 * (s.max() if s.size else 0.0))
    inv_s2 = np.where(keep, 1.0 / np.where(keep, s, 1.0) ** 2, 0.0)
    cov_th = (Vt.T * inv_s2) @ Vt * chi2_red
    null_weight = (Vt[~keep, :] ** 2).sum(axis=0) if (~keep).any() else np.zeros(k)
    bad = null_weight > 1e-6
    cov_th[bad, :] = np.inf
    cov_th[:, bad] = np.inf
    cov_th[np.ix_(bad, bad)] = np.inf
    dpdth = np.where(prob.log_mask, p, 1.0)
    cov = cov_th * np.outer(dpdth, dpdth)
    sd_th = np.sqrt(np.abs(np.diag(cov_th)))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov_th / np.outer(sd_th, sd_th)
    params: dict[str, Estimate] = {}
    for i, nme in enumerate(names):
        unit = circ.param_units.get(nme, "")
        if not np.isfinite(sd_th[i]) or sd_th[i] > 30.0:
            params[nme] = Estimate(p[i], math.inf, ci95=(-math.inf, math.inf), unit=unit,
                                   method=f"CNLS ({weighting} weighting)",
                                   extra={"identifiable": False})
        elif prob.log_mask[i] and p[i] > 0:
            params[nme] = Estimate.from_log(math.log(p[i]), float(sd_th[i]), unit=unit,
                                            method=f"CNLS ({weighting} weighting)")
        else:
            params[nme] = Estimate(p[i], float(sd_th[i]), unit=unit,
                                   method=f"CNLS ({weighting} weighting)")
        lo, hi = circ.bound(nme)
        if np.isclose(p[i], lo, rtol=1e-6, atol=0) or np.isclose(p[i], hi, rtol=1e-6, atol=0):
            params[nme].extra["at_bound"] = True
    values = dict(zip(names, p.tolist(), strict=True))
    aic = n * math.log(chi2 / n) + 2 * k if chi2 > 0 else -math.inf
    bic = n * math.log(chi2 / n) + k * math.log(n) if chi2 > 0 else -math.inf
    Z_fit = circ.impedance(spectrum.f_Hz, p)
    return FitResult(
        circuit=circ.string, param_names=names, params=params, values=values, covariance=cov,
        correlation=corr, chi2=chi2, chi2_reduced=chi2_red, aic=aic, bic=bic,
        weighting=weighting, n_points=spectrum.f_Hz.size, f_Hz=spectrum.f_Hz, Z=spectrum.Z,
        Z_fit=Z_fit, success=bool(res.success), message=str(res.message), initial=start,
        n_starts=n_done, fixed=dict(circ.fixed), drt=drt, source=spectrum.source,
        _circuit_obj=circ,
    )


def auto_circuit(spectrum: Spectrum, drt: DRTResult | None = None, max_arcs: int = 4) -> str:
    """Circuit proposed from the DRT: R0 (L0 first when the cable inductance shows), one
    p(R,CPE) per in-range peak (at most ``max_arcs``) and a series electrode CPE when the
    low-frequency tail rises as a capacitive spike."""
    drt = drt if drt is not None else compute_drt(spectrum)
    peaks = [p for p in drt.peaks if p.in_range]
    # a peak at the low-frequency end of the window that merely continues a rising spike is
    # the electrode, not an arc
    if drt.tail_rising and peaks:
        tmax = 1.0 / (2 * np.pi * spectrum.f_Hz.min())
        peaks = [p for p in peaks if p.tau_s < tmax / 1.5]
    n = min(max(len(peaks), 1), max_arcs)
    return _auto_text(n, drt.tail_rising, _inductive(spectrum, drt))


def _inductive(spectrum: Spectrum, drt: DRTResult) -> bool:
    """Cable inductance worth a series L: j omega L above 1 % of |Z| at the top frequency."""
    w = 2 * np.pi * spectrum.f_Hz.max()
    return bool(drt.L_H * w > 0.01 * np.abs(spectrum.Z[np.argmax(spectrum.f_Hz)]))


def _auto_text(n_arcs: int, spike: bool, inductive: bool) -> str:
    parts = (["L0"] if inductive else []) + ["R0"]
    parts += [f"p(R{i},CPE{i})" for i in range(1, n_arcs + 1)]
    if spike:
        parts.append(f"CPE{n_arcs + 1}")
    return "-".join(parts)


__all__ = ["Arc", "FitResult", "auto_circuit", "find_arcs", "fit", "initial_values",
           "weights"]
