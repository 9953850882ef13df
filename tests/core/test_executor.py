"""The one executor: process pools and Dask give the same results; a cluster starts at the
first task, not before; labels computed through it equal labels computed in-process."""

import functools

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.lj import LennardJones

from superionic.core.executor import Executor
from superionic.potentials.teachers import ASETeacher, label

#: set in the parent process at test time: a forked worker inherits it, a spawned one
#: imports this module afresh and sees it empty
_MARK: list[int] = []

LJ = functools.partial(LennardJones, sigma=2.3, epsilon=0.1, rc=5.0, smooth=True)


def _square(x):
    return x * x


def _inherited(_):
    return len(_MARK)


def test_process_pool_and_dask_give_the_same_results():
    items = list(range(6))
    expected = [x * x for x in items]
    with Executor(workers=2) as ex:
        assert ex.map(_square, items) == expected
    with Executor(scheduler="local-dask", workers=1) as ex:
        assert not ex.started  # nothing to do yet: no cluster
        assert ex.map(_square, []) == [] and not ex.started
        assert ex.map(_square, items) == expected
        assert ex.started
        assert ex.map(_square, items[::-1]) == expected[::-1]  # the same cluster serves again
    assert not ex.started  # closed with the context


def test_fresh_processes_are_spawned_not_forked():
    _MARK.append(1)
    try:
        with Executor(workers=2) as ex:
            assert ex.map(_inherited, range(2)) == [1, 1]
            assert ex.map(_inherited, range(2), fresh_processes=True) == [0, 0]
    finally:
        _MARK.clear()


@pytest.mark.parametrize("make", [lambda: Executor(workers=2),
                                  lambda: Executor(scheduler="local-dask", workers=2)],
                         ids=["pool", "dask"])
def test_labels_through_an_executor_equal_direct_evaluation(make):
    rng = np.random.default_rng(3)
    structures = []
    for _ in range(5):
        a = bulk("Ar", "fcc", a=3.7, cubic=True)
        a.positions += rng.normal(scale=0.1, size=a.positions.shape)
        structures.append(a)
    calls = []

    with make() as ex:
        inner = ex.map

        def counting_map(fn, items, **kw):
            items = list(items)
            calls.append(len(items))
            return inner(fn, items, **kw)

        ex.map = counting_map
        out = label(structures, ASETeacher(LJ), n_workers=2, executor=ex)
    assert calls == [2]  # two chunks, one task each, through the given executor
    assert len(out) == len(structures)
    for a, s in zip(structures, out, strict=True):
        ref = a.copy()
        ref.calc = LJ()
        assert np.allclose(s.positions, a.positions)
        assert s.get_potential_energy() == pytest.approx(ref.get_potential_energy(), rel=1e-13)
        assert np.allclose(s.get_forces(), ref.get_forces(), rtol=0, atol=1e-12)
