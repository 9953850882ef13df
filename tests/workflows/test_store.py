from superionic.workflows.store import RunStore, input_hash


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


def test_has_tells_a_stored_stage_without_computing_it(tmp_path):
    store = RunStore(tmp_path)
    assert not store.has("refine_0", {"seed": 1})
    store.cached("refine_0", {"seed": 1}, lambda: 7)
    assert store.has("refine_0", {"seed": 1}) and not store.has("refine_0", {"seed": 2})
    assert store.computed == ["refine_0"] and store.reused == []
