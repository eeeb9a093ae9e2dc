"""The REST API: HTTP and a live event stream over the read models, the bus and the artifact store.

It validates requests with the contracts' models, publishes ``study.created`` and
``study.stop_requested``, reads projections (never writes them) and streams results ZIPs. It never
trains and never touches Optuna. ``app.create_app`` builds it from injected ports; ``bootstrap``
serves it with uvicorn inside the caller's event loop.
"""
