"""Trajectory input/output: every ASE-readable format plus H5MD, streamed in chunks.

* :func:`open_trajectory` opens extxyz, ASE .traj, VASP XDATCAR / vasprun.xml, LAMMPS text
  dumps, H5MD, TorchSim HDF5 and anything else ASE reads; ``reader.info`` holds the
  metadata (symbols, time step, frame interval and where they came from) and
  ``reader.chunks(size)`` yields :class:`FrameChunk` blocks (``read_all()`` for small files).
* :class:`H5MDWriter` streams frames into an H5MD file that survives a kill and can be
  continued; :func:`write_trajectory` writes extxyz/traj (ASE) or H5MD; :func:`convert`
  turns any readable trajectory into H5MD (also ``superionic convert IN OUT``).
* Positions are as stored (wrapped or not); image flags, when the file has them, are in
  ``FrameChunk.image_flags`` and :meth:`FrameChunk.unwrapped_positions` applies them.
"""

from superionic.io._stream import TruncatedTrajectoryWarning
from superionic.io.base import FrameChunk, TrajectoryInfo, TrajectoryReader, concat_chunks
from superionic.io.convert import convert
from superionic.io.h5md import H5MDReader, H5MDWriter
from superionic.io.open import detect_format, open_trajectory
from superionic.io.species import species_indices
from superionic.io.timing import check_timestep_fs
from superionic.io.write import write_trajectory

__all__ = [
    "FrameChunk",
    "H5MDReader",
    "H5MDWriter",
    "TrajectoryInfo",
    "TrajectoryReader",
    "TruncatedTrajectoryWarning",
    "check_timestep_fs",
    "concat_chunks",
    "convert",
    "detect_format",
    "open_trajectory",
    "species_indices",
    "write_trajectory",
]
