"""Versioned QMTP model file: a zip archive holding ``header.json`` and ``parameters.npz``.

The header carries the format name and version, MTP level, species, cutoffs, radial basis
size, whether charges are on, the parameter shapes and free-form training metadata. Files of an
unknown format or a newer major version are refused with a clear error.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from superionic.core.errors import InputError
from superionic.core.estimate import to_jsonable
from superionic.potentials.qmtp import PARAMETERS

FORMAT_NAME = "superionic-qmtp"
#: 1.1 added ``repulsion_r_outer_`` (ZBL baseline radii); 1.0 files load without a baseline.
FORMAT_VERSION = "1.1"
_PARAMS = PARAMETERS


def _header(model) -> dict[str, Any]:
    from ase.data import chemical_symbols

    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "level": int(model.level),
        "species": [chemical_symbols[z] for z in model.species],
        "atomic_numbers": [int(z) for z in model.species],
        "r_cut_A": float(model.r_cut),
        "r_min_A": float(model.r_min),
        "radial_basis_size": int(model.n_beta),
        "n_basis": int(model.n_basis),
        "charges": bool(model.charges),
        "ewald_accuracy": float(model.ewald_accuracy),
        "repulsion_r_outer_A": {f"{chemical_symbols[a]}-{chemical_symbols[b]}":
                                float(model.repulsion_r_outer_[i, j])
                                for i, a in enumerate(model.species)
                                for j, b in enumerate(model.species) if j >= i},
        "parameter_shapes": {k: list(getattr(model, k).shape) for k in _PARAMS},
        "metadata": to_jsonable(model.metadata),
    }


def save_model(model, path: str | Path, active_set=None) -> Path:
    """Write ``model`` (a :class:`~superionic.potentials.qmtp.QMTP`) to ``path``.

    A fitted :class:`~superionic.potentials.active_learning.ActiveSet` is stored alongside
    (``active_set.npz``) so that extrapolation grades are available after loading.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez(buf, **{k: getattr(model, k) for k in _PARAMS})
    header = _header(model)
    header["active_set"] = active_set is not None
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("header.json", json.dumps(header, indent=2))
        zf.writestr("parameters.npz", buf.getvalue())
        if active_set is not None:
            abuf = io.BytesIO()
            np.savez(abuf, **active_set.to_arrays())
            zf.writestr("active_set.npz", abuf.getvalue())
    return path


def load_active_set(path: str | Path, model=None):
    """The active set stored in a model file (None when the file has none)."""
    from superionic.potentials.active_learning import ActiveSet

    path = Path(path)
    inspect_model(path)
    model = model if model is not None else load_model(path)
    with zipfile.ZipFile(path) as zf:
        if "active_set.npz" not in zf.namelist():
            return None
        with np.load(io.BytesIO(zf.read("active_set.npz"))) as npz:
            arrays = {k: npz[k] for k in npz.files}
    return ActiveSet.from_arrays(model, arrays)


def _read_header(path: Path, zf: zipfile.ZipFile) -> dict[str, Any]:
    try:
        header = json.loads(zf.read("header.json"))
    except KeyError:
        raise InputError("no header.json inside", source=str(path),
                         expected="a QMTP model file written by QMTP.save") from None
    if header.get("format") != FORMAT_NAME:
        raise InputError(f"unknown model format {header.get('format')!r}", source=str(path),
                         field="format", expected=FORMAT_NAME)
    version = str(header.get("format_version", ""))
    major = version.split(".")[0]
    if major != FORMAT_VERSION.split(".")[0]:
        raise InputError(
            f"model file format version {version!r} is not supported by this superionic",
            source=str(path), field="format_version",
            expected=f"version {FORMAT_VERSION.split('.')[0]}.x",
        )
    return header


def inspect_model(path: str | Path) -> dict[str, Any]:
    """Header of a model file (format, level, species, cutoffs, metadata) without loading."""
    path = Path(path)
    if not path.is_file():
        raise InputError("model file not found", source=str(path))
    try:
        with zipfile.ZipFile(path) as zf:
            return _read_header(path, zf)
    except zipfile.BadZipFile:
        raise InputError("not a QMTP model file (not a zip archive)", source=str(path),
                         expected="a file written by QMTP.save") from None


def load_model(path: str | Path):
    """Read a model file; raises :class:`InputError` on unknown or incompatible versions."""
    from superionic.potentials.qmtp import QMTP

    path = Path(path)
    header = inspect_model(path)
    with zipfile.ZipFile(path) as zf:
        with np.load(io.BytesIO(zf.read("parameters.npz"))) as npz:
            params = {k: npz[k] for k in _PARAMS if k in npz.files}
    return QMTP(
        species=tuple(header["atomic_numbers"]),
        level=int(header["level"]),
        r_cut=float(header["r_cut_A"]),
        r_min=float(header["r_min_A"]),
        n_beta=int(header["radial_basis_size"]),
        charges=bool(header["charges"]),
        ewald_accuracy=float(header.get("ewald_accuracy", 1e-8)),
        metadata=dict(header.get("metadata", {})),
        **params,
    )
