"""Density schemes, rewiring (SET, SET-motif, RigL) and the optimizer-state bookkeeping."""
