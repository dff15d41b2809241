"""metrics.apis.batches through HTTP: status codes, problem bodies and what ends up stored."""

import gzip
import json
from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from agents.services.tokens import division_token_create, division_token_revoke
from metrics.models import IngestBatch, Point, Series
from tests.factories import AgentFactory, DivisionFactory, PersonFactory
from tests.helpers import assert_problem

URL = "/api/v1/metrics/batches"
NOW = datetime.now(UTC).replace(microsecond=0)


def _points(n: int = 3, *, agent: str = "ta_00008", metric: str = "latency_p95_ms", start: int = 0) -> list[dict]:
    return [
        {"metric": metric, "agent": agent, "ts": (NOW - timedelta(minutes=start + i)).isoformat(), "value": 10.0 + i}
        for i in range(n)
    ]


def _post(client: APIClient, body, **headers):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers.setdefault("content_type", "application/json")
    return client.generic("POST", URL, data, **headers)


@pytest.fixture
def post(token_client, django_capture_on_commit_callbacks):
    """POST and run whatever the commit enqueues (eager Celery in unit tests)."""

    def send(body, client=None, **headers):
        with django_capture_on_commit_callbacks(execute=True):
            return _post(client or token_client, body, **headers)

    return send


def test_a_valid_batch_is_accepted_stored_and_processed(post, agent):
    response = post({"points": _points(3)})

    assert response.status_code == 202
    body = response.json()
    assert body == {"id": body["id"], "status": "queued", "points": 3, "series": 1}
    assert response["Location"].endswith(f"/api/v1/metrics/batches/{body['id']}")
    batch = IngestBatch.objects.get(pk=body["id"])
    assert (batch.status, batch.points_written, batch.payload) == ("done", 3, None)
    assert sorted(Point.objects.values_list("value", flat=True)) == [10.0, 11.0, 12.0]


def test_batch_detail_reports_status_and_counts(post, token_client, agent):
    batch_id = post({"points": _points(2)}).json()["id"]
    response = token_client.get(f"{URL}/{batch_id}")
    assert response.status_code == 200
    data = response.json()
    assert (data["status"], data["points"], data["points_written"], data["division"]) == (
        "done",
        2,
        2,
        "novacore-runtime",
    )


