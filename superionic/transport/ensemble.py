"""One estimate from several independent runs whose spread exceeds their own error bars.

The interval of one conductivity run covers the MD statistics of that run's potential; a second
potential, trained on another teacher sample with another seed, can land further away than
that interval allows. Treating the runs as the studies of a random-effects meta-analysis adds
that between-run scatter:

- y_i ~ N(mu, s_i² + tau²), with tau² the between-run variance, estimated by the
  DerSimonian–Laird moment estimator (DerSimonian & Laird, Control. Clin. Trials 7, 177
  (1986), eq. 8): tau² = max(0, (Q - (k - 1)) / (S1 - S2 / S1)), Q = sum w_i (y_i - ȳ_w)²,
  w_i = 1 / s_i², S1 = sum w_i, S2 = sum w_i²;
- mu = sum w*_i y_i / sum w*_i with w*_i = 1 / (s_i² + tau²);
- its variance by Hartung–Knapp–Sidik–Jonkman, q / sum w*_i with
  q = sum w*_i (y_i - mu)² / (k - 1), floored at q = 1 so the interval is never narrower
  than the one the runs' own errors give (the "modified" HKSJ of Röver, Knapp & Friede,
  BMC Med. Res. Methodol. 15, 99 (2015)), and a Student-t quantile with k - 1 degrees of
  freedom (IntHout, Ioannidis & Borm, BMC Med. Res. Methodol. 14, 25 (2014)).

With few runs the t quantile is large (12.7 for two runs, 4.3 for three): that is what two or
three runs can say about a scatter they sample so thinly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

from superionic.core.errors import InputError
from superionic.core.estimate import Estimate, log_stderr


def combine_runs(estimates: Sequence[Estimate], *, log_scale: bool = False,
                 name: str = "estimate") -> Estimate:
    """Random-effects combination of independent runs' estimates of one quantity.

    ``log_scale`` combines ln(value) (conductivity, diffusion, Haven ratio: positive, with
    log-normal intervals) and returns the back-transformed median and interval. The result's
    extra keys: ``n_runs``, ``tau`` (between-run standard deviation, in ln units on the log
    scale), ``I2`` (share of the scatter not explained by the runs' own errors), ``Q``,
    ``runs`` (the members' values) and ``fixed_effect`` (the inverse-variance mean with its
    interval, which ignores the between-run scatter).
    """
    k = len(estimates)
    if k < 2:
        raise InputError(f"{name}: {k} run(s)", field="estimates",
                         expected="two or more independent runs to combine")
    if log_scale:
        bad = [i for i, e in enumerate(estimates) if not e.value > 0]
        if bad:
            raise InputError(f"{name}: runs {bad} have non-positive values", field=name,
                             expected="positive values for a log-scale combination")
        y = np.log([e.value for e in estimates])
        s = np.array([log_stderr(e) for e in estimates])
    else:
        y = np.array([e.value for e in estimates])
        s = np.array([e.stderr for e in estimates])
    if not np.all(np.isfinite(y)) or not np.all(np.isfinite(s) & (s > 0)):
        raise InputError(f"{name}: values {y.tolist()} with standard errors {s.tolist()}",
                         field=name, expected="finite values with positive, finite errors")
    w = 1.0 / s**2
    s1, s2 = float(w.sum()), float((w**2).sum())
    y_fe = float((w * y).sum() / s1)
    Q = float((w * (y - y_fe) ** 2).sum())
    tau2 = max(0.0, (Q - (k - 1)) / (s1 - s2 / s1))
    ws = 1.0 / (s**2 + tau2)
    mu = float((ws * y).sum() / ws.sum())
    q = float((ws * (y - mu) ** 2).sum()) / (k - 1)
    se = math.sqrt(max(q, 1.0) / float(ws.sum()))
    t = float(stats.t.ppf(0.975, k - 1))
    lo, hi = mu - t * se, mu + t * se
    se_fe = 1.0 / math.sqrt(s1)
    z = float(stats.norm.ppf(0.975))
    fe = (y_fe, y_fe - z * se_fe, y_fe + z * se_fe)
    unit = estimates[0].unit
    method = (f"random-effects combination of {k} independent runs (DerSimonian-Laird tau², "
              f"modified Hartung-Knapp interval, t with {k - 1} d.o.f."
              + (", on ln scale)" if log_scale else ")"))
    extra = {"n_runs": k, "tau": math.sqrt(tau2), "I2": max(0.0, (Q - (k - 1)) / Q) if Q > 0
             else 0.0, "Q": Q, "runs": [e.value for e in estimates]}
    if log_scale:
        extra["fixed_effect"] = {"value": math.exp(fe[0]),
                                 "ci95": [math.exp(fe[1]), math.exp(fe[2])]}
        v = math.exp(mu)
        return Estimate(v, v * se, (math.exp(lo), math.exp(hi)), unit, method, extra)
    extra["fixed_effect"] = {"value": fe[0], "ci95": [fe[1], fe[2]]}
    return Estimate(mu, se, (lo, hi), unit, method, extra)
