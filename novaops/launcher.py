"""The command lines of NovaOps' three services: web (gunicorn), worker and beat (Celery).

One place for every way they are started: `make run` (novaops/run.py, also `python -m novaops.run web|worker|beat`
in production), the tests that start real processes (tests/helpers/processes.py) and `make bench`. Callers may add
what is theirs (a bind address, a hostname, a concurrency for a test), but the flags that keep the processes alive
through a broker or database restart live here only: a test that ran another command line than the product would
miss exactly the failures it is there to find (docs/architecture.md, "Pitfalls").
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

BIN = Path(sys.executable).parent
BASE_DIR = Path(__file__).resolve().parent.parent
SERVICES = ("web", "worker", "beat")

# Celery's cluster-event features, off. Gossip, mingle and worker heartbeats exchange events between workers
# (broadcast queues, a fanout channel per worker); NovaOps reads none of them (its own heartbeat is a task, see
# novaops/tasks.py). Each is one more channel to tear down and rebuild when the broker restarts, and gossip's
# teardown is a known way into the kombu bug that killed the worker (celery/kombu#582: AttributeError
# "'NoneType' object has no attribute 'hostname'"). The bug itself is guarded in novaops/celery.py; the worker
# reconnects for ever (CELERY_BROKER_CONNECTION_MAX_RETRIES = None).
WORKER_RELIABILITY_FLAGS = ("--without-gossip", "--without-mingle", "--without-heartbeat")

WEB_DEFAULTS = {"workers": 2, "threads": 4, "timeout": 60}
WORKER_DEFAULTS = {"concurrency": 2, "loglevel": "INFO"}


def environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment every service runs with: `base` (default: ours) plus the defaults they need. Unbuffered
    output, so that a supervisor or journald sees each log line when it is written."""
    env = dict(os.environ if base is None else base)
    env.setdefault("DJANGO_SETTINGS_MODULE", "novaops.settings")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def web_command(
    *,
    bind: str,
    workers: int = WEB_DEFAULTS["workers"],
    threads: int = WEB_DEFAULTS["threads"],
    access_log: bool = True,
    extra: tuple[str, ...] = (),
) -> list[str]:
    """gunicorn serving novaops.wsgi on `bind` (host:port). Requests over 60 s are cut (the worker is recycled)."""
    command = [
        str(BIN / "gunicorn"),
        "novaops.wsgi",
        *("--bind", bind, "--workers", str(workers), "--threads", str(threads)),
        *("--timeout", str(WEB_DEFAULTS["timeout"])),
    ]
    if access_log:
        command += ["--access-logfile", "-"]
    return [*command, *extra]


def worker_command(
    *,
    concurrency: int = WORKER_DEFAULTS["concurrency"],
    hostname: str | None = None,
    loglevel: str = WORKER_DEFAULTS["loglevel"],
    extra: tuple[str, ...] = (),
) -> list[str]:
    """A Celery worker (prefork pool) on the default queue, with the reliability flags above."""
    command = [
        str(BIN / "celery"),
        *("-A", "novaops", "worker", "--loglevel", loglevel),
        *("--concurrency", str(concurrency), "--pool", "prefork"),
        *WORKER_RELIABILITY_FLAGS,
    ]
    if hostname:
        command += ["--hostname", hostname]
    return [*command, *extra]


def beat_command(*, schedule: Path | str, loglevel: str = "INFO", extra: tuple[str, ...] = ()) -> list[str]:
    """Celery beat with its schedule state in `schedule` (a file of this host's, which it rewrites). One or more per
    cluster: only the one holding the cluster lock sends, the others stand by (novaops/beat.py)."""
    command = [str(BIN / "celery"), *("-A", "novaops", "beat", "--loglevel", loglevel)]
    return [*command, "--schedule", str(schedule), *extra]


def service_command(service: str, *, data_dir: Path, host: str = "127.0.0.1", port: str = "8000") -> list[str]:
    """The shipped command line of one service, as `python -m novaops.run <service>` and `make run` start it."""
    if service == "web":
        return web_command(bind=f"{host}:{port}")
    if service == "worker":
        return worker_command()
    if service == "beat":
        return beat_command(schedule=data_dir / "celerybeat-schedule")
    raise ValueError(f"unknown service {service!r}; expected one of {', '.join(SERVICES)}")
