"""gunicorn settings for production: `gunicorn config.wsgi` picks this file up from the working directory.

One worker process per core (the work is CPU-bound rendering and templating; PostgreSQL does the rest),
a few threads each so a slow client or a render does not hold a whole worker. Everything can be
overridden with GUNICORN_* environment variables or on the command line.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")  # behind a proxy on the same host
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count()))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))  # a large zip upload is de-identified in-request
graceful_timeout = 30
# Recycle workers now and then (a slow leak cannot grow forever), with jitter so they do not restart
# together; at ~200 req/s a limit of 2,000 restarted each worker every ~20 s and tripled p99 (bench/load.py).
max_requests = 20000
max_requests_jitter = 2000
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
errorlog = "-"
