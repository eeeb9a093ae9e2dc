"""The ``hpo`` command and the composition root: the one place that wires services together."""
