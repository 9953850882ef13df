"""The main job: structure in, room-temperature ionic conductivity out.

Stages (each stored in the run directory's results store, so a killed run resumes after its
last finished stage; production MD resumes from its own checkpoints):

1. structure: read (library name or file), order partial occupancies, build the supercell;
2. relax: teacher relaxation of positions and cell (FIRE on a Fréchet cell filter);
3. initial data: rattled and strained copies plus a short teacher MD at the highest
   temperature, labelled by the teacher;
4. train: QMTP fitted to the teacher data;
5. active learning: QMTP MD at every target temperature, configurations above the selection
   grade labelled and added, retrained until none is above it (or the iteration cap);
6. production: QMTP MD at every temperature, in segments, until D* reaches the target relative
   precision or the time budget ends (the report says which); a few frames of it are labelled
   by the teacher after passes 1, 2, 4, 8, ... (the audit, :mod:`superionic.potentials.
   fidelity`), and a student whose errors there exceed its training errors is refined with
   them and production restarts;
7. analysis: tracer/collective diffusion, Haven ratio, directional D, Arrhenius fit and
   extrapolation to the target temperature; the HTML report and JSON of every number.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from ase import Atoms

from superionic.core.estimate import Estimate, log_stderr
from superionic.core.executor import Executor
from superionic.core.units import KB_EV_PER_K
from superionic.transport.anisotropy import directional_arrhenius

#: Fractions of the wall-time budget given to the stages before production MD.
BUDGET_SHARES = {"relax": 0.04, "initial_data": 0.16, "train": 0.10, "active_learning": 0.15}


@dataclass
class ConductivityConfig:
    """Settings of a conductivity run (every field is recorded in the run directory)."""

    material: str
    run_dir: str = "runs/conductivity"
    budget_s: float = 1200.0
    temperatures_K: list[float] | None = None
    target_T_K: float = 300.0
    species: str = "Li"
    teacher: Any = "chgnet"  # see superionic.potentials.teachers.teacher_from_spec
    device: str = "cpu"
    seed: int = 0
    min_distance_A: float = 8.0
    level: int = 10
    r_cut_A: float = 5.0
    charges: bool = True
    timestep_fs: float = 2.0
    sample_every: int = 10
    target_rel_precision: float = 0.15
    target_sigma_factor: float | None = None
    relax_steps: int = 40
    n_rattled: int = 12
    n_strained: int = 4
    teacher_md_steps: int = 60
    train_epochs: int = 60
    al_iterations: int = 6
    max_refinements: int = 4
    #: Refinements after a failed teacher audit (counted apart from ``max_refinements``).
    max_audit_refinements: int = 2
    teacher_check_steps: int = 0
    #: Temperature of the teacher check: "highest", "lowest" or one of the MD temperatures (K).
    teacher_check_at: str | float = "highest"
    #: Frames per temperature the teacher labels at each audit of production MD (0: no audit).
    audit_frames: int = 4
    #: An audit fails where the student's errors exceed this factor of its training errors.
    audit_factor: float = 2.0
    al_md_steps: int = 300
    segment_steps: int = 2000
    max_production_steps: int = 200_000
    scheduler: str | None = None
    workers: int = 1
    dopant: str | None = None
    dopant_x: float = 0.0
    vacancies: int = 0
    ensemble: int = 1
    progress: bool = True
    #: Threads of torch, numba and BLAS in this run and in each of its local workers (None:
    #: one per core, or cores / workers with ``workers`` > 1). For runs that share a
    #: machine: cores / jobs each (see :func:`superionic.core.threads.thread_limit`).
    threads: int | None = None

    def __post_init__(self) -> None:
        from superionic.core.errors import InputError

        if self.target_sigma_factor is not None and not self.target_sigma_factor > 1.0:
            raise InputError(f"target_sigma_factor = {self.target_sigma_factor}",
                             field="target_sigma_factor",
                             expected="a factor above 1 (e.g. 2: the 95 % interval of sigma "
                                      "within [sigma/2, 2 sigma])")
        if self.ensemble < 1:
            raise InputError(f"ensemble = {self.ensemble}", field="ensemble",
                             expected="1 (one potential) or more independently trained "
                                      "potentials")
        if self.audit_frames < 0 or not self.audit_factor > 1.0 \
                or self.max_audit_refinements < 0:
            raise InputError(f"audit_frames = {self.audit_frames}, audit_factor = "
                             f"{self.audit_factor}", field="audit_frames/audit_factor",
                             expected="0 (no audit) or more frames, a factor above 1 and 0 "
                                      "or more audit refinements")
        if self.threads is not None and not int(self.threads) >= 1:
            raise InputError(f"threads = {self.threads}", field="threads",
                             expected="None (one per core) or a positive number of threads")
        if self.teacher_check_steps < 0:
            raise InputError(f"teacher_check_steps = {self.teacher_check_steps}",
                             field="teacher_check_steps", expected="0 (off) or more steps")
        at = self.teacher_check_at
        if not (isinstance(at, str) and at.strip().lower() in ("highest", "lowest")):
            T = _as_float(at, "teacher_check_at")  # a temperature: one of the MD ones if given
            if self.temperatures_K:
                teacher_check_temperature(self.temperatures_K, T)
        from superionic.potentials.teachers import teacher_from_spec

        teacher_from_spec(self.teacher, device=self.device)  # a wrong name fails here

    def library_options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {}
        if self.dopant:
            opts.update(dopant=self.dopant, x=self.dopant_x)
        if self.vacancies:
            opts["vacancies"] = self.vacancies
            opts["mobile"] = self.species
        return opts


@dataclass
class ConductivityResult:
    """Everything the run found; ``to_dict`` is the JSON contract."""

    material: str
    target_T_K: float
    sigma_S_per_cm: Estimate
    Ea_eV: Estimate
    haven_ratio: Estimate
    temperatures_K: list[float]
    per_temperature: list[dict[str, Any]]
    arrhenius: dict[str, Any]
    dimensionality: str
    structure: dict[str, Any]
    training: dict[str, Any]
    active_learning: list[dict[str, Any]]
    teacher_check: dict[str, Any] | None
    experiment: dict[str, Any]
    stages: list[tuple[str, float]]
    report: str = ""
    notes: list[str] = field(default_factory=list)
    refinements: list[dict[str, Any]] = field(default_factory=list)
    #: every audit of production MD by the teacher (:mod:`superionic.potentials.fidelity`)
    audits: list[dict[str, Any]] = field(default_factory=list)
    stages_computed: list[str] = field(default_factory=list)
    stages_reused: list[str] = field(default_factory=list)
    members: list[dict[str, Any]] = field(default_factory=list)
    dimensionality_at_target: str = ""
    directional: dict[str, Any] = field(default_factory=dict)
    arrhenius_fit: Any = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        from superionic.core.estimate import to_jsonable

        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "arrhenius_fit"}
        d["sigma_S_per_cm"] = self.sigma_S_per_cm.to_dict()
        d["Ea_eV"] = self.Ea_eV.to_dict()
        d["haven_ratio"] = self.haven_ratio.to_dict()
        return to_jsonable(d)


# --- temperatures ----------------------------------------------------------------------------
def default_temperatures(Ea_eV: float | None, n: int = 4, t_hop_ps: float = 20.0,
                         nu0_Hz: float = 1e13, T_max_K: float = 1000.0) -> list[float]:
    """Temperatures at which each mobile ion hops about once per ``t_hop_ps`` or faster.

    The lowest T solves nu0 exp(-Ea / k_B T) t_hop = 1 (transition-state rate), the highest
    is 350 K above it (capped at ``T_max_K``, below which sulfide and halide frameworks stay
    solid, or below a library phase's transition), evenly spaced in 1/T as an Arrhenius fit
    wants. QMTP MD reaches hundreds of ps,
    so a hop per 20 ps at the lowest T is enough, and the wider 1/T span sharpens Ea and the
    extrapolation to room temperature.
    """
    ea = 0.3 if Ea_eV is None else Ea_eV
    t_low = ea / (KB_EV_PER_K * math.log(nu0_Hz * t_hop_ps * 1e-12))
    t_low = min(max(t_low, 400.0), T_max_K - 300.0)
    t_high = min(t_low + 350.0, T_max_K)
    inv = np.linspace(1 / t_low, 1 / t_high, n)
    return [float(round(1 / x, 0)) for x in inv[::-1]]


def run_temperatures(cfg: ConductivityConfig, entry: Any = None) -> list[float]:
    """The production temperatures, ascending: the user's, or :func:`default_temperatures`
    from the library entry's Ea, kept below the phase's transition temperature if it has one."""
    if cfg.temperatures_K:
        return sorted(cfg.temperatures_K)
    t_max = min(1000.0, (entry.max_temperature_K if entry else None) or 1000.0)
    return sorted(default_temperatures(entry.Ea_eV if entry else None, T_max_K=t_max))


# --- stage functions (top-level, so they can run in worker processes) -------------------------
def _teacher(cfg: ConductivityConfig) -> Any:
    from superionic.potentials.teachers import teacher_from_spec

    return teacher_from_spec(cfg.teacher, device=cfg.device)


def _stage_structure(cfg: ConductivityConfig) -> dict[str, Any]:
    from superionic.materials.reading import prepare_cell

    atoms, report = prepare_cell(cfg.material, min_distance_A=cfg.min_distance_A,
                                 seed=cfg.seed, **cfg.library_options())
    return {"atoms": atoms, "ordering": report.to_dict()}


def _stage_relax(atoms: Atoms, cfg: ConductivityConfig, deadline: float) -> dict[str, Any]:
    from ase.filters import FrechetCellFilter
    from ase.optimize import FIRE

    a = atoms.copy()
    a.calc = _teacher(cfg).make_calculator()
    e0 = float(a.get_potential_energy())
    opt = FIRE(FrechetCellFilter(a), logfile=None)
    steps = 0
    for _ in opt.irun(fmax=0.05, steps=cfg.relax_steps):
        steps += 1
        if time.time() > deadline:
            break
    out = a.copy()
    out.calc = None
    return {"atoms": out, "energy_before_eV": e0, "energy_after_eV":
            float(a.get_potential_energy()), "steps": steps,
            "fmax_eV_per_A": float(np.abs(a.get_forces()).max())}


def _snapshot(atoms: Atoms) -> Atoms:
    from ase.calculators.singlepoint import SinglePointCalculator

    c = atoms.copy()
    res = atoms.calc.results
    c.calc = SinglePointCalculator(c, energy=float(res["energy"]),
                                   forces=np.array(res["forces"]),
                                   stress=np.array(res["stress"]) if "stress" in res else None)
    return c


def _stage_initial_data(atoms: Atoms, cfg: ConductivityConfig, T_high: float,
                        run_dir: Path, deadline: float, ex: Executor) -> dict[str, Any]:
    from superionic.dynamics.md import run_md
    from superionic.potentials.teachers import label

    rng = np.random.default_rng(cfg.seed)
    configs = []
    for k in range(cfg.n_rattled):
        a = atoms.copy()
        a.positions += rng.normal(0.0, 0.03 + 0.09 * k / max(1, cfg.n_rattled - 1),
                                  a.positions.shape)
        configs.append(a)
    for _ in range(cfg.n_strained):
        a = atoms.copy()
        strain = np.eye(3) + rng.normal(0.0, 0.025, (3, 3))
        strain = 0.5 * (strain + strain.T)
        a.set_cell(a.cell.array @ strain, scale_atoms=True)
        a.positions += rng.normal(0.0, 0.05, a.positions.shape)
        configs.append(a)
    data = label(configs, _teacher(cfg), n_workers=cfg.workers, executor=ex)
    teacher_frames: list[Atoms] = []

    def collect(a: Atoms, step: int) -> str | None:
        teacher_frames.append(_snapshot(a))
        return "time budget" if time.time() > deadline else None

    md = run_md(atoms, _teacher(cfg).make_calculator(), temperature_K=T_high,
                timestep_fs=cfg.timestep_fs, steps=cfg.teacher_md_steps,
                out=run_dir / "teacher_md.h5", sample_every=max(1, cfg.teacher_md_steps // 20),
                checkpoint_every=10**9, seed=cfg.seed, stop_if=collect,
                potential_name=f"teacher:{cfg.teacher}")
    return {"data": data + teacher_frames, "teacher_md": md.to_dict()}


def _stage_train(data: list[Atoms], cfg: ConductivityConfig, deadline: float) -> dict[str, Any]:
    from superionic.potentials.training import train

    res = train(data, level=cfg.level, r_cut=cfg.r_cut_A, charges=cfg.charges, seed=cfg.seed,
                epochs=cfg.train_epochs, progress=cfg.progress, threads=1,
                max_seconds=max(10.0, deadline - time.time()))
    return {"model": res.model, "training": res.to_dict()}


def _stage_active_learning(model: Any, data: list[Atoms], atoms: Atoms,
                           temperatures: list[float], cfg: ConductivityConfig,
                           deadline: float, ex: Executor) -> dict[str, Any]:
    from superionic.potentials.active_learning import active_learning
    from superionic.potentials.training import evaluate

    starts = []
    for T in temperatures:
        a = atoms.copy()
        a.info["temperature_K"] = T
        starts.append(a)

    def runner(a: Atoms, calc: Any, n_steps: int, seed: int):
        from ase import units
        from ase.md.langevin import Langevin
        from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

        T = float(a.info.get("temperature_K", temperatures[-1]))
        a = a.copy()
        a.calc = calc
        r = np.random.default_rng(seed)
        MaxwellBoltzmannDistribution(a, temperature_K=T, rng=r)
        dyn = Langevin(a, cfg.timestep_fs * units.fs, temperature_K=T,
                       friction=0.01 / units.fs, rng=r, fixcm=False)
        for _ in range(n_steps):  # the grade is looked at every step
            if time.time() > deadline:
                return
            dyn.run(1)
            yield a

    al = active_learning(model, _teacher(cfg), starts, runner, training_set=data,
                         max_iterations=cfg.al_iterations, md_steps=cfg.al_md_steps,
                         n_workers=cfg.workers, seed=cfg.seed, executor=ex,
                         train_kwargs={"level": cfg.level, "r_cut": cfg.r_cut_A,
                                       "charges": cfg.charges, "epochs": cfg.train_epochs,
                                       "threads": 1, "max_seconds": max(
                                           10.0, (deadline - time.time())
                                           / (2 * max(1, cfg.al_iterations)))})
    errors = evaluate(al.model, al.training_set, active_set=al.active_set)
    # MD segments cut short by the time budget find no candidates: not convergence
    converged = al.converged and time.time() < deadline
    return {"model": al.model, "active_set": al.active_set, "data": al.training_set,
            "history": al.history, "converged": converged, "errors": errors}


def _production_segment(job: dict[str, Any]) -> dict[str, Any]:
    """:func:`_md_segment` with the run's thread limit (also in a worker process)."""
    from superionic.core.threads import thread_limit

    with thread_limit(run_threads(job["cfg"])):
        return _md_segment(job)


def _md_segment(job: dict[str, Any]) -> dict[str, Any]:
    """Extend the QMTP MD at one temperature to ``job['steps']`` steps and analyse it.

    The MD resumes from its checkpoint, so successive calls grow one trajectory. It stops as
    soon as a configuration's extrapolation grade passes the break grade: the potential is then
    outside its training domain, and the configuration is returned so the caller can label it,
    retrain and start again.
    """
    from superionic.core.errors import InputError, SuperionicError
    from superionic.dynamics.md import run_md
    from superionic.potentials.active_learning import DEFAULT_BREAK_GRADE, is_physical
    from superionic.potentials.calculator import QMTPCalculator
    from superionic.transport.analysis import analyse_diffusion

    cfg: ConductivityConfig = job["cfg"]
    T, out = job["T"], Path(job["out"])
    calc = QMTPCalculator(job["model_path"], engine="numba" if cfg.device == "cpu" else "torch",
                          device=cfg.device, fast_md=cfg.device == "cpu")
    broken: list[Atoms] = []
    # positions only, copied at every step; an Atoms is built only if the run breaks
    last_good: list[np.ndarray] = []

    def frame(positions: np.ndarray) -> Atoms:
        c = job["atoms"].copy()
        c.positions = positions
        c.wrap()
        return c

    def watch(a: Atoms, step: int) -> str | None:
        g = calc.results.get("extrapolation_grade")
        if g is None or g <= DEFAULT_BREAK_GRADE:
            last_good[:] = [a.positions.copy()]
            return None
        # the last configuration inside the domain, and this one if it is still physical
        broken.extend(frame(p) for p in last_good)
        c = frame(a.positions)
        if g < 100 * DEFAULT_BREAK_GRADE and is_physical(c):
            broken.append(c)
        return f"extrapolation grade {g:.3g} > {DEFAULT_BREAK_GRADE:g} at step {step}"

    t0 = time.time()
    res = {"T": T, "trajectory": str(out), "broken": broken, "diffusion": None,
           "rel": math.inf, "error": ""}
    try:
        md = run_md(job["atoms"], calc, temperature_K=T, timestep_fs=cfg.timestep_fs,
                    steps=job["steps"], out=out, sample_every=cfg.sample_every,
                    checkpoint_every=max(cfg.sample_every, cfg.segment_steps // 4),
                    seed=cfg.seed + int(T), potential_name=job["model_path"], stop_if=watch,
                    check_every=1, checkpoint_on_stop=False)
    except InputError:
        raise  # a wrong file or setting (e.g. someone else's checkpoint), not the potential
    except (SuperionicError, FloatingPointError) as exc:
        # the MD broke down between two samples: the last configuration inside the domain is
        # the one to label
        broken.extend(frame(p) for p in last_good)
        return res | {"steps": job["steps"], "stop_reason": f"MD failed: {exc}",
                      "atom_steps_per_s": float("nan"), "segment_wall_s": time.time() - t0,
                      "broken": broken or [job["atoms"].copy()]}
    res |= {"steps": md.steps, "stop_reason": md.stopped_early or "",
            "atom_steps_per_s": md.atom_steps_per_s, "segment_wall_s": time.time() - t0}
    if md.stopped_early:
        return res
    try:
        d = analyse_diffusion(out, cfg.species, temperature_K=T)
        D = d.D_tracer_cm2_per_s
        res["diffusion"] = d
        res["rel"] = D.stderr / D.value if D.value > 0 else math.inf
    except Exception as exc:  # noqa: BLE001 - too short to analyse yet: keep running
        res["error"] = str(exc)
    return res


class RoundOutcome(NamedTuple):
    """What one production round with one model ended with."""

    prod: dict[float, dict]  # per-temperature results (the temperatures that have one)
    broken: list[Atoms]  # configurations where the potential left its domain (unlabelled)
    bad: list[float]  # temperatures where that happened
    audits: list[dict[str, Any]]  # every audit of this round
    unfaithful: list[float]  # temperatures whose last audit failed
    audited: list[Atoms]  # the last audit's teacher-labelled frames, all temperatures


def _audit_frames(traj: str | Path, n: int, after_step: int, T: float,
                  upto_step: int | None = None) -> list[Atoms]:
    """:func:`superionic.io.sample.sample_frames` of one temperature's MD, tagged with it."""
    from superionic.io.sample import sample_frames

    frames = sample_frames(traj, n, after_step=after_step, upto_step=upto_step)
    for a in frames:
        a.info.update(audit_T_K=float(T), audit_step=a.info["step"])
    return frames


def _audit(cfg: ConductivityConfig, key: dict[str, Any], round_: int, n_pass: int,
           results: dict[float, dict], after: dict[float, int], model: Any,
           reference: dict[str, float], store: Any,
           ex: Executor) -> tuple[dict[str, Any], list[Atoms]]:
    """Label frames of each temperature's MD since its last audit with the teacher (stored)
    and compare the student's errors on them with its training errors
    (:func:`superionic.potentials.fidelity.audit_verdict`)."""
    from superionic.potentials.fidelity import audit_verdict, student_errors
    from superionic.potentials.teachers import label
    from superionic.workflows.store import input_hash

    temps = sorted(T for T in results if results[T]["steps"] > after.get(T, 0))
    spans = {T: (after.get(T, 0), int(results[T]["steps"])) for T in temps}
    frames = [a for T in temps for a in _audit_frames(results[T]["trajectory"],
                                                      cfg.audit_frames, spans[T][0], T,
                                                      upto_step=spans[T][1])]
    k = input_hash(key | {"audit_round": round_, "spans": {str(T): v for T, v in spans.items()},
                          "audit_frames": cfg.audit_frames})
    labelled = store.cached("audit", k, lambda: label(frames, _teacher(cfg),
                                                      n_workers=cfg.workers, executor=ex))
    rows = []
    for T in temps:
        mine = [a for a in labelled if a.info.get("audit_T_K") == T]
        if not mine:
            continue
        v = audit_verdict(student_errors(model, mine), reference, cfg.audit_factor)
        rows.append({"T_K": T, "trajectory": str(results[T]["trajectory"]),
                     "steps": list(spans[T]), "n_frames": len(mine),
                     "frame_steps": [int(x.info["audit_step"]) for x in mine]} | v)
    return ({"round": round_, "pass": n_pass, "per_temperature": rows,
             "faithful": all(r["faithful"] for r in rows)}, labelled)


def _production_round(cfg: ConductivityConfig, key: dict[str, Any], temps: list[float],
                      atoms: Atoms, model: Any, reference: dict[str, float], model_path: Path,
                      round_: int, tag: str, run_dir: Path, deadline: float, store: Any,
                      ex: Executor, can_refine: bool = True) -> RoundOutcome:
    """Production MD at every temperature with one model, grown in passes of one segment each.

    Every pass extends each unfinished temperature by ``segment_steps`` (the temperatures run in
    parallel through the executor), so no temperature takes the whole budget. A temperature is
    finished when D* reaches ``target_rel_precision`` or the step cap; all stop when the time
    left cannot hold another pass. With ``target_sigma_factor`` the per-temperature precision
    is not a stopping rule (the extrapolation to the target temperature usually needs D* to a
    few per cent): all temperatures run until sigma there has the interval asked for. A pass is
    stored once done, so a killed run replays finished passes from the store and the MD resumes
    from its checkpoints.

    After passes 1, 2, 4, 8, ... and at the end, the teacher audits frames of the MD since the
    last audit (``cfg.audit_frames`` per temperature). The round stops when the potential
    leaves its domain (extrapolation grade) or, with ``can_refine``, when an audit fails; the
    outcome carries what the caller needs to refine the potential.
    """
    done: dict[float, dict] = {}
    last: dict[float, dict] = {}
    audits: list[dict[str, Any]] = []
    audited: dict[float, int] = {}
    n_pass = 0

    def audit(results: dict[float, dict]) -> tuple[list[float], list[Atoms]]:
        if cfg.audit_frames <= 0 or not results:
            return [], []
        a, frames = _audit(cfg, key, round_, n_pass, results, audited, model, reference,
                           store, ex)
        audits.append(a | {"model": str(model_path)})
        audited.update({T: int(r["steps"]) for T, r in results.items()})
        return [r["T_K"] for r in a["per_temperature"] if not r["faithful"]], frames

    while True:
        todo = [T for T in temps if T not in done]
        if not todo:
            break
        jobs = [{"cfg": cfg, "T": T, "atoms": atoms, "model_path": str(model_path),
                 "out": str(run_dir / "md" / f"T{int(T)}K_{tag}.h5"),
                 "steps": min((n_pass + 1) * cfg.segment_steps, cfg.max_production_steps)}
                for T in todo]
        stored = {j["T"]: store.get("production", _prod_key(key, j["T"], round_, j["steps"]))
                  for j in jobs}
        todo_jobs = [j for j in jobs if not stored[j["T"]][0]]
        # the budget decides only what is still to compute: a pass that is stored is replayed
        # whatever the time left, so a rerun with a smaller budget returns what is stored
        if last and todo_jobs:
            need = sum(last[j["T"]]["segment_wall_s"] for j in todo_jobs) \
                / min(cfg.workers, len(todo_jobs))
            if time.time() + need > deadline:
                for T in todo:
                    done[T] = last[T] | {"stop_reason": "time budget ended (relative stderr "
                                                        f"{last[T]['rel']:.2f})"}
                break
        results: dict[float, dict] = {}
        for T, (found, value) in stored.items():
            if found:
                store.reused.append("production")
                results[T] = value
        for j, res in zip(todo_jobs, ex.map(_production_segment, todo_jobs), strict=True):
            store.put("production", _prod_key(key, j["T"], round_, j["steps"]), res,
                      float(res.get("segment_wall_s", 0.0)))
            store.computed.append("production")
            results[j["T"]] = res
        n_pass += 1
        broken = [a for r in results.values() for a in r["broken"]]
        if any(r["stop_reason"] and r["diffusion"] is None for r in results.values()):
            # the potential left its domain: the temperatures still running stop here
            kept = {T: r | {"stop_reason": "stopped with the potential outside its domain "
                                           "at another temperature"}
                    for T, r in results.items() if r["diffusion"] is not None}
            bad = [T for T, r in results.items() if r["diffusion"] is None]
            return RoundOutcome(kept, broken, bad, audits, [], [])
        for T, r in results.items():
            last[T] = r
        if n_pass & (n_pass - 1) == 0:  # a power of two
            unfaithful, frames = audit(last)
            if unfaithful and can_refine:
                kept = {T: r | {"stop_reason": "stopped: the teacher audit failed"}
                        for T, r in last.items() if r["diffusion"] is not None}
                return RoundOutcome(kept, [], [], audits, unfaithful, frames)
        for T, r in results.items():
            if r["diffusion"] is not None and r["rel"] <= cfg.target_rel_precision \
                    and not cfg.target_sigma_factor:
                done[T] = r | {"stop_reason": f"target precision reached (relative stderr "
                                              f"{r['rel']:.2f})"}
            elif r["steps"] >= cfg.max_production_steps:
                if r["diffusion"] is None:
                    raise RuntimeError(f"MD at {T} K too short to analyse: {r['error']}")
                done[T] = r | {"stop_reason": f"step cap reached (relative stderr "
                                              f"{r['rel']:.2f})"}
        if cfg.target_sigma_factor and all(last.get(T, {}).get("diffusion") for T in temps):
            fit, _ = _sigma_arrhenius(temps, [last[T]["diffusion"] for T in temps])
            s = fit.predict(cfg.target_T_K)
            factor = max(s.ci95[1] / s.value, s.value / s.ci95[0]) if s.ci95[0] > 0 \
                else math.inf
            if factor <= cfg.target_sigma_factor:
                for T in temps:
                    if T not in done:
                        done[T] = last[T] | {"stop_reason": f"sigma({cfg.target_T_K:g} K) "
                                             f"interval within a factor {factor:.2f}"}
                break
    for T, r in done.items():
        if r["diffusion"] is None:
            raise RuntimeError(f"MD at {T} K too short to analyse: {r['error']}")
    unfaithful, frames = audit({T: r for T, r in last.items() if r["steps"] > audited.get(T, 0)})
    if unfaithful and can_refine:
        return RoundOutcome(done, [], [], audits, unfaithful, frames)
    return RoundOutcome(done, [], [], audits, unfaithful, [])


def _stage_teacher_diffusion(atoms: Atoms, T: float, cfg: ConductivityConfig,
                             run_dir: Path) -> dict[str, Any]:
    """The teacher's own MD at ``T`` (``teacher_check_steps`` steps, resumable) and its D*."""
    from superionic.dynamics.md import run_md
    from superionic.transport.analysis import analyse_diffusion

    out = run_dir / f"teacher_check_T{int(T)}K.h5"
    md = run_md(atoms, _teacher(cfg).make_calculator(), temperature_K=T,
                timestep_fs=cfg.timestep_fs, steps=cfg.teacher_check_steps, out=out,
                sample_every=cfg.sample_every, checkpoint_every=200, seed=cfg.seed + 1,
                potential_name=f"teacher:{cfg.teacher}", progress=cfg.progress)
    d = analyse_diffusion(out, cfg.species, temperature_K=T)
    return {"T_K": T, "steps": md.steps, "trajectory": str(out),
            "D_teacher_cm2_per_s": d.D_tracer_cm2_per_s}


def _as_float(value: Any, name: str) -> float:
    from superionic.core.errors import InputError

    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} = {value!r}", field=name,
                         expected="'highest', 'lowest' or a temperature in K") from None


