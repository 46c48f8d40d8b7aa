"""leefbaar.web: the dashboard (FastAPI API and offline front end) over a read-only store.

``serve(store_path, host, port)`` runs it (blocking); ``create_app(store_path)`` returns the ASGI app.
"""

from leefbaar.web.app import create_app, serve

__all__ = ["create_app", "serve"]
