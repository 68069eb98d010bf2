"""Files: crystal structures in and out (CIF, POSCAR, VASP inputs, checks on reading;
:mod:`core.io.read`, :mod:`core.io.write`, :mod:`core.io.vasp`), the fast P1 CIF reader of the data set, model files,
JSON state keys.

Layer 2: may import :mod:`core.crystal`, :mod:`core.runtime` and :mod:`core.errors`.
"""