def teacher_check_temperature(temperatures_K: list[float], at: str | float) -> float:
    """The MD temperature at which the teacher's own MD is compared with QMTP's.

    "highest" (the default: hops are frequent, so a short teacher run suffices) or "lowest"
    (the temperature that carries most of the extrapolation to 300 K, where a student can
    differ most from its teacher), or one of ``temperatures_K``.
    """
    from superionic.core.errors import InputError

    temps = sorted(temperatures_K)
    if isinstance(at, str) and at.strip().lower() in ("highest", "lowest"):
        return temps[-1] if at.strip().lower() == "highest" else temps[0]
    T = _as_float(at, "teacher_check_at")
    for t in temps:
        if abs(t - T) < 0.5:
            return t
    raise InputError(f"teacher check at {at!r}", field="teacher_check_at",
                     expected="'highest', 'lowest' or one of the MD temperatures "
                              f"{', '.join(f'{t:g}' for t in temps)} K")


#: A teacher run resolves the cage motion when it is this many times longer than the bounded
#: (rattling) time of the student's MSD at that temperature: shorter, the bounded term is not
#: yet saturated over the fit window and adds to the slope, so the teacher's D* and its
#: interval depend on the run.
CAGE_TIMES_PER_TEACHER_RUN = 5.0


def teacher_check(teacher: dict[str, Any], D_qmtp: Estimate, max_factor: float = 1.5,
                  timestep_fs: float | None = None) -> dict[str, Any]:
    """QMTP's D* at one MD temperature (:func:`teacher_check_temperature`) against the
    teacher's own MD there; with ``timestep_fs``, also whether the teacher's run is long
    enough to separate the cage motion its student shows there from hops."""
    r = D_qmtp.ratio(teacher["D_teacher_cm2_per_s"], method="D*(QMTP) / D*(teacher)")
    lo, hi = r.ci95
    out = {"T_K": teacher["T_K"], "teacher_steps": teacher["steps"],
           "D_teacher_cm2_per_s": teacher["D_teacher_cm2_per_s"].to_dict(),
           "D_qmtp_cm2_per_s": D_qmtp.to_dict(), "ratio_qmtp_over_teacher": r.to_dict(),
           "max_factor": max_factor,
           "within_factor": bool(1 / max_factor <= r.value <= max_factor),
           "interval_overlaps_factor": bool(lo <= max_factor and hi >= 1 / max_factor)}
    cage_fs = D_qmtp.extra.get("rattling_time_fs")
    if timestep_fs is not None and cage_fs is not None:
        run_ps = teacher["steps"] * timestep_fs / 1000.0
        out |= {"teacher_run_ps": run_ps, "student_cage_time_ps": cage_fs / 1000.0,
                "teacher_run_resolves_cage":
                    bool(run_ps >= CAGE_TIMES_PER_TEACHER_RUN * cage_fs / 1000.0)}
    return out


