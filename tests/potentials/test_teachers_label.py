"""Teachers: labels equal direct evaluation; parallel equals serial; failures are named."""

import functools

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.lj import LennardJones

from superionic.core.errors import ConvergenceError
from superionic.potentials.teachers import ASETeacher, CHGNetTeacher, LabelFailure, label

LJ = functools.partial(LennardJones, sigma=2.3, epsilon=0.1, rc=5.0, smooth=True)


def _structures(n=4):
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        a = bulk("Ar", "fcc", a=3.7, cubic=True)
        a.positions += rng.normal(scale=0.1, size=a.positions.shape)
        out.append(a)
    return out


def test_ase_teacher_equals_direct_and_parallel_equals_serial():
    structures = _structures()
    serial = label(structures, ASETeacher(LJ))
    parallel = label(structures, ASETeacher(LJ), n_workers=2)
    assert len(serial) == len(parallel) == len(structures)
    for a, s, p in zip(structures, serial, parallel, strict=True):
        ref = a.copy()
        ref.calc = LJ()
        assert s.get_potential_energy() == pytest.approx(ref.get_potential_energy(), rel=1e-13)
        assert np.allclose(s.get_forces(), ref.get_forces(), rtol=0, atol=1e-12)
        assert np.allclose(s.get_stress(), ref.get_stress(), rtol=0, atol=1e-12)
        assert np.allclose(p.get_forces(), s.get_forces(), rtol=0, atol=1e-12)
        assert p.get_potential_energy() == pytest.approx(s.get_potential_energy(), rel=1e-13)
        assert np.allclose(p.positions, a.positions)


class _NaNCalc(Calculator):
    implemented_properties = ["energy", "forces", "stress"]

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        f = np.zeros((len(self.atoms), 3))
        if self.atoms.positions[0, 0] > 0.0:
            f[0, 0] = np.nan
        self.results = {"energy": 1.0, "forces": f, "stress": np.zeros(6)}


def test_nan_forces_are_reported_by_configuration():
    structures = _structures(3)
    structures[1].positions[0, 0] = 0.5
    for k in (0, 2):
        structures[k].positions[0, 0] = -0.1
    failures: list[LabelFailure] = []
    out = label(structures, ASETeacher(_NaNCalc), failures=failures)
    assert len(out) == 2 and [f.index for f in failures] == [1]
    assert "non-finite forces for configuration 1" in failures[0].error
    with pytest.raises(ConvergenceError, match="configuration 1"):
        label(structures, ASETeacher(_NaNCalc), skip_failures=False)


def test_chgnet_teacher_equals_chgnet_calculator():
    from ase import Atoms
    from chgnet.model import CHGNet
    from chgnet.model.dynamics import CHGNetCalculator

    li2s = Atoms("Li2S", scaled_positions=[[0.25, 0.25, 0.25], [0.75, 0.75, 0.75], [0, 0, 0]],
                 cell=[[0, 2.85, 2.85], [2.85, 0, 2.85], [2.85, 2.85, 0]], pbc=True)
    labelled = label([li2s], CHGNetTeacher())[0]
    ref = li2s.copy()
    ref.calc = CHGNetCalculator(model=CHGNet.load(verbose=False), use_device="cpu")
    assert labelled.get_potential_energy() == pytest.approx(ref.get_potential_energy(),
                                                            rel=1e-6)
    assert np.allclose(labelled.get_forces(), ref.get_forces(), atol=1e-6)
    # antifluorite Li2S: CHGNet gives ~ -4.2 eV/atom (MP-compatible energies)
    assert -5.5 < labelled.get_potential_energy() / 3 < -3.0
