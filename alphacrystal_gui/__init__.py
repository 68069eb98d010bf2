"""AlphaCrystal Studio desktop application (Qt widgets and adapters only; science lives in ``core``)."""
