"""CPU MD throughput of QMTP (numba; with and without charges; reference and fast MD paths)
against motep (the Python MTP reference, its compiled ``cext`` engine) at the same MTP level
and against CHGNet, side by side in one process.

motep is given the very same basis: the QMTP contraction program of the chosen level is written
as an mlip ``.mtp`` potential (``alpha_index_basic``/``alpha_index_times`` are the same
construction), with the same radial coefficients and weights; the script checks that both give
the same energy and forces before timing. Every engine runs NVE velocity-Verlet MD (ASE, 1 fs,
300 K) in rounds, interleaved, so that load changes of a shared machine hit all engines alike;
each round restarts the same trajectory from the crystal (the random potentials have no
short-range repulsion for long runs); per-step wall and CPU times are medians over rounds.

With ``--train`` it instead times QMTP's trainer against motep's (L-BFGS-B, ``cext``) on the
same CHGNet-labelled cells and reports the held-out accuracy of both.

Usage::

    python benchmarks/bench_qmtp_md.py --level 16 --threads 1 --sizes 10,20 --json out.json
    python benchmarks/bench_qmtp_md.py --train --level 10 --threads 1
"""

from __future__ import annotations

import argparse
import os
import sys


def _set_threads(n: int) -> None:
    for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def motep_data(model):
    """motep ``MTPData`` with the basis, radial coefficients and weights of a QMTP ``model``."""
    import numpy as np
    from motep.potentials.mtp.data import MTPData

    prog = model.program
    data = MTPData(
        version="1.1.0", potential_name=f"qmtp-level{model.level}", scaling=1.0,
        species_count=len(model.species),
        radial_basis={"type": "RBChebyshev", "min": model.r_min, "max": model.r_cut,
                      "size": model.n_beta},
        radial_funcs_count=prog.n_mu, radial_coeffs=model.radial_coeffs_.copy(),
        alpha_moments_count=prog.n_values, alpha_index_basic_count=prog.n_basic,
        alpha_index_basic=np.column_stack([prog.basic_mu, prog.basic_pows]).astype(np.int32),
        alpha_index_times_count=len(prog.ia),
        alpha_index_times=np.column_stack([prog.ia, prog.ib, np.rint(prog.coeff),
                                           prog.ic]).astype(np.int32),
        alpha_scalar_moments=prog.n_basis,
        alpha_moment_mapping=prog.basis_index.astype(np.int32),
        species_coeffs=model.e0_.copy(), moment_coeffs=model.xi_.copy(),
    )
    data.species = list(model.species)
    return data


def _parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--level", type=int, default=16, help="MTP level of QMTP and motep")
    p.add_argument("--threads", type=int, default=1, help="numba/BLAS/torch threads")
    p.add_argument("--sizes", default="10,20",
                   help="min_distance_A of the beta-Li3PS4 supercells (10: 128, 20: 768 atoms)")
    p.add_argument("--steps", type=int, default=10, help="MD steps per engine and round")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median taken)")
    p.add_argument("--chgnet-steps", type=int, default=3, help="CHGNet MD steps per round")
    p.add_argument("--no-chgnet", action="store_true", help="skip CHGNet")
    p.add_argument("--reference", action="store_true",
                   help="also time the dense reference path of charged QMTP")
    p.add_argument("--train", action="store_true",
                   help="instead of MD: training time and held-out accuracy of QMTP's trainer "
                        "and motep's (L-BFGS-B) on the same CHGNet-labelled 32-atom cells")
    p.add_argument("--n-train", type=int, default=20, help="training cells (--train)")
    p.add_argument("--n-test", type=int, default=4, help="held-out cells (--train)")
    p.add_argument("--motep-iter", type=int, default=100, help="motep L-BFGS-B iterations")
    p.add_argument("--qmtp-epochs", type=int, default=6,
                   help="QMTP L-BFGS epochs (each up to 20 evaluations)")
    p.add_argument("--json", help="write the results here")
    return p.parse_args()


