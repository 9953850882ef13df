"""Charges learned from energies, forces and stresses alone (no reference charges).

The teacher is a charged QMTP (|q| ≈ 0.5 e, environment-dependent electronegativity) whose
radial functions are the student's initial ones (so the truth is representable; the student
still fits its radial functions too). Only the long-range part of the Coulomb energy tells
charges apart from short-range terms a cut-off MTP can absorb, so the data mix cell sizes,
strains, rattles and vacancies, whose electrostatics differ beyond r_cut.

What the labels determine: the charges themselves, not (χ0, J) separately (a larger
electronegativity difference with a larger hardness gives the same charges, the difference
in energy being a per-species constant for E0), and not a common χ0 offset (it cancels
under Σq = 0). Nor the sign: for neutral cells, (χ0, w) → −(χ0, w) flips every charge and
leaves energies and forces unchanged, so the sign comes from the Pauling order of the
initial χ0, which the teacher (S more electronegative than Li) obeys.
"""

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.singlepoint import SinglePointCalculator

from superionic.potentials.qmtp import QMTP
from superionic.potentials.training import evaluate, fit_charge_scale, train

LEVEL, R_CUT, R_MIN, N_BETA = 6, 4.0, 1.5, 4
LI, S = 3, 16
W_SCALE = 0.03


def _teacher(radial_seed: int = 0) -> QMTP:
    true = QMTP((LI, S), level=LEVEL, r_cut=R_CUT, r_min=R_MIN, n_beta=N_BETA, charges=True)
    true.radial_coeffs_ = true.random_radial_coeffs(np.random.default_rng(radial_seed))
    true.hardness_ = np.array([6.0, 10.0])
    true.xi_ = np.random.default_rng(1).normal(size=true.n_basis) * 0.1
    # w scaled by each basis function's spread in a rattled reference cell: charges vary
    # from atom to atom (most under strain); χ0 set so the mean χ of Li and S there is 0
    # and 8 eV
    ref = bulk("LiS", "rocksalt", a=5.0, cubic=True).repeat((1, 1, 2))
    ref.positions += np.random.default_rng(4).normal(scale=0.1, size=ref.positions.shape)
    B = true.basis(ref)
    spread = B.std(axis=0)
    w = np.random.default_rng(3).normal(size=true.w_chi_.shape)
    true.w_chi_ = W_SCALE * w / np.where(spread > 0, spread, 1.0)
    mean_shift = [np.mean(B[ref.numbers == z] @ true.w_chi_[k]) for k, z in enumerate((LI, S))]
    true.chi0_ = np.array([0.0, 8.0]) - np.array(mean_shift)
    return true


