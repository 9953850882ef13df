"""QMTP: moment tensor potential with charge equilibration and Ewald; teachers; training."""
