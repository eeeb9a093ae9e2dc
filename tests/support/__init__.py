"""Test support shared by every test folder (like ``optuna/testing/``): service checks, waiting, ports,
HTTP probes, databases, the S3 server plugin, and factories of events, telemetry and read models.

One copy of each helper lives here; test folders import it instead of keeping their own.
"""
