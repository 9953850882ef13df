"""QMTP ASE calculator and model file: ASE drivers, energy conservation, save/load round trip."""

import io
import json
import zipfile

import numpy as np
import pytest
from ase import units
from ase.build import bulk
from ase.calculators.fd import calculate_numerical_stress
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
from ase.md.verlet import VelocityVerlet

from superionic.core.errors import InputError
from superionic.potentials.active_learning import ActiveSet
from superionic.potentials.calculator import QMTPCalculator
from superionic.potentials.model_file import inspect_model
from superionic.potentials.qmtp import QMTP


def _cell(seed=0):
    rng = np.random.default_rng(seed)
    a = bulk("Li", "bcc", a=3.6, cubic=True).repeat((2, 2, 1))
    a.numbers[[1, 4]] = 16
    a.numbers[6] = 15
    a.positions += rng.normal(scale=0.1, size=a.positions.shape)
    return a


@pytest.mark.parametrize("engine", ["numba", "torch"])
def test_calculator_matches_model_and_ase_stress_convention(engine):
    m = QMTP.random(["Li", "P", "S"], level=10, seed=3, charges=True, r_cut=4.0)
    a = _cell()
    a.calc = QMTPCalculator(m, engine=engine)
    r = m.compute(a)
    assert a.get_potential_energy() == pytest.approx(r["energy"], rel=1e-12)
    assert np.allclose(a.get_forces(), r["forces"], atol=1e-12)
    assert np.allclose(a.get_charges(), r["charges"], atol=1e-12)
    # ASE's numerical stress (finite strain) equals the analytic one
    num = calculate_numerical_stress(a, eps=1e-5, voigt=True)
    assert np.allclose(a.get_stress(), num, atol=1e-8)


def test_nve_energy_conservation():
    m = QMTP.random(["Li", "P", "S"], level=10, seed=3, charges=True, r_cut=4.0)
    a = _cell(1)
    a.calc = QMTPCalculator(m)
    MaxwellBoltzmannDistribution(a, temperature_K=300, rng=np.random.default_rng(0))
    e0 = a.get_total_energy()
    dyn = VelocityVerlet(a, 0.5 * units.fs)
    energies = []
    for _ in range(20):
        dyn.run(2)
        energies.append(a.get_total_energy())
    ekin_scale = 1.5 * len(a) * units.kB * 300
    assert np.max(np.abs(np.array(energies) - e0)) < 0.01 * ekin_scale


def test_model_file_round_trip(tmp_path):
    m = QMTP.random(["Li", "P", "S"], level=12, seed=8, charges=True, r_cut=4.0)
    m.metadata = {"note": "test", "train_rmse": {"force_rmse_eV_per_A": 0.01}}
    m.repulsion_r_outer_ = np.array([[2.5, 2.6, 2.7], [2.6, 2.8, 2.9], [2.7, 2.9, 3.0]])
    act = ActiveSet(m).fit([_cell(s) for s in range(3)])
    path = m.save(tmp_path / "model.qmtp", active_set=act)
    m2 = QMTP.load(path)
    a = _cell(2)
    r1, r2 = m.compute(a), m2.compute(a)
    assert r1["energy"] == r2["energy"]
    assert np.array_equal(r1["forces"], r2["forces"])
    assert np.array_equal(r1["stress"], r2["stress"])
    # the stored active set gives the same grades through a calculator built from the file
    b = _cell(7)
    b.calc = QMTPCalculator(str(path))
    assert b.calc.get_property("extrapolation_grade", b) == pytest.approx(act.grade(b)[0],
                                                                          rel=1e-12)
    assert np.allclose(b.calc.results["extrapolation_grades"], act.grade(b)[1], rtol=1e-12)
    head = inspect_model(path)
    assert head["level"] == 12 and head["species"] == ["Li", "P", "S"]
    assert head["metadata"]["note"] == "test" and head["charges"] is True
    assert head["repulsion_r_outer_A"]["P-S"] == 2.9


