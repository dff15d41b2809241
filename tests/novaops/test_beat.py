"""novaops.beat: one sending beat per cluster, whatever the number of hosts running one.

The lock and the scheduler in this process against the test database, then two real `celery beat` processes (the
shipped command line) against one database and one broker, counting what reaches the broker.
"""

from __future__ import annotations

import base64
import json
import logging
from datetime import datetime
from itertools import pairwise

import pytest
import redis
from django.db import connection

from novaops.beat import LOCK_KEY, LOCK_NAMESPACE, STANDBY_RETRY_SECONDS, ClusterScheduler, LeaderLock
from novaops.celery import app
from novaops.tasks import HEARTBEAT_TASK
from tests.helpers.processes import Worker, beat_start, database_url_for_subprocesses, stop_group, wait_until

# The heartbeat's period in the real beats of this test (30 s in production).
PERIOD = 1.0


def _lock_holder_pid() -> int | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = %s AND objid = %s",
            [LOCK_NAMESPACE, LOCK_KEY],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _terminate_lock_holder() -> None:
    """End the session holding the lock from the server's side, as a database restart or a lost network would."""
    pid = _lock_holder_pid()
    assert pid is not None, "nobody holds the lock"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    wait_until(lambda: _lock_holder_pid() != pid, timeout=10, what="the terminated session to let the lock go")


@pytest.fixture
def locks(db):
    made: list[LeaderLock] = []

    def make(name: str) -> LeaderLock:
        made.append(LeaderLock(name=name))
        return made[-1]

    yield make
    for lock in made:
        lock.release()


def test_one_session_holds_the_lock_and_another_takes_it_once_that_session_ends(locks):
    first, second = locks("novaops-beat first"), locks("novaops-beat second")

    assert first.acquire() and first.held()
    assert not second.acquire()
    assert second.holder() == "novaops-beat first"

    _terminate_lock_holder()
    assert not first.held()
    assert second.acquire() and second.held()
    assert not first.acquire()

    second.release()
    assert first.acquire()


@pytest.fixture
def schedulers(db, tmp_path):
    made: list[ClusterScheduler] = []

    def make(name: str) -> ClusterScheduler:
        made.append(ClusterScheduler(app=app, schedule_filename=str(tmp_path / name)))
        return made[-1]

    yield make
    for scheduler in made:
        scheduler.close()


def test_the_leader_stops_when_its_lock_session_ends_and_the_standby_takes_over(schedulers, caplog):
    """Nothing is due in the first seconds of a fresh schedule, so these ticks send nothing: they only lead or wait."""
    caplog.set_level(logging.INFO, logger="novaops.beat")
    leader, standby = schedulers("leader"), schedulers("standby")

    leader.tick()
    standby.tick()
    assert leader.leading and not standby.leading
    assert "beat: standby, the cluster lock is held by novaops-beat" in caplog.text

    _terminate_lock_holder()
    leader.tick()
    assert not leader.leading
    assert "lost the cluster lock" in caplog.text

    wait_until(lambda: _ticks_to_lead(standby), timeout=STANDBY_RETRY_SECONDS + 10, what="the standby to lead")
    leader.tick()
    assert not leader.leading

    standby.close()
    wait_until(lambda: _ticks_to_lead(leader), timeout=STANDBY_RETRY_SECONDS + 10, what="the first to lead again")


def _ticks_to_lead(scheduler: ClusterScheduler) -> bool:
    scheduler.tick()
    return scheduler.leading


# --- Two real beats ---------------------------------------------------------------------------------------------


def _published_heartbeats(broker_url: str) -> list[tuple[datetime, str]]:
    """(sent_at, origin) of every heartbeat task waiting on the broker's default queue, oldest first. No worker
    consumes in this test, so the queue holds everything published; `origin` names the publishing process
    ("gen<pid>@<host>")."""
    client = redis.Redis(unix_socket_path=broker_url.removeprefix("redis+socket://").split("?")[0])
    try:
        raw = client.lrange("celery", 0, -1)
    finally:
        client.close()
    found = []
    for message in map(json.loads, raw):
        if message["headers"]["task"] != HEARTBEAT_TASK:
            continue
        _, kwargs, _ = json.loads(base64.b64decode(message["body"]))
        found.append((datetime.fromisoformat(kwargs["sent_at"]), message["headers"]["origin"]))
    return sorted(found)


def _log(beat: Worker) -> str:
    return beat.log.read_text(errors="replace")


@pytest.mark.worker
def test_two_beats_send_each_heartbeat_once_and_the_standby_takes_over_a_killed_leader(
    transactional_db, broker, tmp_path, monkeypatch, request
):
    monkeypatch.setenv("WORKER_HEARTBEAT_SECONDS", str(PERIOD))

    def start(host: str) -> Worker:
        # A schedule file of its own, as on another host.
        (tmp_path / host).mkdir()
        beat = beat_start(
            database_url=database_url_for_subprocesses(),
            redis_url=broker.url,
            log=tmp_path / f"{host}.log",
            schedule=tmp_path / host / "celerybeat-schedule",
        )
        request.addfinalizer(lambda: stop_group(beat.process))
        return beat

    first = start("host-1")
    wait_until(lambda: "took the cluster lock" in _log(first), timeout=30, what="the first beat to lead")
    second = start("host-2")
    wait_until(lambda: "beat: standby" in _log(second), timeout=30, what="the second beat to stand by")

    wait_until(lambda: len(_published_heartbeats(broker.url)) >= 8, timeout=60, what="heartbeats from the leader")
    first.kill_group()
    assert "took the cluster lock" not in _log(second)
    sent_by_first = len(_published_heartbeats(broker.url))

    # The first beat's session ended with its process: the standby takes the lock at its next try and sends.
    wait_until(
        lambda: len(_published_heartbeats(broker.url)) >= sent_by_first + 3,
        timeout=STANDBY_RETRY_SECONDS + 30,
        what="the standby to take over and send",
    )
    stop_group(second.process)

    heartbeats = _published_heartbeats(broker.url)
    origins = [origin for _, origin in heartbeats]
    leaders = [origin for i, origin in enumerate(origins) if i == 0 or origin != origins[i - 1]]
    assert [leader.partition("@")[0] for leader in leaders] == [f"gen{first.pid}", f"gen{second.pid}"]
    # Never twice in one period while both ran: each heartbeat of a leader came about a period after its previous
    # one. (At the takeover the new leader sends at once what its own schedule file says is due.)
    for leader in leaders:
        times = [sent_at for sent_at, origin in heartbeats if origin == leader]
        gaps = [(later - earlier).total_seconds() for earlier, later in pairwise(times)]
        assert min(gaps) >= PERIOD / 2, (leader, gaps)
    assert "Sending due task" not in _log(second).partition("took the cluster lock")[0]
