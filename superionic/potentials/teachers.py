"""Teachers: reference calculators that label structures with energy, forces and stress.

``CHGNetTeacher`` uses the CHGNet universal potential with the weights bundled in the
``chgnet`` package (Deng et al., Nat. Mach. Intell. 5, 1031 (2023)); ``ASETeacher`` wraps any
ASE calculator factory (a DFT code on a cluster, an empirical potential); ``FactoryTeacher``
names such a factory by ``module:function`` or ``file.py:function``, so that a command line,
a worker process or a resumed run can rebuild it. :func:`teacher_from_spec` turns the
``--teacher`` string into one of them. :func:`label` runs a teacher over many structures in
worker processes, each building its own calculator.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from superionic.core.errors import ConvergenceError, InputError
from superionic.core.executor import Executor

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


#: The CHGNet weights shipped inside the ``chgnet`` package ("0.3.0" is its default).
CHGNET_MODELS = ("0.3.0", "0.2.0", "r2scan")

#: What ``--teacher`` accepts, for error messages.
TEACHER_SPECS = ("'chgnet' (CHGNet 0.3.0), 'chgnet:<model>' with <model> one of "
                 f"{', '.join(CHGNET_MODELS)}, 'module:function' or 'file.py:function' "
                 "(a function returning an ASE calculator)")


def _chgnet_model(model_name: str | None) -> str:
    """The bundled CHGNet model's name (the default for none); InputError listing them else."""
    name = model_name or CHGNET_MODELS[0]
    if name not in CHGNET_MODELS:
        raise InputError(f"CHGNet model '{name}'", field="teacher",
                         expected=f"one of {', '.join(CHGNET_MODELS)} (bundled with chgnet)")
    return name


