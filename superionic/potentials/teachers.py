"""Teachers: reference calculators that label structures with energy, forces and stress.

``CHGNetTeacher`` uses the CHGNet universal potential with the weights bundled in the
``chgnet`` package (Deng et al., Nat. Mach. Intell. 5, 1031 (2023)); ``ASETeacher`` wraps any
ASE calculator factory (a DFT code on a cluster, an empirical potential). :func:`label` runs a
teacher over many structures in worker processes, each building its own calculator.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from superionic.core.errors import ConvergenceError, InputError

log = logging.getLogger(__name__)


class Teacher:
    """A picklable recipe for a calculator; ``make_calculator()`` is called once per process."""

    name = "teacher"
    properties: tuple[str, ...] = ("energy", "forces", "stress")

    def make_calculator(self) -> Any:  # pragma: no cover - interface
        raise NotImplementedError("subclasses build their calculator")


@dataclass
class ASETeacher(Teacher):
    """Any ASE calculator: ``calculator_factory()`` must return a fresh calculator."""

    calculator_factory: Callable[[], Any]
    properties: tuple[str, ...] = ("energy", "forces", "stress")
    name: str = "ase"

    def make_calculator(self) -> Any:
        return self.calculator_factory()


@dataclass
class CHGNetTeacher(Teacher):
    """CHGNet with its bundled pretrained weights (no download); CPU unless ``device`` given."""

    model_name: str | None = None
    device: str = "cpu"
    properties: tuple[str, ...] = ("energy", "forces", "stress")
    name: str = "chgnet"
    kwargs: dict[str, Any] = field(default_factory=dict)

    def make_calculator(self) -> Any:
        from chgnet.model import CHGNet
        from chgnet.model.dynamics import CHGNetCalculator

        model = CHGNet.load(model_name=self.model_name, verbose=False) if self.model_name \
            else CHGNet.load(verbose=False)
        return CHGNetCalculator(model=model, use_device=self.device, **self.kwargs)


@dataclass
class LabelFailure:
    """A structure the teacher could not label."""

    index: int
    error: str


def _label_one(teacher: Teacher, calc: Any, index: int, atoms: Atoms) -> Atoms:
    a = atoms.copy()
    a.calc = calc
    results: dict[str, Any] = {"energy": float(a.get_potential_energy())}
    if "forces" in teacher.properties:
        results["forces"] = np.array(a.get_forces(), dtype=float)
    if "stress" in teacher.properties and bool(np.all(a.pbc)):
        results["stress"] = np.array(a.get_stress(voigt=True), dtype=float)
    for name, value in results.items():
        if not np.all(np.isfinite(value)):
            raise ConvergenceError(
                f"teacher {teacher.name!r} returned non-finite {name} for configuration "
                f"{index} ({a.get_chemical_formula()})")
    out = atoms.copy()
    out.calc = SinglePointCalculator(out, **results)
    out.info["teacher"] = teacher.name
    return out


def _label_chunk(teacher: Teacher, items: list[tuple[int, Atoms]]) -> list[tuple[int, Any]]:
    out: list[tuple[int, Any]] = []
    calc = teacher.make_calculator()
    for index, atoms in items:
        try:
            out.append((index, _label_one(teacher, calc, index, atoms)))
        except Exception as exc:  # noqa: BLE001 - any calculator failure is reported
            out.append((index, LabelFailure(index, f"{type(exc).__name__}: {exc}")))
    return out


def label(
    structures: Sequence[Atoms],
    teacher: Teacher,
    n_workers: int = 1,
    *,
    skip_failures: bool = True,
    failures: list[LabelFailure] | None = None,
) -> list[Atoms]:
    """Label ``structures`` with ``teacher``; returns Atoms carrying a SinglePointCalculator.

    With ``n_workers > 1`` the structures are split into contiguous chunks run in worker
    processes (spawned; each builds its own calculator once). Failed configurations are logged,
    appended to ``failures`` and skipped, or raise when ``skip_failures`` is False.
    """
    if not isinstance(teacher, Teacher):
        raise InputError(f"teacher of type {type(teacher).__name__}", field="teacher",
                         expected="a Teacher (ASETeacher, CHGNetTeacher)")
    items = list(enumerate(structures))
    if n_workers <= 1 or len(items) <= 1:
        results = _label_chunk(teacher, items)
    else:
        import multiprocessing as mp

        n_workers = min(n_workers, len(items))
        chunks = [items[k::n_workers] for k in range(n_workers)]
        with ProcessPoolExecutor(n_workers, mp_context=mp.get_context("spawn")) as pool:
            results = [r for part in pool.map(_label_chunk, [teacher] * n_workers, chunks)
                       for r in part]
        results.sort(key=lambda r: r[0])
    labelled: list[Atoms] = []
    for index, r in results:
        if isinstance(r, LabelFailure):
            log.warning("labelling failed for configuration %d: %s", index, r.error)
            if failures is not None:
                failures.append(r)
            if not skip_failures:
                raise ConvergenceError(f"labelling failed for configuration {index}: {r.error}")
            continue
        labelled.append(r)
    return labelled
