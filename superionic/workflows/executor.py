"""One executor for independent runs (labelling, temperatures, materials).

Locally a process pool; with a Dask scheduler address (``tcp://host:8786``) or a
dask-jobqueue cluster (``slurm``, ``pbs``) the same ``concurrent.futures`` interface is
obtained from ``distributed.Client.get_executor()``, so the calling code is identical.
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable, Iterable
from typing import Any

from superionic.core.errors import InputError


class Executor:
    """``map`` over independent tasks; ``workers=1`` runs in-process (no pickling)."""

    def __init__(self, scheduler: str | None = None, workers: int | None = None,
                 cluster_kwargs: dict[str, Any] | None = None) -> None:
        self.scheduler = scheduler
        self.workers = workers
        self._client = None
        self._cluster = None
        if scheduler:
            try:
                from distributed import Client
            except ImportError as exc:  # pragma: no cover
                raise InputError("dask.distributed is not installed",
                                 field="scheduler") from exc
            if scheduler in ("slurm", "pbs"):
                try:
                    import dask_jobqueue
                except ImportError as exc:
                    raise InputError(
                        f"'{scheduler}' needs dask-jobqueue: pip install superionic[cluster]",
                        field="scheduler") from exc
                cls = {"slurm": dask_jobqueue.SLURMCluster, "pbs": dask_jobqueue.PBSCluster}
                self._cluster = cls[scheduler](**(cluster_kwargs or {}))
                self._cluster.scale(workers or 4)
                self._client = Client(self._cluster)
            elif scheduler == "local-dask":
                from distributed import LocalCluster

                self._cluster = LocalCluster(n_workers=workers or 2, threads_per_worker=1,
                                             processes=True, dashboard_address=None)
                self._client = Client(self._cluster)
            else:
                self._client = Client(scheduler)

    def _pool(self) -> cf.Executor:
        if self._client is not None:
            return self._client.get_executor()
        return cf.ProcessPoolExecutor(max_workers=self.workers)

    def map(self, fn: Callable[..., Any], items: Iterable[Any]) -> list[Any]:
        """Results of ``fn(item)`` in the order of ``items``."""
        items = list(items)
        if not items:
            return []
        if self._client is None and (self.workers == 1 or len(items) == 1):
            return [fn(x) for x in items]
        pool = self._pool()
        try:
            futures = [pool.submit(fn, x) for x in items]
            return [f.result() for f in futures]
        finally:
            if self._client is None:
                pool.shutdown()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