def test_gzip_bodies_are_accepted(post, agent):
    response = post(gzip.compress(json.dumps({"points": _points(4)}).encode()), HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 202
    assert Point.objects.count() == 4


def test_epoch_seconds_and_division_level_points(post, division, agent):
    response = post({"points": [{"metric": "queue_backlog", "ts": NOW.timestamp() - 60, "value": 7}]})
    assert response.status_code == 202
    series = Series.objects.get()
    assert (series.agent, series.division) == (None, division)
    point = Point.objects.get()
    assert point.ts == NOW - timedelta(seconds=60) and point.value == 7.0


def test_the_same_points_twice_leave_one_copy_and_the_later_value(post, agent):
    post({"points": _points(3)})
    again = _points(3)
    again[0]["value"] = 99.0
    post({"points": again})
    assert Point.objects.count() == 3
    assert sorted(Point.objects.values_list("value", flat=True)) == [11.0, 12.0, 99.0]


def test_duplicates_inside_one_batch_keep_the_last(post, agent):
    first, second = _points(1), _points(1)
    second[0]["value"] = 5.0
    assert post({"points": first + second}).status_code == 202
    assert list(Point.objects.values_list("value", flat=True)) == [5.0]


def test_tags_make_distinct_series(post, agent):
    points = _points(1) + _points(1)
    points[0]["tags"] = {"region": "eu"}
    points[1]["tags"] = {"region": "us"}
    post({"points": points})
    assert sorted(Series.objects.values_list("tags", flat=True), key=str) == [{"region": "eu"}, {"region": "us"}]


def test_idempotency_key_replays_the_first_answer(post, agent):
    first = post({"points": _points(2)}, HTTP_IDEMPOTENCY_KEY="k-1")
    second = post({"points": _points(2)}, HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert second["Idempotent-Replayed"] == "true"
    assert IngestBatch.objects.count() == 1


def test_idempotency_key_with_another_body_is_422(post, agent):
    post({"points": _points(2)}, HTTP_IDEMPOTENCY_KEY="k-2")
    response = post({"points": _points(3)}, HTTP_IDEMPOTENCY_KEY="k-2")
    assert response.status_code == 422
    assert "different body" in response.json()["detail"]
    assert IngestBatch.objects.count() == 1


@pytest.mark.parametrize(
    ("point", "field", "message"),
    [
        ({"agent": "ta_00008", "ts": NOW.isoformat(), "value": 1}, "metric", "Required string."),
        ({"metric": "nope", "ts": NOW.isoformat(), "value": 1}, "metric", "Unknown metric 'nope'."),
        ({"metric": "uptime_pct", "agent": "ta_99999", "ts": NOW.isoformat(), "value": 1}, "agent", "Unknown agent"),
        ({"metric": "uptime_pct", "agent": "bob", "ts": NOW.isoformat(), "value": 1}, "agent", "handle like"),
        # The handle must be all there is: "$" would also match before a trailing newline.
        ({"metric": "uptime_pct", "agent": "ta_00008\n", "ts": NOW.isoformat(), "value": 1}, "agent", "handle like"),
        ({"metric": "uptime_pct", "ts": "yesterday", "value": 1}, "ts", "Not an RFC 3339 timestamp"),
        ({"metric": "uptime_pct", "ts": "2026-11-27T10:00:00", "value": 1}, "ts", "no UTC offset"),
        ({"metric": "uptime_pct", "ts": (NOW + timedelta(hours=1)).isoformat(), "value": 1}, "ts", "future"),
        ({"metric": "uptime_pct", "ts": "2001-01-01T00:00:00Z", "value": 1}, "ts", "retention"),
        # Finite in seconds, infinite in microseconds: a 400, never a 500.
        ({"metric": "uptime_pct", "ts": 1.7976931348623157e308, "value": 1}, "ts", "out of range"),
        ({"metric": "uptime_pct", "ts": NOW.isoformat(), "value": "1"}, "value", "Expected a number."),
        ({"metric": "uptime_pct", "ts": NOW.isoformat(), "value": True}, "value", "Expected a number."),
        ({"metric": "uptime_pct", "ts": NOW.isoformat()}, "value", "Required number."),
        # Past 64 bits orjson gives way to the standard parser, whose integer no double can hold.
        ({"metric": "uptime_pct", "ts": NOW.isoformat(), "value": 10**400}, "value", "Too large"),
        (
            {"metric": "uptime_pct", "ts": NOW.isoformat(), "value": 1, "tags": {f"k{i}": "v" for i in range(17)}},
            "tags",
            "at most 16",
        ),
        ({"metric": "uptime_pct", "ts": NOW.isoformat(), "value": 1, "tags": {"k": "v" * 201}}, "tags", "longer"),
        ({"metric": "uptime_pct", "ts": NOW.isoformat(), "value": 1, "colour": "red"}, "colour", "Unknown field"),
    ],
)
def test_each_bad_point_is_reported_and_nothing_is_stored(post, agent, point, field, message):
    response = post({"points": [*_points(2), point]})
    errors = assert_problem(response, 400)["errors"]
    assert [(e["index"], e["field"]) for e in errors] == [(2, field)]
    assert message in errors[0]["message"]
    assert (IngestBatch.objects.count(), Series.objects.count(), Point.objects.count()) == (0, 0, 0)


def test_nan_and_infinity_are_reported_per_point(post, agent):
    ts = int(NOW.timestamp())
    body = (
        f'{{"points": [{{"metric": "uptime_pct", "ts": {ts}, "value": NaN}},'
        f' {{"metric": "uptime_pct", "ts": {ts}, "value": Infinity}}]}}'
    )
    response = post(body.encode())
    assert response.status_code == 400
    assert [(e["index"], e["field"]) for e in response.json()["errors"]] == [(0, "value"), (1, "value")]


def test_many_errors_are_capped_and_counted(post, agent):
    response = post({"points": [{"metric": "nope", "ts": NOW.isoformat(), "value": 1}] * 150})
    body = response.json()
    assert response.status_code == 400
    assert len(body["errors"]) == 100 and body["errors_not_listed"] == 50
    assert body["detail"] == "150 invalid point(s); nothing was stored."


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"{not json", "Malformed JSON"),
        (b"[]", 'Expected a JSON object with a "points" list.'),
        (b'{"points": {}}', '"points" must be a list.'),
        (b'{"points": []}', '"points" is empty.'),
        (b'{"points": [], "extra": 1}', "Unknown top-level field(s): extra."),
    ],
)
def test_malformed_bodies_are_400(post, body, detail):
    response = post(body)
    assert response.status_code == 400
    assert detail in response.json()["detail"]


def test_too_many_points_is_400(post, agent):
    response = post({"points": [{"metric": "uptime_pct", "ts": NOW.timestamp(), "value": 1}] * 50_001})
    assert response.status_code == 400
    assert "at most 50000" in response.json()["detail"]


