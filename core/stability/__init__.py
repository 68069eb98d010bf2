"""Thermodynamic stability of a predicted compound: the reference phases of the known
compounds (:mod:`core.stability.references`) and the energy above their convex hull
(:mod:`core.stability.hull`).

Layer 6 (beside the four method packages :mod:`core.contact_model`,
:mod:`core.candidates`, :mod:`core.templates`, :mod:`core.reconstruction`): may import
:mod:`core.relax` and the layers below it.
"""
