"""The desktop application's model, free of Qt: the session that holds the one truth of
the window (:mod:`core.app.session`) and the project file it saves and opens
(:mod:`core.app.project`).

Layer 8 (beside :mod:`core.screen`): may import :mod:`core.predict` and every layer below.
"""
