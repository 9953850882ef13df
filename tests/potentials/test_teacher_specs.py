"""``--teacher`` strings: named factories label as the calculator itself does, in workers too;
CHGNet's bundled models load by name; wrong names fail early and say what was wrong."""

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.lj import LennardJones
from test_teachers_label import _structures as rattled_argon

from superionic.core.errors import InputError
from superionic.dynamics.calculators import make_calculator
from superionic.potentials.teachers import (
    CHGNetTeacher,
    FactoryTeacher,
    label,
    teacher_from_spec,
    teacher_key,
)

FACTORY = """
from ase.calculators.lj import LennardJones


def make():
    return LennardJones(sigma=2.3, epsilon={eps}, rc=5.0, smooth=True)


def not_a_calculator():
    return 42
"""


def _factory_file(tmp_path, eps=0.1):
    path = tmp_path / "my_teacher.py"
    path.write_text(FACTORY.format(eps=eps))
    return path


def test_file_factory_labels_as_the_calculator_in_workers_too(tmp_path, monkeypatch):
    path = _factory_file(tmp_path)
    monkeypatch.chdir(tmp_path)
    teacher = teacher_from_spec("my_teacher.py:make")
    assert isinstance(teacher, FactoryTeacher) and teacher.spec == f"{path}:make"
    structures = rattled_argon(3)
    serial = label(structures, teacher)
    parallel = label(structures, teacher, n_workers=2)  # spawned workers import the file
    for a, s, p in zip(structures, serial, parallel, strict=True):
        ref = a.copy()
        ref.calc = LennardJones(sigma=2.3, epsilon=0.1, rc=5.0, smooth=True)
        assert s.get_potential_energy() == pytest.approx(ref.get_potential_energy(), rel=1e-13)
        assert np.allclose(s.get_forces(), ref.get_forces(), rtol=0, atol=1e-12)
        assert np.allclose(p.get_forces(), ref.get_forces(), rtol=0, atol=1e-12)
        assert np.allclose(s.get_stress(), ref.get_stress(), rtol=0, atol=1e-12)


def test_module_factory_and_make_calculator():
    cu = bulk("Cu", "fcc", a=3.6, cubic=True)
    cu.positions[0] += [0.05, -0.03, 0.02]
    ref = cu.copy()
    ref.calc = EMT()
    labelled = label([cu], teacher_from_spec("ase.calculators.emt:EMT"))[0]
    assert labelled.get_potential_energy() == pytest.approx(ref.get_potential_energy(),
                                                            rel=1e-13)
    assert np.allclose(labelled.get_forces(), ref.get_forces(), atol=1e-13)
    assert isinstance(make_calculator("ase.calculators.emt:EMT"), EMT)


@pytest.mark.parametrize("spec, words", [
    ("chgnet:1.0", "r2scan"),
    ("vasp", "module:function"),
    ("no_such_module_xyz:make", "no_such_module_xyz"),
    ("ase.calculators.emt:NoSuch", "no function 'NoSuch'"),
    ("missing_teacher.py:make", "missing_teacher.py"),
])
def test_wrong_teacher_names_say_what_is_wrong(spec, words, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match=words.replace("(", r"\(")):
        teacher_from_spec(spec)


def test_factory_returning_no_calculator_is_refused(tmp_path):
    path = _factory_file(tmp_path)
    teacher = teacher_from_spec(f"{path}:not_a_calculator")
    with pytest.raises(InputError, match="returned a int"):
        teacher.make_calculator()


def test_conductivity_config_refuses_a_wrong_teacher_before_any_work():
    from superionic.workflows.conductivity import ConductivityConfig

    with pytest.raises(InputError, match="no_such_module_xyz"):
        ConductivityConfig(material="Li3N", teacher="no_such_module_xyz:make")


def test_teacher_keys_follow_the_labels(tmp_path):
    assert teacher_key("chgnet") == teacher_key("chgnet:0.3.0") == "chgnet"
    assert teacher_key("chgnet:r2scan") != teacher_key("chgnet")
    path = _factory_file(tmp_path, eps=0.1)
    before = teacher_key(f"{path}:make")
    assert teacher_key(f"{path}:make") == before
    _factory_file(tmp_path, eps=0.2)  # edited: stored labels must not be reused
    assert teacher_key(f"{path}:make") != before


def test_chgnet_r2scan_is_the_bundled_r2scan_model():
    from ase import Atoms
    from chgnet.model import CHGNet
    from chgnet.model.dynamics import CHGNetCalculator

    li2s = Atoms("Li2S", scaled_positions=[[0.25, 0.25, 0.25], [0.75, 0.75, 0.75], [0, 0, 0]],
                 cell=[[0, 2.85, 2.85], [2.85, 0, 2.85], [2.85, 2.85, 0]], pbc=True)
    li2s.positions[0] += [0.1, 0.0, -0.05]
    teacher = teacher_from_spec("chgnet:r2scan")
    assert isinstance(teacher, CHGNetTeacher) and teacher.name == "chgnet:r2scan"
    r2 = label([li2s], teacher)[0]
    pbe = label([li2s], teacher_from_spec("chgnet"))[0]
    ref = li2s.copy()
    ref.calc = CHGNetCalculator(model=CHGNet.load(model_name="r2scan", verbose=False),
                                use_device="cpu")
    assert r2.get_potential_energy() == pytest.approx(ref.get_potential_energy(), rel=1e-6)
    assert np.allclose(r2.get_forces(), ref.get_forces(), atol=1e-6)
    # a different functional's model: energies differ by far more than numerical noise
    assert abs(r2.get_potential_energy() - pbe.get_potential_energy()) > 0.05
