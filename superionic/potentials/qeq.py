"""Charge equilibration (QEq) with Gaussian charges.

Minimises ``E_qeq(q) = sum_i (chi_i q_i + 1/2 J_i q_i^2) + 1/2 q^T A q`` subject to
``sum_i q_i = Q`` (Rappé & Goddard, J. Phys. Chem. 95, 3358 (1991); Gaussian-charge form of
Ko et al., Nat. Commun. 12, 398 (2021), Eqs. 3-6). ``A`` is the Coulomb matrix of
:func:`superionic.potentials.ewald.coulomb_matrix` (eV/e^2, Gaussian self energy already on its
diagonal), ``chi`` the electronegativities (eV/e) and ``J`` the hardness (eV/e^2). The
stationarity conditions form the bordered linear system

    [[A + diag(J), 1], [1^T, 0]] [q; -mu] = [-chi; Q],

where ``mu = dE_qeq/dq_i`` (the same for every atom) is the electronic chemical potential.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse.linalg

from superionic.core.errors import ConvergenceError, InputError

__all__ = [
    "qeq_energy",
    "solve_qeq",
    "solve_qeq_torch",
    "qeq_energy_torch",
]


def _check(chi: Any, hardness: Any, a: Any) -> tuple[np.ndarray, np.ndarray]:
    chi = np.asarray(chi, dtype=float)
    if chi.ndim != 1:
        raise InputError(f"chi has shape {chi.shape}", field="chi", expected="shape (N,)")
    n = chi.shape[0]
    hard = np.asarray(hardness, dtype=float)
    if hard.ndim == 0:
        hard = np.full(n, float(hard))
    if hard.shape != (n,):
        raise InputError(
            f"hardness has shape {hard.shape}", field="hardness", expected=f"shape ({n},)"
        )
    shape = getattr(a, "shape", None)
    if shape != (n, n):
        raise InputError(f"A has shape {shape}", field="A", expected=f"shape ({n}, {n})")
    if not (np.all(np.isfinite(chi)) and np.all(np.isfinite(hard))):
        raise InputError("chi or hardness contains NaN or inf", field="chi/hardness")
    return chi, hard


def qeq_energy(q: Any, chi: Any, hardness: Any, A: Any) -> float:
    """``E_qeq = sum_i (chi_i q_i + 1/2 J_i q_i^2) + 1/2 q^T A q`` in eV."""
    chi, hard = _check(chi, hardness, A)
    q = np.asarray(q, dtype=float)
    return float(chi @ q + 0.5 * (hard * q) @ q + 0.5 * q @ (A @ q))


def solve_qeq(
    chi: Any,
    hardness: Any,
    A: Any,
    total_charge: float = 0.0,
    *,
    method: str = "auto",
    tol: float = 1e-12,
    maxiter: int | None = None,
) -> tuple[np.ndarray, float]:
    """Equilibrated charges ``q`` (e) and chemical potential ``mu`` (eV/e).

    ``method``: ``"cholesky"`` (dense, ``A + diag(J)`` positive definite; two solves and the
    Lagrange multiplier in closed form), ``"lu"`` (dense bordered system, any non-singular
    case), ``"cg"`` (projected conjugate gradients with a Jacobi preconditioner, relative
    tolerance ``tol``; ``A`` may be a ``scipy.sparse.linalg.LinearOperator`` such as
    :class:`superionic.potentials.ewald.CoulombOperator`; for large N) or ``"auto"`` (Cholesky,
    falling back to LU if the matrix is not positive definite; CG for a LinearOperator).
    """
    chi, hard = _check(chi, hardness, A)
    n = chi.shape[0]
    total_charge = float(total_charge)
    dense = isinstance(A, np.ndarray)
    if method == "auto":
        method = "cholesky" if dense else "cg"
    if method not in ("cholesky", "lu", "cg"):
        raise InputError(
            f"unknown method {method!r}", field="method", expected="auto, cholesky, lu or cg"
        )
    if method != "cg" and not dense:
        A = np.asarray(A @ np.eye(n))
    rhs = np.stack([-chi, np.ones(n)], axis=1)
    if method == "cholesky":
        h = np.asarray(A, dtype=float) + np.diag(hard)
        try:
            factor = scipy.linalg.cho_factor(h, lower=True, check_finite=False)
        except np.linalg.LinAlgError:
            method = "lu"
        else:
            xy = scipy.linalg.cho_solve(factor, rhs, check_finite=False)
            return _combine(xy[:, 0], xy[:, 1], total_charge)
    if method == "lu":
        h = np.asarray(A, dtype=float) + np.diag(hard)
        border = np.zeros((n + 1, n + 1))
        border[:n, :n] = h
        border[:n, n] = 1.0
        border[n, :n] = 1.0
        b = np.concatenate([-chi, [total_charge]])
        try:
            sol = scipy.linalg.solve(border, b, assume_a="sym", check_finite=False)
        except np.linalg.LinAlgError as exc:
            raise ConvergenceError(f"QEq bordered system is singular: {exc}") from exc
        return sol[:n], float(-sol[n])
    diag = _diagonal(A, n) + hard
    if np.any(diag <= 0.0):
        raise InputError(
            "non-positive diagonal of A + diag(J)",
            field="hardness",
            expected="A + diag(J) positive definite",
        )
    return _projected_cg(lambda v: A @ v + hard * v, diag, chi, total_charge, tol, maxiter)


def _projected_cg(matvec, diag, chi, total_charge, tol, maxiter) -> tuple[np.ndarray, float]:
    """Projected preconditioned CG for min 1/2 q^T H q + chi^T q subject to sum q = Q.

    Iterates stay on the constraint plane; the Jacobi preconditioner is projected onto it
    (Gould, Hribar & Nocedal, SIAM J. Sci. Comput. 23, 1376 (2001), Alg. 2.1). One solve,
    O(iterations) products ``H v``.
    """
    n = chi.size
    minv = 1.0 / diag
    denom = minv.sum()

    def project(r: np.ndarray) -> np.ndarray:
        z = minv * r
        return z - minv * (z.sum() / denom)

    q = np.full(n, total_charge / n)
    r = matvec(q) + chi
    g = project(r)
    d = -g
    rg = float(g @ (diag * g))  # = r^T g without the cancellation of r's mu-component
    target = tol * max(np.sqrt(abs(rg)), 1e-300)
    for _ in range(maxiter or 10 * n):
        if np.sqrt(abs(rg)) <= target:
            break
        hd = matvec(d)
        curvature = float(d @ hd)
        if curvature <= 0.0:
            raise ConvergenceError(
                "QEq matrix A + diag(J) is not positive definite on the charge-conserving plane"
            )
        alpha = rg / curvature
        q += alpha * d
        r += alpha * hd
        g = project(r)
        rg_new = float(g @ (diag * g))
        d = -g + (rg_new / rg) * d
        rg = rg_new
    else:
        raise ConvergenceError(
            f"QEq conjugate gradients did not converge to {tol:g} in {maxiter or 10 * n} steps"
        )
    q += minv * ((total_charge - q.sum()) / denom)  # rounding residue of the constraint
    mu = float(minv @ r) / denom
    return q, mu


def _diagonal(A: Any, n: int) -> np.ndarray:
    if isinstance(A, np.ndarray):
        return np.diag(A).astype(float)
    if hasattr(A, "diagonal"):
        return np.asarray(A.diagonal(), dtype=float)
    return np.array([(A @ np.eye(n, 1, -i).ravel())[i] for i in range(n)])


def _combine(x: np.ndarray, y: np.ndarray, total_charge: float) -> tuple[np.ndarray, float]:
    """``q = x + mu y`` with ``H x = -chi``, ``H y = 1`` and ``mu`` fixing ``sum q = Q``."""
    mu = (total_charge - x.sum()) / y.sum()
    q = x + mu * y
    # remove the rounding residue of the constraint along the metric-consistent direction y
    q += (total_charge - q.sum()) / y.sum() * y
    return q, float(mu)


def solve_qeq_torch(chi, hardness, A, total_charge: float = 0.0):
    """Torch QEq: ``torch.linalg.solve`` on the bordered system; differentiable. Returns q, mu."""
    import torch

    n = chi.shape[-1]
    hard = torch.as_tensor(hardness, dtype=A.dtype, device=A.device)
    if hard.ndim == 0:
        hard = hard.expand(n)
    ones = torch.ones(n, 1, dtype=A.dtype, device=A.device)
    top = torch.cat([A + torch.diag(hard), ones], dim=1)
    bottom = torch.cat([ones.T, torch.zeros(1, 1, dtype=A.dtype, device=A.device)], dim=1)
    border = torch.cat([top, bottom], dim=0)
    q_tot = torch.as_tensor(total_charge, dtype=A.dtype, device=A.device).reshape(1)
    b = torch.cat([-chi.to(A.dtype), q_tot])
    sol = torch.linalg.solve(border, b)
    return sol[:n], -sol[n]


def qeq_energy_torch(q, chi, hardness, A):
    """Torch ``E_qeq = sum_i (chi_i q_i + 1/2 J_i q_i^2) + 1/2 q^T A q`` (eV)."""
    return (chi * q).sum() + 0.5 * (hardness * q * q).sum() + 0.5 * q @ (A @ q)
