"""Batch integrators behind :func:`processtwin.physics.simulate` (internal layout)."""
