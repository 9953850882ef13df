"""Active learning: MaxVol optimality, extrapolation grades, one learn-on-the-fly loop."""

import itertools

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.lj import LennardJones

from superionic.potentials.active_learning import ActiveSet, active_learning, maxvol
from superionic.potentials.qmtp import QMTP
from superionic.potentials.teachers import ASETeacher


def test_maxvol_is_dominant_and_near_optimal():
    rng = np.random.default_rng(0)
    Y = rng.normal(size=(12, 3))
    rows = maxvol(Y)
    C = Y @ np.linalg.inv(Y[rows])
    assert np.abs(C).max() <= 1.0 + 1e-6  # every row inside the active set's span, |c| <= 1
    best = max(abs(np.linalg.det(Y[list(r)])) for r in itertools.combinations(range(12), 3))
    # a dominant submatrix has volume >= best / r^(r/2) (Goreinov & Tyrtyshnikov 2001)
    assert abs(np.linalg.det(Y[rows])) >= best / 3 ** 1.5


def _train_set(n=6, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        a = bulk("Ar", "fcc", a=3.7, cubic=True).repeat((2, 1, 1))
        a.positions += rng.normal(scale=0.1, size=a.positions.shape)
        out.append(a)
    return out


def test_grades_inside_and_outside():
    m = QMTP.random(["Ar"], level=10, seed=1, charges=False, r_cut=5.0, r_min=2.0)
    train = _train_set()
    act = ActiveSet(m).fit(train)
    for a in train:
        g_cfg, g_at = act.grade(a)
        assert g_cfg <= 1.0 + 1e-6 and np.all(g_at <= 1.0 + 1e-6)
    compressed = train[0].copy()
    compressed.set_cell(compressed.cell * 0.8, scale_atoms=True)
    assert act.grade(compressed)[0] > 10.0
    # γ = max |c| with x = c A_active, c solved against the active rows themselves
    X = act._rows(m.basis(compressed), compressed)[0]
    s = act.nbh_
    Y = (X / s.scale) @ s.projection
    c = np.linalg.solve(np.linalg.inv(s.inverse).T, Y.T).T
    assert np.allclose(s.grade(X), np.abs(c).max(axis=1), rtol=1e-8)
    melted = train[0].copy()
    rng = np.random.default_rng(5)
    melted.positions = rng.uniform(0, 1, (len(melted), 3)) @ melted.cell.array
    assert act.grade(melted)[0] > 10.0


def test_learning_loop_with_lj_teacher():
    teacher = ASETeacher(lambda: LennardJones(sigma=2.3, epsilon=0.1, rc=5.0, smooth=True))
    seeds = _train_set(n=1, seed=3)
    initial = _train_set(n=5, seed=4)

    def hot_md(atoms, calc, n_steps, seed):
        # a crude "MD": growing random displacements, enough to leave the training domain
        rng = np.random.default_rng(seed)
        for k in range(n_steps):
            b = atoms.copy()
            b.positions += rng.normal(scale=0.05 * (k + 1), size=b.positions.shape)
            b.calc = calc
            yield b

    from superionic.potentials.teachers import label

    data = label(initial, teacher)
    res = active_learning(None, teacher, seeds, hot_md, training_set=data, max_iterations=2,
                          md_steps=6, selection_grade=2.0, break_grade=10.0,
                          train_kwargs=dict(level=8, r_cut=5.0, charges=False, epochs=0,
                                            val_fraction=0.0, threads=1))
    first = res.history[0]
    assert first["n_candidates"] > 0 and first["n_selected"] > 0
    assert first["max_grade"] > 2.0
    assert len(res.training_set) == len(data) + sum(h["n_selected"] for h in res.history)
    # the selected configurations were labelled by the teacher (equal to direct evaluation)
    new = res.training_set[len(data)]
    ref = new.copy()
    ref.calc = teacher.make_calculator()
    assert new.get_potential_energy() == pytest.approx(ref.get_potential_energy(), rel=1e-12)
    # and after retraining they lie inside the active set's domain
    for a in res.training_set[len(data):]:
        assert res.active_set.grade(a)[0] <= 1.0 + 1e-6


def test_default_langevin_runner_flags_hot_configurations():
    # trained on 0.1 Å rattles, Langevin MD at 2000 K leaves the training domain: flagged
    # configurations are exactly those whose grade (recomputed independently) exceeds 2
    from superionic.potentials.active_learning import langevin_runner
    from superionic.potentials.calculator import QMTPCalculator
    from superionic.potentials.teachers import label
    from superionic.potentials.training import train

    teacher = ASETeacher(lambda: LennardJones(sigma=2.3, epsilon=0.1, rc=5.0, smooth=True))
    data = label(_train_set(n=4, seed=6), teacher)
    model = train(data, level=8, r_cut=5.0, charges=False, epochs=0, val_fraction=0.0,
                  progress=False).model
    act = ActiveSet(model).fit(data)
    run = langevin_runner(temperature_K=2000.0, timestep_fs=2.0, interval=5)
    calc = QMTPCalculator(model, active_set=act)
    grades = []
    for snap in run(data[0], calc, 40, 0):
        g = calc.get_property("extrapolation_grade", snap)
        assert g == pytest.approx(act.grade(snap)[0], rel=1e-10)
        grades.append(g)
    assert len(grades) == 8
    assert max(grades) > 2.0


def test_is_physical_rejects_blown_up_configurations():
    from superionic.potentials.active_learning import is_physical

    a = bulk("Li", "bcc", a=3.5).repeat(2)  # nearest neighbours at sqrt(3)/2 a = 3.03 Å
    assert is_physical(a)
    b = a.copy()
    b.positions[1] = b.positions[0] + [0.5, 0.0, 0.0]  # two atoms 0.5 Å apart
    assert not is_physical(b) and is_physical(b, min_distance_A=0.4)
    c = a.copy()
    c.positions[3, 2] = np.nan
    assert not is_physical(c)
    d = a.copy()
    d.positions[2] += 1e6  # flown off by a million Å: no finite-cell MD ends there
    assert not is_physical(d)


def test_md_failure_labels_the_last_frame_and_is_not_convergence():
    from superionic.core.errors import InputError
    from superionic.potentials.teachers import label

    teacher = ASETeacher(lambda: LennardJones(sigma=2.3, epsilon=0.1, rc=5.0, smooth=True))
    seeds = _train_set(n=1, seed=3)
    data = label(_train_set(n=5, seed=4), teacher)
    frames_seen = []

    def failing_md(atoms, calc, n_steps, seed):
        # two quiet frames (inside the domain), then the MD breaks down
        rng = np.random.default_rng(seed)
        for _ in range(2):
            b = atoms.copy()
            b.positions += rng.normal(scale=0.01, size=b.positions.shape)
            b.calc = calc
            frames_seen.append(b.get_positions())
            yield b
        raise InputError("two atoms sit on top of each other", field="positions")

    res = active_learning(None, teacher, seeds, failing_md, training_set=data, max_iterations=1,
                          md_steps=6, selection_grade=2.0, break_grade=10.0,
                          train_kwargs=dict(level=8, r_cut=5.0, charges=False, epochs=0,
                                            val_fraction=0.0, threads=1))
    rec = res.history[0]
    assert rec["md_failures"] and "on top of each other" in rec["md_failures"][0]
    assert not res.converged
    # the last frame before the failure was added (after any selected by grade), labelled
    # by the teacher, whatever its grade
    assert len(res.training_set) == len(data) + rec["n_selected"]
    assert rec["n_selected"] == rec["n_candidates"] + 1
    added = res.training_set[-1]
    assert np.allclose(added.get_positions(), frames_seen[-1])
    ref = added.copy()
    ref.calc = teacher.make_calculator()
    assert added.get_potential_energy() == pytest.approx(ref.get_potential_energy(), rel=1e-12)
