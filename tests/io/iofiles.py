"""Small hand-written trajectory files with known contents, for the I/O tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SYMBOLS = ["Li", "Li", "Li", "P", "S", "S"]


def triclinic_cells(n_frames: int) -> np.ndarray:
    """A variable triclinic cell (LAMMPS restricted form: a along x, b in the xy plane)."""
    t = np.arange(n_frames)
    cells = np.zeros((n_frames, 3, 3))
    cells[:, 0, 0] = 8.0 + 0.05 * t
    cells[:, 1, 0] = 0.7 + 0.01 * t
    cells[:, 1, 1] = 7.5 - 0.03 * t
    cells[:, 2, 0] = -0.4
    cells[:, 2, 1] = 0.3 + 0.02 * t
    cells[:, 2, 2] = 9.0 + 0.04 * t
    return cells


def random_walk(n_frames: int, n_atoms: int, seed: int = 0, step_A: float = 1.5) -> np.ndarray:
    """Unwrapped positions of a random walk that crosses the cell boundaries several times."""
    rng = np.random.default_rng(seed)
    start = rng.uniform(0.0, 7.0, (1, n_atoms, 3))
    return start + np.cumsum(rng.normal(0.0, step_A, (n_frames, n_atoms, 3)), axis=0)


def wrap(unwrapped: np.ndarray, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Wrapped positions and image flags n with unwrapped = wrapped + n @ cell."""
    frac = np.einsum("fnj,fjk->fnk", unwrapped, np.linalg.inv(cells))
    images = np.floor(frac).astype(int)
    wrapped = np.einsum("fnj,fjk->fnk", frac - images, cells)
    return wrapped, images


def write_lammps_dump(path: Path, positions: np.ndarray, cells: np.ndarray, *,
                      images: np.ndarray | None = None, kind: str = "x",
                      steps: list[int] | None = None, types: list[int] | None = None,
                      elements: list[str] | None = None, velocities: np.ndarray | None = None,
                      shuffle_seed: int | None = None, units: str | None = None) -> None:
    """A LAMMPS ``dump custom`` file with a restricted-triclinic box (LAMMPS Howto triclinic)."""
    f, n, _ = positions.shape
    steps = steps or [100 * i for i in range(f)]
    rng = np.random.default_rng(shuffle_seed) if shuffle_seed is not None else None
    lines = []
    for i in range(f):
        c = cells[i]
        lx, xy, xz = c[0, 0], c[1, 0], c[2, 0]
        ly, yz, lz = c[1, 1], c[2, 1], c[2, 2]
        xlo, ylo, zlo = 0.5, -1.0, 2.0
        xlo_b = xlo + min(0.0, xy, xz, xy + xz)
        xhi_b = xlo + lx + max(0.0, xy, xz, xy + xz)
        ylo_b = ylo + min(0.0, yz)
        yhi_b = ylo + ly + max(0.0, yz)
        if units:
            lines += ["ITEM: UNITS", units]
        lines += ["ITEM: TIMESTEP", str(steps[i]), "ITEM: NUMBER OF ATOMS", str(n),
                  "ITEM: BOX BOUNDS xy xz yz pp pp pp",
                  f"{xlo_b:.10f} {xhi_b:.10f} {xy:.10f}", f"{ylo_b:.10f} {yhi_b:.10f} {xz:.10f}",
                  f"{zlo:.10f} {zlo + lz:.10f} {yz:.10f}"]
        origin = np.array([xlo, ylo, zlo])
        cols = ["id"] + (["element"] if elements else ["type"])
        if kind == "xs":
            cols += ["xs", "ys", "zs"]
            xyz = (positions[i] - origin) @ np.linalg.inv(c)
        else:
            cols += {"x": ["x", "y", "z"], "xu": ["xu", "yu", "zu"]}[kind]
            xyz = positions[i]
        if images is not None:
            cols += ["ix", "iy", "iz"]
        if velocities is not None:
            cols += ["vx", "vy", "vz"]
        lines.append("ITEM: ATOMS " + " ".join(cols))
        order = rng.permutation(n) if rng is not None else np.arange(n)
        for a in order:
            row = [str(a + 1), elements[a] if elements else str(types[a])]
            row += [f"{v:.10f}" for v in xyz[a]]
            if images is not None:
                row += [str(int(v)) for v in images[i, a]]
            if velocities is not None:
                row += [f"{v:.10f}" for v in velocities[i, a]]
            lines.append(" ".join(row))
    Path(path).write_text("\n".join(lines) + "\n")


