"""State kept by a QMTP evaluation between the steps of one MD trajectory.

:class:`MDState` bundles the Verlet list of the MTP pairs, the MD electrostatics of
:mod:`superionic.potentials.ewald_md` and the choice between serial and thread-parallel MTP
kernels (:mod:`superionic.potentials.mtp_numba`, compiled both ways): on small cells, and on
machines whose cores are shared, waking threads costs more than the per-atom loop itself.
"""

from __future__ import annotations

import os

# OpenMP workers that spin after each parallel region steal the cores of the next serial step
# (18x slower MD steps measured on 2 shared cores); sleep instead unless the user chose.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numba  # noqa: E402
import numpy as np  # noqa: E402

from superionic.potentials import mtp_numba
from superionic.potentials.ewald_md import (
    DEFAULT_MD_ACCURACY,
    DEFAULT_SKIN_A,
    MDElectrostatics,
    VerletList,
)
from superionic.potentials.mtp_basis import ContractionProgram

__all__ = ["MDState", "PARALLEL_MIN_ATOMS"]

#: Smallest system (atoms) on which the MTP kernels run on several threads.
PARALLEL_MIN_ATOMS: int = 400


@numba.njit(cache=True)
def _pair_forces_virial(dE_dr, pair_i, pair_j, pair_vec, forces, virial):  # pragma: no cover
    for k in range(dE_dr.shape[0]):
        for p in range(pair_i.shape[0]):
            i = pair_i[p]
            j = pair_j[p]
            for a in range(3):
                g = dE_dr[k, p, a]
                forces[k, i, a] += g
                forces[k, j, a] -= g
                for b in range(3):
                    virial[k, b, a] += pair_vec[p, b] * g


class MDState:
    """What a QMTP evaluation keeps between the steps of one trajectory: the MTP Verlet list
    and the :class:`MDElectrostatics` of the charges. Pass it to
    :meth:`superionic.potentials.qmtp.QMTP.compute` as ``md``; a new system (other number of
    atoms or species) resets it. Non-periodic systems use the reference path.
    """

    def __init__(self, accuracy: float = DEFAULT_MD_ACCURACY, skin: float = DEFAULT_SKIN_A,
                 qeq_tol: float = 1e-6, eta: float | None = None) -> None:
        self.accuracy = float(accuracy)
        self.skin = float(skin)
        self.qeq_tol = float(qeq_tol)
        self.eta = eta
        self._verlet: VerletList | None = None
        self._elec: MDElectrostatics | None = None
        self._key: tuple | None = None

    def _check_system(self, numbers: np.ndarray) -> None:
        key = tuple(np.asarray(numbers).tolist())
        if key != self._key:
            self._key = key
            self._verlet = None
            self._elec = None

    def neighbours(self, positions: np.ndarray, cell: np.ndarray, numbers: np.ndarray,
                   r_cut: float):
        """``(i, j, S, D, start)`` within ``r_cut`` from the Verlet list of this system."""
        self._check_system(numbers)
        if self._verlet is None or self._verlet.r_cut != float(r_cut):
            self._verlet = VerletList(r_cut, self.skin)
        return self._verlet.pairs(positions, cell)

    @staticmethod
    def _parallel(n_atoms: int) -> bool:
        return n_atoms >= PARALLEL_MIN_ATOMS and numba.get_num_threads() > 1

    def basis_values(self, program: ContractionProgram, species: np.ndarray,
                     pair_start: np.ndarray, pair_j: np.ndarray, pair_vec: np.ndarray,
                     radial_coeffs: np.ndarray, r_min: float, r_cut: float) -> np.ndarray:
        """:func:`superionic.potentials.mtp_numba.basis_values`, serial on small systems."""
        return mtp_numba.basis_values(program, species, pair_start, pair_j, pair_vec,
                                      radial_coeffs, r_min, r_cut,
                                      parallel=self._parallel(species.shape[0]))

    def basis_gradients(self, program: ContractionProgram, species: np.ndarray,
                        pair_start: np.ndarray, pair_j: np.ndarray, pair_vec: np.ndarray,
                        radial_coeffs: np.ndarray, r_min: float, r_cut: float,
                        values: np.ndarray, g: np.ndarray) -> np.ndarray:
        """:func:`superionic.potentials.mtp_numba.basis_gradients`, serial on small systems."""
        return mtp_numba.basis_gradients(program, species, pair_start, pair_j, pair_vec,
                                         radial_coeffs, r_min, r_cut, values, g,
                                         parallel=self._parallel(species.shape[0]))

    @staticmethod
    def pair_forces_virial(dE_dr: np.ndarray, pair_i: np.ndarray, pair_j: np.ndarray,
                           pair_vec: np.ndarray, n_atoms: int) -> tuple[np.ndarray, np.ndarray]:
        """:func:`superionic.potentials.mtp_numba.pair_forces_virial` in one compiled loop."""
        forces = np.zeros((dE_dr.shape[0], n_atoms, 3))
        virial = np.zeros((dE_dr.shape[0], 3, 3))
        _pair_forces_virial(dE_dr, pair_i, pair_j, pair_vec, forces, virial)
        return forces, virial

    def electrostatics(self, sigma: np.ndarray, cell: np.ndarray,
                       numbers: np.ndarray) -> MDElectrostatics:
        """The electrostatics of this system (built on first use)."""
        self._check_system(numbers)
        if self._elec is None or not np.array_equal(self._elec.sigma, sigma):
            self._elec = MDElectrostatics(sigma, cell, self.accuracy, self.skin, self.qeq_tol,
                                          eta=self.eta)
        return self._elec
