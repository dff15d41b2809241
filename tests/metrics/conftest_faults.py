"""Fixtures for tests/metrics/test_faults.py: real gunicorn, real Celery workers, private Valkey and PostgreSQL.

Everything here starts real processes and servers; nothing of ours is mocked. Every process is started in its own
session (process group) so that teardown — and a test that means it — can kill it with all its children, and
every wait is a bounded loop with a deadline. Servers listen on 127.0.0.1 (gunicorn, on a free port) or on Unix
sockets in the test's own directories (Valkey, PostgreSQL), never on the machine's 5432 / 6379. The gunicorn
and worker logs stay in the test's tmp_path (pytest keeps the last few) for a post-mortem.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg
import pytest
from django.db import connection

from novaops import embedded
from tests.conftest import database_url_for_subprocesses
from tests.helpers import subprocess_env

BIN = Path(sys.executable).parent
PROJECT = Path(__file__).resolve().parents[2]
URL = "/api/v1/metrics/batches"
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


def _stop_group(process: subprocess.Popen, *, grace: float = 10.0) -> None:
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


def _tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


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

    def post_batch(self, body: bytes, *, token: str, key: str | None = None) -> Reply:
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        if key:
            headers["Idempotency-Key"] = key
        return self.request("POST", URL, body, headers)


def _subprocess_env(*, database_url: str, redis_url: str) -> dict[str, str]:
    return subprocess_env(DATABASE_URL=database_url, REDIS_URL=redis_url, DEBUG="true", PYTHONUNBUFFERED="1")


@pytest.fixture
def gunicorn(tmp_path) -> Iterator[Callable[..., Web]]:
    """start(database_url=…, redis_url=…) → a real `gunicorn novaops.wsgi` with two workers on a free port."""
    started: list[subprocess.Popen] = []

    def start(*, database_url: str, redis_url: str) -> Web:
        port = free_port()
        log = tmp_path / f"gunicorn-{port}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    str(BIN / "gunicorn"),
                    "novaops.wsgi",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    "2",
                    "--no-control-socket",
                    "--graceful-timeout",
                    "3",
                    "--timeout",
                    "60",
                ],
                cwd=PROJECT,
                env=_subprocess_env(database_url=database_url, redis_url=redis_url),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started.append(process)
        web = Web(process, port, log)

        def healthy() -> bool:
            if process.poll() is not None:
                pytest.fail(f"gunicorn exited with {process.returncode}:\n{_tail(log)}")
            try:
                return web.request("GET", "/healthz").status == 200
            except OSError:
                return False

        wait_until(healthy, timeout=30, what="gunicorn to answer /healthz", interval=0.2)
        return web

    yield start
    for process in started:
        _stop_group(process, grace=5)


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


@pytest.fixture
def broker() -> Iterator[Broker]:
    # A short directory of our own: the socket path must fit in sun_path.
    root = Path(tempfile.mkdtemp(prefix="nvf-vk-"))
    try:
        url = embedded.valkey_up(root)
        yield Broker(root, url)
    finally:
        pid = embedded._valkey_pid(root)
        if pid is not None:
            os.kill(pid, signal.SIGCONT)  # a frozen server would not act on the SIGTERM that stops it
        embedded.valkey_down(root)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def celery_on_broker(broker) -> Iterator[None]:
    """Point this process's Celery app at the private broker, so a service called here (batch_sweep) enqueues
    where the test's worker listens. The connection pools are per-URL and cached, so they are dropped both ways."""
    from novaops.celery import app

    def reset_pools() -> None:
        if app._pool is not None:
            app._pool.force_close_all()
        app._pool = None
        if "amqp" in app.__dict__:
            app.amqp._producer_pool = None

    previous = app.conf.broker_url
    reset_pools()
    app.conf.broker_url = broker.url
    try:
        yield
    finally:
        reset_pools()
        app.conf.broker_url = previous


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
        wait_until(lambda: not _group_alive(self.pid), timeout=10, what="the killed worker's group to be gone")

    def output(self) -> str:
        return _tail(self.log, 200)


def _group_alive(pgid: int) -> bool:
    for proc in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, psutil.NoSuchProcess, PermissionError):
            continue
    return False


@pytest.fixture
def workers(transactional_db, broker, tmp_path) -> Iterator[Callable[..., Worker]]:
    """start(*extra_args) → a real Celery worker against the test database and the private broker, ready to
    consume (its log says "ready"). Its output goes to a file: a pipe nobody reads would fill and stall it."""
    started: list[Worker] = []
    env = _subprocess_env(database_url=database_url_for_subprocesses(), redis_url=broker.url)

    def start(*extra_args: str) -> Worker:
        log = tmp_path / f"worker-{len(started)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    str(BIN / "celery"),
                    "-A",
                    "novaops",
                    "worker",
                    "--loglevel",
                    "INFO",
                    "--concurrency",
                    "1",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "--pool",
                    "prefork",
                    "--hostname",
                    f"faults{len(started)}@%h",
                    *extra_args,
                ],
                cwd=PROJECT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        worker = Worker(process, log)
        started.append(worker)

        def ready() -> bool:
            if process.poll() is not None:
                pytest.fail(f"worker exited with {process.returncode}:\n{worker.output()}")
            return " ready." in log.read_text(errors="replace")

        wait_until(ready, timeout=30, what="the Celery worker to be ready", interval=0.2)
        return worker

    yield start
    for worker in started:
        _stop_group(worker.process, grace=10)


# --- The test database ------------------------------------------------------------------------------------------


@pytest.fixture
def points_cleanup(transactional_db) -> Iterator[None]:
    """metrics_point and metrics_rollup are unmanaged, so a transactional test's flush leaves them full; empty them
    so the unit tests' counts stay right in this and later sessions (--reuse-db)."""
    yield
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE metrics_point, metrics_rollup")


@pytest.fixture
def blocker(transactional_db):
    """A second, raw connection to the test database whose open transaction holds the locks a test takes."""
    conn = psycopg.connect(database_url_for_subprocesses())
    try:
        yield conn
    finally:
        conn.rollback()
        conn.close()


def backends_waiting_on_lock(query_part: str) -> list[int]:
    """Backend pids of the test database currently waiting for a lock while running a statement containing this."""
    with connection.cursor() as cursor:
        cursor.execute(
            r"""
            SELECT pid FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid()
              AND wait_event_type = 'Lock' AND state = 'active' AND query ILIKE %s
            ORDER BY backend_start
            """,
            ["%" + query_part + "%"],
        )
        return [row[0] for row in cursor.fetchall()]


def backend_alive(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone()[0] > 0


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


@pytest.fixture
def private_postgres() -> Iterator[Postgres]:
    """A PostgreSQL of this test's own (Unix socket in a short temporary directory), stopped at teardown."""
    root = Path(tempfile.mkdtemp(prefix="nvf-pg-"))
    root.chmod(0o755)  # PostgreSQL runs under its own user when we are root
    try:
        url = embedded.postgres_up(root)
        yield Postgres(root, url)
    finally:
        embedded.postgres_down(root)
        shutil.rmtree(root, ignore_errors=True)


def manage(*args: str, database_url: str, redis_url: str, timeout: float = 120) -> str:
    """Run `manage.py …` in a subprocess against the given servers; returns its stdout, fails on an error."""
    result = subprocess.run(
        [sys.executable, str(PROJECT / "manage.py"), *args],
        cwd=PROJECT,
        env=_subprocess_env(database_url=database_url, redis_url=redis_url),
        capture_output=True,
        timeout=timeout,
        text=True,
    )
    if result.returncode != 0:
        pytest.fail(f"manage.py {args[0]} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.stdout
