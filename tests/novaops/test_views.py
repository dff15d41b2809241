from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.utils import timezone

from novaops.models import Heartbeat
from novaops.tasks import worker_heartbeat
from tests.factories import PersonFactory
from tests.helpers import assert_problem


def test_healthz_answers_without_touching_anything(db, client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_database_and_broker(db, client):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "broker": "ok"}
    assert body["background"] == {"celery-worker": {"status": "never seen"}, "celery-beat": {"status": "never seen"}}


def test_readyz_reports_a_recent_worker_heartbeat(db, client):
    Heartbeat.objects.create(component="celery-worker", seen_at=timezone.now(), detail="celery@host-1")
    worker = client.get("/readyz").json()["background"]["celery-worker"]
    assert worker["status"] == "ok"
    assert worker["detail"] == "celery@host-1"
    assert worker["age_seconds"] <= 5


def test_readyz_reports_a_late_worker_but_stays_ready(db, client):
    """Three missed heartbeats (3 × 30 s) make the worker late; the web process itself is still ready."""
    Heartbeat.objects.create(component="celery-worker", seen_at=timezone.now() - timedelta(seconds=91))
    response = client.get("/readyz")
    assert response.status_code == 200
    worker = response.json()["background"]["celery-worker"]
    assert worker["status"] == "late"
    assert worker["age_seconds"] >= 91


def test_readyz_reports_the_worker_and_beat_from_one_heartbeat(db, client):
    """Beat sent the heartbeat at 09:00:00, a worker ran it 2 s later: both ok, each with its own time."""
    sent = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with time_machine.travel(sent + timedelta(seconds=2), tick=False):
        worker_heartbeat.apply(kwargs={"sent_at": sent.isoformat()})
        background = client.get("/readyz").json()["background"]
    assert background["celery-worker"]["status"] == background["celery-beat"]["status"] == "ok"
    assert background["celery-beat"]["seen_at"] == "2026-03-02T09:00:00+00:00"
    assert background["celery-worker"]["seen_at"] == "2026-03-02T09:00:02+00:00"
    assert background["celery-beat"]["detail"].endswith("2.0 s after it was sent")
    with time_machine.travel(sent + timedelta(seconds=93), tick=False):
        response = client.get("/readyz")
    assert response.status_code == 200
    assert {name: entry["status"] for name, entry in response.json()["background"].items()} == {
        "celery-worker": "late",
        "celery-beat": "late",
    }


def test_readyz_says_beat_is_late_when_the_worker_runs_old_heartbeats(db, client):
    """A worker back after an outage runs the heartbeats queued meanwhile: the worker is ok, beat's time is old."""
    sent = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with time_machine.travel(sent + timedelta(minutes=10), tick=False):
        worker_heartbeat.apply(kwargs={"sent_at": sent.isoformat()})
        worker_heartbeat.apply(kwargs={"sent_at": (sent - timedelta(minutes=1)).isoformat()})  # older, delivered late
        background = client.get("/readyz").json()["background"]
    assert (background["celery-worker"]["status"], background["celery-beat"]["status"]) == ("ok", "late")
    assert background["celery-beat"]["seen_at"] == "2026-03-02T09:00:00+00:00"  # never backwards
    assert background["celery-beat"]["detail"].endswith("600.0 s after it was sent")


def test_readyz_names_an_unreachable_broker(db, client, settings, tmp_path):
    settings.REDIS_URL = f"redis+socket://{tmp_path / 'nobody-listens.sock'}"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response["Retry-After"]
    body = response.json()
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("unavailable")


@pytest.fixture
def database_gone(transactional_db, tmp_path):
    """Point the connection at a socket directory where no server listens: a real connection failure."""
    original = connection.settings_dict["HOST"]
    connection.close()
    connection.settings_dict["HOST"] = str(tmp_path)
    yield
    connection.close()
    connection.settings_dict["HOST"] = original


def test_readyz_names_an_unreachable_database(database_gone, client):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"].startswith("unavailable")


def test_api_answers_503_with_retry_after_when_the_database_is_gone(transactional_db, tmp_path, client):
    user = PersonFactory(role="viewer").user
    client.force_login(user)
    original = connection.settings_dict["HOST"]
    connection.close()
    connection.settings_dict["HOST"] = str(tmp_path)
    try:
        api = client.get("/api/v1/agents")
        page = client.get("/registry/agents/")
    finally:
        connection.close()
        connection.settings_dict["HOST"] = original
    for response in (api, page):
        assert response.status_code == 503
        assert response["Content-Type"] == "application/problem+json"
        assert response["Retry-After"] == "5"
        assert response.json()["title"] == "Service unavailable"
    # and it recovers by itself once the database is back
    assert client.get("/api/v1/agents").status_code == 200


def test_unknown_api_path_is_a_json_404(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def test_a_post_to_an_unknown_api_path_is_a_json_404_not_a_csrf_page(db):
    response = Client(enforce_csrf_checks=True).post("/api/v1/nothing-here", "{}", content_type="application/json")
    assert_problem(response, 404)


def test_a_csrf_failure_on_a_page_is_our_403_page(db, cast):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(cast.lead)
    response = browser.post("/accounts/logout/")
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")
    assert b"CSRF check failed" in response.content
