"""One executor for independent tasks (teacher labels, MD temperatures, materials).

Locally a process pool; with a Dask scheduler address (``tcp://host:8786``), a dask-jobqueue
cluster (``slurm``, ``pbs``) or ``local-dask``, the same ``concurrent.futures`` interface is
obtained from ``distributed.Client.get_executor()``, so the calling code is identical. A
cluster is started at the first task that needs it and kept for every later one, so a run
whose work is all stored starts none, and a run that does work starts one, not one per stage.
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable, Iterable
from typing import Any

from superionic.core.errors import InputError


class Executor:
    """``map`` over independent tasks; ``workers=1`` without a scheduler runs in-process."""

    def __init__(self, scheduler: str | None = None, workers: int | None = None,
                 cluster_kwargs: dict[str, Any] | None = None) -> None:
        self.scheduler = scheduler
        self.workers = workers
        self.cluster_kwargs = dict(cluster_kwargs or {})
        self._client: Any = None
        self._cluster: Any = None
        if scheduler:
            try:
                import distributed  # noqa: F401 - checked now, used at the first task
            except ImportError as exc:  # pragma: no cover
                raise InputError("dask.distributed is not installed",
                                 field="scheduler") from exc
            if scheduler in ("slurm", "pbs"):
                try:
                    import dask_jobqueue  # noqa: F401
                except ImportError as exc:
                    raise InputError(
                        f"'{scheduler}' needs dask-jobqueue: pip install superionic[cluster]",
                        field="scheduler") from exc

    @property
    def started(self) -> bool:
        """Whether a Dask client (and cluster) has been started."""
        return self._client is not None

    def _connect(self) -> Any:
        if self._client is not None:
            return self._client
        from distributed import Client

        if self.scheduler in ("slurm", "pbs"):
            import dask_jobqueue

            cls = {"slurm": dask_jobqueue.SLURMCluster, "pbs": dask_jobqueue.PBSCluster}
            self._cluster = cls[self.scheduler](**self.cluster_kwargs)
            self._cluster.scale(self.workers or 4)
            self._client = Client(self._cluster)
        elif self.scheduler == "local-dask":
            from distributed import LocalCluster

            self._cluster = LocalCluster(n_workers=self.workers or 2, threads_per_worker=1,
                                         processes=True, dashboard_address=None)
            self._client = Client(self._cluster)
        else:
            self._client = Client(self.scheduler)
        return self._client

    def map(self, fn: Callable[..., Any], items: Iterable[Any], *,
            fresh_processes: bool = False) -> list[Any]:
        """Results of ``fn(item)`` in the order of ``items``.

        ``fresh_processes``: a local pool spawns its workers instead of forking them (for
        tasks that build torch models or other calculators, which a forked copy of a parent
        holding them may deadlock in); Dask workers are separate processes already.
        """
        items = list(items)
        if not items:
            return []
        if not self.scheduler and (self.workers == 1 or len(items) == 1):
            return [fn(x) for x in items]
        if self.scheduler:
            pool = self._connect().get_executor()
        else:
            import multiprocessing as mp

            ctx = mp.get_context("spawn") if fresh_processes else None
            pool = cf.ProcessPoolExecutor(max_workers=min(self.workers or len(items),
                                                          len(items)), mp_context=ctx)
        try:
            futures = [pool.submit(fn, x) for x in items]
            return [f.result() for f in futures]
        finally:
            if not self.scheduler:
                pool.shutdown()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
