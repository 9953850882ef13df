"""Active learning of QMTP by D-optimality: MaxVol active sets and extrapolation grades.

The rows of the linear problem, per neighbourhood [B(i), species one-hot] and per configuration
[Σ_i B(i), species counts], span the parameter space of the energy; the active set is the
square sub-matrix of maximal volume (MaxVol, Goreinov et al., Matrix Methods 2010). A new row x
is written as x = c A_active; its extrapolation grade is γ = max_k |c_k|, ≤ 1 inside the
training domain (Podryabinkin & Shapeev, Comput. Mater. Sci. 140, 171 (2017), Eq. 8; mlip-2).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg
from ase import Atoms

from superionic.core.errors import InputError, SuperionicError
from superionic.core.executor import Executor
from superionic.core.threads import one_blas_thread
from superionic.potentials.qmtp import QMTP

log = logging.getLogger(__name__)

DEFAULT_SELECTION_GRADE = 2.0
DEFAULT_BREAK_GRADE = 10.0


def maxvol(Y: np.ndarray, tol: float = 1.0 + 1e-6, max_iter: int = 10_000) -> np.ndarray:
    """Row indices of an r×r sub-matrix of ``Y`` (m×r, m ≥ r) of (locally) maximal volume.

    Start from QR with column pivoting of Yᵀ, then swap rows while some coefficient exceeds
    ``tol`` (Goreinov, Oseledets, Savostyanov et al., 2010).
    """
    m, r = Y.shape
    if m < r:
        raise InputError(f"{m} rows for {r} columns", field="rows", expected="m >= r")
    _, _, piv = scipy.linalg.qr(Y.T, pivoting=True, mode="economic")
    rows = np.array(piv[:r])
    C = np.linalg.solve(Y[rows].T, Y.T).T  # Y = C Y[rows]
    for _ in range(max_iter):
        i, j = np.unravel_index(np.argmax(np.abs(C)), C.shape)
        if abs(C[i, j]) <= tol:
            break
        cj = C[:, j].copy()
        ci = C[i, :].copy()
        ci[j] -= 1.0
        C -= np.outer(cj, ci) / cj[i]
        rows[j] = i
    return rows


@dataclass
class _Set:
    scale: np.ndarray
    projection: np.ndarray
    inverse: np.ndarray
    rows: np.ndarray

    @functools.cached_property
    def _grade_matrix(self) -> np.ndarray:
        # c = (x / scale) P A⁻¹ as one matrix
        return np.ascontiguousarray((self.projection / self.scale[:, None]) @ self.inverse)

    def grade(self, X: np.ndarray) -> np.ndarray:
        return np.max(np.abs(X @ self._grade_matrix), axis=1)


def _fit_set(X: np.ndarray, rank_tol: float) -> _Set:
    scale = np.max(np.abs(X), axis=0)
    scale[scale == 0] = 1.0
    Xs = X / scale
    _, s, vt = np.linalg.svd(Xs, full_matrices=False)
    rank = int(np.sum(s > rank_tol * s[0]))
    P = vt[:rank].T
    Y = Xs @ P
    rows = maxvol(Y)
    return _Set(scale, P, np.linalg.inv(Y[rows]), rows)


@dataclass
class ActiveSet:
    """MaxVol active sets of a QMTP's linear parameters, per neighbourhood and per configuration.

    ``grade(atoms) -> (gamma_config, gamma_per_atom)``. γ_config is the configuration-mode grade
    when the training set has at least as many configurations as the rank of their rows, and
    the largest neighbourhood grade otherwise.
    """

    model: QMTP
    rank_tol: float = 1e-9
    nbh_: _Set | None = field(default=None, repr=False)
    cfg_: _Set | None = field(default=None, repr=False)
    n_configs_: int = 0

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Arrays that define the fitted sets (for the model file)."""
        out: dict[str, np.ndarray] = {"n_configs": np.array(self.n_configs_)}
        for name, st in (("nbh", self.nbh_), ("cfg", self.cfg_)):
            if st is not None:
                for f in ("scale", "projection", "inverse", "rows"):
                    out[f"{name}_{f}"] = getattr(st, f)
        return out

    @classmethod
    def from_arrays(cls, model: QMTP, arrays: dict[str, np.ndarray]) -> ActiveSet:
        """Inverse of :meth:`to_arrays`."""
        act = cls(model)
        for name in ("nbh", "cfg"):
            if f"{name}_scale" in arrays:
                st = _Set(*(np.asarray(arrays[f"{name}_{f}"])
                            for f in ("scale", "projection", "inverse", "rows")))
                setattr(act, f"{name}_", st)
        act.n_configs_ = int(arrays.get("n_configs", 0))
        return act

    def _rows(self, B: np.ndarray, atoms: Atoms) -> tuple[np.ndarray, np.ndarray]:
        sp = self.model.species_index(atoms)
        onehot = np.eye(len(self.model.species))[sp]
        nbh = np.hstack([B, onehot])
        return nbh, nbh.sum(axis=0)

    def fit(self, configs: Sequence[Atoms]) -> ActiveSet:
        """Select the active sets from the training configurations."""
        if not configs:
            raise InputError("no configurations for the active set", expected="at least one")
        nbh_rows, cfg_rows = [], []
        for a in configs:
            n, c = self._rows(self.model.basis(a), a)
            nbh_rows.append(n)
            cfg_rows.append(c)
        self.nbh_ = _fit_set(np.vstack(nbh_rows), self.rank_tol)
        X = np.array(cfg_rows)
        try:
            s = _fit_set(X, self.rank_tol)
            # configuration mode only when the configurations determine the parameters
            self.cfg_ = s if s.projection.shape[1] >= self.nbh_.projection.shape[1] else None
        except (InputError, np.linalg.LinAlgError):
            self.cfg_ = None
        self.n_configs_ = len(configs)
        return self

    def grade_from_basis(self, B: np.ndarray, atoms: Atoms) -> tuple[float, np.ndarray]:
        """Grades from precomputed basis values B (N, n_basis)."""
        if self.nbh_ is None:
            raise InputError("active set not fitted", expected="ActiveSet(model).fit(configs)")
        nbh, cfg = self._rows(np.asarray(B), atoms)
        g_atoms = self.nbh_.grade(nbh)
        g_cfg = float(self.cfg_.grade(cfg[None])[0]) if self.cfg_ is not None else \
            float(g_atoms.max())
        return g_cfg, g_atoms

    def grade(self, atoms: Atoms) -> tuple[float, np.ndarray]:
        """(γ of the configuration, γ of every atom)."""
        return self.grade_from_basis(self.model.basis(atoms), atoms)

    def select(self, candidates: Sequence[Atoms], max_new: int | None = None) -> list[int]:
        """Indices of candidates whose neighbourhoods MaxVol takes into the active set."""
        if not candidates:
            return []
        rows = [self._rows(self.model.basis(a), a)[0] for a in candidates]
        owner = np.concatenate([np.full(len(r), k) for k, r in enumerate(rows)])
        s = self.nbh_
        Y_new = (np.vstack(rows) / s.scale) @ s.projection
        inv_active = np.linalg.inv(s.inverse)
        Y = np.vstack([inv_active, Y_new])
        chosen = maxvol(Y)
        picked = sorted({int(owner[c - len(inv_active)]) for c in chosen if c >= len(inv_active)})
        if max_new is not None and len(picked) > max_new:
            grades = [self.grade(candidates[k])[0] for k in picked]
            picked = [picked[k] for k in np.argsort(grades)[::-1][:max_new]]
        return sorted(picked)


