"""Run small dense linear algebra on one BLAS thread (spectra are ~100 points: threads only
add contention on a shared machine). Uses threadpoolctl when it is installed."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def single_blas_thread(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover - optional
            ctx: Any = contextlib.nullcontext()
        else:
            ctx = threadpool_limits(limits=1, user_api="blas")
        with ctx:
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
