"""Thread limits: small dense linear algebra on one BLAS thread, and whole jobs that share
cores (:func:`thread_limit`).

Spectra of ~100 points, extrapolation grades of one configuration per MD step: at these sizes
BLAS threads only add wake-up latency, and on a machine whose cores are shared (parallel
temperatures, other jobs) each call waits for a busy core (production MD measured 3x slower
with a second OpenBLAS thread while the other core was busy). Uses threadpoolctl.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def blas_limit(threads: int | None) -> contextlib.AbstractContextManager:
    """Context in which BLAS runs on at most ``threads`` threads (None: unchanged)."""
    if threads is None:
        return contextlib.nullcontext()
    _check_positive(threads, "blas_threads")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a dependency
        return contextlib.nullcontext()
    return threadpool_limits(limits=int(threads), user_api="blas")


def _check_positive(threads: int, field: str) -> None:
    if int(threads) < 1:
        from superionic.core.errors import InputError

        raise InputError(f"{threads} threads", field=field,
                         expected="a positive number of threads or None")


def one_blas_thread() -> contextlib.AbstractContextManager:
    """Context in which BLAS runs on one thread."""
    return blas_limit(1)


def single_blas_thread(func: F) -> F:
    """Decorator: run ``func`` inside :func:`one_blas_thread`."""
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with one_blas_thread():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@contextlib.contextmanager
def thread_limit(threads: int | None, blas: bool = True) -> Iterator[None]:
    """Context in which torch, numba and (with ``blas``) BLAS each use at most ``threads``
    threads (None: unchanged), restored on exit.

    For jobs that share cores: torch and numba start one thread per core in every process,
    so two jobs on one machine run twice as many busy threads as there are cores, and their
    OpenMP threads spin while waiting for each other (`benchmarks/bench_shared_cores.py`).
    """
    if threads is None:
        yield
        return
    _check_positive(threads, "threads")
    n = int(threads)
    with blas_limit(n) if blas else contextlib.nullcontext():
        import numba
        import torch

        before = torch.get_num_threads(), numba.get_num_threads()
        torch.set_num_threads(n)
        numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))
        try:
            yield
        finally:
            torch.set_num_threads(before[0])
            numba.set_num_threads(before[1])
