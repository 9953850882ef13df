"""Small labelled Li-P-S sets for the training tests: rattled cells of two sizes and an
isolated cluster, labelled by a random charged reference QMTP."""

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.singlepoint import SinglePointCalculator

from superionic.potentials.qmtp import QMTP
from superionic.potentials.training import LossWeights, _loss


def reference_model():
    m = QMTP.random(["Li", "P", "S"], level=8, seed=11, charges=True, r_cut=4.0)
    m.chi0_ = np.array([1.0, 4.0, 6.0])
    return m


def labelled(seed=0):
    """Rattled Li-P-S cells of two sizes (8 and 16 atoms) and an isolated cluster, labelled
    with energies, forces, stress and charges of a random charged QMTP."""
    rng = np.random.default_rng(seed)
    ref = reference_model()
    out = []
    for k in range(4):
        a = bulk("Li", "bcc", a=3.6, cubic=True).repeat((2, 2, 1 + k % 2))
        a.numbers[[1, 4]] = 16
        a.numbers[6] = 15
        a.positions += rng.normal(scale=0.12, size=a.positions.shape)
        a.set_cell(a.cell.array + rng.normal(scale=0.05, size=(3, 3)), scale_atoms=True)
        out.append(a)
    cluster = out[0].copy()
    cluster.pbc = False
    cluster.cell = None
    out.append(cluster)
    for a in out:
        r = ref.compute(a)
        kw = {"stress": r["stress"]} if a.pbc.all() else {}
        a.calc = SinglePointCalculator(a, energy=r["energy"], forces=r["forces"], **kw)
        a.set_array("charges", r["charges"])
    return out


def start_model():
    m = QMTP.random(["Li", "P", "S"], level=8, seed=4, charges=True, r_cut=4.0)
    m.chi0_ = np.array([1.5, 3.5, 5.0])
    return m


def loss_and_grad(tm, b):
    tm.zero_grad()
    out = tm(b, stress=True, create_graph=True)
    loss, _ = _loss(out, b, LossWeights(), True)
    loss.backward()
    grads = [p.grad.clone() for p in tm.parameters() if p.requires_grad]
    return float(loss.detach()), grads


def assert_same_training(fast, slow, names, rel_loss: float, rel_params: float) -> None:
    """Two training results (same data, seed, epochs) that took different code paths agree:
    losses per epoch to ``rel_loss``, the parameters ``names`` to ``rel_params``."""
    assert len(fast.history) == len(slow.history) > 0
    for hf, hs in zip(fast.history, slow.history, strict=True):
        for key in ("train_loss", "validation_loss"):
            assert hf[key] == pytest.approx(hs[key], rel=rel_loss), key
    for name in names:
        x, y = getattr(fast.model, name), getattr(slow.model, name)
        assert np.abs(x - y).max() <= rel_params * np.abs(y).max(), name
