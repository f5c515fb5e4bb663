"""gunicorn settings for production, all from the environment.

    gunicorn -c python:service.gunicorn_conf service.app:gunicorn_app

On SIGTERM each worker stops accepting, closes every WebSocket with 1001,
and lets in-flight requests finish within the graceful timeout (compose's
stop_grace_period must be longer).
"""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
worker_class = "aiohttp.GunicornWebWorker"  # asyncio's loop, not uvloop: see service/__main__.py
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# The service logs one line per request itself (with user and request id).
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
proc_name = "dengue-ward"