def teacher_check_note(check: dict[str, Any] | None) -> str | None:
    """What a teacher check that did not pass means for the result (None if it passed)."""
    if check is None or check["within_factor"]:
        return None
    r = Estimate.from_dict(check["ratio_qmtp_over_teacher"])
    lo, hi = r.ci95
    f = check["max_factor"]
    said = (f"teacher check at {check['T_K']:g} K: QMTP's D* is {r.value:.2f} "
            f"[{lo:.2f}, {hi:.2f}] times the teacher's")
    if check["interval_overlaps_factor"]:
        return (f"{said}, outside a factor {f:g} but not significantly: more "
                "--teacher-check-steps would decide it")
    if check.get("teacher_run_resolves_cage") is False:
        return (f"{said}, outside a factor {f:g} over all its 95 % interval, but the "
                f"teacher's run ({check['teacher_run_ps']:.3g} ps) is shorter than "
                f"{CAGE_TIMES_PER_TEACHER_RUN:g} times the cage time its student shows there "
                f"({check['student_cage_time_ps']:.3g} ps), so the teacher's D* and its "
                "interval depend on the run: more --teacher-check-steps would decide it")
    return (f"{said}, outside a factor {f:g} over all its 95 % interval: the potential's "
            "hopping is not its teacher's there, so sigma and Ea are the potential's, not "
            "the teacher's (training errors and audits need not show a barrier error)")


