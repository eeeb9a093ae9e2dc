"""Liveness/readiness probes and Prometheus metrics for every service process."""
