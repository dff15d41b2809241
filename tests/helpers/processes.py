"""Harness for tests that start real processes: gunicorn, Celery workers, a private Valkey or PostgreSQL.

Plain code; the fixtures built on it live in the conftests (workers and broker in tests/conftest.py, the rest in
tests/metrics/conftest.py). Nothing of ours is mocked. Every process is started in its own session (process group)
so that teardown, and a test that means it, can kill it with all its children, and every wait is a bounded loop
with a deadline. Servers listen on 127.0.0.1 (gunicorn, on a free port) or on Unix sockets in the test's own
directories (Valkey, PostgreSQL), never on the machine's 5432 / 6379. Logs stay in the test's tmp_path (pytest keeps
the last few) for a post-mortem.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from novaops import embedded, launcher
from tests.helpers import subprocess_env

BIN = Path(sys.executable).parent
PROJECT = Path(__file__).resolve().parents[2]
# Hang guard for every HTTP request: far above any honest answer, far below the test's own budget.
REQUEST_TIMEOUT = 10.0


def wait_until(predicate: Callable[[], object], *, timeout: float, what: str, interval: float = 0.1) -> object:
    """Poll `predicate` until it returns something truthy; fail the test with `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_group(process: subprocess.Popen, *, grace: float = 10.0) -> None:
    """SIGTERM the process's whole group, then SIGKILL whatever is left; never touches another process."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    # The leader may be gone while children of its group live on (a prefork pool child, a gunicorn worker).
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass


def group_alive(pgid: int) -> bool:
    for proc in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, psutil.NoSuchProcess, PermissionError):
            continue
    return False


def tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def database_url_for_subprocesses() -> str:
    """A libpq URL for the test database, for processes (workers, gunicorn) the test starts."""
    from django.db import connection

    params = connection.settings_dict
    host = params["HOST"] or ""
    port = f":{params['PORT']}" if params["PORT"] and not host.startswith("/") else ""
    auth = params["USER"] + (f":{params['PASSWORD']}" if params["PASSWORD"] else "")
    if host.startswith("/"):
        return f"postgresql://{auth}@/{params['NAME']}?host={host}"
    return f"postgresql://{auth}@{host}{port}/{params['NAME']}"


def server_env(*, database_url: str, redis_url: str) -> dict[str, str]:
    """The environment of a service a test starts against these servers: the launcher's, never configured by a make
    run's dev.env."""
    return launcher.environment(subprocess_env(DATABASE_URL=database_url, REDIS_URL=redis_url, DEBUG="true"))


def manage(*args: str, database_url: str, redis_url: str, timeout: float = 120) -> str:
    """Run `manage.py …` in a subprocess against the given servers; returns its stdout, fails on an error."""
    result = subprocess.run(
        [sys.executable, str(PROJECT / "manage.py"), *args],
        cwd=PROJECT,
        env=server_env(database_url=database_url, redis_url=redis_url),
        capture_output=True,
        timeout=timeout,
        text=True,
    )
    if result.returncode != 0:
        pytest.fail(f"manage.py {args[0]} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.stdout


# --- HTTP -------------------------------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed: float

    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Web:
    """A running gunicorn: where it listens and how to talk to it."""

    process: subprocess.Popen
    port: int
    log: Path

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> Reply:
        started = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            data = response.read()
            return Reply(
                response.status,
                {k.lower(): v for k, v in response.getheaders()},
                data,
                time.monotonic() - started,
            )
        finally:
            conn.close()

    def worker_pids(self) -> set[int]:
        """The gunicorn workers' pids: unchanged means the very same processes answered (no respawn)."""
        return {child.pid for child in psutil.Process(self.process.pid).children()}


def _service_spawn(
    command: list[str], *, database_url: str, redis_url: str, log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """Start a service in its own process group against these servers (and with `env` besides), its output in `log`
    (a pipe nobody reads would fill and stall it)."""
    with log.open("wb") as out:
        return subprocess.Popen(
            command,
            cwd=PROJECT,
            env={**server_env(database_url=database_url, redis_url=redis_url), **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _await_up(process: subprocess.Popen, up: Callable[[], bool], *, what: str, output: Callable[[], str]) -> None:
    """Wait until `up()`; fail at once with the output when the process exits first, and never leave it running
    when the wait fails."""

    def ready() -> bool:
        if process.poll() is not None:
            pytest.fail(f"{what} exited with {process.returncode}:\n{output()}")
        return up()

    try:
        wait_until(ready, timeout=30, what=f"{what} to be up", interval=0.2)
    except BaseException:
        stop_group(process, grace=10)
        raise


def web_start(
    *, database_url: str, redis_url: str, log_dir: Path, port: int | None = None, env: dict[str, str] | None = None
) -> Web:
    """A real `gunicorn novaops.wsgi` as the launcher builds it (two workers) on a free port, or on `port` (a web
    restarted where its clients are pointed), answering /healthz; `env` adds settings (DATABASE_REPLICA_URL)."""
    port = port or free_port()
    log = log_dir / f"gunicorn-{port}.log"
    # The shipped command line; for a test: no access log, no control socket, a quick graceful stop.
    command = launcher.web_command(
        bind=f"127.0.0.1:{port}", access_log=False, extra=("--no-control-socket", "--graceful-timeout", "3")
    )
    process = _service_spawn(command, database_url=database_url, redis_url=redis_url, log=log, env=env)
    web = Web(process, port, log)

    def healthy() -> bool:
        try:
            return web.request("GET", "/healthz").status == 200
        except OSError:
            return False

    _await_up(process, healthy, what="gunicorn", output=lambda: tail(log))
    return web


# --- Valkey and Celery ------------------------------------------------------------------------------------------


@dataclass
class Broker:
    """A private Valkey (Unix socket, AOF on) that a test may stop and start again on the same directory."""

    root: Path
    url: str

    def stop(self) -> None:
        embedded.valkey_down(self.root)
        assert embedded._valkey_pid(self.root) is None, "Valkey is still running"

    def start(self) -> None:
        assert embedded.valkey_up(self.root) == self.url

    def freeze(self) -> None:
        """SIGSTOP: the socket still accepts connections, but nothing answers (a hung or swapped-out server)."""
        os.kill(self._pid(), signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self._pid(), signal.SIGCONT)

    def _pid(self) -> int:
        pid = embedded._valkey_pid(self.root)
        assert pid is not None, "Valkey is not running"
        return pid


@dataclass
class Worker:
    """A real `celery worker` (prefork) in its own process group."""

    process: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def pool_children(self) -> list[int]:
        try:
            return [child.pid for child in psutil.Process(self.pid).children()]
        except psutil.NoSuchProcess:
            return []

    def kill_group(self) -> None:
        """SIGKILL the worker and every process of its group at once: no warm shutdown, no ack, no reject."""
        os.killpg(self.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        # Children of the group die with it; make sure before the test goes on.
        wait_until(lambda: not group_alive(self.pid), timeout=10, what="the killed worker's group to be gone")

    def output(self) -> str:
        return tail(self.log, 200)


def worker_command(*extra_args: str, hostname: str) -> list[str]:
    """The shipped `celery worker` command line (novaops.launcher), with one pool process unless extra_args say
    more (a later --concurrency wins) and a hostname of the test's."""
    return launcher.worker_command(concurrency=1, hostname=hostname, extra=extra_args)


def worker_start(*extra_args: str, database_url: str, redis_url: str, log: Path, hostname: str) -> Worker:
    """A real Celery worker against these servers, ready to consume (its log says "ready")."""
    command = worker_command(*extra_args, hostname=hostname)
    process = _service_spawn(command, database_url=database_url, redis_url=redis_url, log=log)
    worker = Worker(process, log)
    _await_up(process, lambda: " ready." in log.read_text(errors="replace"), what="worker", output=worker.output)
    return worker


# --- A private PostgreSQL ---------------------------------------------------------------------------------------


@dataclass
class Postgres:
    root: Path
    url: str

    def stop(self) -> None:
        embedded.postgres_down(self.root)
        assert embedded._postgres_pid(self.root) is None, "PostgreSQL is still running"

    def start(self) -> None:
        assert embedded.postgres_up(self.root) == self.url, "PostgreSQL came back on another socket"


# --- Celery beat ------------------------------------------------------------------------------------------------


def beat_start(*, database_url: str, redis_url: str, log: Path, schedule: Path) -> Worker:
    """The shipped `celery beat` (novaops.launcher) against these servers, its schedule state in `schedule`; it has
    started once its log says it is "beat: Starting...". A Worker for its process and log."""
    command = launcher.beat_command(schedule=schedule)
    process = _service_spawn(command, database_url=database_url, redis_url=redis_url, log=log)
    beat = Worker(process, log)
    _await_up(process, lambda: "beat: Starting..." in log.read_text(errors="replace"), what="beat", output=beat.output)
    return beat
