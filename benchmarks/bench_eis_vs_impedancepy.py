"""Circuit-fit success rate and speed: superionic (automatic DRT starts) vs impedance.py.

Synthetic solid-electrolyte spectra: R0 + 1-3 (R||CPE) arcs + an electrode CPE spike, random
R, tau and alpha in realistic ranges, 0.5 % proportional Gaussian noise, 1e7-0.1 Hz at 10
points per decade. Both codes fit the true circuit. A fit succeeds when it reaches the true
minimum: chi² within 1 % of the fit started from the true parameters, or every parameter
within 5 % of the truth. chi² is evaluated the same way (modulus weighting) for both.

impedance.py (``pip install impedance``, an optional benchmark dependency) is started from
(a) fixed typical guesses as in its documentation examples and (b) guesses scaled to the
data (R from the span of Z', time constants spread over the frequency window); (c) started
from the true parameters, a control of its optimiser's own convergence.

Run:  .venv/bin/python benchmarks/bench_eis_vs_impedancepy.py [--n 60] [--seed 42]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small problems: no BLAS threading
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import math
import time
import warnings

import numpy as np

from superionic.experiment.eis.circuits import Circuit
from superionic.experiment.eis.fit import fit, weighted_residuals, weights
from superionic.experiment.eis.spectrum import Spectrum


def make_case(rng: np.random.Generator, f: np.ndarray) -> tuple[str, dict[str, float], Spectrum]:
    n = int(rng.integers(1, 4))
    parts = ["R0"] + [f"p(R{i},CPE{i})" for i in range(1, n + 1)] + [f"CPE{n + 1}"]
    text = "-".join(parts)
    vals = {"R0": 10 ** rng.uniform(0, 2)}
    tau = 10 ** rng.uniform(-7, -5)
    for i in range(1, n + 1):
        R = 10 ** rng.uniform(2, 5)
        a = rng.uniform(0.7, 1.0)
        vals[f"R{i}"] = R
        vals[f"CPE{i}_Q"] = tau**a / R
        vals[f"CPE{i}_alpha"] = a
        tau *= 10 ** rng.uniform(1.0, 2.5)
    vals[f"CPE{n + 1}_Q"] = 10 ** rng.uniform(-7, -5)
    vals[f"CPE{n + 1}_alpha"] = rng.uniform(0.7, 0.95)
    c = Circuit(text)
    Z = c.impedance(f, vals)
    Z = Z + 0.005 * np.abs(Z) * (rng.normal(size=Z.size) + 1j * rng.normal(size=Z.size))
    return text, vals, Spectrum(f, Z)


def chi2_of(text: str, vals: dict[str, float], s: Spectrum) -> float:
    sr, si = weights(s.Z, "modulus")
    r = weighted_residuals(Circuit(text).impedance(s.f_Hz, vals), s.Z, sr, si)
    return float(r @ r) if np.all(np.isfinite(r)) else math.inf


def success(text, vals_fit, truth, chi2_fit, chi2_ref) -> bool:
    if chi2_fit <= 1.01 * chi2_ref:
        return True
    return all(abs(vals_fit[k] / truth[k] - 1) <= 0.05 for k in truth)


def impy_guess_typical(names: list[str]) -> list[float]:
    g = []
    for nme in names:
        if nme == "R0":
            g.append(10.0)
        elif nme.startswith("R"):
            g.append(1000.0)
        elif nme.endswith("_alpha"):
            g.append(0.9)
        else:
            g.append(1e-7)
    return g


def impy_guess_scaled(names: list[str], n_arcs: int, s: Spectrum) -> list[float]:
    zr = s.Z.real
    span = max(zr.max() - zr.min(), 1e-3)
    f = s.f_Hz
    taus = [1 / (2 * np.pi * f.max() ** (1 - (i + 1) / (n_arcs + 1)) * f.min() ** (
        (i + 1) / (n_arcs + 1))) for i in range(n_arcs)]
    w0 = 2 * np.pi * f.min()
    g = []
    for nme in names:
        if nme == "R0":
            g.append(max(zr.min(), 1e-3))
        elif nme.startswith("R"):
            g.append(span / (n_arcs + 1))
        elif nme.endswith("_alpha"):
            g.append(0.9)
        else:
            i = int(nme[3:].split("_")[0])
            if i <= n_arcs:
                g.append(taus[i - 1] ** 0.9 / (span / (n_arcs + 1)))
            else:
                g.append(1.0 / (w0 * abs(s.Z[np.argmin(f)].imag)))
    return g


def fit_impy(text: str, guess: list[float], s: Spectrum) -> dict[str, float] | None:
    from impedance.models.circuits import CustomCircuit

    cc = CustomCircuit(text, initial_guess=guess)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cc.fit(s.f_Hz, s.Z, weight_by_modulus=True)
    except Exception:  # noqa: BLE001 - any failure counts as an unsuccessful fit
        return None
    names = Circuit(text).param_names
    return dict(zip(names, cc.parameters_.tolist(), strict=True))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    f = np.logspace(7, -1, 81)
    rows = {"superionic (auto)": [], "impedance.py typical": [], "impedance.py scaled": [],
            "impedance.py from truth": []}
    times = {k: 0.0 for k in rows}
    for case in range(args.n):
        text, truth, s = make_case(rng, f)
        names = Circuit(text).param_names
        ref = fit(s, text, initial=truth, n_starts=1)
        chi2_ref = min(ref.chi2, chi2_of(text, truth, s))
        n_arcs = text.count("p(")
        t0 = time.perf_counter()
        ours = fit(s, text)
        times["superionic (auto)"] += time.perf_counter() - t0
        rows["superionic (auto)"].append(
            success(text, ours.values, truth, chi2_of(text, ours.values, s), chi2_ref))
        for label, guess in (("impedance.py typical", impy_guess_typical(names)),
                             ("impedance.py scaled", impy_guess_scaled(names, n_arcs, s)),
                             ("impedance.py from truth", [truth[n] for n in names])):
            t0 = time.perf_counter()
            v = fit_impy(text, guess, s)
            times[label] += time.perf_counter() - t0
            ok = v is not None and success(text, v, truth, chi2_of(text, v, s), chi2_ref)
            rows[label].append(ok)
        print(f"case {case:3d} {text:42s} " + " ".join(
            f"{'ok ' if r[-1] else 'FAIL'}" for r in rows.values()), flush=True)
    print()
    print(f"{'method':24s} {'success':>10s} {'time/fit (s)':>13s}")
    for k, r in rows.items():
        print(f"{k:24s} {100 * np.mean(r):9.1f}% {times[k] / len(r):13.3f}")
    t_ours = times["superionic (auto)"]
    for k in list(rows)[1:3]:
        print(f"time ratio superionic / {k}: {t_ours / max(times[k], 1e-12):.2f}")


if __name__ == "__main__":
    main()
