"""Density schemes, topology evolution (SET, SET-motif, RigL) and the optimizer-state bookkeeping."""