def train_comparison(args: argparse.Namespace) -> dict:
    """Train QMTP (no charges) and motep at ``args.level`` on the same CHGNet-labelled rattled
    beta-Li3PS4 cells; wall time and held-out energy/force RMSE of each."""
    import time

    import numpy as np
    import torch
    from ase.calculators.singlepoint import SinglePointCalculator
    from chgnet.model import CHGNet
    from chgnet.model.dynamics import CHGNetCalculator
    from motep.calculator import MTP
    from motep.train.trainer import Trainer

    from superionic.materials.reading import prepare_cell
    from superionic.potentials.calculator import QMTPCalculator
    from superionic.potentials.qmtp import QMTP
    from superionic.potentials.training import train

    torch.set_num_threads(args.threads)
    teacher = CHGNetCalculator(CHGNet.load(verbose=False), use_device="cpu")
    base, _ = prepare_cell("beta-Li3PS4", min_distance_A=3)
    rng = np.random.default_rng(0)
    cells = []
    for s in range(args.n_train + args.n_test):
        b = base.copy()
        b.set_cell(b.cell.array @ (np.eye(3) + rng.uniform(-0.02, 0.02, (3, 3))),
                   scale_atoms=True)
        b.positions += rng.normal(scale=0.05 + 0.005 * s, size=b.positions.shape)
        b.calc = teacher
        labels = {"energy": b.get_potential_energy(), "forces": b.get_forces(),
                  "stress": b.get_stress()}
        b.calc = SinglePointCalculator(b, **labels)
        cells.append(b)
    cells = [cells[i] for i in rng.permutation(len(cells))]
    training, held_out = cells[:args.n_train], cells[args.n_train:]

    def rmse(make_calc) -> dict:
        de, df = [], []
        for a in held_out:
            b = a.copy()
            b.calc = make_calc()
            de.append((b.get_potential_energy() - a.get_potential_energy()) / len(a))
            df.append((b.get_forces() - a.get_forces()).ravel())
        return {"energy_rmse_eV_per_atom": float(np.sqrt(np.mean(np.square(de)))),
                "force_rmse_eV_per_A": float(np.sqrt(np.mean(np.concatenate(df) ** 2)))}

    init = QMTP.random(["Li", "P", "S"], level=args.level, seed=0, charges=False)
    data = motep_data(init)
    data.species_coeffs = None  # motep initialises the linear weights itself
    data.moment_coeffs = None
    images = []
    for a in training:
        b = a.copy()
        b.calc = SinglePointCalculator(b, **a.calc.results)
        images.append(b)
    t0 = time.perf_counter()
    Trainer(data, seed=0, engine="cext",
            steps=[{"method": "minimize", "kwargs": {
                "method": "L-BFGS-B", "options": {"maxiter": args.motep_iter}}}]).train(images)
    t_motep = time.perf_counter() - t0
    out = {"motep": {"train_s": t_motep, "lbfgs_iterations": args.motep_iter,
                     **rmse(lambda: MTP(data, engine="cext"))}}
    t0 = time.perf_counter()
    res = train(training, level=args.level, charges=False, epochs=args.qmtp_epochs,
                progress=False, threads=args.threads, seed=0)
    t_qmtp = time.perf_counter() - t0
    out["qmtp"] = {"train_s": t_qmtp, "lbfgs_epochs": args.qmtp_epochs,
                   **rmse(lambda: QMTPCalculator(res.model))}
    out.update(level=args.level, n_train=len(training), n_test=len(held_out),
               atoms_per_cell=len(base), teacher="CHGNet 0.3.0")
    print(f"training comparison, level {args.level}, {len(training)} training / "
          f"{len(held_out)} held-out cells of {len(base)} atoms (CHGNet labels)")
    for name in ("qmtp", "motep"):
        r = out[name]
        print(f"{name:6s} train {r['train_s']:8.1f} s   held-out energy RMSE "
              f"{1e3 * r['energy_rmse_eV_per_atom']:7.2f} meV/atom   force RMSE "
              f"{r['force_rmse_eV_per_A']:6.3f} eV/Å", flush=True)
    return out


