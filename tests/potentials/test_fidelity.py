"""The teacher audit measures what a student gets wrong: a teacher that differs from the
student by a known field gives the errors that field implies, and the verdict compares them
with the training errors as documented."""

import numpy as np
import pytest
from ase.calculators.singlepoint import SinglePointCalculator
from training_data import labelled

from superionic.potentials.fidelity import (
    ENERGY_FLOOR_EV_PER_ATOM,
    FORCE_FLOOR_EV_PER_A,
    audit_verdict,
    student_errors,
)
from superionic.potentials.qmtp import QMTP

F_FIELD = np.array([0.05, -0.02, 0.08])  # eV/Å on every atom


def _student():
    return QMTP.random(["Li", "P", "S"], level=6, seed=3, charges=False, r_cut=4.0)


def _frames():
    return [a for a in labelled(seed=2) if a.pbc.all()]


def _teacher_labels(model, frames, field):
    """Labels of a teacher equal to the student plus a uniform force ``field``:
    E = E_student - field . sum(r), F = F_student + field."""
    out = []
    for a in frames:
        r = model.compute(a)
        b = a.copy()
        b.calc = SinglePointCalculator(b, energy=r["energy"] - float(field @ a.positions.sum(0)),
                                       forces=r["forces"] + field)
        out.append(b)
    return out


def test_errors_are_those_of_the_known_difference():
    model, frames = _student(), _frames()
    e = student_errors(model, _teacher_labels(model, frames, F_FIELD))
    # every force component is off by the field: RMSE = |field| / sqrt(3)
    assert e["force_rmse_eV_per_A"] == pytest.approx(np.linalg.norm(F_FIELD) / np.sqrt(3),
                                                     rel=1e-10)
    # energy per atom off by field . sum(r) / N (student minus teacher)
    de = np.array([float(F_FIELD @ a.positions.sum(0)) / len(a) for a in frames])
    assert e["energy_bias_eV_per_atom"] == pytest.approx(de.mean(), rel=1e-9)
    assert e["energy_rmse_eV_per_atom"] == pytest.approx(np.sqrt(np.mean(de ** 2)), rel=1e-9)
    # the student as its own teacher: no error at all
    same = student_errors(model, _teacher_labels(model, frames, np.zeros(3)))
    assert same["force_rmse_eV_per_A"] < 1e-12 and same["energy_rmse_eV_per_atom"] < 1e-12


def test_verdict_ratios_floors_and_reasons():
    errors = {"energy_rmse_eV_per_atom": 0.012, "energy_bias_eV_per_atom": -0.011,
              "force_rmse_eV_per_A": 0.15, "n_structures": 8}
    ref = {"energy_rmse_eV_per_atom": 0.004, "force_rmse_eV_per_A": 0.1}
    v = audit_verdict(errors, ref, max_factor=2.0)
    assert v["energy_ratio"] == pytest.approx(3.0) and v["force_ratio"] == pytest.approx(1.5)
    assert not v["faithful"]
    assert "energy RMSE 12.0 meV/atom (bias -11.0)" in v["reason"] and "force" not in v["reason"]
    assert audit_verdict(errors, ref, max_factor=3.5)["faithful"]
    # a training set fitted almost exactly: the ratios use the floors
    tiny = {"energy_rmse_eV_per_atom": 1e-6, "force_rmse_eV_per_A": 1e-4}
    v = audit_verdict(errors, tiny, max_factor=2.0)
    assert v["energy_ratio"] == pytest.approx(0.012 / ENERGY_FLOOR_EV_PER_ATOM)
    assert v["force_ratio"] == pytest.approx(0.15 / FORCE_FLOOR_EV_PER_A)
    # a NaN error is never faithful
    nan = errors | {"force_rmse_eV_per_A": float("nan")}
    assert not audit_verdict(nan, ref, max_factor=100.0)["faithful"]


TEACHER_FILE = '''
import numpy as np
from ase.calculators.calculator import Calculator, all_changes
from superionic.potentials.qmtp import QMTP

FIELD = np.array({field})


class Shifted(Calculator):
    """The student plus a uniform force field."""
    implemented_properties = ["energy", "forces", "stress"]

    def __init__(self):
        super().__init__()
        self.model = QMTP.load({model!r})

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        r = self.model.compute(self.atoms)
        self.results = {{"energy": r["energy"] - float(FIELD @ self.atoms.positions.sum(0)),
                        "forces": r["forces"] + FIELD, "stress": np.zeros(6)}}


def make():
    return Shifted()
'''


def test_audit_command_on_a_trajectory_with_a_file_teacher(tmp_path):
    """`superionic potential audit`: frames of an H5MD trajectory labelled by a teacher that
    is the student plus a known field; errors, floored ratios, verdicts, labelled frames."""
    import json

    from ase.io import read, write

    from superionic.cli.main import main
    from superionic.io.h5md import H5MDWriter

    model, frames = _student(), _frames()
    model.save(tmp_path / "m.qmtp")
    (tmp_path / "teacher.py").write_text(TEACHER_FILE.format(field=F_FIELD.tolist(),
                                                             model=str(tmp_path / "m.qmtp")))
    base = frames[0]
    rng = np.random.default_rng(1)
    pos = base.positions + rng.normal(0, 0.05, (6, len(base), 3))
    with H5MDWriter(tmp_path / "md.h5", base.get_chemical_symbols(), timestep_fs=2.0,
                    frame_interval_fs=20.0) as w:
        w.append(positions=pos, cells=np.repeat(base.cell.array[None], 6, axis=0))
    # the training set: the student's own labels, so its reference errors are zero (floored)
    write(tmp_path / "train.extxyz", _teacher_labels(model, frames, np.zeros(3)))
    args = ["potential", "audit", str(tmp_path / "m.qmtp"), str(tmp_path / "md.h5"),
            "--teacher", f"{tmp_path / 'teacher.py'}:make", "--frames", "3", "--training-data",
            str(tmp_path / "train.extxyz"), "--write-labelled", str(tmp_path / "lab.extxyz")]
    assert main(args + ["--json", str(tmp_path / "a.json")]) == 0
    out = json.loads((tmp_path / "a.json").read_text())
    t = out["trajectories"][0]
    assert t["frame_steps"] == [0, 20, 50]  # three of the six frames, evenly spread
    lab = read(tmp_path / "lab.extxyz", ":")
    assert len(lab) == 3
    f_rmse = np.linalg.norm(F_FIELD) / np.sqrt(3)  # 0.056 eV/Å
    de = np.array([float(F_FIELD @ a.positions.sum(0)) / len(a) for a in lab])
    assert t["errors"]["force_rmse_eV_per_A"] == pytest.approx(f_rmse, rel=1e-9)
    assert t["errors"]["energy_rmse_eV_per_atom"] == pytest.approx(np.sqrt(np.mean(de ** 2)),
                                                                   rel=1e-9)
    # against a training set fitted exactly, the ratios use the floors
    v = t["verdict"]
    assert v["force_ratio"] == pytest.approx(f_rmse / FORCE_FLOOR_EV_PER_A, rel=1e-9)
    assert v["energy_ratio"] == pytest.approx(np.sqrt(np.mean(de ** 2))
                                              / ENERGY_FLOOR_EV_PER_ATOM, rel=1e-9)
    assert out["faithful"] is False and v["reason"].startswith("energy RMSE")
    # a factor above both ratios accepts the same errors
    assert main(args + ["--factor", "1000", "--json", str(tmp_path / "b.json")]) == 0
    assert json.loads((tmp_path / "b.json").read_text())["faithful"] is True
