"""Fault tolerance of the ingest pipeline, with real processes: gunicorn, Celery workers, Valkey and PostgreSQL.

What the ingest pipeline promises (see docs/architecture.md), tried for real: a broker outage never costs an
accepted batch nor answers 500; a worker killed mid-batch (whole, or just its pool child) loses and duplicates
nothing; a database outage answers 503 + Retry-After and the same web processes recover by themselves; the same
batch posted twice, in a row or at once, lands each point once. Nothing of ours is mocked; every wait has a
deadline. The harness is tests/helpers/processes.py; its fixtures are in the conftests.
"""

from __future__ import annotations

import io
import json
import os
import signal
import threading
import time
from datetime import UTC, datetime, timedelta

import psutil
import psycopg
import pytest
from django.db import connection

from agents.services.tokens import division_token_create
from metrics.models import IngestBatch
from metrics.services.batches import batch_sweep
from novaops import launcher
from tests.factories import AgentFactory, DivisionFactory
from tests.helpers.processes import (
    PROJECT,
    REQUEST_TIMEOUT,
    Reply,
    Web,
    beat_start,
    database_url_for_subprocesses,
    free_port,
    manage,
    server_env,
    stop_group,
    wait_until,
)

pytestmark = pytest.mark.worker

# Recent enough for the retention window, old enough never to be "in the future"; whole seconds.
BASE = (datetime.now(UTC) - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)


def _points(case: str, n: int, *, start: int = 0, value: float = 0.0) -> list[dict]:
    """n points of one series (tagged with the case), one a minute from BASE + start minutes."""
    return [
        {
            "metric": "latency_p95_ms",
            "agent": "ta_00008",
            "ts": (BASE + timedelta(minutes=start + i)).isoformat(),
            "value": value + start + i + 0.5,
            "tags": {"case": case},
        }
        for i in range(n)
    ]


def _body(points: list[dict]) -> bytes:
    return json.dumps({"points": points}).encode()


def post_batch(web: Web, body: bytes, *, token: str, key: str | None = None) -> Reply:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    if key:
        headers["Idempotency-Key"] = key
    return web.request("POST", "/api/v1/metrics/batches", body, headers)


def _expected(*batches: list[dict]) -> dict[datetime, float]:
    """What metrics_point must hold after these batches landed in this order: the last value per timestamp."""
    expected = {}
    for points in batches:
        for point in points:
            expected[datetime.fromisoformat(point["ts"])] = point["value"]
    return expected


def _stored(case: str) -> dict[datetime, float]:
    """The points of the case's series, failing on a duplicated timestamp (the primary key forbids one anyway)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT p.ts, p.value FROM metrics_point p JOIN metrics_series s ON s.id = p.series_id
            WHERE s.tags = jsonb_build_object('case', %s::text) ORDER BY p.ts
            """,
            [case],
        )
        rows = cursor.fetchall()
    stored = {ts.astimezone(UTC): value for ts, value in rows}
    assert len(stored) == len(rows), f"duplicated points in {case}"
    return stored


def _rollup_totals(case: str) -> tuple[int, float]:
    """(points counted, sum of values) over the case's 5-minute rollups: a point landed twice would show here."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT coalesce(sum(r.count), 0), coalesce(sum(r.sum), 0) FROM metrics_rollup r
            JOIN metrics_series s ON s.id = r.series_id
            WHERE r.resolution = 300 AND s.tags = jsonb_build_object('case', %s::text)
            """,
            [case],
        )
        count, total = cursor.fetchone()
    return int(count), float(total)


def _assert_landed_exactly(case: str, expected: dict[datetime, float]) -> None:
    assert _stored(case) == expected
    assert _rollup_totals(case) == (len(expected), pytest.approx(sum(expected.values())))


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


def _statuses(ids) -> dict[int, str]:
    return dict(IngestBatch.objects.filter(pk__in=list(ids)).values_list("pk", "status"))


def _wait_done(ids, *, timeout: float = 30) -> None:
    ids = set(ids)
    wait_until(
        lambda: set(_statuses(ids).values()) == {"done"},
        timeout=timeout,
        what=f"batches {sorted(ids)} to be done (now {_statuses(ids)})",
    )


def _assert_no_500_and_problem_503(reply: Reply) -> None:
    assert reply.status != 500, reply.body[:500]
    assert reply.elapsed < REQUEST_TIMEOUT
    if reply.status == 503:
        assert int(reply.headers["retry-after"]) > 0
        assert reply.headers["content-type"].startswith("application/problem+json")
        problem = json.loads(reply.body)
        assert problem["status"] == 503 and problem["title"] and problem["detail"]


