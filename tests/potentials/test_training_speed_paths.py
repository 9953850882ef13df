"""Charged training on cached Coulomb matrices (Hellmann-Feynman forces) equals autograd
through the Ewald sums and the QEq solve: losses, gradients, trained parameters."""

import numpy as np
import pytest
import torch
from training_data import assert_same_training, labelled, loss_and_grad, start_model

from superionic.potentials import qmtp_torch
from superionic.potentials.qmtp_torch import QMTPTorch, make_batch
from superionic.potentials.training import (
    LinearFitCache,
    LossWeights,
    _loss,
    evaluate,
    fit_charge_scale,
    linear_fit,
    split,
    train,
)

pytestmark = pytest.mark.usefixtures("single_thread")


def test_loss_and_gradient_equal_autograd_path():
    data = labelled()
    m = start_model()
    b = make_batch(m, data)
    dense = QMTPTorch(m, electrostatics="dense")
    ref = QMTPTorch(m, electrostatics="autograd")
    out_d, out_r = dense(b), ref(b)
    for key in ("energy", "forces", "stress", "charges"):
        x, y = out_d[key].detach(), out_r[key].detach()
        assert float((x - y).abs().max()) < 1e-11 * float(y.abs().max())
    loss_d, g_d = loss_and_grad(dense, b)
    loss_r, g_r = loss_and_grad(ref, b)
    assert loss_d > 1e-3  # a model far from the labels: every term contributes
    assert loss_d == pytest.approx(loss_r, rel=1e-12)
    for x, y in zip(g_d, g_r, strict=True):
        assert float((x - y).abs().max()) <= 1e-12 * float(y.abs().max())


def test_loss_gradient_equals_finite_differences():
    # directional derivative of the loss (forces, stress, charges, energies) along a random
    # direction of all parameters, central differences
    data = labelled(seed=1)
    m = start_model()
    b = make_batch(m, data)
    tm = QMTPTorch(m, electrostatics="dense")
    params = [p for p in tm.parameters() if p.requires_grad]
    _, grads = loss_and_grad(tm, b)
    rng = np.random.default_rng(0)
    direction = [torch.as_tensor(rng.normal(size=p.shape)) * (p.detach().abs().mean() + 0.1)
                 for p in params]
    analytic = sum(float((g * d).sum()) for g, d in zip(grads, direction, strict=True))

    def loss_at(t):
        with torch.no_grad():
            saved = [p.clone() for p in params]
            for p, d in zip(params, direction, strict=True):
                p.add_(t * d)
        out = tm(b, stress=True)
        value = float(_loss(out, b, LossWeights(), True)[0].detach())
        with torch.no_grad():
            for p, s in zip(params, saved, strict=True):
                p.copy_(s)
        return value

    h = 1e-5
    fd = (loss_at(h) - loss_at(-h)) / (2 * h)
    assert abs(analytic) > 1e-3
    assert fd == pytest.approx(analytic, rel=1e-8)  # measured 4e-10


def test_training_equals_autograd_path(monkeypatch):
    data = labelled(seed=2)
    kw = dict(level=8, r_cut=4.0, charges=True, epochs=2, val_fraction=0.2, seed=0,
              progress=False, threads=1)
    fast = train(data, **kw)
    monkeypatch.setattr(qmtp_torch, "DENSE_COULOMB_MAX_ATOMS", 0)  # "auto" -> autograd
    slow = train(data, **kw)
    assert len(fast.history) == 2
    assert_same_training(fast, slow, ("xi_", "radial_coeffs_", "chi0_", "w_chi_", "hardness_",
                                      "e0_"), rel_loss=1e-10, rel_params=1e-9)
    # the reported errors (torch engine on the cached batches) equal the numba engine's
    i_tr, i_val = split(len(data), 0.2, 0)
    for idx, reported in ((i_tr, fast.train_rmse), (i_val, fast.validation_rmse)):
        ref = evaluate(fast.model, [data[i] for i in idx])
        for key in ("energy_rmse_eV_per_atom", "force_rmse_eV_per_A", "stress_rmse_GPa",
                    "charge_rmse_e"):
            assert ref[key] > 0
            assert reported[key] == pytest.approx(ref[key], rel=1e-9), key


def test_cached_linear_fits_equal_numba_path():
    # the cache evaluates the charge offsets with the torch engine on cached Coulomb matrices;
    # without it they come from the numba engine (QMTP.compute): an independent second path
    data = labelled(seed=3)
    plain, cached = start_model(), start_model()
    lam_plain = fit_charge_scale(plain, data)
    cache = LinearFitCache()
    lam_cached = fit_charge_scale(cached, data, cache=cache)
    assert lam_plain > 1.0
    assert lam_cached == pytest.approx(lam_plain, rel=1e-10)
    for name in ("xi_", "e0_", "chi0_", "w_chi_"):
        x, y = getattr(cached, name), getattr(plain, name)
        assert np.abs(x - y).max() <= 1e-9 * np.abs(y).max(), name
    # a second fit with the same cache reuses its features and batch
    batch = cache.batch
    linear_fit(cached, data, cache=cache)
    assert cache.batch is batch
    assert np.abs(cached.xi_ - plain.xi_).max() <= 1e-9 * np.abs(plain.xi_).max()
