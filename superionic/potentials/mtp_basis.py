"""MTP basis: scalar contractions of moment tensors, enumerated by level, compiled to a program.

Moment tensors M_{μ,ν}(i) = Σ_j f_μ(r_ij) r̂_ij^{⊗ν} have level lev(M_{μ,ν}) = 2 + 4μ + ν; a basis
function is a full contraction of a product of moment tensors to a scalar whose levels sum to at
most ``lev_max`` (Shapeev, Multiscale Model. Simul. 14, 1153 (2016), Eq. 4-6).

A contraction is a loopless multigraph whose nodes are moment tensors (degree ν) and whose edges
are contracted index pairs. The connected graphs are enumerated up to isomorphism; basis
functions are multisets of connected scalars. Every basis function is then evaluated by a
sequence of pairwise contractions, compiled into one flat list of triples
``value[c] += coeff * value[a] * value[b]`` shared by the numba and torch engines (the same
scheme as mlip's ``alpha_index_times``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cache

import numpy as np

Label = tuple[int, int]  # (mu, nu)


def moment_level(mu: int, nu: int) -> int:
    """Level of M_{μ,ν}: 2 + 4μ + ν (mlip-2 convention)."""
    return 2 + 4 * mu + nu


@dataclass(frozen=True)
class Graph:
    """A connected contraction: node labels (μ, ν) and a symmetric adjacency (upper triangle)."""

    labels: tuple[Label, ...]
    adjacency: tuple[tuple[int, ...], ...]

    @property
    def level(self) -> int:
        return sum(moment_level(mu, nu) for mu, nu in self.labels)


def _canonical(labels: tuple[Label, ...], adj: np.ndarray) -> tuple:
    """Canonical key: minimum over label-preserving node permutations."""
    order = sorted(range(len(labels)), key=lambda a: labels[a])
    labels_s = tuple(labels[a] for a in order)
    adj = adj[np.ix_(order, order)]
    groups: list[list[int]] = []
    for a, lab in enumerate(labels_s):
        if groups and labels_s[groups[-1][0]] == lab:
            groups[-1].append(a)
        else:
            groups.append([a])
    best = None
    for perms in itertools.product(*(itertools.permutations(g) for g in groups)):
        p = [a for g in perms for a in g]
        key = tuple(adj[np.ix_(p, p)][np.triu_indices(len(p), 1)].tolist())
        if best is None or key < best:
            best = key
    return labels_s, best


def _connected(adj: np.ndarray) -> bool:
    n = adj.shape[0]
    seen = {0}
    stack = [0]
    while stack:
        a = stack.pop()
        for b in range(n):
            if adj[a, b] and b not in seen:
                seen.add(b)
                stack.append(b)
    return len(seen) == n


def _adjacencies(degrees: tuple[int, ...]):
    """All symmetric non-negative integer matrices with zero diagonal and given row sums."""
    n = len(degrees)
    pairs = [(a, b) for a in range(n) for b in range(a + 1, n)]
    adj = np.zeros((n, n), dtype=int)
    rem = list(degrees)

    def rec(k: int):
        if k == len(pairs):
            if all(r == 0 for r in rem):
                yield adj.copy()
            return
        a, b = pairs[k]
        # the last pair touching node a must close its degree
        last_a = all(p[0] != a and p[1] != a for p in pairs[k + 1 :])
        hi = min(rem[a], rem[b])
        lo = rem[a] if last_a else 0
        for m in range(lo, hi + 1):
            adj[a, b] = adj[b, a] = m
            rem[a] -= m
            rem[b] -= m
            yield from rec(k + 1)
            rem[a] += m
            rem[b] += m
        adj[a, b] = adj[b, a] = 0

    yield from rec(0)


@cache
def connected_scalars(lev_max: int) -> tuple[Graph, ...]:
    """All connected scalar contractions of moment tensors with level ≤ lev_max."""
    out: dict[tuple, Graph] = {}
    mu_max = (lev_max - 2) // 4
    for mu in range(mu_max + 1):
        g = Graph(((mu, 0),), ((0,),))
        out[_canonical(g.labels, np.zeros((1, 1), dtype=int))] = g
    labels_all = [
        (mu, nu)
        for mu in range(mu_max + 1)
        for nu in range(1, lev_max)
        if moment_level(mu, nu) <= lev_max
    ]
    k = 2
    while 4 * k - 2 <= lev_max:
        for combo in itertools.combinations_with_replacement(labels_all, k):
            lev = sum(moment_level(*lab) for lab in combo)
            if lev > lev_max or sum(nu for _, nu in combo) % 2:
                continue
            degrees = tuple(nu for _, nu in combo)
            if max(degrees) > sum(degrees) - max(degrees):
                continue
            for adj in _adjacencies(degrees):
                if not _connected(adj):
                    continue
                key = _canonical(combo, adj)
                if key not in out:
                    n = len(combo)
                    full = np.zeros((n, n), dtype=int)
                    full[np.triu_indices(n, 1)] = key[1]
                    full = full + full.T
                    out[key] = Graph(key[0], tuple(map(tuple, full.tolist())))
        k += 1
    return tuple(sorted(out.values(), key=lambda g: (g.level, g.labels, g.adjacency)))


@cache
def basis_functions(lev_max: int) -> tuple[tuple[int, ...], ...]:
    """Basis functions as sorted tuples of indices into :func:`connected_scalars`."""
    scalars = connected_scalars(lev_max)
    levels = [g.level for g in scalars]
    out: list[tuple[int, ...]] = []

    def rec(start: int, current: list[int], lev: int):
        for s in range(start, len(scalars)):
            if lev + levels[s] <= lev_max:
                current.append(s)
                out.append(tuple(current))
                rec(s, current, lev + levels[s])
                current.pop()

    rec(0, [], 0)
    return tuple(sorted(out, key=lambda b: (sum(levels[s] for s in b), len(b), b)))


def _sym_index(nu: int) -> dict[tuple[int, ...], int]:
    """Compressed index of the components of a symmetric rank-ν tensor (sorted multi-indices)."""
    combos = list(itertools.combinations_with_replacement(range(3), nu))
    return {c: k for k, c in enumerate(combos)}


@dataclass
class _Tensor:
    key: tuple
    rank: int
    n_comp: int
    depth: int
    basic: Label | None = None
    offset: int = -1


@dataclass(frozen=True)
class ContractionProgram:
    """Flat evaluation program of the basis (per atom).

    ``n_values`` values per atom; values ``[0, n_basic)`` are compressed components of basic
    moments: component k is Σ_j f_{mu[k]}(r_ij) · x̂^a ŷ^b ẑ^c with (a, b, c) = ``pows[k]``.
    Triples (``ia``, ``ib``, ``ic``, ``coeff``) are ordered so that every input is computed before
    it is used; ``depth_bounds`` splits them into levels with no dependency within a level.
    ``basis_index[α]`` is the value index of basis function α.
    """

    lev_max: int
    n_mu: int
    nu_max: int
    n_values: int
    n_basic: int
    basic_mu: np.ndarray
    basic_pows: np.ndarray
    ia: np.ndarray
    ib: np.ndarray
    ic: np.ndarray
    coeff: np.ndarray
    depth_bounds: np.ndarray  # (n_depth+1,) bounds into the triple list
    value_bounds: np.ndarray  # (n_depth+1,) bounds of the values produced at each depth
    basis_index: np.ndarray

    @property
    def n_basis(self) -> int:
        return int(self.basis_index.size)


@cache
def compile_program(lev_max: int) -> ContractionProgram:
    """Compile the basis of level ``lev_max`` into a :class:`ContractionProgram`."""
    if lev_max < 2:
        raise ValueError(f"MTP level must be >= 2, got {lev_max}")
    scalars = connected_scalars(lev_max)
    basis = basis_functions(lev_max)
    tensors: dict[tuple, _Tensor] = {}
    # triples as (ckey, akey, bkey, a_comp, b_comp, c_comp) -> coeff
    triples: dict[tuple, dict[tuple[int, int, int], float]] = {}

    def basic(mu: int, nu: int) -> tuple:
        key = ("M", mu, nu)
        if key not in tensors:
            tensors[key] = _Tensor(key, nu, len(_sym_index(nu)), 0, basic=(mu, nu))
        return key

    def comp_index(t: _Tensor, full: tuple[int, ...]) -> int:
        if t.basic is not None:
            return _sym_index(t.rank)[tuple(sorted(full))]
        idx = 0
        for x in full:
            idx = idx * 3 + x
        return idx

    def contract(akey: tuple, bkey: tuple, pairs: tuple[tuple[int, int], ...]) -> tuple:
        """Contract slots pairs[(sa, sb)]; result slots: free slots of a then of b."""
        key = ("C", akey, bkey, pairs)
        if key in tensors:
            return key
        a, b = tensors[akey], tensors[bkey]
        ca = [p[0] for p in pairs]
        cb = [p[1] for p in pairs]
        fa = [s for s in range(a.rank) if s not in ca]
        fb = [s for s in range(b.rank) if s not in cb]
        rank = len(fa) + len(fb)
        t = _Tensor(key, rank, 3**rank, 1 + max(a.depth, b.depth))
        tensors[key] = t
        acc: dict[tuple[int, int, int], float] = {}
        for free in itertools.product(range(3), repeat=rank):
            for summed in itertools.product(range(3), repeat=len(pairs)):
                ia_full = [0] * a.rank
                ib_full = [0] * b.rank
                for s, x in zip(fa, free[: len(fa)], strict=True):
                    ia_full[s] = x
                for s, x in zip(fb, free[len(fa) :], strict=True):
                    ib_full[s] = x
                for (sa, sb), x in zip(pairs, summed, strict=True):
                    ia_full[sa] = x
                    ib_full[sb] = x
                trip = (comp_index(a, tuple(ia_full)), comp_index(b, tuple(ib_full)),
                        comp_index(t, free))
                acc[trip] = acc.get(trip, 0.0) + 1.0
        triples[key] = acc
        return key

    def graph_scalar(g: Graph) -> tuple:
        n = len(g.labels)
        if n == 1:
            return basic(*g.labels[0])
        adj = [list(row) for row in g.adjacency]
        # groups: tensor key + slots [(own_node, other_node)]
        groups = {}
        for a in range(n):
            slots = [(a, b) for b in range(n) for _ in range(adj[a][b])]
            groups[a] = ([a], basic(*g.labels[a]), slots)
        while len(groups) > 1:
            best = None
            ids = sorted(groups)
            for x, y in itertools.combinations(ids, 2):
                nx, _, sx = groups[x]
                ny, _, sy = groups[y]
                nc = sum(1 for s in sx if s[1] in ny)
                if nc == 0:
                    continue
                rank = len(sx) + len(sy) - 2 * nc
                cost = (rank, rank + nc, x, y)
                if best is None or cost < best[0]:
                    best = (cost, x, y)
            _, x, y = best
            nx, kx, sx = groups.pop(x)
            ny, ky, sy = groups.pop(y)
            used_b: set[int] = set()
            pairs = []
            for sa, (own, other) in enumerate(sx):
                if other not in ny:
                    continue
                for sb, (own_b, other_b) in enumerate(sy):
                    if sb not in used_b and own_b == other and other_b == own:
                        used_b.add(sb)
                        pairs.append((sa, sb))
                        break
            key = contract(kx, ky, tuple(pairs))
            ca = {p[0] for p in pairs}
            cb = {p[1] for p in pairs}
            slots = [s for k, s in enumerate(sx) if k not in ca]
            slots += [s for k, s in enumerate(sy) if k not in cb]
            groups[x] = (nx + ny, key, slots)
        return next(iter(groups.values()))[1]

    scalar_keys = [graph_scalar(g) for g in scalars]
    basis_keys = []
    for b in basis:
        key = scalar_keys[b[0]]
        for s in b[1:]:
            key = contract(key, scalar_keys[s], ())
        basis_keys.append(key)

    # layout: values ordered by depth
    order = sorted(tensors.values(), key=lambda t: (t.depth, str(t.key)))
    offset = 0
    n_depth = max(t.depth for t in order)
    value_bounds = [0]
    for d in range(n_depth + 1):
        for t in order:
            if t.depth == d:
                t.offset = offset
                offset += t.n_comp
        value_bounds.append(offset)
    n_basic = value_bounds[1]
    basic_mu = np.zeros(n_basic, dtype=np.int64)
    basic_pows = np.zeros((n_basic, 3), dtype=np.int64)
    for t in order:
        if t.basic is None:
            continue
        mu, nu = t.basic
        for combo, k in _sym_index(nu).items():
            basic_mu[t.offset + k] = mu
            basic_pows[t.offset + k] = [combo.count(0), combo.count(1), combo.count(2)]
    rows = []
    for ckey, acc in triples.items():
        c, a, b = tensors[ckey], tensors[ckey[1]], tensors[ckey[2]]
        for (xa, xb, xc), w in sorted(acc.items()):
            rows.append((c.depth, c.offset + xc, a.offset + xa, b.offset + xb, w))
    rows.sort()
    arr = np.array(rows, dtype=float).reshape(-1, 5)
    depths = arr[:, 0].astype(int)
    depth_bounds = [int(np.searchsorted(depths, d)) for d in range(1, n_depth + 1)]
    depth_bounds.append(len(rows))
    return ContractionProgram(
        lev_max=lev_max,
        n_mu=(lev_max - 2) // 4 + 1,
        nu_max=int(basic_pows.sum(axis=1).max()),
        n_values=offset,
        n_basic=n_basic,
        basic_mu=basic_mu,
        basic_pows=basic_pows,
        ia=arr[:, 2].astype(np.int64),
        ib=arr[:, 3].astype(np.int64),
        ic=arr[:, 1].astype(np.int64),
        coeff=arr[:, 4].copy(),
        depth_bounds=np.asarray(depth_bounds, dtype=np.int64),
        value_bounds=np.asarray(value_bounds, dtype=np.int64),
        basis_index=np.array([tensors[k].offset for k in basis_keys], dtype=np.int64),
    )
