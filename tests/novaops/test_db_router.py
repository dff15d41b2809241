"""novaops.db_router and the replica's decorator, banner and lag: which reads go to the replica, and that the
session, the user and every write stay on the primary.

The replica here is the test settings' mirror: a second connection to the test database under the alias
"replica" (TEST MIRROR), so the tests see where each query went. Rows must be committed for that connection to see
them: these tests run in transactional mode. tests/novaops/test_replica.py runs a real streaming replica.
"""

import logging
import types
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.contrib.sessions.models import Session
from django.db import DEFAULT_DB_ALIAS, connections
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from agents.models import Agent
from dashboards.models import SavedView
from metrics.models import Point, Rollup
from novaops.context_processors import replica_lag
from novaops.db_router import REPLICA, PrimaryReplicaRouter, read_alias, replica_reads

SERIES_URL = "/api/v1/metrics/series"
T0 = (datetime.now(UTC) - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)


def _mirror(real_ensure_connection=None, **changes: object):
    """Add the alias "replica" as a second connection to the test database (or wherever `changes` say).

    Django's test case refuses connections to aliases it did not know when the test began, and the mirror is added
    during the test: given the real `ensure_connection` (pytest-django's blocker keeps it), the mirror's connection
    uses it."""
    mirror = {**connections[DEFAULT_DB_ALIAS].settings_dict, "TEST": {"MIRROR": DEFAULT_DB_ALIAS}, **changes}
    connections.settings[REPLICA] = mirror
    connection = connections[REPLICA]
    if real_ensure_connection is not None:
        connection.ensure_connection = types.MethodType(real_ensure_connection, connection)

    def remove() -> None:
        connections[REPLICA].close()
        del connections[REPLICA]
        del connections.settings[REPLICA]

    return remove


@pytest.fixture
def replica_alias():
    """The alias alone, for the router's decisions (no query runs)."""
    remove = _mirror()
    yield
    remove()


@pytest.fixture
def replica(transactional_db, django_db_blocker):
    """The alias, as a connection the test may use."""
    remove = _mirror(django_db_blocker._real_ensure_connection)
    try:
        yield connections[REPLICA]
    finally:
        remove()


@pytest.fixture
def replica_down(transactional_db, django_db_blocker, tmp_path):
    """A replica nobody listens for: its socket directory is empty."""
    remove = _mirror(django_db_blocker._real_ensure_connection, HOST=str(tmp_path), PORT="")
    try:
        yield
    finally:
        remove()


def _tables(queries: list[dict]) -> str:
    return "\n".join(query["sql"] for query in queries)


# --- the router -------------------------------------------------------------------------------------------------


def test_without_a_replica_everything_reads_the_primary():
    router = PrimaryReplicaRouter()
    with replica_reads():
        assert router.db_for_read(Rollup) == DEFAULT_DB_ALIAS
        assert read_alias() == DEFAULT_DB_ALIAS


def test_reads_go_to_the_replica_only_inside_replica_reads(replica_alias):
    router = PrimaryReplicaRouter()
    assert router.db_for_read(Point) == DEFAULT_DB_ALIAS
    assert read_alias() == DEFAULT_DB_ALIAS
    with replica_reads():
        assert router.db_for_read(Point) == REPLICA
        assert router.db_for_read(Agent) == REPLICA
        assert read_alias() == REPLICA
    assert router.db_for_read(Rollup) == DEFAULT_DB_ALIAS


@pytest.mark.parametrize("model", [User, Session, SavedView])
def test_the_viewers_own_rows_stay_on_the_primary_inside_replica_reads(replica_alias, model):
    with replica_reads():
        assert PrimaryReplicaRouter().db_for_read(model) == DEFAULT_DB_ALIAS


def test_writes_and_migrations_go_to_the_primary_only(replica_alias):
    router = PrimaryReplicaRouter()
    with replica_reads():
        assert router.db_for_write(Point) == DEFAULT_DB_ALIAS
    assert router.allow_migrate(DEFAULT_DB_ALIAS, "metrics") is True
    assert router.allow_migrate(REPLICA, "metrics") is False
    assert router.allow_relation(Agent(), Point()) is True


# --- the decorated views ----------------------------------------------------------------------------------------


def test_a_dashboard_request_reads_its_data_from_the_replica_and_the_session_from_the_primary(
    replica, client_as, land, cast
):
    land(cast.division, [("latency_p95_ms", None, T0, 40.0)])
    client = client_as("member")
    with CaptureQueriesContext(connections[DEFAULT_DB_ALIAS]) as primary, CaptureQueriesContext(replica) as copy:
        response = client.get(SERIES_URL, {"metric": "latency_p95_ms", "group_by": "division"})
    assert response.status_code == 200, response.content
    assert response.json()["series"][0]["points"][0][1] == 40.0
    assert "metrics_rollup" in _tables(copy.captured_queries)
    assert "pg_last_wal_replay_lsn" in _tables(copy.captured_queries)
    for table in ("django_session", "auth_user"):
        assert table in _tables(primary.captured_queries)
        assert table not in _tables(copy.captured_queries)
    assert "metrics_rollup" not in _tables(primary.captured_queries)


def test_a_dashboard_page_renders_from_the_replica_without_the_banner_when_it_is_current(replica, client_as, cast):
    client = client_as("lead")
    with CaptureQueriesContext(replica) as copy:
        response = client.get(f"/dashboards/divisions/{cast.division.slug}/")
    assert response.status_code == 200
    assert "agents_division" in _tables(copy.captured_queries)
    assert b"behind the primary" not in response.content


def test_writes_and_undecorated_pages_never_touch_the_replica(replica, client_as, cast):
    client = client_as("lead")
    with CaptureQueriesContext(replica) as copy:
        created = client.post(
            "/api/v1/metrics/catalogue",
            {"key": "replica_probe", "name": "Replica probe"},
            content_type="application/json",
        )
        detail = client.get("/api/v1/metrics/catalogue/replica_probe")
        saved = client.get("/dashboards/views/")
    assert created.status_code == 201, created.content
    assert detail.status_code == 200
    assert saved.status_code == 200
    assert copy.captured_queries == []


def test_a_replica_that_is_down_leaves_the_request_on_the_primary(replica_down, client_as, land, cast, caplog):
    land(cast.division, [("latency_p95_ms", None, T0, 40.0)])
    with caplog.at_level(logging.WARNING, logger="novaops.decorators"):
        response = client_as("member").get(SERIES_URL, {"metric": "latency_p95_ms", "group_by": "division"})
    assert response.status_code == 200, response.content
    assert response.json()["series"][0]["points"][0][1] == 40.0
    assert caplog.text.count("The replica is unavailable") == 1
    # Left alone for a while: the next request does not try it again (and pay the connect timeout again).
    with caplog.at_level(logging.WARNING, logger="novaops.decorators"):
        again = client_as("member").get(SERIES_URL, {"metric": "latency_p95_ms", "group_by": "division"})
    assert again.status_code == 200
    assert caplog.text.count("The replica is unavailable") == 1


# --- the banner -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("lag", "shown"), [(None, None), (0.0, None), (5.0, None), (12.4, 12)])
def test_the_banner_shows_a_lag_of_more_than_five_seconds(lag, shown):
    request = RequestFactory().get("/")
    if lag is not None:
        request.replica_lag = lag
    assert replica_lag(request).get("replica_lag_seconds") == shown


def test_the_layout_says_how_far_behind_the_replica_is():
    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    request.replica_lag = 42.0
    html = render_to_string("base.html", request=request)
    assert 'role="status"' in html
    assert "Dashboards read from a replica 42 s behind the primary" in html
