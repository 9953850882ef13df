"""Thread limits of jobs that share cores: applied where the work runs, restored after."""

import numba
import pytest
import torch

from superionic.core.errors import InputError
from superionic.core.threads import thread_limit


def test_thread_limit_sets_and_restores_torch_and_numba():
    before = torch.get_num_threads(), numba.get_num_threads()
    with thread_limit(1):
        assert (torch.get_num_threads(), numba.get_num_threads()) == (1, 1)
        with thread_limit(None):  # None leaves the enclosing limit alone
            assert torch.get_num_threads() == 1
    assert (torch.get_num_threads(), numba.get_num_threads()) == before
    with pytest.raises(RuntimeError), thread_limit(1):
        raise RuntimeError("a failing stage")
    assert (torch.get_num_threads(), numba.get_num_threads()) == before
    with pytest.raises(InputError, match="positive number of threads"), thread_limit(0):
        pass


def test_conductivity_runs_and_their_md_workers_take_the_limit(monkeypatch):
    from superionic.workflows import conductivity as wf

    seen = []
    record = lambda *_: seen.append((torch.get_num_threads(), numba.get_num_threads()))  # noqa: E731
    monkeypatch.setattr(wf, "_run_one", record)
    monkeypatch.setattr(wf, "_md_segment", record)
    cfg = wf.ConductivityConfig(material="Li3N", threads=1)
    wf.run_conductivity(cfg)
    wf._production_segment({"cfg": cfg})
    assert seen == [(1, 1), (1, 1)]
    # where to run is not what was computed: stored stages are shared across thread counts
    assert "threads" in wf._NOT_IN_KEY
    with pytest.raises(InputError, match="threads"):
        wf.ConductivityConfig(material="Li3N", threads=0)


def test_a_local_pool_shares_the_cores_between_its_workers(monkeypatch):
    from superionic.workflows.conductivity import ConductivityConfig, run_threads

    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert run_threads(ConductivityConfig(material="Li3N")) is None
    assert run_threads(ConductivityConfig(material="Li3N", workers=3)) == 2
    assert run_threads(ConductivityConfig(material="Li3N", workers=16)) == 1
    assert run_threads(ConductivityConfig(material="Li3N", workers=3, threads=4)) == 4
    # Dask workers are set up by their cluster, not by this process
    assert run_threads(ConductivityConfig(material="Li3N", workers=3,
                                          scheduler="tcp://h:8786")) is None