def chgnet_calculator(model_name: str | None = None, device: str = "cpu", **kwargs: Any) -> Any:
    """CHGNet (Deng et al., Nat. Mach. Intell. 5, 1031 (2023)) with bundled weights, no download.

    ``model_name`` is one of :data:`CHGNET_MODELS` ("r2scan": transfer-learned to MP r2SCAN
    labels). The calculator's stress is in eV/Å³ (ASE's unit).
    """
    import warnings

    name = _chgnet_model(model_name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from chgnet.model import CHGNet
        from chgnet.model.dynamics import CHGNetCalculator

        model = CHGNet.load(model_name=name, verbose=False)
        return CHGNetCalculator(model=model, use_device=device, **kwargs)


@dataclass
class CHGNetTeacher(Teacher):
    """CHGNet with its bundled pretrained weights (no download); CPU unless ``device`` given."""

    model_name: str | None = None
    device: str = "cpu"
    properties: tuple[str, ...] = ("energy", "forces", "stress")
    name: str = "chgnet"
    kwargs: dict[str, Any] = field(default_factory=dict)

    def make_calculator(self) -> Any:
        return chgnet_calculator(self.model_name, self.device, **self.kwargs)


def resolve_factory(spec: str) -> Callable[[], Any]:
    """The function named by ``module:function`` or ``path/to/file.py:function``.

    Raises InputError naming what is missing (the module, the file, the function).
    """
    where, sep, attr = str(spec).rpartition(":")
    if not sep or not where or not attr:
        raise InputError(f"teacher '{spec}'", field="teacher", expected=TEACHER_SPECS)
    if where.endswith(".py"):
        path = Path(where).expanduser().resolve()
        if not path.is_file():
            raise InputError(f"teacher file '{where}' not found", field="teacher",
                             expected=TEACHER_SPECS)
        mod_name = "superionic_teacher_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
        loader_spec = importlib.util.spec_from_file_location(mod_name, path)
        module = importlib.util.module_from_spec(loader_spec)  # type: ignore[arg-type]
        try:
            loader_spec.loader.exec_module(module)  # type: ignore[union-attr]
        except Exception as exc:  # noqa: BLE001 - any error in the user's file is reported
            raise InputError(f"teacher file '{where}' failed to load: "
                             f"{type(exc).__name__}: {exc}", field="teacher") from exc
    else:
        try:
            module = importlib.import_module(where)
        except ImportError as exc:
            raise InputError(f"teacher module '{where}' cannot be imported: {exc}",
                             field="teacher", expected=TEACHER_SPECS) from exc
    fn = getattr(module, attr, None)
    if fn is None or not callable(fn):
        raise InputError(f"teacher '{spec}': '{where}' has no function '{attr}'",
                         field="teacher", expected="a function returning an ASE calculator")
    return fn


@dataclass
class FactoryTeacher(Teacher):
    """An ASE calculator built by the function ``spec`` names (see :func:`resolve_factory`).

    Only the string travels to worker processes and into the run directory; each process
    imports the function and calls it once.
    """

    spec: str
    properties: tuple[str, ...] = ("energy", "forces", "stress")
    name: str = "factory"

    def make_calculator(self) -> Any:
        calc = resolve_factory(self.spec)()
        if not (hasattr(calc, "get_potential_energy") or hasattr(calc, "calculate")):
            raise InputError(f"teacher '{self.spec}' returned a {type(calc).__name__}",
                             field="teacher", expected="an ASE calculator")
        return calc


def teacher_from_spec(spec: Any, device: str = "cpu") -> Teacher:
    """A teacher from what ``--teacher`` (or the Python API) gives.

    A :class:`Teacher` is returned as is, a callable becomes an :class:`ASETeacher`, and a
    string is one of :data:`TEACHER_SPECS`. Named functions are imported here, so that a
    wrong name fails before any work starts.
    """
    if isinstance(spec, Teacher):
        return spec
    if callable(spec):
        return ASETeacher(spec)
    text = str(spec).strip()
    head, _, model = text.partition(":")
    if head.lower() == "chgnet":
        _chgnet_model(model)
        return CHGNetTeacher(model_name=model or None, device=device,
                             name=f"chgnet:{model}" if model else "chgnet")
    resolve_factory(text)
    where, _, attr = text.rpartition(":")
    if where.endswith(".py"):  # absolute, so that workers and resumed runs find it
        return FactoryTeacher(f"{Path(where).expanduser().resolve()}:{attr}", name=text)
    return FactoryTeacher(text, name=text)


def teacher_key(spec: Any) -> str:
    """What identifies a teacher's labels in a results store.

    CHGNet's default model keeps the key ``"chgnet"``; a ``file.py:function`` teacher adds the
    SHA-256 of the file, so that editing it invalidates stored labels; a callable is named by
    its module and qualified name.
    """
    if isinstance(spec, Teacher):
        return f"{type(spec).__name__}:{spec.name}"
    if callable(spec):
        return f"{getattr(spec, '__module__', '?')}.{getattr(spec, '__qualname__', repr(spec))}"
    text = str(spec).strip()
    head, _, model = text.partition(":")
    if head.lower() == "chgnet":
        return "chgnet" if model in ("", CHGNET_MODELS[0]) else f"chgnet:{model}"
    where = text.rpartition(":")[0]
    if where.endswith(".py") and Path(where).expanduser().is_file():
        digest = hashlib.sha256(Path(where).expanduser().read_bytes()).hexdigest()[:16]
        return f"{text}@{digest}"
    return text


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


def _label_job(job: tuple[Teacher, list[tuple[int, Atoms]]]) -> list[tuple[int, Any]]:
    return _label_chunk(*job)


def label(
    structures: Sequence[Atoms],
    teacher: Teacher,
    n_workers: int = 1,
    *,
    skip_failures: bool = True,
    failures: list[LabelFailure] | None = None,
    executor: Executor | None = None,
) -> list[Atoms]:
    """Label ``structures`` with ``teacher``; returns Atoms carrying a SinglePointCalculator.

    With ``n_workers > 1`` the structures are split into that many chunks, each labelled by
    one task (which builds its own calculator once) of ``executor`` (a run's executor: a Dask
    cluster where the run has one) or of a pool of spawned local processes. Failed
    configurations are logged, appended to ``failures`` and skipped, or raise when
    ``skip_failures`` is False.
    """
    if not isinstance(teacher, Teacher):
        raise InputError(f"teacher of type {type(teacher).__name__}", field="teacher",
                         expected="a Teacher (ASETeacher, CHGNetTeacher, FactoryTeacher)")
    items = list(enumerate(structures))
    n = max(1, min(n_workers, len(items)))
    if executor is None and n == 1:
        results = _label_chunk(teacher, items)
    else:
        jobs = [(teacher, items[k::n]) for k in range(n)]
        ex = executor or Executor(workers=n)
        try:
            parts = ex.map(_label_job, jobs, fresh_processes=True)
        finally:
            if executor is None:
                ex.close()
        results = sorted((r for part in parts for r in part), key=lambda r: r[0])
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
