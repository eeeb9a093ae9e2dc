"""The reporter: read-model projections, plots, reports and result bundles. It decides nothing.

``bootstrap.start`` subscribes the ``reporter`` queue to every event; ``projections`` keeps the
read models up to date and, on ``study.completed``, ``build.build_results`` writes the results
folder and its ZIP, uploads the ZIP and the service announces it with ``report.ready``.
"""
