"""novaops.supervisor with real child processes (small Python commands, not the app): restarts, giving up, stopping,
and the console filter."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading

import psutil
import pytest

from novaops.supervisor import LogFilter, Policy, Supervisor, describe_exit
from tests.helpers.processes import PROJECT, wait_until

FAILS = [sys.executable, "-c", "import sys; sys.exit(1)"]
SLEEPS = [sys.executable, "-c", "import time; time.sleep(600)"]
# A child with a child of its own in its process group (as a Celery worker's pool or gunicorn's workers).
SLEEPS_WITH_CHILD = [
    sys.executable,
    "-c",
    "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); "
    "time.sleep(600)",
]
QUICK = Policy(backoff_start=0.05, backoff_max=0.2, give_up_after=5, give_up_window=60)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture
def supervise():
    """supervise(commands, policy) → a started Supervisor whose output is captured; stopped at teardown."""
    started: list[Supervisor] = []

    def make(commands: dict[str, list[str]], policy: Policy = QUICK) -> Supervisor:
        supervisor = Supervisor(commands, out=io.StringIO(), policy=policy, full_logs=False)
        supervisor.start()
        started.append(supervisor)
        return supervisor

    yield make
    for supervisor in started:
        supervisor.stop(grace=5)


def test_a_child_that_keeps_failing_quickly_is_given_up_after_five_tries_and_everything_stops(supervise):
    supervisor = supervise({"bad": FAILS, "good": SLEEPS})
    good = supervisor.pids()["good"]
    code: list[int] = []
    runner = threading.Thread(target=lambda: code.append(supervisor.run(interval=0.02)))
    runner.start()
    runner.join(timeout=60)
    assert code == [1]
    output = supervisor.out.getvalue()
    assert output.count("bad exited with code 1; restarting in") == 4
    assert "bad exited with code 1; it failed 5 times within 60 s: giving up and stopping everything" in output
    wait_until(lambda: not _alive(good), timeout=10, what="the healthy child to be stopped too")


def test_a_killed_child_is_restarted_with_a_new_pid_and_the_others_are_left_alone(supervise):
    supervisor = supervise({"worker": SLEEPS, "web": SLEEPS})
    before = supervisor.pids()
    os.kill(before["worker"], signal.SIGKILL)
    wait_until(
        lambda: supervisor.poll() and supervisor.pids()["worker"] != before["worker"],
        timeout=10,
        what="the killed child to be started again",
    )
    assert "worker was killed by SIGKILL; restarting in 0.05 s" in supervisor.out.getvalue()
    assert _alive(supervisor.pids()["worker"])
    assert supervisor.pids()["web"] == before["web"]


def test_the_backoff_doubles_up_to_its_maximum_and_starts_over_after_a_good_minute():
    now = [1000.0]
    policy = Policy(backoff_start=1, backoff_max=4, give_up_after=10)
    supervisor = Supervisor({"bad": FAILS}, out=io.StringIO(), policy=policy, clock=lambda: now[0])
    child = supervisor.children[0]
    child.started_at = now[0]
    for _ in range(4):
        supervisor._on_exit(child, 1)
    child.started_at, now[0] = now[0], now[0] + 120  # then it ran for two minutes
    supervisor._on_exit(child, 1)
    delays = [line.rsplit("in ", 1)[1] for line in supervisor.out.getvalue().splitlines()]
    assert delays == ["1 s", "2 s", "4 s", "4 s", "1 s"]


SUPERVISOR_SCRIPT = """
import signal, sys
from novaops.supervisor import Supervisor
supervisor = Supervisor({"a": %r, "b": %r})
signal.signal(signal.SIGTERM, lambda *_: supervisor.stopping.set())
supervisor.start()
print("pids", *supervisor.pids().values(), flush=True)
sys.exit(supervisor.run())
"""


def test_sigterm_to_the_supervisor_stops_every_child_and_their_children():
    script = SUPERVISOR_SCRIPT % (SLEEPS_WITH_CHILD, SLEEPS)
    process = subprocess.Popen(
        [sys.executable, "-c", script], cwd=PROJECT, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        pids = [int(pid) for pid in process.stdout.readline().split()[1:]]
        assert len(pids) == 2
        grandchildren = wait_until(
            lambda: psutil.Process(pids[0]).children(), timeout=10, what="the first child's own child"
        )
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        everyone = [*pids, *(child.pid for child in grandchildren)]
        wait_until(lambda: not any(_alive(pid) for pid in everyone), timeout=10, what="every child to be gone")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def test_routine_lines_are_counted_and_summarised_and_warnings_pass():
    log = LogFilter("worker")
    routine = [
        "2026-12-02 08:00:00,000 INFO celery.worker.strategy: Task metrics.batch_ingest[1] received",
        "2026-12-02 08:00:00,100 INFO celery.app.trace: Task metrics.batch_ingest[1] succeeded in 0.1s: None",
        "2026-12-02 08:00:00,100 INFO celery.app.trace: Task metrics.batch_ingest[2] succeeded in 0.1s: None",
    ]
    assert [log.feed(line) for line in routine] == [None, None, None]
    failed = "2026-12-02 08:00:01,000 ERROR celery.app.trace: Task metrics.batch_ingest[3] raised unexpected: X"
    warning = "2026-12-02 08:00:02,000 WARNING celery.worker.consumer.consumer: Connection to broker lost."
    assert log.feed(failed) == f"worker | {failed}"
    assert log.feed(warning) == f"worker | {warning}"
    assert log.summary() == "worker: 2 tasks succeeded, 1 failed in the last minute"
    assert log.summary() is None  # counts start again


def test_access_log_and_simulator_lines_are_summarised_but_server_errors_pass():
    web, sim = LogFilter("web"), LogFilter("sim")
    ok = '127.0.0.1 - - [02/Dec/2026:08:00:00 +0000] "POST /api/v1/metrics/batches HTTP/1.1" 202 60 "-" "sim"'
    error = '127.0.0.1 - - [02/Dec/2026:08:00:00 +0000] "POST /api/v1/metrics/batches HTTP/1.1" 500 60 "-" "sim"'
    assert web.feed(ok) is None and web.feed(error) is not None
    assert web.summary() == "web: 1 requests in the last minute"
    assert sim.feed("round 7: 12/12 batches accepted") is None
    assert sim.summary() == "sim: 1 simulator rounds in the last minute"


def test_full_logs_show_everything():
    line = "2026-12-02 08:00:00,100 INFO celery.app.trace: Task metrics.batch_ingest[2] succeeded in 0.1s: None"
    assert LogFilter("worker", full=True).feed(line) == f"worker | {line}"
    assert Supervisor({}, env={"NOVAOPS_LOG": "full"}).full_logs


def test_exits_are_described():
    assert describe_exit(1) == "exited with code 1"
    assert describe_exit(-signal.SIGKILL) == "was killed by SIGKILL"