MDRunner = Callable[[Atoms, Any, int, int], Iterator[Atoms]]


def is_physical(atoms: Atoms, min_distance_A: float = 0.6) -> bool:
    """Whether a configuration is worth labelling: finite positions and no two atoms closer
    than ``min_distance_A`` (an MD that has blown up gives neither)."""
    from ase.neighborlist import neighbor_list

    pos = atoms.get_positions()
    if not np.all(np.isfinite(pos)) or not np.all(np.isfinite(atoms.cell.array)):
        return False
    if np.abs(atoms.get_scaled_positions(wrap=False)).max() > 1e3:
        return False
    d = neighbor_list("d", atoms, min_distance_A)
    return len(d) == 0


def langevin_runner(temperature_K: float = 600.0, timestep_fs: float = 1.0,
                    friction_per_fs: float = 0.01, interval: int = 5) -> MDRunner:
    """MD runner: ASE Langevin dynamics, yielding a snapshot every ``interval`` steps."""

    def run(atoms: Atoms, calc: Any, n_steps: int, seed: int) -> Iterator[Atoms]:
        from ase import units
        from ase.md.langevin import Langevin
        from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

        atoms = atoms.copy()
        atoms.calc = calc
        rng = np.random.default_rng(seed)
        MaxwellBoltzmannDistribution(atoms, temperature_K=temperature_K, rng=rng)
        dyn = Langevin(atoms, timestep_fs * units.fs, temperature_K=temperature_K,
                       friction=friction_per_fs / units.fs, rng=rng, fixcm=False)
        for _ in range(0, n_steps, interval):
            dyn.run(interval)
            yield atoms

    return run


def _detached(atoms: Atoms, positions: np.ndarray | None = None,
              cell: np.ndarray | None = None) -> Atoms:
    """A copy without calculator, optionally at stored positions and cell."""
    c = atoms.copy()
    c.calc = None
    if cell is not None:
        c.set_cell(cell)
    if positions is not None:
        c.positions = positions
    return c


