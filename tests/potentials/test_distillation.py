"""Distillation: a QMTP fitted to CHGNet labels of Li2S reproduces CHGNet on held-out frames.

Teacher data: rattled and strained copies of the antifluorite cell plus frames of a short
CHGNet Langevin run at 900 K, labelled in one CHGNet batch; a random quarter is held out.
The criteria asserted are the project's distillation targets (energy RMSE <= 5 meV/atom, force
RMSE <= 0.1 eV/Å on held-out teacher configurations); validation/distill_chgnet.py checks them
on Li6PS5Cl together with the MD observables (RDFs, Li diffusion).
"""

import numpy as np
import pytest
from ase import units
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
from ase.spacegroup import crystal

from superionic.potentials.teachers import ASETeacher, CHGNetTeacher, label
from superionic.potentials.training import evaluate, train

pytest.importorskip("chgnet")

A_LI2S = 5.69  # Å, antifluorite Li2S
EPOCHS = 4


def _li2s():
    return crystal(["S", "Li"], basis=[(0, 0, 0), (0.25, 0.25, 0.25)], spacegroup=225,
                   cellpar=[A_LI2S] * 3 + [90] * 3)


def _teacher_configurations(calc, n_rattled: int, n_md: int, md_stride: int, seed: int):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_rattled):
        a = _li2s()
        eps = rng.normal(scale=0.015, size=(3, 3))
        a.set_cell(a.cell.array @ (np.eye(3) + 0.5 * (eps + eps.T)), scale_atoms=True)
        a.positions += rng.normal(scale=0.1, size=a.positions.shape)
        out.append(a)
    md = _li2s()
    md.calc = calc
    MaxwellBoltzmannDistribution(md, temperature_K=900.0, rng=rng)
    dyn = Langevin(md, 2.0 * units.fs, temperature_K=900.0, friction=0.02, rng=rng, fixcm=False)
    for _ in range(n_md):
        dyn.run(md_stride)
        a = md.copy()
        a.calc = None
        out.append(a)
    return out


def _batch_label(model, configs):
    """CHGNet energies and forces of many cells in one batched forward pass."""
    from ase.calculators.singlepoint import SinglePointCalculator

    from superionic.core.structures import to_structure

    preds = model.predict_structure([to_structure(a) for a in configs], task="ef",
                                    batch_size=len(configs))
    out = []
    for a, p in zip(configs, preds, strict=True):
        b = a.copy()
        b.calc = SinglePointCalculator(b, energy=float(p["e"]) * len(b),
                                       forces=np.asarray(p["f"], float))
        out.append(b)
    return out


def test_qmtp_distilled_from_chgnet_meets_heldout_criteria():
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        calc = CHGNetTeacher().make_calculator()  # bundled weights, no download
        configs = _teacher_configurations(calc, n_rattled=36, n_md=3, md_stride=2, seed=0)
        labelled = _batch_label(calc.model, configs)
        # second method: the batched labels equal the teacher's calculator path
        direct = label([configs[0], configs[-1]], ASETeacher(lambda: calc, name="chgnet"))
    finally:
        torch.set_num_threads(threads)
    for d, b in zip(direct, [labelled[0], labelled[-1]], strict=True):
        assert d.get_potential_energy() == pytest.approx(b.get_potential_energy(), abs=1e-4)
        assert np.allclose(d.get_forces(), b.get_forces(), atol=1e-4)
    perm = np.random.default_rng(1).permutation(len(labelled))
    n_hold = len(labelled) // 4
    held = [labelled[i] for i in perm[:n_hold]]
    train_set = [labelled[i] for i in perm[n_hold:]]
    res = train(train_set, level=8, r_cut=5.0, charges=False, seed=0, val_fraction=0.0,
                epochs=EPOCHS, progress=False, threads=1)
    out = evaluate(res.model, held)
    f_rms = np.sqrt(np.mean(np.concatenate([h.get_forces().ravel() for h in held]) ** 2))
    assert f_rms > 0.2  # non-trivial forces
    # measured: held-out 0.8 meV/atom and 0.022 eV/Å (linear solve alone: 21 meV/atom and
    # 0.134 eV/Å, so the nonlinear stage is needed); 15 s idle, 48 s on two busy cores
    assert out["energy_rmse_eV_per_atom"] <= 5e-3
    assert out["force_rmse_eV_per_A"] <= 0.1
    # the model carries information beyond the mean force: 5x better than predicting zero
    assert out["force_rmse_eV_per_A"] < 0.2 * f_rms
