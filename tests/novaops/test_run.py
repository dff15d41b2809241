"""novaops.run and novaops.launcher: `make run`, the tests and production start the same command lines, and
`python -m novaops.run web|worker|beat` runs each service on its own."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import pytest
from django.db import connection

from agents.services.tokens import division_token_create
from metrics.models import IngestBatch
from novaops import launcher, run
from tests.factories import AgentFactory, DivisionFactory
from tests.helpers import processes
from tests.helpers.processes import PROJECT, Web, database_url_for_subprocesses, stop_group, tail, wait_until


def test_make_run_starts_the_launchers_command_lines_with_its_usual_sizes(tmp_path, monkeypatch):
    monkeypatch.setenv("NOVAOPS_SIMULATOR", "off")
    commands = run._commands(root=tmp_path, host="127.0.0.1", port="8000")
    assert set(commands) == {"web", "worker", "beat"}
    assert commands["web"] == launcher.web_command(bind="127.0.0.1:8000")
    assert " --workers 2 --threads 4 " in " ".join(commands["web"])
    assert commands["worker"] == launcher.worker_command()
    assert " --concurrency 2 " in " ".join(commands["worker"])
    assert commands["beat"][-2:] == ["--schedule", str(tmp_path / "celerybeat-schedule")]


def test_the_temporal_demo_starts_only_when_asked(tmp_path, monkeypatch):
    monkeypatch.setenv("NOVAOPS_SIMULATOR", "off")
    monkeypatch.delenv("NOVAOPS_TEMPORAL_DEMO", raising=False)
    assert set(run._commands(root=tmp_path, host="127.0.0.1", port="8000")) == {"web", "worker", "beat"}

    monkeypatch.setenv("NOVAOPS_TEMPORAL_DEMO", "true")
    commands = run._commands(root=tmp_path, host="127.0.0.1", port="8000")

    assert Path(commands["temporal"][0]).exists() and commands["temporal"][1:3] == ["server", "start-dev"]
    assert str(tmp_path / "temporal.db") in commands["temporal"]
    assert "temporal_demo" in commands["temporal-demo"]


def test_the_worker_command_line_of_every_test_carries_the_shipped_reliability_flags():
    command = processes.worker_command("--loglevel", "DEBUG", hostname="t@%h")
    assert set(launcher.WORKER_RELIABILITY_FLAGS) <= set(command)
    # The shipped command line with the test's own values: one pool process, a hostname, the extra arguments.
    assert command == launcher.worker_command(concurrency=1, hostname="t@%h", extra=("--loglevel", "DEBUG"))
    assert command[: command.index("--concurrency")] == launcher.worker_command()[: command.index("--concurrency")]


def test_the_worker_runs_without_celerys_cluster_events():
    assert {"--without-gossip", "--without-mingle", "--without-heartbeat"} <= set(launcher.worker_command())


def test_the_broker_connection_is_retried_for_ever(settings):
    assert settings.CELERY_BROKER_CONNECTION_RETRY is True
    assert settings.CELERY_BROKER_CONNECTION_MAX_RETRIES is None


def test_an_unknown_service_is_refused(capsys):
    assert run.main(["nonsense"]) == 2
    assert "usage: python -m novaops.run [web|worker|beat]" in capsys.readouterr().err


# --- the three services as production runs them -----------------------------------------------------------------


def _start_service(service: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "novaops.run", service],
            cwd=PROJECT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _waited_for(process: subprocess.Popen, log: Path, text: str, what: str) -> None:
    def seen() -> bool:
        if process.poll() is not None:
            pytest.fail(f"{what} exited with {process.returncode}:\n{tail(log)}")
        return text in log.read_text(errors="replace")

    wait_until(seen, timeout=60, what=what, interval=0.2)


@pytest.mark.worker
def test_web_worker_and_beat_run_as_separate_services_and_a_batch_lands(transactional_db, broker, tmp_path):
    division = DivisionFactory(name="NovaCore Runtime", slug="novacore-runtime")
    AgentFactory(handle="ta_00008", division=division)
    secret = division_token_create(division=division, name="collector")[1]
    port = processes.free_port()
    env = {
        **processes.server_env(database_url=database_url_for_subprocesses(), redis_url=broker.url),
        "PORT": str(port),
        "NOVAOPS_DATA_DIR": str(tmp_path),
    }
    started = {service: _start_service(service, env, tmp_path / f"{service}.log") for service in launcher.SERVICES}
    try:
        _waited_for(started["web"], tmp_path / "web.log", "Booting worker", "the web service")
        _waited_for(started["worker"], tmp_path / "worker.log", " ready.", "the worker service")
        _waited_for(started["beat"], tmp_path / "beat.log", "beat: Starting...", "the beat service")
        # Each service is the launcher's command in place of `python -m novaops.run` (exec), not a child of it.
        names = {service: " ".join(psutil.Process(p.pid).cmdline()) for service, p in started.items()}
        assert "gunicorn novaops.wsgi" in names["web"]
        assert " worker " in names["worker"] and " beat " in names["beat"]
        web = Web(started["web"], port, tmp_path / "web.log")
        wait_until(lambda: _healthy(web), timeout=60, what="the web service to answer /healthz")

        ts = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
        body = {"points": [{"metric": "latency_p95_ms", "agent": "ta_00008", "ts": ts.isoformat(), "value": 1.5}]}
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {secret}"}
        reply = web.request("POST", "/api/v1/metrics/batches", json.dumps(body).encode(), headers)
        assert reply.status == 202, reply.body[:500]
        batch_id = reply.json()["id"]
        wait_until(
            lambda: IngestBatch.objects.get(pk=batch_id).status == IngestBatch.Status.DONE,
            timeout=60,
            what="the batch to land",
        )
    finally:
        for process in started.values():
            stop_group(process, grace=10)
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE metrics_point, metrics_rollup")


def _healthy(web: Web) -> bool:
    try:
        return web.request("GET", "/healthz").status == 200
    except OSError:
        return False
