"""Training of QMTP on labelled structures: linear least squares, then L-BFGS/Adam on everything.

Loss (per structure set): w_E ⟨(ΔE/N)²⟩ + w_F ⟨ΔF²⟩ + w_S ⟨(ΔσV/N)²⟩ + w_q ⟨Δq²⟩, the weighted
energy/force/virial objective of mlip-2 (Novikov et al., Mach. Learn.: Sci. Technol. 2, 025002
(2021), Eq. 10) plus a charge term when reference charges are present. Step 1 solves the
linear problem for ξ and the species reference energies at fixed radial and charge parameters
(for a new charged model, after scaling the electronegativity differences to the size of charge
the labels call for, :func:`fit_charge_scale`); step 2 optimises all parameters with torch,
keeping the best validation state (early stopping). The geometry of the training set is fixed,
so basis gradients (step 1), Coulomb matrices with their geometric derivatives (both steps)
and the pair tables of the MTP forces (step 2, :mod:`~.pair_tables`) are computed once per
structure; the charge part of forces and stress comes from the Hellmann-Feynman property of
the QEq minimum (:class:`~.qmtp_torch.QMTPTorch`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from superionic.core.errors import InputError
from superionic.core.units import EV_PER_A3_TO_GPA
from superionic.potentials.mtp_numba import basis_gradients, basis_values, pair_forces_virial
from superionic.potentials.qmtp import QMTP, find_neighbours
from superionic.potentials.repulsion import outer_radii, shortest_pair_distances

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LossWeights:
    """Weights of the loss terms: energy per atom (eV⁻²), forces (Å²/eV²), virial per atom,
    charges (e⁻²)."""

    energy: float = 1.0
    forces: float = 0.1
    stress: float = 0.1
    charges: float = 1.0


@dataclass
class TrainingResult:
    """Trained model, per-quantity RMSEs on train/validation sets and the loss history."""

    model: QMTP
    train_rmse: dict[str, float]
    validation_rmse: dict[str, float]
    history: list[dict[str, float]] = field(default_factory=list)
    n_train: int = 0
    n_validation: int = 0
    seconds: float = 0.0
    #: what ended the optimisation: "epochs", "patience", "time limit" (the model then
    #: depends on the machine's speed), "non-finite loss" or "linear fit" (epochs=0)
    stopped_by: str = "epochs"

    def to_dict(self) -> dict[str, Any]:
        return {"train_rmse": self.train_rmse, "validation_rmse": self.validation_rmse,
                "n_train": self.n_train, "n_validation": self.n_validation,
                "seconds": self.seconds, "history": self.history,
                "stopped_by": self.stopped_by}


def read_structures(paths: Sequence[str | Path] | str | Path) -> list[Atoms]:
    """All frames of every file ASE reads (extxyz, .db, OUTCAR, vasprun.xml, ...), labelled."""
    from ase.io import read

    if isinstance(paths, str | Path):
        paths = [paths]
    out: list[Atoms] = []
    for p in paths:
        p = Path(p)
        if not p.exists():
            raise InputError("file not found", source=str(p))
        try:
            frames = read(str(p), index=":")
        except Exception as exc:  # noqa: BLE001 - ASE raises many types
            raise InputError(f"ASE cannot read it: {exc}", source=str(p),
                             expected="a structure file with energies and forces") from exc
        if isinstance(frames, Atoms):
            frames = [frames]
        for k, a in enumerate(frames):
            if a.calc is None or "energy" not in a.calc.results:
                raise InputError("no energy label", source=str(p), frame=k, field="energy",
                                 expected="labelled frames (energy, forces)")
            a.info["source"] = f"{p}:{k}"
        out.extend(frames)
    return out


def _labels(atoms: Atoms) -> dict[str, Any]:
    from superionic.potentials.qmtp_torch import _reference

    return {k: _reference(atoms, k) for k in ("energy", "forces", "stress", "charges")}


def _voigt_to_3x3(s: np.ndarray) -> np.ndarray:
    s = np.asarray(s, float)
    if s.shape == (3, 3):
        return s
    xx, yy, zz, yz, xz, xy = s
    return np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])


@dataclass
class _Features:
    """Inputs of the linear problem for one structure that depend only on its geometry and
    the radial functions: labels, species counts, basis values B (N, n_basis) and the basis
    forces F (n_basis, N, 3) and virials W (n_basis, 3, 3) (None without such labels)."""

    labels: dict[str, Any]
    counts: np.ndarray
    B: np.ndarray
    F: np.ndarray | None
    W: np.ndarray | None
    volume: float


def _features(model: QMTP, atoms: Atoms, nb: Any = None) -> _Features:
    prog = model.program
    lab = _labels(atoms)
    n = len(atoms)
    nb = nb if nb is not None else find_neighbours(atoms, model.r_cut)
    sp = model.species_index(atoms)
    vals = basis_values(prog, sp, nb.start, nb.pair_j, nb.vectors, model.radial_coeffs_,
                        model.r_min, model.r_cut)
    counts = np.bincount(sp, minlength=len(model.species)).astype(float)
    periodic = bool(np.all(atoms.pbc))
    F = W = None
    if lab["forces"] is not None or (lab["stress"] is not None and periodic):
        g = np.broadcast_to(np.eye(prog.n_basis), (n, prog.n_basis, prog.n_basis))
        d = basis_gradients(prog, sp, nb.start, nb.pair_j, nb.vectors, model.radial_coeffs_,
                            model.r_min, model.r_cut, vals, g)
        F, W = pair_forces_virial(d, nb.pair_i, nb.pair_j, nb.vectors, n)
    return _Features(lab, counts, vals[:, prog.basis_index], F, W,
                     atoms.get_volume() if periodic else 1.0)


class LinearFitCache:
    """Reusable parts of repeated linear fits on one list of structures.

    Holds each structure's :class:`_Features` for the current radial functions (rebuilt when
    they change) and, for charged models, a torch batch whose cached Coulomb matrices give the
    charge part (energies, forces, virials, charges) of any charge parameters for all
    structures in one call (:class:`~superionic.potentials.qmtp_torch.QMTPTorch`, equal to
    :meth:`QMTP.compute` to rounding). Pass the same instance to :func:`linear_fit` and
    :func:`fit_charge_scale` with the same ``structures``.
    """

    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        self.batch: Any = None
        self._key: tuple | None = None
        self._features: list[_Features] = []
        self._batch_key: tuple | None = None
        self._neighbours: dict[tuple[int, float], tuple[Atoms, Any]] = {}

    def neighbours(self, atoms: Atoms, r_cut: float):
        """:func:`find_neighbours` of ``atoms`` (kept; the structures must not change)."""
        key = (id(atoms), float(r_cut))
        if key not in self._neighbours:
            self._neighbours[key] = (atoms, find_neighbours(atoms, r_cut))
        return self._neighbours[key][1]

    @staticmethod
    def _model_key(model: QMTP, *arrays: np.ndarray) -> tuple:
        return (tuple(model.species), model.level, model.r_cut, model.r_min,
                *(np.asarray(a).tobytes() for a in arrays))

    def features(self, model: QMTP, structures: Sequence[Atoms]) -> list[_Features]:
        key = self._model_key(model, model.radial_coeffs_) + tuple(map(id, structures))
        if key != self._key:
            self._features = [_features(model, a, self.neighbours(a, model.r_cut))
                              for a in structures]
            self._key = key
        return self._features

    def torch_batch(self, model: QMTP, structures: Sequence[Atoms]):
        """:func:`make_batch` of ``structures`` for ``model``'s species, cutoff and widths."""
        from superionic.potentials.qmtp_torch import make_batch

        key = (self._model_key(model, model.sigma_) + (model.ewald_accuracy,)
               + tuple(map(id, structures)))
        if key != self._batch_key:
            self.batch = make_batch(model, structures, device=self.device, neighbours=[
                self.neighbours(a, model.r_cut) for a in structures])
            self._batch_key = key
        return self.batch

    def predictions(self, models: Sequence[QMTP], structures: Sequence[Atoms]
                    ) -> list[list[dict[str, Any]]]:
        """Energy, forces, stress (3, 3) and charges of each model (rows) for each structure."""
        from superionic.potentials.qmtp_torch import QMTPTorch

        if not models:
            return [[] for _ in structures]
        b = self.torch_batch(models[0], structures)
        per_model = [QMTPTorch(m, device=self.device)(b, stress=True) for m in models]
        per_structure = [_batch_results(o, b) for o in per_model]
        return [list(rows) for rows in zip(*per_structure, strict=True)]


