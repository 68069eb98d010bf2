"""Crystallography without contact maps: elements and their features, compositions and
formula units, space groups (symbols, lattice constraints, centring) and every
symmetry question with its tolerance (:mod:`core.crystal.symmetry`), Wyckoff positions.

Layer 1 (the lowest, beside :mod:`core.runtime`): imports only :mod:`core.errors`.
"""