def _configs(true: QMTP, n: int, seed: int, repeats, strain: float = 0.03,
             rattle: float = 0.1, scale: float | None = None) -> list:
    """Rattled, strained rocksalt LiS cells, every third with a vacancy; labelled with
    energy, forces and stress only (true charges kept aside in ``info``)."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        a = bulk("LiS", "rocksalt", a=5.0, cubic=True).repeat(repeats[k % len(repeats)])
        if k % 3 == 2:
            del a[int(rng.integers(len(a)))]
        a.positions += rng.normal(scale=rattle, size=a.positions.shape)
        eps = rng.normal(scale=strain, size=(3, 3))
        f = np.eye(3) + 0.5 * (eps + eps.T)
        if scale is not None:
            f = f * (scale if k % 2 else 2.0 - scale)
        a.set_cell(a.cell.array @ f, scale_atoms=True)
        r = true.compute(a)
        a.calc = SinglePointCalculator(a, energy=r["energy"], forces=r["forces"],
                                       stress=r["stress"])
        a.info["true_charges"] = r["charges"]
        out.append(a)
    return out


@pytest.fixture(scope="module")
def fitted():
    true = _teacher()
    data = _configs(true, 10, seed=0, repeats=[(1, 1, 1), (1, 1, 2)])
    assert not any("charges" in a.arrays or "charges" in a.calc.results for a in data)
    kw = dict(level=LEVEL, r_cut=R_CUT, r_min=R_MIN, n_beta=N_BETA, epochs=10,
              val_fraction=0.0, seed=0, progress=False, threads=1)
    charged = train(data, charges=True, **kw)
    plain = train(data, charges=False, **kw)
    return true, charged.model, plain.model


def test_charges_recovered_on_held_out_cells(fitted):
    true, model, _ = fitted
    held_out = _configs(true, 6, seed=1, repeats=[(1, 1, 1), (1, 1, 2), (1, 2, 2)])
    q_true = np.concatenate([a.info["true_charges"] for a in held_out])
    q_pred = np.concatenate([model.compute(a)["charges"] for a in held_out])
    z = np.concatenate([a.numbers for a in held_out])
    q_rms = np.sqrt(np.mean(q_true**2))
    assert q_rms > 0.4
    # measured: charge RMSE 3.6 % of the RMS charge (0.48 e); the same training without the
    # trainer's initial charge-scale fit (scale_charges=False) stays near the Pauling-scale
    # start, 65 %
    assert np.sqrt(np.mean((q_pred - q_true) ** 2)) < 0.15 * q_rms
    for species, sign in ((LI, 1.0), (S, -1.0)):
        sel = z == species
        assert np.all(np.sign(q_pred[sel]) == sign)
        assert np.mean(q_pred[sel]) == pytest.approx(np.mean(q_true[sel]), rel=0.15)
    # the per-atom variation within a species follows the teacher's (measured r = 0.97)
    dev_true = np.concatenate([q_true[z == s] - q_true[z == s].mean() for s in (LI, S)])
    dev_pred = np.concatenate([q_pred[z == s] - q_pred[z == s].mean() for s in (LI, S)])
    assert np.corrcoef(dev_true, dev_pred)[0, 1] > 0.6
    out = evaluate(model, held_out)
    f_rms = np.sqrt(np.mean(np.concatenate([a.get_forces().ravel() for a in held_out]) ** 2))
    # measured: 0.00055 eV/atom, 0.012 eV/Å against an RMS force of 0.66 eV/Å
    assert out["energy_rmse_eV_per_atom"] < 3e-3
    assert out["force_rmse_eV_per_A"] < 0.05 * f_rms


def test_charged_student_extrapolates_better_than_uncharged(fitted):
    # beyond the training range (64-atom supercells; ±8 % linear strains) the long-range
    # Coulomb part is what a cut-off MTP without charges cannot carry over
    true, charged, plain = fitted
    sets = {
        "supercell": _configs(true, 3, seed=5, repeats=[(2, 2, 2)], strain=0.0),
        "strained": _configs(true, 4, seed=6, repeats=[(1, 1, 2)], strain=0.0, scale=1.08),
    }
    # measured force RMSE, charged / uncharged: supercells 0.0067 / 0.017 eV/Å, strained
    # 0.031 / 0.125 eV/Å (ratios 0.24-0.39 over three data seeds). Energies per atom are not
    # compared: the uncharged student is sometimes as good there (a per-atom offset).
    for name, structures in sets.items():
        q, p = evaluate(charged, structures), evaluate(plain, structures)
        assert q["force_rmse_eV_per_A"] < 0.6 * p["force_rmse_eV_per_A"], name


def test_charge_scale_fit_recovers_known_factor():
    # the teacher is the student's starting model with its electronegativity differences
    # (χ0 about the species mean, and w) scaled by 2.5: the linear-fit loss is then zero
    # at λ = 2.5 exactly, and the quartic profile must find it from the labels alone
    # (measured: λ − 2.5 = 4e-15, charges to 1e-15 e)
    start = QMTP((LI, S), level=LEVEL, r_cut=R_CUT, r_min=R_MIN, n_beta=N_BETA, charges=True)
    start.radial_coeffs_ = start.random_radial_coeffs(np.random.default_rng(0))
    start.w_chi_ = np.random.default_rng(5).normal(size=start.w_chi_.shape) * 0.01
    true = start.copy()
    c = start.chi0_.mean()
    true.chi0_ = c + 2.5 * (start.chi0_ - c)
    true.w_chi_ = 2.5 * start.w_chi_
    true.xi_ = np.random.default_rng(1).normal(size=true.n_basis) * 0.1
    true.e0_ = np.array([-1.9, -4.1])
    data = _configs(true, 6, seed=2, repeats=[(1, 1, 1), (1, 1, 2)])
    model = start.copy()
    lam = fit_charge_scale(model, data)
    assert lam == pytest.approx(2.5, rel=1e-9)
    assert np.allclose(model.chi0_, true.chi0_, atol=1e-9)
    assert np.allclose(model.e0_, true.e0_, atol=1e-7)
    q = np.concatenate([model.compute(a)["charges"] for a in data])
    q_true = np.concatenate([a.info["true_charges"] for a in data])
    assert np.max(np.abs(q - q_true)) < 1e-9
