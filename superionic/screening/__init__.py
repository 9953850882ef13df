"""Screening funnel for candidate electrolytes."""
