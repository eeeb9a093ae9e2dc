"""Per-epoch model telemetry: gradient norms, activation health and weight statistics per layer."""