@pytest.fixture
def client_token(transactional_db, points_cleanup) -> str:
    """A division with agent ta_00008 and a token, committed: the web and worker processes must see them."""
    division = DivisionFactory(name="NovaCore Runtime", slug="novacore-runtime")
    AgentFactory(handle="ta_00008", callsign="Core", division=division)
    return division_token_create(division=division, name="collector")[1]


# --- 1. Broker down while batches are posted ---------------------------------------------------------------------


def test_batches_posted_while_the_broker_is_down_are_kept_and_land_once_it_is_back(
    client_token, broker, gunicorn, workers, celery_on_broker
):
    """Every POST answers promptly — 202 (the batch is in PostgreSQL) or 503 + Retry-After, never 500 — and once
    Valkey is back (its AOF kept its data), the sweeper hands the kept batches to a real worker.

    The sweep runs here, in the test process, with the Celery app pointed at the private broker: it is the very
    function beat's `metrics.batch_sweep` task calls, and calling it directly (with no grace period) keeps the
    test deterministic instead of waiting for beat's 15 s tick plus the sweeper's 10 s grace.
    """
    web = gunicorn(database_url=database_url_for_subprocesses(), redis_url=broker.url)
    sent: dict[int, list[dict]] = {}

    def post(points: list[dict]) -> Reply:
        reply = post_batch(web, _body(points), token=client_token)
        _assert_no_500_and_problem_503(reply)
        if reply.status == 202:
            sent[reply.json()["id"]] = points
        return reply

    web_pids = web.worker_pids()
    # Published before the outage, with no worker yet: these messages wait in Valkey, which must keep them.
    before = [post(_points("broker-down", 5, start=10 * i)).json()["id"] for i in range(2)]
    assert IngestBatch.objects.filter(pk__in=before, enqueued_at__isnull=False).count() == 2

    broker.stop()
    replies = [post(_points("broker-down", 5, start=20 + 10 * i)) for i in range(6)]
    during = [reply.json()["id"] for reply in replies if reply.status == 202]
    assert during, f"no batch was accepted while the broker was down: {[r.status for r in replies]}"
    # Committed before the 202, though no message could be published.
    assert set(_statuses(during).values()) == {"queued"}
    assert IngestBatch.objects.filter(pk__in=during, enqueued_at__isnull=True).count() == len(during)

    broker.start()
    # The same web processes publish again without a restart (several posts, so both gunicorn workers likely).
    after = [post(_points("broker-down", 5, start=90 + 10 * i)) for i in range(3)]
    assert [reply.status for reply in after] == [202] * 3
    after_ids = [reply.json()["id"] for reply in after]
    assert IngestBatch.objects.filter(pk__in=after_ids, enqueued_at__isnull=False).count() == 3
    assert web.worker_pids() == web_pids

    workers()
    # Only the batches whose message was never published need the sweeper; the others come from the queue the
    # restarted Valkey read back from its append-only file.
    assert sorted(batch_sweep(queued_grace=timedelta(0))) == sorted(during)

    _wait_done(sent)
    _assert_landed_exactly("broker-down", _expected(*sent.values()))
    batches = IngestBatch.objects.filter(pk__in=list(sent))
    assert all(b.points_written == b.point_count == 5 and b.payload is None for b in batches)


def test_batches_posted_while_the_broker_is_frozen_answer_promptly_and_land_once_it_thaws(
    client_token, broker, gunicorn, workers, celery_on_broker
):
    """A broker that accepts connections but never answers (SIGSTOP) must not hang a POST: the publish gives up
    after one socket timeout (no publish or reconnect retries in the request), the batch stays in PostgreSQL,
    and once the broker is back the worker that was running all along recovers and the sweeper publishes what
    is still queued."""
    web = gunicorn(database_url=database_url_for_subprocesses(), redis_url=broker.url)
    workers()
    sent: dict[int, list[dict]] = {}
    warm = post_batch(web, _body(_points("frozen", 1, start=0)), token=client_token)
    _wait_done([warm.json()["id"]])  # the web's and the worker's connections are open
    broker.freeze()
    try:
        for i in range(3):
            points = _points("frozen", 5, start=10 + 10 * i)
            reply = post_batch(web, _body(points), token=client_token)
            _assert_no_500_and_problem_503(reply)
            print(f"POST with the broker frozen: {reply.status} after {reply.elapsed:.1f} s")
            if reply.status == 202:
                sent[reply.json()["id"]] = points
    finally:
        broker.thaw()
    assert sent, "no batch was accepted while the broker was frozen"
    assert IngestBatch.objects.filter(pk__in=list(sent), enqueued_at__isnull=True).count() == len(sent)

    # A publish that timed out may still have reached the socket, and the thawed broker then delivers it: the
    # sweeper publishes what is still queued, and a message twice is harmless (the second finds the batch done).
    assert set(batch_sweep(queued_grace=timedelta(0))) <= set(sent)
    _wait_done(sent)
    _assert_landed_exactly("frozen", _expected(_points("frozen", 1, start=0), *sent.values()))


