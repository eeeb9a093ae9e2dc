"""The scheduler: owns the Optuna study (ask, tell, prune, retry lost trials); never trains.

- ``study_runner.py``: Optuna ask/tell logic, no transport.
- ``samplers.py`` / ``pruning.py``: sampler and pruner choice.
- ``leases.py``: its own lease per running trial, renewed by heartbeats and epoch events.
- ``handlers.py``: one async handler per event; ``bootstrap.py`` wires them to the bus.
"""
