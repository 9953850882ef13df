"""Trajectory input/output: every ASE-readable format plus H5MD, streamed in chunks."""