def _batch_results(out: dict[str, Any], b: Any) -> list[dict[str, Any]]:
    """Per-structure dicts (as :meth:`QMTP.compute` returns) from a torch batch output."""
    o = {k: v.detach().cpu().numpy() for k, v in out.items()}
    rows = []
    for k, sl in enumerate(b.atom_slices):
        r = {"energy": float(o["energy"][k]), "forces": o["forces"][sl],
             "charges": o["charges"][sl], "basis": o["basis"][sl]}
        if b.periodic[k]:
            r["stress"] = o["stress"][k]
        rows.append(r)
    return rows


def _linear_system(model: QMTP, structures: Sequence[Atoms], weights: LossWeights,
                   offsets: Sequence[QMTP] = (), charges: bool = False,
                   cache: LinearFitCache | None = None,
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Weighted rows of the linear problem in (ξ, E0): design X and right-hand sides Y.

    Y[:, 0] holds the labels; Y[:, 1 + k] the energy/forces/virial (and charges) predicted by
    ``offsets[k]``, models with ξ = E0 = 0 that carry the fixed charge part. With
    ``charges``, reference charges add rows that do not depend on (ξ, E0). With a ``cache``,
    basis values and gradients are reused and the offsets are evaluated by the torch engine on
    cached Coulomb matrices; without one, by :meth:`QMTP.compute`.
    """
    S = len(model.species)
    nb_ = model.program.n_basis
    if cache is not None:
        feats = cache.features(model, structures)
        preds = cache.predictions(offsets, structures)
    else:
        feats = [_features(model, a) for a in structures]
        preds = [[m.compute(a, total_charge=float(np.round(a.get_initial_charges().sum(), 8)))
                  for m in offsets] for a in structures]
    rows, rhs = [], []
    for atoms, ft, base in zip(structures, feats, preds, strict=True):
        lab = ft.labels
        n = len(atoms)

        def add(x, ref, key, scale, convert=np.ravel, base=base):
            rows.append(np.atleast_2d(x))
            cols = [np.atleast_1d(convert(ref))] + [np.atleast_1d(convert(b[key])) for b in base]
            rhs.append(scale * np.stack(cols, axis=1))

        if lab["energy"] is not None:
            add(np.sqrt(weights.energy) * np.concatenate([ft.B.sum(0), ft.counts]) / n,
                float(lab["energy"]), "energy", np.sqrt(weights.energy) / n)
        need_f = lab["forces"] is not None and weights.forces > 0
        need_s = lab["stress"] is not None and weights.stress > 0 and bool(np.all(atoms.pbc))
        if need_f:
            a = ft.F.reshape(nb_, -1).T
            add(np.sqrt(weights.forces) * np.hstack([a, np.zeros((a.shape[0], S))]),
                np.asarray(lab["forces"], float), "forces", np.sqrt(weights.forces))
        if need_s:
            a = 0.5 * (ft.W + ft.W.transpose(0, 2, 1)).reshape(nb_, 9).T / n
            add(np.sqrt(weights.stress) * np.hstack([a, np.zeros((9, S))]),
                lab["stress"], "stress", np.sqrt(weights.stress) * ft.volume / n,
                lambda s: _voigt_to_3x3(s).ravel())
        if charges and lab["charges"] is not None and weights.charges > 0:
            add(np.zeros((n, nb_ + S)), np.asarray(lab["charges"], float), "charges",
                np.sqrt(weights.charges))
    if not rows:
        raise InputError("no labelled structures to fit", expected="energies and/or forces")
    return np.vstack(rows), np.vstack(rhs)


def _ridge_solve(X: np.ndarray, Y: np.ndarray, ridge: float) -> np.ndarray:
    """Column-scaled ridge least squares via an augmented system (stable for collinear
    basis functions); Y may hold several right-hand sides."""
    scale = np.sqrt(np.mean(X * X, axis=0))
    scale[scale == 0] = 1.0
    Xs = X / scale
    aug = np.vstack([Xs, np.sqrt(ridge) * np.eye(Xs.shape[1])])
    pad = np.zeros((Xs.shape[1],) + Y.shape[1:])
    sol = np.linalg.lstsq(aug, np.concatenate([Y, pad]), rcond=None)[0]
    return (sol.T / scale).T


def _baseline_reaches(model: QMTP, structures: Sequence[Atoms],
                      cache: LinearFitCache | None) -> bool:
    """Whether any pair of ``structures`` lies inside the model's ZBL wall (the fit must then
    subtract the baseline; usually it does not, the wall being placed below the data)."""
    if not model.has_repulsion:
        return False
    nbs = [cache.neighbours(a, model.r_cut) if cache is not None
           else find_neighbours(a, model.r_cut) for a in structures]
    d = shortest_pair_distances(structures, model.species, nbs, model.r_cut)
    return bool(np.any(d < model.repulsion_r_outer_))


def _zero_short_range(model: QMTP) -> QMTP:
    zero = model.copy()
    zero.xi_ = np.zeros(model.n_basis)
    zero.e0_ = np.zeros(len(model.species))
    return zero


def linear_fit(model: QMTP, structures: Sequence[Atoms], weights: LossWeights = LossWeights(),
               ridge: float = 1e-10, cache: LinearFitCache | None = None) -> QMTP:
    """Least-squares ξ and reference energies at fixed radial/charge parameters (in place).

    ``cache`` (a :class:`LinearFitCache` used only with these ``structures``) speeds up
    repeated fits."""
    offsets = [_zero_short_range(model)] if (
        model.charges or _baseline_reaches(model, structures, cache)) else []
    X, Y = _linear_system(model, structures, weights, offsets, cache=cache)
    y = Y[:, 0] - (Y[:, 1] if offsets else 0.0)
    sol = _ridge_solve(X, y, ridge)
    model.xi_ = np.ascontiguousarray(sol[:model.n_basis])
    model.e0_ = np.ascontiguousarray(sol[model.n_basis:])
    return model


def _scaled_electronegativity(model: QMTP, lam: float) -> QMTP:
    """χ0 → c + λ(χ0 − c) (c: species mean) and w → λw, with ξ = E0 = 0."""
    m = _zero_short_range(model)
    c = float(np.mean(model.chi0_))
    m.chi0_ = c + lam * (model.chi0_ - c)
    m.w_chi_ = lam * model.w_chi_
    return m


def fit_charge_scale(model: QMTP, structures: Sequence[Atoms],
                     weights: LossWeights = LossWeights(), ridge: float = 1e-10,
                     cache: LinearFitCache | None = None) -> float:
    """Scale the electronegativity differences by the λ ≥ 1 that minimises the linear-fit
    loss, then refit ξ and E0 (in place); returns λ.

    With χ(λ) = c + λ(χ − c) the QEq charges are affine in λ, so the charge part of energy,
    forces and virial is exactly quadratic in λ (three evaluations give it) and the loss
    after eliminating (ξ, E0) by least squares (variable projection; Golub & Pereyra, SIAM J.
    Numer. Anal. 10, 413 (1973)) is a quartic in λ, minimised exactly. This sets the size
    of the charges from the long-range part of the energies alone, which a local short-range
    fit cannot mimic; the sign (the order of χ0) is kept: for neutral cells, energies and
    forces are even in λ. Only λ ≥ 1 is searched: charges never shrink below the starting
    ones here, because λ = 0 is a stationary point that gradient steps would not leave, and
    a profile taken with the initial radial functions may favour small charges merely
    because the short-range fit is still poor (the nonlinear stage can still shrink them).
    """
    offsets = [_scaled_electronegativity(model, lam) for lam in (0.0, 1.0, -1.0)]
    X, Y = _linear_system(model, structures, weights, offsets, charges=True, cache=cache)
    y, b_0, b_p, b_m = Y.T
    b1 = 0.5 * (b_p - b_m)
    b2 = 0.5 * (b_p + b_m) - b_0
    Z = np.stack([y - b_0, b1, b2], axis=1)
    R = Z - X @ _ridge_solve(X, Z, ridge)
    u, v, w = R.T
    # ‖u − λv − λ²w‖² = Σ_k c_k λ^k
    coeffs = [w @ w, 2 * v @ w, v @ v - 2 * u @ w, -2 * u @ v, u @ u]
    roots = np.roots(np.polyder(coeffs)) if np.any(np.abs(coeffs[:4]) > 0) else np.array([])
    candidates = [1.0] + [float(r.real) for r in roots if abs(r.imag) < 1e-9 * (
        1 + abs(r)) and r.real > 1.0]
    lam = min(candidates, key=lambda x: np.polyval(coeffs, x))
    scaled = _scaled_electronegativity(model, lam)
    model.chi0_, model.w_chi_ = scaled.chi0_, scaled.w_chi_
    linear_fit(model, structures, weights, ridge, cache=cache)
    return float(lam)


def evaluate(model: QMTP, structures: Sequence[Atoms], engine: str = "numba",
             active_set: Any = None) -> dict[str, float]:
    """RMSEs against the labels: energy per atom (eV), forces (eV/Å), stress (GPa), charges."""
    results = []
    for atoms in structures:
        tot = float(np.round(atoms.get_initial_charges().sum(), 8))
        if engine == "numba":
            r = model.compute(atoms, total_charge=tot)
        else:
            from superionic.potentials.calculator import QMTPCalculator

            calc = QMTPCalculator(model, engine=engine, total_charge=tot)
            a = atoms.copy()
            a.calc = calc
            calc.calculate(a, ["energy", "forces"])
            r = dict(calc.results)
            if "stress" in r:
                r["stress"] = _voigt_to_3x3(np.array([r["stress"][i] for i in range(6)]))
        results.append(r)
    return _errors(model, structures, results, active_set)


def _errors(model: QMTP, structures: Sequence[Atoms], results: Sequence[dict[str, Any]],
            active_set: Any = None) -> dict[str, float]:
    """The RMSEs of :func:`evaluate` from predicted energy/forces/stress/charges/basis."""
    de, df, ds, dq = [], [], [], []
    grades = []
    for atoms, r in zip(structures, results, strict=True):
        lab = _labels(atoms)
        if lab["energy"] is not None:
            de.append((r["energy"] - float(lab["energy"])) / len(atoms))
        if lab["forces"] is not None:
            df.append((r["forces"] - np.asarray(lab["forces"])).ravel())
        if lab["stress"] is not None and "stress" in r:
            ds.append((r["stress"] - _voigt_to_3x3(lab["stress"])).ravel() * EV_PER_A3_TO_GPA)
        if lab["charges"] is not None and model.charges:
            dq.append(r["charges"] - np.asarray(lab["charges"]))
        if active_set is not None:
            grades.append(active_set.grade_from_basis(r["basis"], atoms)[0])

    def rmse(x):
        return float(np.sqrt(np.mean(np.concatenate([np.atleast_1d(v) for v in x]) ** 2))) \
            if x else float("nan")

    out = {
        "energy_rmse_eV_per_atom": rmse(de),
        # mean signed error (prediction - label): a shift of a whole region of configurations
        "energy_bias_eV_per_atom": float(np.mean(de)) if de else float("nan"),
        "force_rmse_eV_per_A": rmse(df),
        "stress_rmse_GPa": rmse(ds),
        "charge_rmse_e": rmse(dq),
        "n_structures": len(structures),
    }
    if active_set is not None:
        out["max_extrapolation_grade"] = float(max(grades)) if grades else float("nan")
    return out


def _linear_loss(model: QMTP, structures: Sequence[Atoms], weights: LossWeights) -> float:
    r = evaluate(model, structures)
    loss = weights.energy * r["energy_rmse_eV_per_atom"] ** 2
    if np.isfinite(r["force_rmse_eV_per_A"]):
        loss += weights.forces * r["force_rmse_eV_per_A"] ** 2
    return float(loss)


def _best_initialisation(model: QMTP, structures: Sequence[Atoms], weights: LossWeights,
                         seed: int, n_inits: int, cache: LinearFitCache | None = None) -> QMTP:
    """Among ``n_inits`` random radial bases (seeds seed, seed+1, ...), the best linear fit."""
    best, best_loss = model, _linear_loss(model, structures, weights)
    for k in range(1, n_inits):
        trial = model.copy()
        trial.radial_coeffs_ = trial.random_radial_coeffs(np.random.default_rng(seed + k))
        linear_fit(trial, structures, weights, cache=cache)
        loss = _linear_loss(trial, structures, weights)
        if loss < best_loss:
            best, best_loss = trial, loss
    return best


def _min_distance(nb: Any, r_cut: float) -> float:
    d = nb.vectors
    return float(np.sqrt(np.min(np.einsum("ij,ij->i", d, d)))) if len(d) else r_cut


def split(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random train/validation split of n items (at least one training item)."""
    if not 0.0 <= val_fraction < 1.0:
        raise InputError(f"val_fraction = {val_fraction}", field="val_fraction",
                         expected="0 <= fraction < 1")
    perm = np.random.default_rng(seed).permutation(n)
    n_val = int(round(val_fraction * n))
    n_val = min(n_val, n - 1)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def _loss(out, b, weights: LossWeights, charges: bool):
    import torch

    terms = {}
    n_at = b.n_atoms.to(out["energy"].dtype)
    total = torch.zeros((), dtype=out["energy"].dtype, device=out["energy"].device)
    if b.energy_mask.any():
        de = ((out["energy"] - b.energy) / n_at)[b.energy_mask]
        terms["energy"] = (de**2).mean()
        total = total + weights.energy * terms["energy"]
    if b.forces_mask.any() and "forces" in out:
        dfor = (out["forces"] - b.forces)[b.forces_mask]
        terms["forces"] = (dfor**2).mean()
        total = total + weights.forces * terms["forces"]
    if b.stress_mask.any() and "stress" in out:
        vir = (out["stress"] - b.stress) * (b.volumes / n_at)[:, None, None]
        terms["stress"] = (vir[b.stress_mask] ** 2).mean()
        total = total + weights.stress * terms["stress"]
    if charges and b.charges_mask.any():
        dq = (out["charges"] - b.charges)[b.charges_mask]
        terms["charges"] = (dq**2).mean()
        total = total + weights.charges * terms["charges"]
    return total, terms