def _refine(model: Any, data: list[Atoms], broken: list[Atoms], cfg: ConductivityConfig,
            deadline: float, ex: Executor, labelled: list[Atoms] | None = None
            ) -> dict[str, Any]:
    """Label the configurations where production MD left the training domain (and rattled
    copies of them), add them and the audit's already labelled frames (``labelled``), retrain
    from the current model and refit the active set; returns the new model's training errors
    too."""
    from superionic.potentials.active_learning import ActiveSet
    from superionic.potentials.teachers import label
    from superionic.potentials.training import evaluate, train

    rng = np.random.default_rng(cfg.seed + len(data))
    new = []
    labelled = list(labelled or [])
    if not broken and not labelled:
        raise RuntimeError("production MD left the training domain before its first sample; "
                           "the potential needs more training data (larger --budget)")
    for a in broken:
        new.append(a)
        for _ in range(3):
            b = a.copy()
            b.positions += rng.normal(0.0, 0.04, b.positions.shape)
            new.append(b)
    data = list(data) + (label(new, _teacher(cfg), n_workers=cfg.workers, executor=ex)
                         if new else []) \
        + labelled
    # a refinement continues from the current model: a quarter of the time left is enough,
    # and the rest stays for the production MD it is made for
    res = train(data, model=model, epochs=cfg.train_epochs, seed=cfg.seed, threads=1,
                progress=False, max_seconds=max(10.0, (deadline - time.time()) / 4))
    return {"model": res.model, "active_set": ActiveSet(res.model).fit(data), "data": data,
            "n_new": len(new) + len(labelled), "errors": evaluate(res.model, data),
            "training_stopped_by": res.stopped_by}


