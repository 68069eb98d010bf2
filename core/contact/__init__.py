"""Contact maps: the bond rule (:mod:`core.contact.contact_rule`), the map of a structure
and its canonical atom order (:mod:`core.contact.contact_map`), the editable map
document of the desktop app, and the map metrics (Dice, matched Dice) and structure
matching used to score predictions.

Layer 3: may import :mod:`core.io` and the layers below it.
"""
