"""Central finite differences of an energy function: the independent truth for forces and
stress tests."""

import numpy as np


def fd_force(energy, atoms, i, d, h):
    """-dE/dx for atom ``i`` along axis ``d``."""
    e = []
    for s in (1, -1):
        b = atoms.copy()
        b.positions[i, d] += s * h
        e.append(energy(b))
    return -(e[0] - e[1]) / (2 * h)


def fd_strain(energy, atoms, x, y, h):
    """(1/V) dE/d(eps_xy) for the homogeneous deformation cell -> cell (1 + eps)."""
    e = []
    for s in (1, -1):
        b = atoms.copy()
        eps = np.eye(3)
        eps[x, y] += s * h
        b.set_cell(atoms.cell.array @ eps, scale_atoms=True)
        e.append(energy(b))
    return (e[0] - e[1]) / (2 * h) / atoms.get_volume()


def fd_stress_component(energy, atoms, x, y, h):
    """Symmetric stress component: the mean of the two shear derivatives when x != y."""
    s = fd_strain(energy, atoms, x, y, h)
    return s if x == y else 0.5 * (s + fd_strain(energy, atoms, y, x, h))
