"""The health service: turns per-epoch telemetry into health scores and alerts; never trains.

Five components, each in [0, 1] where 1 is healthy (exact formulas in ``components.py``,
thresholds in ``thresholds.py``):

====================  =============================================================================
component             definition
====================  =============================================================================
neuron_utilization    latest epoch with activation stats: mean over layers of
                      ``1 - min(1, dead_fraction + saturated_fraction)``
gradient_health       latest epoch with gradient norms: share of layers whose gradient norm is finite,
                      in [1e-7, 1e3] and not 100x the previous epoch's, times a spread factor that is 1
                      up to 2 decades of log10-norm spread across layers and 0 at 6
training_stability    0 if the training loss was ever NaN/Inf; else
                      ``(1 - 0.7 * share of epochs where the loss rose > 1%) * exp(-10 * mean rise)``
                      with each epoch's relative rise capped at 1
convergence           ``gap * trend * progress``: train-validation accuracy gap (free to 0.05, 0 at
                      0.30), validation loss above its best while training loss falls (0 at +50%),
                      training loss fell at least 5% from first to last epoch (or is below 0.05)
parameter_efficiency  ``val_accuracy * size_penalty``, penalty 1 up to 1e4 parameters, then
                      ``1 / (1 + 0.5 * log10(params / 1e4))``
====================  =============================================================================

``overall_health`` is their weighted mean (``HealthWeights``: 0.25, 0.25, 0.2, 0.2, 0.1 by default,
normalized). A component with nothing to measure yet (no stats, a single epoch) shows 0.5 and is left
out of the mean, its weight reported as 0. Alerts (``alerts.py``): vanishing and exploding gradients,
dead and saturated layers, divergence, overfitting; each once per trial and (kind, layer).

- ``components.py`` / ``overall.py`` / ``alerts.py``: pure functions, no transport.
- ``state.py``: per-trial histories, bounded. ``handlers.py``: one async handler per event;
  ``bootstrap.py`` wires them to the bus; ``settings.py``: ``HealthSettings`` (``HPO_HEALTH_``).
"""
