"""gunicorn settings for ClaO, read from the environment (the Docker image and bin/cluster).

Run: gunicorn -c gunicorn.conf.py clao.wsgi:application
GUNICORN_CMD_ARGS, when set, still overrides anything here.
"""

import os

# Where the node listens: 0.0.0.0:8000 in the container, a loopback port in bin/cluster.
bind = [os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")]
# Worker processes (sync workers: one request at a time each). A worker also waits for
# PostgreSQL (a check-in's commit, ~3 ms of disk flush, is a third of its time), during which
# another worker can use the CPU: one more than the node's CPUs (bench/web.py's default; on 2
# CPUs, 4 workers made the day list slower than 3).
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
# A worker stuck longer than this is killed and replaced (seconds).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# On SIGTERM (a rolling update, a scale-down) requests in flight get this long to finish.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
# Access log on standard output, errors on standard error: nothing is written on the node.
accesslog = "-"
errorlog = "-"
# The workers' heartbeat files in memory, not on a disk that may be read-only or slow.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108