def train(
    structures: Sequence[Atoms],
    model: QMTP | None = None,
    *,
    level: int = 16,
    species: Sequence[int | str] | None = None,
    r_cut: float = 5.0,
    r_min: float | None = None,
    n_beta: int = 8,
    charges: bool = True,
    seed: int = 0,
    val_fraction: float = 0.1,
    epochs: int = 100,
    weights: LossWeights = LossWeights(),
    optimizer: str = "lbfgs",
    learning_rate: float = 1.0,
    patience: int = 20,
    device: str | None = None,
    progress: bool = True,
    fit_radial: bool = True,
    threads: int | None = None,
    n_inits: int = 1,
    max_seconds: float | None = None,
    scale_charges: bool = True,
    repulsion: bool = True,
) -> TrainingResult:
    """Fit a QMTP to labelled ``structures``; reproducible for a given ``seed``.

    A new model (level, species, cutoffs, charges) is built unless ``model`` is given, in which
    case training continues from its parameters. ``epochs`` counts optimiser steps (one L-BFGS
    step runs up to 20 function evaluations); ``epochs=0`` keeps the linear solution.
    ``threads`` sets torch's and numba's CPU threads during training (1 is fastest for small
    sets on a busy machine); the previous settings are restored. ``n_inits > 1`` draws that
    many random radial bases for a new model and starts from the one whose linear fit has the
    lowest loss.
    ``max_seconds`` ends the optimisation after that wall time (keeping the best parameters
    so far; a time-limited run is reproducible only if it ends on ``epochs`` or ``patience``).
    ``scale_charges`` (new charged models): before the nonlinear stage, scale the initial
    electronegativity differences (Pauling order) to the size the labels call for
    (:func:`fit_charge_scale`), so charges are learned from energies and forces alone.
    ``repulsion``: switch the ZBL baseline on below 85 % of each species pair's shortest
    distance in ``structures`` (zero on all of them, so the fit is unchanged;
    :mod:`superionic.potentials.repulsion`); a continued ``model`` keeps its baseline, and
    the fit subtracts it where newer data come closer. False removes it.
    """
    from superionic.core.threads import thread_limit

    # the torch operations and the numba kernels of the pair tables share the limit
    with thread_limit(threads, blas=False):
        return _train(structures, model, level, species, r_cut, r_min, n_beta, charges, seed,
                      val_fraction, epochs, weights, optimizer, learning_rate, patience, device,
                      progress, fit_radial, threads, n_inits, max_seconds, scale_charges,
                      repulsion)


