"""Screening many formulas: the input list (:mod:`core.screen.inputs`), the Dask-driven
run (:mod:`core.screen.screening`) and its HTML report (:mod:`core.screen.report`).

Layer 8 (beside :mod:`core.app`): may import :mod:`core.predict` and every layer below.
"""