def test_agents_of_another_division_make_the_batch_403_naming_them(post, agent):
    AgentFactory(handle="ta_00100", division=DivisionFactory())
    response = post({"points": _points(1) + _points(1, agent="ta_00100", start=5)})
    assert response.status_code == 403
    assert "ta_00100" in response.json()["detail"] and response.json()["agents"] == ["ta_00100"]
    assert IngestBatch.objects.count() == 0


def test_wrong_content_type_is_415(post):
    response = post(b"metric=1", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert response.json()["status"] == 415


@pytest.mark.parametrize("encoding", ["br", "gzip, br", "deflate", "gzip;q=1"])
def test_unknown_content_encoding_is_415(post, encoding):
    assert_problem(post(b"{}", HTTP_CONTENT_ENCODING=encoding), 415)


@pytest.mark.parametrize("encoding", ["", "identity", "IDENTITY", " gzip ", "x-gzip", "GZip"])
def test_the_documented_content_encodings_are_accepted(post, agent, encoding):
    body = json.dumps({"points": _points(1)}).encode()
    if "gzip" in encoding.lower():
        body = gzip.compress(body)

    assert post(body, HTTP_CONTENT_ENCODING=encoding).status_code == 202


def test_a_declared_body_over_the_limit_is_413(post, settings):
    settings.METRICS_MAX_BODY_BYTES = 1000
    response = post({"points": _points(30)})
    assert response.status_code == 413
    assert "1000-byte limit" in response.json()["detail"]


def test_a_gzip_bomb_is_413_without_inflating_it_whole(post, settings):
    settings.METRICS_MAX_BODY_BYTES = 100_000
    bomb = gzip.compress(b"[" + b" " * 5_000_000 + b"]")
    assert len(bomb) < 100_000
    response = post(bomb, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 413
    assert "decompresses to more than 100000 bytes" in response.json()["detail"]


def test_broken_gzip_is_400(post):
    response = post(b"\x1f\x8bnot really gzip", HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 400


def test_a_division_over_its_batch_quota_gets_429_with_retry_after(post, agent, settings):
    settings.METRICS_QUOTA_BATCHES_PER_MINUTE = 1
    assert post({"points": _points(1)}).status_code == 202
    response = post({"points": _points(1, start=3)})
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "quota" in response.json()["detail"]


def test_new_series_past_the_division_cap_are_422_naming_the_cap_and_nothing_is_stored(post, agent, settings):
    settings.METRICS_DIVISION_MAX_SERIES = 1
    assert post({"points": _points(1)}).status_code == 202
    tagged = [{**point, "tags": {"region": "eu"}} for point in _points(2, start=3)]

    response = post({"points": tagged})

    assert_problem(response, 422)
    assert response.json()["detail"] == (
        "NovaCore Runtime is at its cap of 1 series. 2 point(s) refused; nothing was stored."
    )
    assert IngestBatch.objects.count() == 1


def test_missing_token_is_401_with_bearer_challenge(agent):
    response = _post(APIClient(), {"points": _points(1)})
    assert_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("credential", ["Bearer nvo_deadbeef_wrong", "Bearer garbage", "Bearer nvo__"])
def test_bad_tokens_are_401(agent, credential):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=credential)
    response = _post(client, {"points": _points(1)})
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_token_is_403(token, agent):
    division_token_revoke(token=token[0])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token[1]}")
    response = _post(client, {"points": _points(1)})
    assert response.status_code == 403
    assert "revoked" in response.json()["detail"]


def test_an_expired_token_is_403(division, agent):
    _, secret = division_token_create(division=division, name="old", expires_at=NOW - timedelta(days=1))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    response = _post(client, {"points": _points(1)})
    assert response.status_code == 403
    assert "expired" in response.json()["detail"]


def test_a_session_user_cannot_post_batches(agent):
    client = APIClient()
    client.force_authenticate(PersonFactory(role="tier1_lead").user)
    assert _post(client, {"points": _points(1)}).status_code in (401, 403)


def test_another_divisions_token_cannot_read_the_batch(post, agent):
    batch_id = post({"points": _points(1)}).json()["id"]
    _, secret = division_token_create(division=DivisionFactory(), name="other")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert client.get(f"{URL}/{batch_id}").status_code == 403


def test_signed_in_people_can_read_batches_and_unknown_ids_are_404(post, agent):
    batch_id = post({"points": _points(1)}).json()["id"]
    client = APIClient()
    client.force_authenticate(PersonFactory(role="viewer").user)
    assert client.get(f"{URL}/{batch_id}").status_code == 200
    assert_problem(client.get(f"{URL}/999999"), 404)
