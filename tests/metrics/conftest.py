"""Fixtures of the metrics tests: the cast's division with agent ta_00008, landing points, and the real servers of the
fault-tolerance tests (gunicorn, a private PostgreSQL; workers and broker come from tests/conftest.py)."""

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from agents.services.tokens import division_token_create
from novaops import embedded
from tests.factories import AgentFactory
from tests.helpers.processes import Postgres, Web, database_url_for_subprocesses, stop_group, web_start


@pytest.fixture
def division(cast):
    """The cast's division (NovaCore Runtime): the shared token_client posts for it."""
    return cast.division


@pytest.fixture
def agent(division):
    return AgentFactory(handle="ta_00008", callsign="Core", division=division)


@pytest.fixture
def token(division):
    """(DivisionToken, secret) for the division."""
    return division_token_create(division=division, name="collector")


# --- real servers for the fault-tolerance tests (tests/metrics/test_faults.py) ----------------------------------


@pytest.fixture
def gunicorn(tmp_path) -> Iterator[Callable[..., Web]]:
    """start(database_url=…, redis_url=…, port=None) → a real `gunicorn novaops.wsgi` with two workers on a free
    port (or that port)."""
    started: list[Web] = []

    def start(*, database_url: str, redis_url: str, port: int | None = None) -> Web:
        web = web_start(database_url=database_url, redis_url=redis_url, log_dir=tmp_path, port=port)
        started.append(web)
        return web

    yield start
    for web in started:
        stop_group(web.process, grace=5)


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


# --- a real Temporal dev server for the Temporal poller's tests (tests/helpers/temporal.py) ----------------------


@pytest.fixture(scope="session")
def temporal_server(tmp_path_factory):
    """One `temporal server start-dev` for the session (a few seconds to start); tests keep apart by task queue."""
    from tests.helpers.temporal import dev_server_start

    server = dev_server_start(tmp_path_factory.mktemp("temporal"))
    try:
        yield server
    finally:
        stop_group(server.process, grace=10)
