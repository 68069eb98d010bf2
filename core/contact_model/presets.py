"""Names of the network's size presets (:func:`core.contact_model.network.preset`), free of torch
so that the command line lists them without loading it."""

PRESETS = ("default", "paper", "tiny")
"""``paper``: the published size (for a GPU); ``default``: trains on a 2-core CPU within 45
minutes; ``tiny``: for tests."""
