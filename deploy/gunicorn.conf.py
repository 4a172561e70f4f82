"""gunicorn settings for production: `gunicorn -c deploy/gunicorn.conf.py fraudcenter.wsgi`.

Every value can be overridden by the environment (GUNICORN_WORKERS, GUNICORN_BIND, ...)."""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Sync workers: each holds one persistent database connection (CONN_MAX_AGE), no pool that
# would have to survive the fork. About two per core.
workers = int(os.environ.get("GUNICORN_WORKERS", str((os.cpu_count() or 1) * 2)))
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so a slow leak never becomes an outage. Rarely, though: a
# new worker's first requests are slower (a new database connection, its statements
# prepared again, the per-process caches empty), and at 2,000 specialists each of four
# workers serves about 35 requests a second, so 5,000 recycled every worker every 2-3
# minutes. 100,000 is about an hour of a busy worker.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "100000"))
# Workers started together must not all restart together: a jitter of 500 spread the four
# over 11 s at 2,000 specialists, and the box stalled while they were all cold.
max_requests_jitter = max_requests // 2
# The app is imported once, in the master, and each worker is forked from it: a recycled
# worker serves at once instead of importing Django again (1-2 s of CPU which, at 2,000
# specialists, held up every kind of request for half a second; bench/RESULTS.md). Nothing
# connects while importing (Django and the Redis clients connect on first use), so no
# connection is shared across the fork (tests/test_deploy_files.py).
preload_app = True
# The proxy in front terminates TLS and sets X-Forwarded-Proto.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = None  # requests are logged by the app, as JSON with the request id, without PII
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "warning")


def when_ready(server):
    """In the master, with the app preloaded and before any worker is forked: build what each
    worker would otherwise build on its first requests (fraudcenter/warmup.py)."""
    from fraudcenter.warmup import warm_up

    warm_up()


def post_worker_init(worker):
    """In each new worker, before it accepts: its own database connection and the kept
    playbooks (fraudcenter/warmup.py), not on its first requests."""
    from fraudcenter.warmup import warm_worker

    warm_worker()


def child_exit(server, worker):
    """Prometheus multiprocess mode: a dead worker's live gauges must not linger."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