def _scan_segment(frames: Iterator[Atoms], calc: Any, selection_grade: float,
                  break_grade: float, candidates: list[Atoms], seen: dict[str, Any]) -> None:
    """Walk one MD segment: configurations above the selection grade go to ``candidates``, and
    the segment stops at the first one above the break grade. ``seen`` keeps the frame count,
    the largest grade and the last frame's positions and cell (copied at every frame; an Atoms
    is built only when needed), so they survive an MD that fails midway. The MD and the grades
    run on one BLAS thread (:mod:`superionic.core.threads`)."""
    with one_blas_thread():
        for snap in frames:
            g = float(calc.get_property("extrapolation_grade", snap))
            seen["n"] += 1
            seen["max_grade"] = max(seen["max_grade"], g)
            seen["last"] = (snap, snap.positions.copy(), snap.cell.array.copy())
            if g <= selection_grade:
                continue
            c = _detached(snap)
            # far beyond the break grade the MD may already have blown up: label such a
            # configuration only while it is still physical
            if g <= break_grade or (g < 100 * break_grade and is_physical(c)):
                candidates.append(c)
            if g > break_grade:
                break


@dataclass
class ActiveLearningResult:
    """Final model and active set, the grown training set and one record per iteration."""

    model: QMTP
    active_set: ActiveSet
    training_set: list[Atoms]
    history: list[dict[str, Any]]
    converged: bool


def active_learning(
    model: QMTP | None,
    teacher: Any,
    seed_structures: Sequence[Atoms],
    md_runner: MDRunner | None = None,
    *,
    training_set: Sequence[Atoms] | None = None,
    selection_grade: float = DEFAULT_SELECTION_GRADE,
    break_grade: float = DEFAULT_BREAK_GRADE,
    max_iterations: int = 10,
    md_steps: int = 500,
    max_new_per_iteration: int = 20,
    n_workers: int = 1,
    seed: int = 0,
    train_kwargs: dict[str, Any] | None = None,
    executor: Executor | None = None,
) -> ActiveLearningResult:
    """Learn on the fly: MD with QMTP, select γ > ``selection_grade``, label, retrain, repeat.

    An MD segment stops at the first configuration with γ > ``break_grade``. The loop ends when
    no configuration exceeds ``selection_grade`` or after ``max_iterations``. Labels are
    computed in ``n_workers`` tasks of ``executor`` (see :func:`superionic.potentials.teachers.
    label`).
    """
    from superionic.potentials.calculator import QMTPCalculator
    from superionic.potentials.teachers import label
    from superionic.potentials.training import train

    if not 1.0 <= selection_grade < break_grade:
        raise InputError(f"selection {selection_grade}, break {break_grade}",
                         field="grades", expected="1 <= selection_grade < break_grade")
    md_runner = md_runner or langevin_runner()
    train_kwargs = dict(train_kwargs or {})
    train_kwargs.setdefault("progress", False)
    train_kwargs.setdefault("seed", seed)
    data = list(training_set or [])
    if not data:
        data = label(list(seed_structures), teacher, n_workers=n_workers, executor=executor)
    if model is None or not training_set:
        res = train(data, model=model, **train_kwargs)
        model = res.model
    active = ActiveSet(model).fit(data)
    history: list[dict[str, Any]] = []
    converged = False
    for it in range(max_iterations):
        candidates: list[Atoms] = []
        max_grade = 0.0
        n_frames = 0
        failures: list[str] = []
        forced: list[Atoms] = []
        for k, start in enumerate(seed_structures):
            calc = QMTPCalculator(model, active_set=active)
            seen: dict[str, Any] = {"n": 0, "max_grade": 0.0, "last": None}
            try:
                _scan_segment(md_runner(start, calc, md_steps, seed + 1000 * it + k), calc,
                              selection_grade, break_grade, candidates, seen)
            except (SuperionicError, FloatingPointError, np.linalg.LinAlgError) as exc:
                # the MD broke down between two looks at it: the last configuration seen is
                # the nearest one to the failure, so it is labelled whatever its grade
                failures.append(f"MD from start {k}: {exc}")
                if seen["last"] is not None:
                    last = _detached(*seen["last"])
                    if is_physical(last):
                        forced.append(last)
            n_frames += seen["n"]
            max_grade = max(max_grade, seen["max_grade"])
        record = {"iteration": it, "md_frames": n_frames, "max_grade": max_grade,
                  "n_candidates": len(candidates), "md_failures": failures}
        if not candidates and not forced:
            history.append(record | {"n_selected": 0})
            converged = not failures
            break
        picked = active.select(candidates, max_new=max_new_per_iteration) if candidates else []
        new = label([candidates[k] for k in picked] + forced, teacher, n_workers=n_workers,
                    executor=executor)
        data.extend(new)
        res = train(data, model=model, **train_kwargs)
        model = res.model
        active = ActiveSet(model).fit(data)
        record.update({"n_selected": len(new), "n_training": len(data),
                       "training_stopped_by": res.stopped_by})
        history.append(record)
        log.info("active learning iteration %d: %s", it, record)
    return ActiveLearningResult(model, active, data, history, converged)
