"""gunicorn settings for production, all from the environment.

    gunicorn -c python:service.gunicorn_conf service.app:gunicorn_app

On SIGTERM each worker stops accepting, closes every WebSocket with 1001,
lets the requests in flight finish (bodies still arriving included) for up
to SHUTDOWN_TIMEOUT, and exits (service/shutdown.py). The graceful timeout,
after which gunicorn kills a worker, is SHUTDOWN_TIMEOUT plus a margin for
the rest of the shutdown unless GUNICORN_GRACEFUL_TIMEOUT says otherwise;
compose's stop_grace_period must be longer.
"""

import math
import os

from service.config import load_settings

# Seconds of the graceful timeout beyond SHUTDOWN_TIMEOUT, by default.
SHUTDOWN_MARGIN_SECONDS = 5
# What a worker's shutdown needs after the drain, at most: aiohttp's own
# shutdown (2 x shutdown.FINAL_SECONDS), closing the pool and Redis.
AFTER_DRAIN_SECONDS = 3

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
worker_class = "aiohttp.GunicornWebWorker"  # asyncio's loop, not uvloop: see service/__main__.py
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(
    os.environ.get("GUNICORN_GRACEFUL_TIMEOUT") or math.ceil(load_settings().shutdown_timeout) + SHUTDOWN_MARGIN_SECONDS
)
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# The service logs one line per request itself (with user and request id).
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
proc_name = "dengue-ward"


def drain_timeout(shutdown_timeout: float) -> float:
    """How long a worker waits for requests in flight: SHUTDOWN_TIMEOUT, cut
    short if GUNICORN_GRACEFUL_TIMEOUT leaves less than that before the kill."""
    return max(0.0, min(shutdown_timeout, graceful_timeout - AFTER_DRAIN_SECONDS))
