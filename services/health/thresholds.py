"""Every threshold the health components and alerts use, in one place so that both agree.

Gradient norms are the L2 norm of the loss gradient with respect to one layer's trainable weights,
measured by the trainer on its fixed probe batch (``LayerTelemetry.gradient_norm``). Relative changes
of a loss are ``(new - old) / |old|``.
"""

from __future__ import annotations

NEUTRAL = 0.5
"""The value of a component that cannot be measured yet (left out of ``overall_health``)."""

# ---- gradients ------------------------------------------------------------------------------
VANISHING_NORM = 1e-7
"""A layer whose gradient norm is below this (absolute) barely learns: vanishing gradient."""
EXPLODING_NORM = 1e3
"""A layer whose gradient norm is above this (absolute) has an exploding gradient."""
GROWTH_FACTOR = 100.0
"""A layer's gradient norm growing this many times from one epoch to the next also counts as
exploding, provided the new norm is above ``GROWTH_FLOOR``."""
GROWTH_FLOOR = 1.0
SPREAD_OK_DECADES = 2.0
"""Spread of log10 gradient norms across layers (max - min) that costs nothing."""
SPREAD_ZERO_DECADES = 6.0
"""Spread at which the spread factor of gradient health reaches 0 (linear in between)."""

# ---- activations ----------------------------------------------------------------------------
DEAD_LAYER_FRACTION = 0.5
"""A layer with more than this share of dead units raises a dead-layer alert."""
SATURATED_LAYER_FRACTION = 0.5
"""A layer with more than this share of saturated units raises a saturated-layer alert."""
CRITICAL_LAYER_FRACTION = 0.9
"""Dead or saturated shares at or above this make the alert critical."""

# ---- loss curves ----------------------------------------------------------------------------
RISE_TOLERANCE = 0.01
"""A loss "rose" from one epoch to the next when it grew by more than 1% (smaller wiggles are noise)."""
UP_FRACTION_WEIGHT = 0.7
"""Training stability: how much the share of rising epochs can take away (see ``training_stability``)."""
RISE_SHARPNESS = 10.0
"""Training stability: ``exp(-RISE_SHARPNESS * mean relative rise)`` is its roughness factor."""
DIVERGENCE_BLOWUP = 2.0
"""A training loss at this multiple of its best so far is divergence, even after a single epoch."""
DIVERGENCE_ABOVE_BEST = 0.10
"""Two consecutive rises are divergence once the loss is this much (relative) above its best."""
CONSECUTIVE_RISES = 2
"""How many consecutive epoch steps of rising loss make a trend (divergence, overfitting)."""

# ---- convergence ----------------------------------------------------------------------------
GAP_OK = 0.05
"""Train minus validation accuracy up to this costs nothing."""
GAP_ZERO = 0.30
"""Train minus validation accuracy at which the gap factor reaches 0 (linear in between)."""
OVERFIT_GAP_ALERT = 0.15
"""Train minus validation accuracy above this raises an overfitting alert."""
VAL_RISE_ZERO = 0.5
"""Validation loss this much (relative) above its best, while training loss still falls, zeroes the
validation-trend factor (linear from 0)."""
PROGRESS_FULL = 0.05
"""A training loss that fell by this share from the first to the last epoch counts as full progress."""
FITTED_LOSS = 0.05
"""A training loss below this already fits the data: full progress whatever the decrease."""

# ---- parameter efficiency -------------------------------------------------------------------
EFFICIENCY_FREE_PARAMS = 1e4
"""Models up to this many parameters pay no size penalty."""
EFFICIENCY_DECADE_COST = 0.5
"""Size penalty ``1 / (1 + EFFICIENCY_DECADE_COST * log10(params / EFFICIENCY_FREE_PARAMS))``."""
