"""Several conductivity runs (materials, ensemble members) as tasks of one executor.

Each run is one task: a spawned local process, or a Dask worker where a scheduler is given
(:class:`superionic.core.executor.Executor`). Runs going at once share the machine: each gets
``workers // n_at_once`` workers of its own (run inside it, locally) and, on this machine (a
local pool or ``local-dask``), ``cores // n_at_once`` threads, so that runs side by side do
not oversubscribe the cores (``benchmarks/bench_shared_cores.py``). Every run keeps its own
run directory and results store, so a killed batch resumes each run where it stopped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

from superionic.core.executor import Executor
from superionic.workflows.conductivity import (
    ConductivityConfig,
    ConductivityResult,
    run_conductivity,
)


@dataclass
class RunFailure:
    """A run of a batch that ended in an error (the others go on)."""

    material: str
    run_dir: str
    error: str

    def to_dict(self) -> dict[str, Any]:
        return {"material": self.material, "run_dir": self.run_dir, "error": self.error}


def concurrent_runs(n_runs: int, workers: int) -> int:
    """How many of ``n_runs`` runs go at once: one per worker, at most all of them."""
    return max(1, min(n_runs, workers))


def share(cfg: ConductivityConfig, n_at_once: int) -> dict[str, Any]:
    """Settings of one of ``n_at_once`` runs going at once (its workers, threads, no
    scheduler of its own: the batch's executor is the one that distributes)."""
    threads = cfg.threads
    if threads is None and cfg.scheduler in (None, "local-dask"):  # on this machine's cores
        threads = max(1, (os.cpu_count() or 1) // n_at_once)
    return {"scheduler": None, "workers": max(1, cfg.workers // n_at_once),
            "threads": threads}


def _run_or_failure(cfg: ConductivityConfig) -> ConductivityResult | RunFailure:
    try:
        return run_conductivity(cfg)
    except Exception as exc:  # noqa: BLE001 - one material's error must not end the batch
        return RunFailure(cfg.material, cfg.run_dir, f"{type(exc).__name__}: {exc}")


def run_many(cfgs: list[ConductivityConfig], scheduler: str | None, n_at_once: int,
             keep_going: bool = False) -> list[ConductivityResult | RunFailure]:
    """The results of ``cfgs``, in their order, ``n_at_once`` runs at a time through one
    executor (one after another in this process when ``n_at_once`` is 1 and there is no
    scheduler), each run that is a task with its :func:`share`. With ``keep_going`` a run
    that fails gives a :class:`RunFailure` in its place; otherwise its error ends the batch.
    """
    fn = _run_or_failure if keep_going else run_conductivity
    if n_at_once <= 1 and not scheduler:
        return [fn(c) for c in cfgs]
    # every run that is a task gets its share, and no scheduler of its own: a run inside a
    # Dask worker must not start (or connect to) a cluster again
    cfgs = [replace(c, **share(c, n_at_once)) for c in cfgs]
    with Executor(scheduler, workers=n_at_once) as ex:
        return ex.map(fn, cfgs, fresh_processes=True)
