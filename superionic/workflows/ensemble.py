"""Conductivity from several independently trained potentials, their scatter included.

One run's interval covers the MD statistics of its own potential. Potentials distilled from
different teacher samples (other rattles, another teacher MD, another training seed, another
ordering of partial occupancies) scatter by more than that: two Li6PS5Cl runs differed 4×.
``--ensemble N`` runs the whole workflow N times, each member with its own seed and run
directory and an equal share of the budget, and combines sigma, Ea and the Haven ratio by a
random-effects model (:func:`superionic.transport.ensemble.combine_runs`).
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from time import time as _now
from typing import Any

from superionic.core.estimate import Estimate
from superionic.transport.ensemble import combine_runs
from superionic.workflows.batch import concurrent_runs, run_many
from superionic.workflows.conductivity import (
    ConductivityConfig,
    ConductivityResult,
    run_conductivity,
)

#: Seed offset between members: production MD seeds are seed + T in K, so members must differ
#: by more than any temperature.
SEED_STRIDE = 100_003


def member_config(cfg: ConductivityConfig, k: int, budget_s: float,
                  **changes: Any) -> ConductivityConfig:
    """Settings of member ``k``: its own seed and run directory, one potential."""
    return replace(cfg, ensemble=1, seed=cfg.seed + k * SEED_STRIDE, budget_s=budget_s,
                   run_dir=str(Path(cfg.run_dir) / f"member{k}"), **changes)


def member_configs(cfg: ConductivityConfig, n_at_once: int) -> list[ConductivityConfig]:
    """Members that run ``n_at_once`` at a time: every wave of them gets an equal share of the
    budget (:func:`.batch.run_many` gives each its share of the workers and cores)."""
    waves = math.ceil(cfg.ensemble / n_at_once)
    return [member_config(cfg, k, cfg.budget_s / waves)
            for k in range(cfg.ensemble)]


def _member_summary(k: int, cfg: ConductivityConfig, r: ConductivityResult) -> dict[str, Any]:
    return {"member": k, "seed": cfg.seed, "run_dir": cfg.run_dir, "report": r.report,
            "sigma_S_per_cm": r.sigma_S_per_cm.to_dict(), "Ea_eV": r.Ea_eV.to_dict(),
            "haven_ratio": r.haven_ratio.to_dict(), "temperatures_K": r.temperatures_K,
            "dimensionality": r.dimensionality,
            "dimensionality_at_target": r.dimensionality_at_target,
            "directional": r.directional,
            "refinements": len(r.refinements),
            "production_steps": {f"{row['T_K']:g}": row["steps"] for row in r.per_temperature},
            "ordering": r.structure.get("ordering", {}).get("method", "")}


def _combine_optional(values: list[Estimate], name: str, log_scale: bool) -> Estimate:
    """Combined estimate, or NaN with the reason when a member has none."""
    ok = [e for e in values if math.isfinite(e.value) and math.isfinite(e.stderr)
          and (e.value > 0 or not log_scale)]
    if len(ok) < 2:
        return Estimate(float("nan"), float("nan"),
                        method=f"not determined: {name} finite in {len(ok)} member(s)")
    return combine_runs(ok, log_scale=log_scale, name=name)


def _per_temperature(members: list[ConductivityResult]) -> list[dict[str, Any]]:
    """D* and sigma_NE combined over the members at the temperatures all of them reached."""
    common = sorted(set.intersection(*(set(m.temperatures_K) for m in members)))
    rows = []
    for T in common:
        picks = [next(r for r in m.per_temperature if r["T_K"] == T) for m in members]
        row: dict[str, Any] = {"T_K": T, "steps": [p["steps"] for p in picks]}
        for key in ("D_tracer_cm2_per_s", "sigma_NE_S_per_cm"):
            row[key] = _combine_optional([Estimate.from_dict(p[key]) for p in picks], key,
                                         log_scale=True).to_dict()
        rows.append(row)
    return rows


def _consensus(labels: list[str]) -> str:
    """The label most members give when it is a strict majority, else all of them named."""
    top = max(set(labels), key=labels.count)
    if 2 * labels.count(top) > len(labels):
        return top
    return " or ".join(sorted(set(labels))) + " (members differ)"


def combine_members(cfg: ConductivityConfig, cfgs: list[ConductivityConfig],
                    members: list[ConductivityResult]) -> ConductivityResult:
    """The ensemble's result: members' sigma (ln scale), Ea and Haven ratio (ln scale)
    combined; structure, training and experiment from the first member."""
    sigma = combine_runs([m.sigma_S_per_cm for m in members], log_scale=True,
                         name="sigma_S_per_cm")
    ea = combine_runs([m.Ea_eV for m in members], name="Ea_eV")
    haven = _combine_optional([m.haven_ratio for m in members], "haven_ratio", log_scale=True)
    dims = [m.dimensionality for m in members]
    dims_target = [m.dimensionality_at_target for m in members]
    first = members[0]
    notes = [f"member {k}: {n}" for k, m in enumerate(members) for n in m.notes]
    tau = sigma.extra["tau"]
    notes.append(f"between-potential scatter of ln sigma: tau = {tau:.2f} (a factor "
                 f"{math.exp(tau):.2g}); I² = {sigma.extra['I2']:.2f} of the scatter is not "
                 "explained by the members' own intervals")
    return ConductivityResult(
        material=cfg.material, target_T_K=cfg.target_T_K, sigma_S_per_cm=sigma, Ea_eV=ea,
        haven_ratio=haven, temperatures_K=sorted(set().union(*(m.temperatures_K
                                                                for m in members))),
        per_temperature=_per_temperature(members),
        arrhenius={"members": [m.arrhenius for m in members]},
        dimensionality=_consensus(dims),
        dimensionality_at_target=_consensus(dims_target),
        directional={"members": [m.directional for m in members]},
        structure=first.structure,
        training=first.training, active_learning=first.active_learning,
        teacher_check=first.teacher_check, experiment=first.experiment,
        stages=[(f"member{k}:{name}", t) for k, m in enumerate(members) for name, t in m.stages],
        notes=notes,
        refinements=[r | {"member": k} for k, m in enumerate(members) for r in m.refinements],
        audits=[r | {"member": k} for k, m in enumerate(members) for r in m.audits],
        stages_computed=[s for m in members for s in m.stages_computed],
        stages_reused=[s for m in members for s in m.stages_reused],
        members=[_member_summary(k, c, m)
                 for k, (c, m) in enumerate(zip(cfgs, members, strict=True))])


def run_ensemble(cfg: ConductivityConfig) -> ConductivityResult:
    """Run (or resume) ``cfg.ensemble`` independent conductivity runs and combine them.

    With one worker, members run one after another, each given the budget left divided by the
    members still to run (so time a member does not use goes to the next). With ``workers``
    > 1, they are tasks of one executor (the run's scheduler's, where it has one), one per
    worker at a time (:func:`.batch.run_many`), each with the budget of its wave and its
    share of the workers and cores. Each resumes from its own results store, so a killed
    ensemble redoes no finished work.
    """
    from superionic.workflows.conductivity_report import write_ensemble_report

    if cfg.ensemble < 2:
        return run_conductivity(cfg)
    t0 = _now()
    run_dir = Path(cfg.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    n_at_once = concurrent_runs(cfg.ensemble, cfg.workers)
    if n_at_once > 1:
        cfgs = member_configs(cfg, n_at_once)
        members = run_many(cfgs, cfg.scheduler, n_at_once)
    else:
        cfgs, members = [], []
        for k in range(cfg.ensemble):
            left = cfg.budget_s - (_now() - t0)
            mc = member_config(cfg, k, max(left / (cfg.ensemble - k), 1.0))
            cfgs.append(mc)
            members.append(run_conductivity(mc))
    result = combine_members(cfg, cfgs, members)
    result.report = str(write_ensemble_report(result, members, run_dir))
    (run_dir / "results.json").write_text(json.dumps(result.to_dict(), indent=2))
    return result