def write_xdatcar(path: Path, positions: np.ndarray, cells: np.ndarray, symbols: list[str],
                  *, volume_scale: bool = False) -> None:
    """An NPT-style XDATCAR (header before each configuration), optionally with a negative
    scale factor (the cell volume) as VASP allows."""
    species = list(dict.fromkeys(symbols))
    counts = [symbols.count(s) for s in species]
    out = []
    for i in range(len(positions)):
        lat = cells[i]
        if volume_scale:
            vol = abs(np.linalg.det(lat))
            lat = lat / vol ** (1 / 3)
            out.append("test\n" + f"{-vol:.12f}\n")
        else:
            out.append("test\n1.0\n")
        out += [" ".join(f"{x:.12f}" for x in row) + "\n" for row in lat]
        out.append(" ".join(species) + "\n" + " ".join(map(str, counts)) + "\n")
        out.append(f"Direct configuration= {i + 1}\n")
        frac = positions[i] @ np.linalg.inv(cells[i])
        out += [" ".join(f"{x:.12f}" for x in row) + "\n" for row in frac]
    Path(path).write_text("".join(out))


def write_vasprun(path: Path, positions: np.ndarray, cells: np.ndarray, symbols: list[str],
                  forces: np.ndarray, energies: np.ndarray, *, potim: float = 2.0,
                  ibrion: int = 0) -> None:
    """A vasprun.xml holding the parts of a VASP MD run that trajectories need."""
    def varray(name: str, rows: np.ndarray) -> str:
        body = "".join("<v>" + " ".join(f"{x:.12f}" for x in r) + "</v>\n" for r in rows)
        return f'<varray name="{name}">\n{body}</varray>\n'

    def structure(i: int, name: str = "") -> str:
        attr = f' name="{name}"' if name else ""
        frac = positions[i] @ np.linalg.inv(cells[i])
        return (f"<structure{attr}>\n<crystal>\n{varray('basis', cells[i])}</crystal>\n"
                f"{varray('positions', frac)}</structure>\n")

    rc = "".join(f"<rc><c>{s}</c><c>1</c></rc>\n" for s in symbols)
    head = (
        '<?xml version="1.0" encoding="ISO-8859-1"?>\n<modeling>\n'
        f'<incar>\n<i type="int" name="IBRION">{ibrion}</i>\n<i name="POTIM">{potim}</i>\n'
        "</incar>\n"
        '<kpoints>\n<varray name="kpointlist">\n<v>0 0 0</v>\n</varray>\n'
        '<varray name="weights">\n<v>1.0</v>\n</varray>\n</kpoints>\n'
        f'<parameters>\n<separator name="ionic">\n<i type="int" name="IBRION">{ibrion}</i>\n'
        f'<i name="POTIM">{potim:.8f}</i>\n</separator>\n</parameters>\n'
        f'<atominfo>\n<atoms>{len(symbols)}</atoms>\n<array name="atoms">\n<set>\n{rc}</set>\n'
        f"</array>\n</atominfo>\n{structure(0, 'initialpos')}"
    )
    calcs = []
    for i in range(len(positions)):
        e = energies[i]
        scf = (f'<scstep><energy><i name="e_fr_energy">{e:.10f}</i>'
               f'<i name="e_0_energy">{e:.10f}</i></energy></scstep>\n')
        calcs.append(
            f"<calculation>\n{scf}{structure(i)}{varray('forces', forces[i])}"
            f'<energy>\n<i name="e_fr_energy">{e:.10f}</i>\n<i name="e_0_energy">{e:.10f}</i>\n'
            "</energy>\n</calculation>\n"
        )
    Path(path).write_text(head + "".join(calcs) + "</modeling>\n")
