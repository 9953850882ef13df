"""Reference structures, ordering of partial occupancies, doping and defect chemistry."""