def main() -> int:
    args = _parse()
    _set_threads(args.threads)
    if args.train:
        out = train_comparison(args)
        if args.json:
            import json

            with open(args.json, "w") as fh:
                json.dump({"argv": sys.argv, "training": out}, fh, indent=2)
        return 0
    import time
    from functools import partial

    import numpy as np
    from ase import units
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary
    from ase.md.verlet import VelocityVerlet

    from superionic.materials.reading import prepare_cell
    from superionic.potentials.calculator import QMTPCalculator
    from superionic.potentials.qmtp import QMTP

    try:
        import torch

        torch.set_num_threads(args.threads)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass

    def smooth_model(atoms, charges: bool) -> QMTP:
        """Random QMTP with weights scaled to the size of each basis function on ``atoms``."""
        m = QMTP.random(["Li", "P", "S"], level=args.level, seed=0, charges=charges)
        scale = 1.0 / (np.abs(m.basis(atoms)).mean(axis=0) + 1e-8)
        rng = np.random.default_rng(1)
        m.xi_ = 0.05 * rng.normal(size=m.n_basis) * scale / np.sqrt(m.n_basis)
        if charges:
            m.w_chi_ = 0.1 * rng.normal(size=m.w_chi_.shape) * scale / np.sqrt(m.n_basis)
        return m

    def motep_calculator(model):
        from motep.calculator import MTP

        return MTP(motep_data(model), engine="cext")

    def chgnet_calculator():
        from chgnet.model import CHGNet
        from chgnet.model.dynamics import CHGNetCalculator

        return CHGNetCalculator(CHGNet.load(verbose=False), use_device="cpu",
                                on_isolated_atoms="ignore")

    results = []
    for md_min in [float(x) for x in args.sizes.split(",")]:
        atoms0, _ = prepare_cell("beta-Li3PS4", min_distance_A=md_min)
        n = len(atoms0)
        m_plain = smooth_model(atoms0, charges=False)
        m_q = smooth_model(atoms0, charges=True)
        engines: dict[str, tuple] = {
            "qmtp_nocharge_fast": (partial(QMTPCalculator, m_plain, fast_md=True), args.steps),
            "qmtp_nocharge_ref": (partial(QMTPCalculator, m_plain), args.steps),
            "qmtp_charges_fast": (partial(QMTPCalculator, m_q, fast_md=True), args.steps),
            "motep_cext": (partial(motep_calculator, m_plain), args.steps),
        }
        if args.reference:
            engines["qmtp_charges_ref"] = (partial(QMTPCalculator, m_q), max(2, args.steps // 5))
        if not args.no_chgnet:
            engines["chgnet"] = (chgnet_calculator, args.chgnet_steps)
        # same potential energy surface in motep and QMTP (no charges)
        check = atoms0.copy()
        check.calc = motep_calculator(m_plain)
        e_m, f_m = check.get_potential_energy(), check.get_forces()
        ref = m_plain.compute(atoms0)
        agree = {"energy_diff_eV": float(e_m - ref["energy"]),
                 "force_max_diff_eV_per_A": float(np.abs(f_m - ref["forces"]).max())}
        print(f"\n{n} atoms ({atoms0.get_chemical_formula()}), level {args.level}, "
              f"{args.threads} thread(s); motep vs QMTP: {agree}", flush=True)
        start = atoms0.copy()
        MaxwellBoltzmannDistribution(start, temperature_K=300, rng=np.random.default_rng(0))
        Stationary(start)
        sims = {}
        for name, (make, _) in engines.items():
            a = start.copy()
            a.calc = make()
            dyn = VelocityVerlet(a, 1.0 * units.fs)
            dyn.run(2)  # compile / warm up
            sims[name] = (a, dyn)
        wall = {k: [] for k in engines}
        cpu = {k: [] for k in engines}
        for _ in range(args.rounds):
            for name, (a, dyn) in sims.items():
                steps = engines[name][1]
                # every round runs the same short trajectory from the crystal: the random
                # potentials used here have no short-range repulsion for long runs
                a.set_positions(start.positions)
                a.set_momenta(start.get_momenta())
                t0, c0 = time.perf_counter(), time.process_time()
                dyn.run(steps)
                wall[name].append((time.perf_counter() - t0) / steps)
                cpu[name].append((time.process_time() - c0) / steps)
        row = {"n_atoms": n, "level": args.level, "threads": args.threads, "motep_check": agree}
        med_w = {k: float(np.median(v)) for k, v in wall.items()}
        med_c = {k: float(np.median(v)) for k, v in cpu.items()}
        nan = float("nan")
        print(f"{'engine':20s} {'wall s/step':>11s} {'cpu s/step':>10s} {'atom-steps/s':>12s} "
              f"{'(cpu)':>9s} {'x motep':>8s} {'(cpu)':>6s} {'x CHGNet':>9s} {'(cpu)':>7s}")
        for name in engines:
            w, c = med_w[name], med_c[name]
            vs = {f"speedup_vs_{ref}{suffix}": (med[key] / med[name] if key in med else nan)
                  for ref, key in (("motep", "motep_cext"), ("chgnet", "chgnet"))
                  for suffix, med in (("", med_w), ("_cpu", med_c))}
            row[name] = {"wall_s_per_step": w, "cpu_s_per_step": c, "atom_steps_per_s": n / w,
                         "atom_steps_per_cpu_s": n / c, **vs,
                         "steps_timed": engines[name][1] * args.rounds}
            print(f"{name:20s} {w:11.4g} {c:10.4g} {n / w:12.4g} {n / c:9.4g} "
                  f"{vs['speedup_vs_motep']:8.3g} {vs['speedup_vs_motep_cpu']:6.3g} "
                  f"{vs['speedup_vs_chgnet']:9.4g} {vs['speedup_vs_chgnet_cpu']:7.4g}",
                  flush=True)
        results.append(row)
    if args.json:
        import json

        with open(args.json, "w") as fh:
            json.dump({"argv": sys.argv, "results": results}, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
