"""The Materials Project data set: loading and filtering structures
(:mod:`core.data.datasets`), per-atom features of a cell (:mod:`core.data.featurize`)
and the splits by reduced formula (:mod:`core.data.formula_split`).

Layer 4: may import :mod:`core.contact` and the layers below it.
"""
