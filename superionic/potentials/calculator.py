"""ASE calculator for QMTP: energy, forces, stress, charges and extrapolation grades.

Works with every ASE driver (MD, relaxation, NEB, phonons). With an
:class:`~superionic.potentials.active_learning.ActiveSet` attached, ``results`` also hold the
D-optimality extrapolation grade of the configuration (``extrapolation_grade``) and of every
atom (``extrapolation_grades``) (Podryabinkin & Shapeev, Comput. Mater. Sci. 140, 171 (2017)).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from ase.stress import full_3x3_to_voigt_6_stress

from superionic.core.errors import InputError
from superionic.potentials.qmtp import QMTP


class QMTPCalculator(Calculator):
    """ASE calculator of a :class:`QMTP` model.

    ``engine``: ``"numba"`` (CPU, analytic forces; for MD) or ``"torch"`` (autograd; ``device``
    ``"cpu"`` or ``"cuda"``). ``total_charge`` (e) is conserved by charge equilibration; by
    default the sum of the atoms' initial charges. ``active_set`` enables extrapolation grades;
    given a model file path, the active set stored in it is used.

    ``fast_md=True`` (numba engine, periodic cells) keeps state between calls for MD: Verlet
    lists, Ewald sums truncated at ``md_accuracy`` and QEq by conjugate gradients warm-started
    from the previous steps' charges (:mod:`superionic.potentials.md_state`); answers agree
    with the reference path to ~1e-7 eV/Å in the forces at the default accuracy (measured on a
    triclinic Li3PS4 cell); the state is reset when the atoms' species change.
    """

    implemented_properties = ["energy", "free_energy", "forces", "stress", "charges",
                              "extrapolation_grade", "extrapolation_grades"]

    def __init__(self, model: QMTP | str, engine: str = "numba", device: str = "cpu",
                 total_charge: float | None = None, active_set: Any = None,
                 fast_md: bool = False, md_accuracy: float | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(model, QMTP):
            from superionic.potentials.model_file import load_active_set

            path = model
            model = QMTP.load(path)
            if active_set is None:
                active_set = load_active_set(path, model)
        if engine not in ("numba", "torch"):
            raise InputError(f"engine {engine!r}", field="engine", expected="'numba' or 'torch'")
        self.model = model
        self.engine = engine
        self.device = device
        self.total_charge = total_charge
        self.active_set = active_set
        self._torch = None
        self._md = None
        if fast_md:
            from superionic.potentials.ewald_md import DEFAULT_MD_ACCURACY
            from superionic.potentials.md_state import MDState

            self._md = MDState(accuracy=md_accuracy or DEFAULT_MD_ACCURACY)

    def _total_charge(self, atoms: Atoms) -> float:
        if self.total_charge is not None:
            return float(self.total_charge)
        return float(np.round(atoms.get_initial_charges().sum(), 8))

    def check_state(self, atoms: Atoms, tol: float = 1e-15) -> list[str]:
        """The system changes since the last calculation, as ASE's ``compare_atoms`` finds
        them, by exact array comparison (ASE's ``allclose`` per property costs a third of a
        small cell's MD step); a change below ``tol`` counts as a change, so at worst the
        calculator recomputes."""
        old = self.atoms
        if old is None:
            return list(all_changes)
        ignored = set(self.ignored_changes)
        changes = [p for p, a, b in (("cell", old.cell.array, atoms.cell.array),
                                     ("pbc", old.pbc, atoms.pbc))
                   if p not in ignored and not np.array_equal(a, b)]
        for prop in ("positions", "numbers", "initial_charges", "initial_magmoms"):
            if prop in ignored:
                continue
            in_old, in_new = prop in old.arrays, prop in atoms.arrays
            if in_old != in_new or (in_old and not np.array_equal(old.arrays[prop],
                                                                  atoms.arrays[prop])):
                changes.append(prop)
        return changes

    def calculate(self, atoms: Atoms | None = None, properties=("energy",),
                  system_changes=all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        periodic = bool(np.all(atoms.pbc))
        if self.engine == "numba":
            r = self.model.compute(atoms, total_charge=self._total_charge(atoms), stress=periodic,
                                   md=self._md)
        else:
            r = self._compute_torch(atoms)
        self.results["energy"] = float(r["energy"])
        self.results["free_energy"] = float(r["energy"])
        self.results["forces"] = np.asarray(r["forces"])
        self.results["charges"] = np.asarray(r["charges"])
        if periodic and "stress" in r:
            self.results["stress"] = full_3x3_to_voigt_6_stress(np.asarray(r["stress"]))
        if self.active_set is not None:
            g_cfg, g_atoms = self.active_set.grade_from_basis(r["basis"], atoms)
            self.results["extrapolation_grade"] = float(g_cfg)
            self.results["extrapolation_grades"] = g_atoms

    def _compute_torch(self, atoms: Atoms) -> dict[str, Any]:
        from superionic.potentials.qmtp_torch import QMTPTorch, make_batch

        if self._torch is None:
            self._torch = QMTPTorch(self.model, device=self.device)
        batch = make_batch(self.model, [atoms], device=self.device, labels=False,
                           total_charges=[self._total_charge(atoms)])
        out = self._torch(batch, forces=True, stress=bool(np.all(atoms.pbc)))
        res = {k: v.detach().cpu().numpy() for k, v in out.items()}
        return {"energy": float(res["energy"][0]), "forces": res["forces"],
                "stress": res["stress"][0], "charges": res["charges"], "basis": res["basis"]}

    def get_extrapolation_grade(self, atoms: Atoms | None = None) -> float:
        """Extrapolation grade of the configuration (requires an active set)."""
        if self.active_set is None:
            raise InputError("no active set attached", field="active_set",
                             expected="QMTPCalculator(model, active_set=ActiveSet(...).fit(...))")
        return self.get_property("extrapolation_grade", atoms)