#: Settings that do not change any stored result (where to run, how long, when to stop): a run
#: given a larger budget or a tighter target continues from what is stored.
_NOT_IN_KEY = ("run_dir", "budget_s", "progress", "scheduler", "workers", "target_rel_precision",
               "target_sigma_factor", "max_production_steps", "teacher_check_steps",
               "teacher_check_at", "ensemble", "audit_frames", "audit_factor",
               "max_audit_refinements", "threads")


# --- the workflow ------------------------------------------------------------------------------
def run_conductivity(cfg: ConductivityConfig) -> ConductivityResult:
    """Run (or resume) the conductivity workflow described by ``cfg`` (with
    ``cfg.ensemble`` > 1, that many independent runs combined: :mod:`.ensemble`), with
    ``cfg.threads`` threads."""
    from superionic.core.threads import thread_limit

    with thread_limit(run_threads(cfg)):
        if cfg.ensemble > 1:
            from superionic.workflows.ensemble import run_ensemble

            return run_ensemble(cfg)
        return _run_one(cfg)


def run_threads(cfg: ConductivityConfig) -> int | None:
    """Threads per process of a run: ``cfg.threads``, else cores / workers for a local pool
    of several workers (forked workers inherit the limit), else None (the libraries' own)."""
    if cfg.threads is not None:
        return int(cfg.threads)
    if cfg.workers > 1 and not cfg.scheduler:
        return max(1, (os.cpu_count() or 1) // cfg.workers)
    return None


def _run_one(cfg: ConductivityConfig) -> ConductivityResult:
    # one executor for the whole run: a cluster is started once, at the first task, and
    # serves labels and MD alike
    with Executor(cfg.scheduler, workers=cfg.workers) as ex:
        return _run_stages(cfg, ex)


def _run_stages(cfg: ConductivityConfig, ex: Executor) -> ConductivityResult:
    from superionic.materials.library import get_material
    from superionic.potentials.teachers import teacher_key
    from superionic.potentials.training import evaluate
    from superionic.workflows.store import RunStore, input_hash

    t0 = time.time()
    run_dir = Path(cfg.run_dir)
    store = RunStore(run_dir)
    (run_dir / "config.json").write_text(__import__("json").dumps(asdict(cfg), indent=2,
                                                                  default=str))
    try:
        entry = get_material(cfg.material)
    except Exception:  # noqa: BLE001 - a structure file, not a library name
        entry = None
    temps = run_temperatures(cfg, entry)
    key = {k: v for k, v in asdict(cfg).items()
           if k not in _NOT_IN_KEY} | {"teacher": teacher_key(cfg.teacher)}

    def deadline(share_upto: str) -> float:
        acc = 0.0
        for k, v in BUDGET_SHARES.items():
            acc += v
            if k == share_upto:
                break
        return t0 + acc * cfg.budget_s

    st = store.cached("structure", key, lambda: _stage_structure(cfg))
    rel = store.cached("relax", key, lambda: _stage_relax(st["atoms"], cfg, deadline("relax")))
    atoms = rel["atoms"]
    init = store.cached("initial_data", key | {"T": temps},
                        lambda: _stage_initial_data(atoms, cfg, temps[-1], run_dir,
                                                    deadline("initial_data"), ex))
    tr = store.cached("train", key, lambda: _stage_train(init["data"], cfg, deadline("train")))
    al = store.cached("active_learning", key | {"T": temps},
                      lambda: _stage_active_learning(tr["model"], init["data"], atoms, temps,
                                                     cfg, deadline("active_learning"), ex))
    model, active, data = al["model"], al["active_set"], al["data"]
    reference = al["errors"]
    prod_deadline = t0 + 0.93 * cfg.budget_s
    (run_dir / "md").mkdir(exist_ok=True)
    prod: dict[float, dict[str, Any]] = {}
    refinements: list[dict[str, Any]] = []
    audits: list[dict[str, Any]] = []
    # refinements made after a failed audit enter the keys of every later stage (runs without
    # audits keep the keys they had)
    lineage: list[str] = []
    n_grade = n_audit = 0  # refinements of each kind, each with its own cap
    trainings = [("initial fit", tr["training"].get("stopped_by"))] + [
        (f"active learning iteration {h['iteration']}", h.get("training_stopped_by"))
        for h in al["history"]]
    for round_ in range(cfg.max_refinements + cfg.max_audit_refinements + 1):
        audited = any(x != "grade" for x in lineage)
        rkey = key | ({"lineage": lineage} if audited else {})
        # files of a round after an audit carry their history, so that runs with other audit
        # settings in the same directory never meet each other's models or checkpoints
        tag = f"r{round_}" + (f"_{input_hash(lineage)[:8]}" if audited else "")
        model_path = run_dir / f"model_{tag}.qmtp"
        model.save(model_path, active_set=active)
        out = _production_round(cfg, rkey, temps, atoms, model, reference, model_path, round_,
                                tag, run_dir, prod_deadline, store, ex,
                                can_refine=n_audit < cfg.max_audit_refinements)
        prod = out.prod
        audits += out.audits
        if out.bad:
            kind = "grade"
            refinements += [{"round": round_, "T_K": T, "reason": "extrapolation grade above "
                             "the break grade"} for T in out.bad]
            if n_grade >= cfg.max_refinements:
                break
            n_grade += 1
        elif out.audited:
            kind = f"audit:{cfg.audit_frames}:{cfg.audit_factor:g}"
            failed = {r["T_K"]: r["reason"] for r in out.audits[-1]["per_temperature"]}
            refinements += [{"round": round_, "T_K": T, "reason": "teacher audit: "
                             + failed[T]} for T in out.unfaithful]
            n_audit += 1
        else:
            break
        ref_inputs = rkey | {"T": temps} | ({"audit": kind} if kind != "grade" else {})
        if time.time() > prod_deadline and not store.has(f"refine_{round_}", ref_inputs):
            break
        ref = store.cached(f"refine_{round_}", ref_inputs,
                           lambda b=out.broken, m=model, d=data, f=out.audited: _refine(
                               m, d, b, cfg, prod_deadline, ex, labelled=f))
        lineage.append(kind)
        trainings.append((f"refinement after round {round_}", ref.get("training_stopped_by")))
        model, active, data = ref["model"], ref["active_set"], ref["data"]
        reference = ref.get("errors") or evaluate(model, data)
    missing = [T for T in temps if T not in prod]
    if len(temps) - len(missing) < 2:
        from superionic.core.errors import ConvergenceError

        raise ConvergenceError(
            f"production MD left the potential's training domain at {missing} K even after "
            f"{len(refinements)} refinements; give a larger --budget (more training data) or "
            "lower --temperatures")
    temps = [T for T in temps if T in prod]
    check = None
    if cfg.teacher_check_steps > 0:
        T_chk = teacher_check_temperature(temps, cfg.teacher_check_at)
        teach = store.cached("teacher_check", key | {"T_check": T_chk,
                                                      "steps": cfg.teacher_check_steps},
                             lambda: _stage_teacher_diffusion(atoms, T_chk, cfg, run_dir))
        check = teacher_check(teach, prod[T_chk]["diffusion"].D_tracer_cm2_per_s,
                              timestep_fs=cfg.timestep_fs)
    result = _summarise(cfg, temps, st, rel, init, tr, al, prod, entry, store)
    result.teacher_check = check
    result.refinements = refinements
    result.training["stopped_by_time_limit"], note = time_limited_trainings(trainings)
    if note:
        result.notes.append(note)
    result.audits = audits
    last_audit = _last_audit_per_temperature(audits)
    unfaithful = {T: r for T, r in last_audit.items() if not r["faithful"] and T in prod}
    for T, r in sorted(unfaithful.items()):
        result.notes.append(
            f"teacher audit failed at {T:g} K with the final potential ({r['reason']}): its MD "
            "there explores configurations it gets wrong, so D* there may not be the "
            "teacher's; a larger --budget leaves time to refine it")
    if (note := teacher_check_note(check)) is not None:
        result.notes.append(note)
    result.stages_computed = list(store.computed)
    result.stages_reused = list(store.reused)
    if missing:
        result.notes.append(f"no result at {missing} K: the potential left its training "
                            "domain there in every refinement round")
    from superionic.workflows.conductivity_report import write_conductivity_report

    result.report = str(write_conductivity_report(result, prod, run_dir))
    (run_dir / "results.json").write_text(__import__("json").dumps(result.to_dict(), indent=2))
    return result


def time_limited_trainings(trainings: list[tuple[str, str | None]]) -> tuple[list[str],
                                                                          str | None]:
    """The trainings of a run, as (name, what ended it), that ended on their time limit, and
    the note that says what that means for reproducing the run (None when none did)."""
    names = [name for name, by in trainings if by == "time limit"]
    if not names:
        return [], None
    return names, (
        f"training ended on its time limit in: {', '.join(names)}. Those potentials depend "
        "on how fast this machine ran them: this run directory resumes and replays them "
        "exactly, but a fresh run with the same seed elsewhere (or on a busier machine) "
        "trains others; a larger --budget lets training end on its own")


def _last_audit_per_temperature(audits: list[dict[str, Any]]) -> dict[float, dict[str, Any]]:
    """Each temperature's latest audit row (of the last round that audited it)."""
    out: dict[float, dict[str, Any]] = {}
    last_round = max((a["round"] for a in audits), default=None)
    for a in audits:
        if a["round"] == last_round:
            out.update({r["T_K"]: r for r in a["per_temperature"]})
    return out


def _prod_key(key: dict[str, Any], T: float, round_: int, steps: int) -> str:
    from superionic.workflows.store import input_hash

    return input_hash(key | {"production_T": T, "round": round_, "steps": steps})


def _sigma_arrhenius(temps: list[float], diffusions: list[Any]) -> tuple[Any, list[str]]:
    """Weighted Arrhenius fit of sigma_NE·T (Nernst–Einstein conductivity from D*) over the
    temperatures, with log-scale errors from each interval; returns the fit and its warnings
    (the curvature warning is kept on the fit itself)."""
    import warnings

    from superionic.transport.arrhenius import fit_arrhenius

    sig = [r.sigma_NE_S_per_cm.value for r in diffusions]
    sig_log_err = [log_stderr(r.sigma_NE_S_per_cm) for r in diffusions]
    if not all(math.isfinite(e) for e in sig_log_err):
        from superionic.dynamics.md import SimulationError

        bad = [T for T, e in zip(temps, sig_log_err, strict=True) if not math.isfinite(e)]
        raise SimulationError(f"no finite uncertainty of sigma at {bad} K: the MD there is too "
                              "short to fit; give a larger budget")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = fit_arrhenius(temps, sig, multiply_by_T=True, log_stderr=sig_log_err,
                            quantity="sigma")
    return fit, [str(w.message) for w in caught if str(w.message) != fit.curvature_warning]


_DIM_NAMES = {1: "1D", 2: "2D", 3: "3D"}


def _dimensionality_over_temperatures(dims: list[int]) -> str:
    """The dimensionality most temperatures show; when several tie, all of them named."""
    top = max(dims.count(d) for d in dims)
    modes = sorted({d for d in dims if dims.count(d) == top})
    names = [_DIM_NAMES.get(d, str(d)) for d in modes]
    return names[0] if len(names) == 1 else " or ".join(names) + " (temperatures differ)"


def _summarise(cfg: ConductivityConfig, temps: list[float], st: dict, rel: dict, init: dict,
               tr: dict, al: dict, prod: dict[float, dict], entry: Any,
               store: Any) -> ConductivityResult:

    rows, notes = [], []
    hav, hav_log_err = [], []
    dims = []
    for T in temps:
        r = prod[T]["diffusion"]
        h = r.haven_ratio
        if h.value > 0 and math.isfinite(log_stderr(h)):
            hav.append(math.log(h.value))
            hav_log_err.append(log_stderr(h))
        dims.append(r.dimensionality)
        rows.append({"T_K": T, "steps": prod[T]["steps"], "stop_reason": prod[T]["stop_reason"],
                     "atom_steps_per_s": prod[T]["atom_steps_per_s"],
                     "D_tracer_cm2_per_s": r.D_tracer_cm2_per_s.to_dict(),
                     "D_sigma_cm2_per_s": r.D_sigma_cm2_per_s.to_dict(),
                     "D_tracer_xyz_cm2_per_s": [d.to_dict() for d in r.D_tracer_xyz_cm2_per_s],
                     "haven_ratio": r.haven_ratio.to_dict(),
                     "sigma_NE_S_per_cm": r.sigma_NE_S_per_cm.to_dict(),
                     "sigma_collective_S_per_cm": r.sigma_S_per_cm.to_dict(),
                     "fit_window_fs": list(r.fit_window_fs),
                     "dimensionality": r.dimensionality})
    fit, caught = _sigma_arrhenius(temps, [prod[T]["diffusion"] for T in temps])
    notes += caught
    sigma_T = fit.predict(cfg.target_T_K)
    if fit.curvature_warning:
        notes.append(fit.curvature_warning)
    if hav:
        w = 1 / np.square(hav_log_err)
        m = float(np.sum(w * np.array(hav)) / np.sum(w))
        haven = Estimate.from_log(m, float(1 / math.sqrt(np.sum(w))), unit="",
                                  method="inverse-variance mean of ln H_R over temperatures")
    else:
        haven = Estimate(float("nan"), float("nan"), method="not determined")
        notes.append("Haven ratio not determined: collective diffusion too noisy")
    directional = directional_arrhenius(
        temps, [prod[T]["diffusion"].D_tracer_xyz_cm2_per_s for T in temps], cfg.target_T_K)
    notes += directional["notes"]
    experiment = {}
    if entry is not None:
        experiment = {"sigma_RT_S_per_cm": entry.sigma_RT_S_per_cm,
                      "sigma_source": entry.sigma_source, "Ea_eV": entry.Ea_eV,
                      "Ea_source": entry.Ea_source}
    return ConductivityResult(
        material=cfg.material, target_T_K=cfg.target_T_K,
        sigma_S_per_cm=sigma_T, Ea_eV=fit.Ea_eV, haven_ratio=haven, temperatures_K=temps,
        per_temperature=rows, arrhenius=fit.to_dict(),
        dimensionality=_dimensionality_over_temperatures(dims),
        structure={"n_atoms": len(rel["atoms"]), "formula": rel["atoms"].get_chemical_formula(),
                   "ordering": st["ordering"],
                   "relax": {k: v for k, v in rel.items() if k != "atoms"}},
        training=tr["training"] | {"after_active_learning": al["errors"],
                                   "teacher": _teacher(cfg).name},
        active_learning=al["history"], teacher_check=None, experiment=experiment,
        stages=store.stages(), notes=notes, arrhenius_fit=fit,
        dimensionality_at_target=_DIM_NAMES.get(directional["dimensionality"],
                                                str(directional["dimensionality"])),
        directional=directional,
    )