# --- 2. A worker killed in the middle of a batch ----------------------------------------------------------------


def _series_id(case: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM metrics_series WHERE tags = jsonb_build_object('case', %s::text)", [case])
        return cursor.fetchone()[0]


def test_a_worker_killed_inside_the_batch_transaction_loses_and_duplicates_nothing(
    client_token, broker, gunicorn, workers, celery_on_broker, blocker
):
    """SIGKILL of the whole worker (main process and pool child) while it is inside the batch's transaction.

    The batch is made to stop there deterministically: this test holds a row lock on one point the batch
    updates, so the worker's INSERT … ON CONFLICT waits for it, with the batch row locked FOR UPDATE. The message
    stays unacked in Valkey (back only after the 3600 s visibility timeout), so the sweeper is what brings the
    batch back; it is run here with stalled_after=0 instead of waiting 30 s.
    """
    web = gunicorn(database_url=database_url_for_subprocesses(), redis_url=broker.url)
    worker = workers()
    first = _points("killed", 5)
    reply = post_batch(web, _body(first), token=client_token)
    assert reply.status == 202, reply.body
    _wait_done([reply.json()["id"]])

    # Hold the point at BASE+3 min; the next batch rewrites it (and 4 more).
    blocker.execute(
        "SELECT 1 FROM metrics_point WHERE series_id = %s AND ts = %s FOR UPDATE",
        [_series_id("killed"), BASE + timedelta(minutes=3)],
    ).fetchone()
    second = _points("killed", 5, start=3, value=100)
    reply = post_batch(web, _body(second), token=client_token)
    assert reply.status == 202
    batch_id = reply.json()["id"]

    stuck = wait_until(
        lambda: backends_waiting_on_lock("INSERT INTO metrics_point"),
        timeout=20,
        what="the worker to block inside the batch transaction",
    )
    assert len(stuck) == 1
    assert _statuses([batch_id]) == {batch_id: "processing"}
    # A live transaction holds the batch: the sweeper leaves it alone (SKIP LOCKED), however old it is.
    assert batch_sweep(stalled_after=timedelta(0)) == []

    worker.kill_group()
    # PostgreSQL notices the dead client only when the blocked statement finishes and answers into a closed
    # socket; until then the dead worker's backend still holds the batch row, and the sweeper still skips it.
    assert backend_alive(stuck[0])
    assert batch_sweep(stalled_after=timedelta(0)) == []
    blocker.rollback()
    wait_until(lambda: not backend_alive(stuck[0]), timeout=20, what="the dead worker's backend to end")

    # Its transaction rolled back whole: the batch is still processing and not one of its points landed.
    batch = IngestBatch.objects.get(pk=batch_id)
    assert (batch.status, batch.payload is not None, batch.points_written) == ("processing", True, 0)
    _assert_landed_exactly("killed", _expected(first))

    workers()
    assert batch_sweep(stalled_after=timedelta(0)) == [batch_id]
    _wait_done([batch_id])
    _assert_landed_exactly("killed", _expected(first, second))
    batch.refresh_from_db()
    assert (batch.points_written, batch.payload, batch.attempts) == (5, None, 2)  # the killed run counts


def _partition_name(day) -> str:
    return f"metrics_point_{day:%Y%m%d}"


def test_a_killed_pool_child_gets_its_message_requeued_at_once(
    client_token, broker, gunicorn, workers, celery_on_broker, blocker
):
    """SIGKILL of the prefork pool child only: acks_late + reject_on_worker_lost requeue the message at once, and
    the same worker's next child runs it — no sweeper, no visibility timeout.

    The child is stopped mid-batch (status processing, before the batch transaction) by a table lock that makes
    the partition it must create wait. Then a second kill inside the batch transaction: the requeued copy finds
    the row still locked by the dead child's backend and leaves it (SKIP LOCKED); the sweeper finishes it.
    """
    web = gunicorn(database_url=database_url_for_subprocesses(), redis_url=broker.url)
    worker = workers()
    day = (BASE - timedelta(days=3)).date()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {_partition_name(day)}")
    early = [dict(p, ts=(datetime.fromisoformat(p["ts"]) - timedelta(days=3)).isoformat()) for p in _points("child", 5)]

    # (a) Killed while waiting to create the partition: nothing of the batch is locked by the dead child.
    blocker.execute("LOCK TABLE metrics_point IN ACCESS EXCLUSIVE MODE")
    reply = post_batch(web, _body(early), token=client_token)
    assert reply.status == 202
    batch_id = reply.json()["id"]
    first_try = wait_until(
        lambda: backends_waiting_on_lock("CREATE TABLE"), timeout=20, what="the child to wait for its partition"
    )
    assert _statuses([batch_id]) == {batch_id: "processing"}
    [child] = worker.pool_children()
    os.kill(child, signal.SIGKILL)
    # The same worker's new child takes the requeued message and waits for the same lock: a second backend.
    second_try = wait_until(
        lambda: [pid for pid in backends_waiting_on_lock("CREATE TABLE") if pid not in first_try],
        timeout=20,
        what="the requeued message to run again",
    )
    assert len(second_try) == 1 and worker.process.poll() is None
    blocker.rollback()
    _wait_done([batch_id])
    _assert_landed_exactly("child", _expected(early))
    assert IngestBatch.objects.get(pk=batch_id).attempts == 2  # the killed run and the one that landed it

    # (b) Killed inside the batch transaction, blocked on a point it rewrites.
    blocker.execute(
        "SELECT 1 FROM metrics_point WHERE series_id = %s AND ts = %s FOR UPDATE",
        [_series_id("child"), datetime.fromisoformat(early[2]["ts"])],
    ).fetchone()
    again = [dict(p, value=p["value"] + 1000) for p in early]
    reply = post_batch(web, _body(again), token=client_token)
    assert reply.status == 202
    batch_id = reply.json()["id"]
    [stuck] = wait_until(
        lambda: backends_waiting_on_lock("INSERT INTO metrics_point"), timeout=20, what="the child to block"
    )
    [child] = worker.pool_children()
    os.kill(child, signal.SIGKILL)
    wait_until(
        lambda: "'locked elsewhere'" in worker.output(),
        timeout=20,
        what="the requeued copy to find the batch locked by the dead child's backend",
    )
    blocker.rollback()
    wait_until(lambda: not backend_alive(stuck), timeout=20, what="the dead child's backend to end")
    _assert_landed_exactly("child", _expected(early))  # nothing of the killed run landed
    assert batch_sweep(stalled_after=timedelta(0)) == [batch_id]
    _wait_done([batch_id])
    _assert_landed_exactly("child", _expected(early, again))


# --- 3. PostgreSQL down while batches are posted -----------------------------------------------------------------

CREATE_CLIENT = """
from agents.models import Agent, Division, Domain
from agents.services.tokens import division_token_create
domain = Domain.objects.create(slug="novaops", name="NovaOps")
division = Division.objects.create(domain=domain, slug="novacore-runtime", name="NovaCore Runtime")
Agent.objects.create(handle="ta_00008", callsign="Core", division=division)
print(division_token_create(division=division, name="collector")[1])
"""


def _batches_in(database_url: str) -> dict[int, int]:
    with psycopg.connect(database_url) as conn:
        return dict(conn.execute("SELECT id, point_count FROM metrics_ingestbatch").fetchall())


def test_the_database_down_answers_503_and_the_same_web_recovers(private_postgres, broker, gunicorn):
    """A PostgreSQL of this test's own, stopped under a running gunicorn: every POST (and GET) answers 503 with
    Retry-After and a problem body, never 500 and never a hang; started again, the same web processes answer 202
    (CONN_HEALTH_CHECKS drops their dead persistent connections)."""
    pg = private_postgres
    manage("migrate", "--no-input", database_url=pg.url, redis_url=broker.url)
    token = manage("shell", "-c", CREATE_CLIENT, database_url=pg.url, redis_url=broker.url).split()[-1]
    web = gunicorn(database_url=pg.url, redis_url=broker.url)
    web_pids = web.worker_pids()

    accepted = {}
    # Two rounds per gunicorn worker at least, so that each holds a persistent connection when the server stops.
    for i in range(4):
        points = _points("db-down", 3, start=3 * i)
        reply = post_batch(web, _body(points), token=token)
        assert reply.status == 202, reply.body
        accepted[reply.json()["id"]] = len(points)

    pg.stop()
    for i in range(6):
        reply = post_batch(web, _body(_points("db-down", 3, start=20 + 3 * i)), token=token)
        assert reply.status == 503, reply.body[:500]
        _assert_no_500_and_problem_503(reply)
    batch_url = f"/api/v1/metrics/batches/{next(iter(accepted))}"
    reply = web.request("GET", batch_url, None, {"Authorization": f"Bearer {token}"})
    assert reply.status == 503, reply.body[:500]
    _assert_no_500_and_problem_503(reply)

    pg.start()
    for i in range(6):
        points = _points("db-down", 3, start=50 + 3 * i)
        reply = post_batch(web, _body(points), token=token)
        assert reply.status == 202, reply.body[:500]
        accepted[reply.json()["id"]] = len(points)
    assert web.worker_pids() == web_pids, "gunicorn respawned its workers"
    # Exactly the accepted batches are stored: nothing of the refused ones.
    assert _batches_in(pg.url) == accepted


# --- 4. The same batch twice ------------------------------------------------------------------------------------


def _post_at_once(web, body: bytes, *, token: str, key: str | None) -> list[Reply]:
    """Two clients send the same request at the same moment (two threads, two gunicorn workers)."""
    barrier = threading.Barrier(2)
    replies: list[Reply | BaseException | None] = [None, None]

    def send(slot: int) -> None:
        try:
            barrier.wait(timeout=10)
            replies[slot] = post_batch(web, body, token=token, key=key)
        except BaseException as exc:  # reported below, in the test's thread
            replies[slot] = exc

    threads = [threading.Thread(target=send, args=(slot,)) for slot in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=REQUEST_TIMEOUT + 15)
    for reply in replies:
        if not isinstance(reply, Reply):
            pytest.fail(f"a concurrent POST did not answer: {reply!r}")
    return replies


def test_the_same_batch_twice_in_a_row_and_at_once_lands_each_point_once(client_token, broker, gunicorn, workers):
    """Twice in a row and twice at once, without and with one Idempotency-Key; a worker with two pool children
    processes duplicates side by side. Each point is stored once; with a key there is one batch only."""
    web = gunicorn(database_url=database_url_for_subprocesses(), redis_url=broker.url)
    workers("--concurrency", "2")
    ids: set[int] = set()
    expected: dict[str, dict[datetime, float]] = {}

    def check(replies: list[Reply]) -> list[int]:
        for reply in replies:
            assert reply.status == 202, reply.body[:500]
        batch_ids = [reply.json()["id"] for reply in replies]
        ids.update(batch_ids)
        return batch_ids

    # In a row, no key: two batches, one copy of each point.
    points = _points("row", 20)
    body = _body(points)
    first, second = check([post_batch(web, body, token=client_token), post_batch(web, body, token=client_token)])
    assert first != second
    expected["row"] = _expected(points)

    # In a row, one key: the second answer is the first one again.
    points = _points("row-key", 20)
    body = _body(points)
    replies = [post_batch(web, body, token=client_token, key="row-key") for _ in range(2)]
    first, second = check(replies)
    assert first == second and replies[1].headers.get("idempotent-replayed") == "true"
    expected["row-key"] = _expected(points)

    # At once, a few rounds each to give the races a chance.
    for round_ in range(4):
        case = f"once-{round_}"
        points = _points(case, 20)
        first, second = check(_post_at_once(web, _body(points), token=client_token, key=None))
        assert first != second
        expected[case] = _expected(points)

        case = f"once-key-{round_}"
        points = _points(case, 20)
        replies = _post_at_once(web, _body(points), token=client_token, key=case)
        first, second = check(replies)
        assert first == second, "one Idempotency-Key, two batches"
        assert sorted(r.headers.get("idempotent-replayed", "") for r in replies) == ["", "true"]
        assert IngestBatch.objects.filter(idempotency_key=case).count() == 1
        expected[case] = _expected(points)

    _wait_done(ids)
    for case, points in expected.items():
        _assert_landed_exactly(case, points)
    assert IngestBatch.objects.filter(pk__in=ids, points_written=20).count() == len(ids)


# --- 5. The shipped worker and beat through broker restarts -----------------------------------------------------

# A broker outage of about this long, as the one that once killed the worker; it is the fault itself, not a wait.
OUTAGE_SECONDS = 10
RESTARTS = 3


def _heartbeat_seen_at():
    from novaops.models import Heartbeat
    from novaops.selectors import WORKER_COMPONENT

    return Heartbeat.objects.filter(component=WORKER_COMPONENT).values_list("seen_at", flat=True).first()


def _log_count(worker, text: str) -> int:
    """How many times the worker has logged this (its whole log, not a tail)."""
    return worker.log.read_text(errors="replace").count(text)


def test_the_shipped_worker_and_beat_ride_out_broker_restarts(
    client_token, broker, gunicorn, workers, tmp_path, blocker, request
):
    """Worker and beat, started with the shipped command lines (novaops.launcher) while the broker is up, live
    through several ~10 s broker outages as the very same processes. Each outage starts while the worker holds a
    task in progress (its message unacknowledged: held inside the batch transaction by a row lock of this test),
    the race that used to kill the worker ("Unrecoverable error: AttributeError(... 'hostname')", see
    novaops/celery.py). Afterwards the batches accepted during the outages land (beat's sweeper publishes them, the
    worker runs them) and beat's heartbeat task sent after the last restart is recorded."""
    from django.utils import timezone

    web = gunicorn(database_url=database_url_for_subprocesses(), redis_url=broker.url)
    # The shipped concurrency: with a task held, the other pool slot keeps the consumer reading from Redis when the
    # broker goes (with one slot it would not be polling), which is the state the crash needed.
    worker = workers("--concurrency", str(launcher.WORKER_DEFAULTS["concurrency"]))
    beat = beat_start(
        database_url=database_url_for_subprocesses(),
        redis_url=broker.url,
        log=tmp_path / "beat.log",
        schedule=tmp_path / "celerybeat-schedule",
    )
    # Beat outlives nothing: without this it kept running after the test, publishing to a broker long gone.
    request.addfinalizer(lambda: stop_group(beat.process))
    sent: dict[int, list[dict]] = {}

    def post(points: list[dict]) -> Reply:
        reply = post_batch(web, _body(points), token=client_token)
        _assert_no_500_and_problem_503(reply)
        if reply.status == 202:
            sent[reply.json()["id"]] = points
        return reply

    assert post(_points("restarts", 3)).status == 202
    _wait_done(sent)  # the worker is connected and consuming when the broker goes

    for restart in range(RESTARTS):
        # A task in progress when the broker goes: it waits for this test's lock on a point it rewrites.
        blocker.execute(
            "SELECT 1 FROM metrics_point WHERE series_id = %s AND ts = %s FOR UPDATE", [_series_id("restarts"), BASE]
        ).fetchone()
        held = post(_points("restarts", 3, value=100 * (restart + 1)))
        assert held.status == 202, held.body[:500]
        wait_until(lambda: backends_waiting_on_lock("INSERT INTO metrics_point"), timeout=20, what="a held task")
        losses, connects = _log_count(worker, "Connection to broker lost"), _log_count(worker, "Connected to redis")
        broker.stop()
        wait_until(
            lambda n=losses: _log_count(worker, "Connection to broker lost") > n,
            timeout=30,
            what="the worker to notice the broker left",
        )
        post(_points("restarts", 3, start=10 * (restart + 1)))  # kept in PostgreSQL until the sweeper
        time.sleep(OUTAGE_SECONDS)
        broker.start()
        blocker.rollback()
        _wait_done([held.json()["id"]])
        # Its reconnection backoff grows by 2 s a try: at most ~12 s after a 10 s outage.
        wait_until(
            lambda n=connects: _log_count(worker, "Connected to redis") > n or worker.process.poll() is not None,
            timeout=60,
            what="the worker to reconnect",
        )
        for name, process in (("worker", worker), ("beat", beat)):
            assert process.process.poll() is None, f"{name} died in restart {restart + 1}:\n{process.output()}"
    back_at = timezone.now()
    assert len(sent) > 1 + RESTARTS, "no batch was accepted while the broker was down"

    # Beat's sweeper (every 15 s, 10 s grace) publishes what was accepted while the broker was down.
    _wait_done(sent, timeout=120)
    _assert_landed_exactly("restarts", _expected(*sent.values()))
    # Beat sends the heartbeat every 30 s; the worker records it.
    wait_until(
        lambda: (_heartbeat_seen_at() or back_at) > back_at,
        timeout=120,
        what="a heartbeat sent by beat after the last restart",
    )
    assert worker.process.poll() is None and beat.process.poll() is None
    assert "Unrecoverable error" not in worker.log.read_text(errors="replace")


# --- 6. Everything at once: the shipped services under the supervisor, posting all along ---------------------------


class Poster(threading.Thread):
    """A division client posting small batches without pause, as a real one would: 503, 429 and connection errors
    are retried (same body, same Idempotency-Key) until accepted; every accepted batch and every answer is kept."""

    def __init__(self, port: int, token: str) -> None:
        super().__init__(daemon=True)
        self.web = Web(None, port, None)
        self.token = token
        self.halt = threading.Event()
        self.accepted: dict[int, list[dict]] = {}
        self.statuses: list[int] = []
        self.errors = 0

    def batch(self, n: int) -> list[dict]:
        # Three points a batch, each with a timestamp of its own (one a second from BASE).
        return [
            {"metric": "latency_p95_ms", "agent": "ta_00008", "value": 3 * n + k + 0.5, "tags": {"case": "chaos"}}
            | {"ts": (BASE + timedelta(seconds=3 * n + k)).isoformat()}
            for k in range(3)
        ]

    def run(self) -> None:
        n = 0
        while not self.halt.is_set():
            points = self.batch(n)
            while not self.halt.is_set():
                try:
                    reply = post_batch(self.web, _body(points), token=self.token, key=f"chaos-{n}")
                except OSError:  # refused, reset, timed out: the web service is busy restarting something
                    self.errors += 1
                    self.halt.wait(0.3)
                    continue
                self.statuses.append(reply.status)
                if reply.status == 202:
                    self.accepted[reply.json()["id"]] = points
                    break
                if reply.status not in (429, 503):
                    break  # a 500 or anything else unexpected: recorded, asserted on at the end
                self.halt.wait(0.3)
            n += 1
            self.halt.wait(0.1)

    def count(self, status: int) -> int:
        return self.statuses.count(status)


def _chaos_points(database_url: str) -> list[tuple[datetime, int]]:
    """(ts, copies) of every stored point of the chaos series."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            """
            SELECT p.ts, count(*) FROM metrics_point p JOIN metrics_series s ON s.id = p.series_id
            WHERE s.tags = '{"case": "chaos"}'::jsonb GROUP BY p.ts
            """
        ).fetchall()
    return [(ts.astimezone(UTC), copies) for ts, copies in rows]


def _not_done(database_url: str, ids) -> list[int]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT id FROM metrics_ingestbatch WHERE id = ANY(%s) AND status <> 'done'", [list(ids)]
        ).fetchall()
    return [row[0] for row in rows]


SWEEP_NOW = """
from datetime import timedelta
from metrics.services.batches import batch_sweep
print(batch_sweep(queued_grace=timedelta(0), requeue_after=timedelta(0), stalled_after=timedelta(0)))
"""


@pytest.fixture
def supervised(tmp_path):
    """start(commands, env) → a Supervisor running `commands` in a thread, as `make run` does; its console (every
    line) in `.out`. Stopped at teardown, with any process group a test orphaned (a SIGKILLed worker's pool)."""
    from novaops.supervisor import Supervisor

    running: list[tuple[Supervisor, threading.Thread]] = []
    orphans: list[int] = []

    def start(commands: dict[str, list[str]], env: dict[str, str]) -> Supervisor:
        supervisor = Supervisor(commands, env=env, cwd=PROJECT, out=io.StringIO(), full_logs=True)
        supervisor.orphans = orphans
        supervisor.start()
        thread = threading.Thread(target=supervisor.run, daemon=True)
        thread.start()
        running.append((supervisor, thread))
        return supervisor

    yield start
    for supervisor, thread in running:
        supervisor.stopping.set()
        thread.join(timeout=60)
        (tmp_path / "supervisor.log").write_text(supervisor.out.getvalue())
    for pgid in orphans:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _console_count(supervisor, text: str) -> int:
    return supervisor.out.getvalue().count(text)


def _wait_accepted(poster: Poster, more: int, what: str) -> None:
    target = len(poster.accepted) + more
    wait_until(lambda: len(poster.accepted) >= target, timeout=90, what=f"{more} more accepted batches {what}")


def _chaos_services(tmp_path, pg, broker, supervised):
    port = free_port()
    env = {
        **server_env(database_url=pg.url, redis_url=broker.url),
        "NOVAOPS_DATA_DIR": str(tmp_path),
    }
    commands = {
        "web": launcher.web_command(bind=f"127.0.0.1:{port}"),
        "worker": launcher.worker_command(),
        "beat": launcher.beat_command(schedule=tmp_path / "celerybeat-schedule"),
    }
    supervisor = supervised(commands, env)
    wait_until(
        lambda: _console_count(supervisor, " ready.") and _console_count(supervisor, "beat: Starting..."),
        timeout=60,
        what="the worker and beat to start",
    )
    return supervisor, port


def test_the_supervised_services_lose_nothing_through_broker_database_and_worker_failures(
    private_postgres, broker, supervised, tmp_path
):
    """web, worker and beat with the shipped command lines under the supervisor, a client posting all along; in turn
    Redis restarts, PostgreSQL restarts, the worker's main process is SIGKILLed (the supervisor starts a new one),
    and a pool child is SIGKILLed (the worker forks another). In the end every accepted point is stored exactly
    once, no answer was a 500, and the processes nobody killed (gunicorn's master, beat) are the ones of the start."""
    pg = private_postgres
    manage("migrate", "--no-input", database_url=pg.url, redis_url=broker.url)
    token = manage("shell", "-c", CREATE_CLIENT, database_url=pg.url, redis_url=broker.url).split()[-1]
    supervisor, port = _chaos_services(tmp_path, pg, broker, supervised)
    first = supervisor.pids()
    poster = Poster(port, token)
    poster.start()
    try:
        _wait_accepted(poster, 5, "at the start")

        losses = _console_count(supervisor, "Connection to broker lost")
        broker.stop()
        wait_until(lambda: _console_count(supervisor, "Connection to broker lost") > losses, timeout=30, what="loss")
        _wait_accepted(poster, 3, "while the broker is down")  # kept in PostgreSQL for the sweeper
        broker.start()
        _wait_accepted(poster, 5, "after the broker came back")

        refused = poster.count(503)
        pg.stop()
        wait_until(lambda: poster.count(503) >= refused + 3, timeout=30, what="503s while PostgreSQL is down")
        pg.start()
        _wait_accepted(poster, 5, "after PostgreSQL came back")

        readies = _console_count(supervisor, " ready.")
        killed = supervisor.pids()["worker"]
        supervisor.orphans.append(killed)  # its pool children outlive it in its process group
        os.kill(killed, signal.SIGKILL)
        wait_until(lambda: _console_count(supervisor, " ready.") > readies, timeout=60, what="a new worker")
        assert supervisor.pids()["worker"] != killed
        _wait_accepted(poster, 5, "after the worker was killed")

        worker = psutil.Process(supervisor.pids()["worker"])
        children = {child.pid for child in worker.children()}
        os.kill(min(children), signal.SIGKILL)
        wait_until(
            lambda: len({c.pid for c in worker.children()} - children) == 1 and len(worker.children()) == len(children),
            timeout=30,
            what="the pool to replace its killed child",
        )
        _wait_accepted(poster, 5, "after a pool child was killed")
    finally:
        poster.halt.set()
        poster.join(timeout=30)

    _assert_chaos_landed(pg, broker, poster)
    assert 500 not in poster.statuses, f"500 answers: {poster.count(500)}"
    assert set(poster.statuses) <= {202, 429, 503}, sorted(set(poster.statuses))
    now = supervisor.pids()
    assert (now["web"], now["beat"]) == (first["web"], first["beat"]), supervisor.out.getvalue()[-3000:]


def _assert_chaos_landed(pg, broker, poster: Poster) -> None:
    ids = set(poster.accepted)

    def done() -> bool:
        if not _not_done(pg.url, ids):
            return True
        if time.monotonic() > sweep_after and not swept:
            # A message the SIGKILLed worker had reserved comes back only after the sweeper's 5-minute requeue (or
            # the visibility timeout): run that same sweep now rather than wait for it.
            swept.append(manage("shell", "-c", SWEEP_NOW, database_url=pg.url, redis_url=broker.url))
        return False

    sweep_after, swept = time.monotonic() + 60, []
    wait_until(done, timeout=150, what=f"every accepted batch to be done ({len(ids)})", interval=1)
    expected = sorted(datetime.fromisoformat(p["ts"]) for points in poster.accepted.values() for p in points)
    stored = _chaos_points(pg.url)
    assert all(copies == 1 for _, copies in stored)
    assert set(expected) <= {ts for ts, _ in stored}  # a batch sent but whose 202 was lost may add more
    print(
        f"{len(ids)} batches accepted, {len(stored)} points stored; statuses {sorted(set(poster.statuses))}; "
        f"{'a sweep was run by hand: ' + swept[0].strip() if swept else 'no sweep by hand was needed'}"
    )