def test_model_file_of_format_1_0_loads_without_baseline(tmp_path):
    # files written before the ZBL baseline existed (format 1.0) hold no radii
    m = QMTP.random(["Li", "S"], level=8, seed=1, charges=False)
    path = m.save(tmp_path / "m.qmtp")
    with zipfile.ZipFile(path) as zf:
        header = json.loads(zf.read("header.json"))
        with np.load(io.BytesIO(zf.read("parameters.npz"))) as npz:
            params = {k: npz[k] for k in npz.files if k != "repulsion_r_outer_"}
    header["format_version"] = "1.0"
    buf = io.BytesIO()
    np.savez(buf, **params)
    old = tmp_path / "old.qmtp"
    with zipfile.ZipFile(old, "w") as zf:
        zf.writestr("header.json", json.dumps(header))
        zf.writestr("parameters.npz", buf.getvalue())
    m2 = QMTP.load(old)
    assert not m2.has_repulsion and m2.repulsion_r_outer_.shape == (2, 2)
    a = _cell(1)
    a.numbers[a.numbers == 15] = 16
    assert m2.compute(a)["energy"] == m.compute(a)["energy"]


def test_model_file_unknown_version(tmp_path):
    m = QMTP.random(["Li"], level=8, seed=1, charges=False)
    path = m.save(tmp_path / "m.qmtp")
    with zipfile.ZipFile(path) as zf:
        header = json.loads(zf.read("header.json"))
        params = zf.read("parameters.npz")
    header["format_version"] = "99.0"
    bad = tmp_path / "bad.qmtp"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("header.json", json.dumps(header))
        zf.writestr("parameters.npz", params)
    with pytest.raises(InputError, match="format version '99.0'"):
        QMTP.load(bad)
    (tmp_path / "junk.qmtp").write_text("not a model")
    with pytest.raises(InputError, match="not a QMTP model file"):
        QMTP.load(tmp_path / "junk.qmtp")


def test_unknown_species_is_reported():
    m = QMTP.random(["Li", "S"], level=8, seed=1, charges=False)
    with pytest.raises(InputError, match="Cl"):
        m.compute(bulk("NaCl", "rocksalt", a=5.6))


def test_models_pickled_before_the_baseline_load_without_it():
    # run directories keep pickled models in their results store
    import pickle

    m = QMTP.random(["Li", "S"], level=8, seed=2, charges=False)
    state = dict(m.__dict__)
    del state["repulsion_r_outer_"]
    old = QMTP.__new__(QMTP)
    old.__dict__.update(state)
    blob = pickle.dumps(old)
    m2 = pickle.loads(blob)
    assert m2.repulsion_r_outer_.shape == (2, 2) and not m2.has_repulsion
    a = _cell(1)
    a.numbers[a.numbers == 15] = 16
    assert m2.compute(a)["energy"] == m.compute(a)["energy"]


def test_check_state_reports_what_ase_compare_atoms_reports():
    from ase.calculators.calculator import compare_atoms

    m = QMTP.random(["Li", "P", "S"], level=8, seed=1, r_cut=4.0)
    a = _cell()
    calc = QMTPCalculator(m)
    a.calc = calc
    a.get_potential_energy()
    edits = {
        "nothing": lambda b: None,
        "positions": lambda b: b.positions.__setitem__((2, 1), b.positions[2, 1] + 1e-9),
        "numbers": lambda b: b.numbers.__setitem__(0, 15),
        "cell": lambda b: b.set_cell(b.cell.array * 1.001),
        "pbc": lambda b: b.set_pbc([True, True, False]),
        "initial_charges": lambda b: b.set_initial_charges(np.full(len(b), 0.1)),
        "momenta": lambda b: b.set_momenta(np.ones((len(b), 3))),
    }
    for name, edit in edits.items():
        b = a.copy()
        edit(b)
        assert sorted(calc.check_state(b)) == sorted(compare_atoms(calc.atoms, b)), name
    # unchanged atoms reuse the result, moved atoms recompute it
    e0 = a.get_potential_energy()
    a.positions[0, 0] += 0.05
    assert a.get_potential_energy() != e0
    assert a.get_potential_energy() == pytest.approx(m.compute(a)["energy"], rel=1e-12)
