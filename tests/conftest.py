import pytest
import torch


@pytest.fixture
def single_thread():
    """Tiny tensors: one intra-op thread avoids OpenMP barrier waits on a loaded machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
