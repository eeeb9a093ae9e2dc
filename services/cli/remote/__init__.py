"""The remote side of the ``hpo`` command: drive a deployment through its REST API."""