def _train(structures, model, level, species, r_cut, r_min, n_beta, charges, seed,
           val_fraction, epochs, weights, optimizer, learning_rate, patience, device, progress,
           fit_radial, threads, n_inits, max_seconds=None,
           scale_charges=True, repulsion=True) -> TrainingResult:
    import torch
    from tqdm.auto import tqdm

    from superionic.potentials.qmtp_torch import QMTPTorch, default_device, make_batch

    t0 = time.perf_counter()
    structures = list(structures)
    if not structures:
        raise InputError("no training structures", expected="at least one labelled structure")
    torch.manual_seed(seed)
    dev = device or default_device()
    # neighbour lists and basis values/gradients shared by the linear fits; the charged offsets
    # and the nonlinear stage share one training batch with its cached Coulomb matrices
    cache = LinearFitCache(device=dev)
    if model is None:
        if species is None:
            species = sorted({int(z) for a in structures for z in a.numbers})
        if r_min is None:
            r_min = 0.9 * min(_min_distance(cache.neighbours(a, r_cut), r_cut)
                              for a in structures)
        r_min = float(np.clip(r_min, 0.5, 0.5 * r_cut))
        model = QMTP(tuple(species), level=level, r_cut=r_cut, r_min=r_min, n_beta=n_beta,
                     charges=charges)
        model.radial_coeffs_ = model.random_radial_coeffs(np.random.default_rng(seed))
        fresh = True
    else:
        model = model.copy()
        fresh = False
    if not repulsion:
        model.repulsion_r_outer_ = np.zeros_like(model.repulsion_r_outer_)
    elif fresh or not model.has_repulsion:
        # placed once, from the data the model is first fitted to; continued training keeps
        # it (the module docstring of superionic.potentials.repulsion says why)
        model.repulsion_r_outer_ = outer_radii(
            structures, model.species, [cache.neighbours(a, model.r_cut) for a in structures],
            model.r_cut)
    i_tr, i_val = split(len(structures), val_fraction, seed)
    train_set = [structures[i] for i in i_tr]
    val_set = [structures[i] for i in i_val]
    linear_fit(model, train_set, weights, cache=cache)
    if fresh and n_inits > 1:
        model = _best_initialisation(model, train_set, weights, seed, n_inits, cache)
    charge_scale = None
    if fresh and scale_charges and model.charges:
        charge_scale = fit_charge_scale(model, train_set, weights, cache=cache)
        log.info("initial electronegativity differences scaled by %.3g", charge_scale)
    history: list[dict[str, float]] = []
    stopped_by = "epochs" if epochs > 0 else "linear fit"
    if epochs > 0:
        tm = QMTPTorch(model, device=dev)
        b_tr = cache.torch_batch(model, train_set)
        b_val = make_batch(model, val_set, device=dev, neighbours=[
            cache.neighbours(a, model.r_cut) for a in val_set]) if val_set else None
        with torch.no_grad():
            B = tm.basis(b_tr, b_tr.positions, b_tr.cells)
            scale = torch.sqrt((B**2).mean(dim=0)).cpu().numpy()
        scale[scale == 0] = 1.0
        tm.set_basis_scale(1.0 / scale)
        if not fit_radial:
            tm.radial_coeffs.requires_grad_(False)
        params = [p for p in tm.parameters() if p.requires_grad]
        if optimizer == "lbfgs":
            opt = torch.optim.LBFGS(params, lr=learning_rate, max_iter=20,
                                    line_search_fn="strong_wolfe", history_size=50,
                                    tolerance_grad=1e-12, tolerance_change=1e-15)
        elif optimizer == "adam":
            opt = torch.optim.Adam(params, lr=learning_rate * 1e-2)
        else:
            raise InputError(f"optimizer {optimizer!r}", field="optimizer",
                             expected="'lbfgs' or 'adam'")

        def closure():
            if threads is not None:  # numba's OpenMP regions may reset the thread count
                torch.set_num_threads(int(threads))
            opt.zero_grad()
            out = tm(b_tr, stress=bool(b_tr.stress_mask.any()), create_graph=True)
            loss, _ = _loss(out, b_tr, weights, model.charges)
            loss.backward()
            return loss

        def val_loss() -> float:
            if b_val is None:
                return float("nan")
            out = tm(b_val, stress=bool(b_val.stress_mask.any()))
            return float(_loss(out, b_val, weights, model.charges)[0].detach())

        best_state = {k: v.detach().clone() for k, v in tm.state_dict().items()}
        best = val_loss() if b_val is not None else float(closure().detach())
        stale = 0
        bar = tqdm(range(epochs), desc="QMTP training", disable=not progress, leave=False)
        for epoch in bar:
            loss = float(opt.step(closure).detach())
            if not np.isfinite(loss):
                log.warning("training loss became %s at epoch %d; stopping", loss, epoch)
                stopped_by = "non-finite loss"
                break
            v = val_loss()
            history.append({"epoch": epoch, "train_loss": loss, "validation_loss": v})
            bar.set_postfix(train=f"{loss:.3e}", val=f"{v:.3e}")
            score = v if b_val is not None else loss
            if score < best * (1 - 1e-9):
                best = score
                stale = 0
                best_state = {k: v.detach().clone() for k, v in tm.state_dict().items()}
            else:
                stale += 1
                if stale >= patience:
                    stopped_by = "patience"
                    break
            if max_seconds is not None and time.perf_counter() - t0 > max_seconds \
                    and epoch + 1 < epochs:
                log.info("training stopped by its time limit after %d epochs", epoch + 1)
                stopped_by = "time limit"
                break
        tm.load_state_dict(best_state)
        model = tm.to_model()
        # final errors from the torch engine on the cached batches (equal to evaluate())
        train_rmse = _errors(model, train_set, _batch_results(tm(b_tr), b_tr))
        validation_rmse = (_errors(model, val_set, _batch_results(tm(b_val), b_val))
                           if b_val is not None else {})
    else:
        train_rmse = evaluate(model, train_set)
        validation_rmse = evaluate(model, val_set) if val_set else {}
    model.metadata = dict(model.metadata)
    model.metadata.update({
        "n_train": len(train_set), "n_validation": len(val_set), "seed": seed,
        "weights": weights.__dict__, "epochs_run": len(history),
    })
    if charge_scale is not None:
        model.metadata["initial_charge_scale"] = charge_scale
    res = TrainingResult(
        model=model,
        train_rmse=train_rmse,
        validation_rmse=validation_rmse,
        history=history,
        n_train=len(train_set),
        n_validation=len(val_set),
        seconds=time.perf_counter() - t0,
        stopped_by=stopped_by,
    )
    model.metadata["train_rmse"] = res.train_rmse
    model.metadata["validation_rmse"] = res.validation_rmse
    return res
