"""One prediction from a formula to ranked, exported structures: the pipeline's settings,
stages and result rows (:mod:`core.predict.pipeline`), the ranking policies
(:mod:`core.predict.ranking`), the output folder (:mod:`core.predict.run_folder`) and the
end-to-end evaluation protocol (:mod:`core.predict.evaluation`).

Layer 7: may import the method packages, :mod:`core.stability` and every layer below.
"""
