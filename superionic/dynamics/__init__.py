"""Molecular dynamics drivers and NEB."""
