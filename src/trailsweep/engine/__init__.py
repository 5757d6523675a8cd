"""Pagers, time slices, the merge and spool, and the sweep that wires them."""
