import math

from superionic.workflows.executor import Executor
from superionic.workflows.store import RunStore, input_hash


def _square(x):
    return x * x


def test_store_reuses_finished_stage(tmp_path):
    calls = []
    store = RunStore(tmp_path)
    f = lambda: calls.append(1) or 42  # noqa: E731
    assert store.cached("train", {"level": 8, "seed": 0}, f) == 42
    store2 = RunStore(tmp_path)  # a restarted run
    assert store2.cached("train", {"level": 8, "seed": 0}, f) == 42
    assert len(calls) == 1 and store2.reused == ["train"]
    assert store2.cached("train", {"level": 10, "seed": 0}, f) == 42  # other inputs: recompute
    assert len(calls) == 2


def test_input_hash_is_stable_to_float_noise():
    assert input_hash({"T": 300.0000000000001}) == input_hash({"T": 300.0})
    assert input_hash({"T": 300.0}) != input_hash({"T": 301.0})


def test_process_pool_and_dask_give_the_same_results():
    items = list(range(6))
    expected = [x * x for x in items]
    with Executor(workers=2) as ex:
        assert ex.map(_square, items) == expected
    with Executor(scheduler="local-dask", workers=1) as ex:
        assert ex.map(_square, items) == expected
    assert math.isclose(sum(expected), 55)
