"""Dashboards on a real streaming replica: a private primary, a replica made from it with pg_basebackup, and the
shipped gunicorn with DATABASE_URL on the primary and DATABASE_REPLICA_URL on the replica.

While the replica's replay is paused the dashboards and the series API answer from it (they miss the newest points,
and the page says how far behind it is); a POST still writes to the primary; once replay resumes they give the
primary's answer again.
"""

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import psycopg
import pytest

from novaops import embedded
from tests.helpers.processes import Web, free_port, manage, stop_group, wait_until, web_start

pytestmark = pytest.mark.worker

BANNER = b"Dashboards read from a replica"
SERIES = "/api/v1/metrics/series?" + urlencode({"metric": "latency_p95_ms", "group_by": "division"})

# Run by `manage.py shell` on the primary: a division, a member signed in (the session cookie) and a token of the
# division, then points landed at once (no worker needed). Prints what the test needs as JSON.
SEED = """
import json
from django.test import Client
from agents.services.tokens import division_token_create
from tests.factories import DivisionFactory, DomainFactory, PersonFactory
domain = DomainFactory(name="NovaOps", slug="novaops")
division = DivisionFactory(domain=domain, name="NovaCore Runtime", slug="novacore-runtime")
member = PersonFactory(role="division_member", division=division, user__username="member").user
browser = Client()
browser.force_login(member)
_, secret = division_token_create(division=division, name="collector")
print(json.dumps({"session": browser.cookies["sessionid"].value, "token": secret}))
"""
LAND = """
import json
from datetime import UTC, datetime, timedelta
from agents.models import Division
from metrics.services.batches import batch_accept
from metrics.services.landing import batch_process
hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours={hours_ago})
body = {{"points": [{{"metric": "latency_p95_ms", "ts": hour.isoformat(), "value": {value}}}]}}
accepted = batch_accept(division=Division.objects.get(slug="novacore-runtime"), token=None,
                        body=json.dumps(body).encode(), enqueue=False)
print(batch_process(batch_id=accepted.batch.pk))
"""


@dataclass
class Cluster:
    primary_url: str
    replica_url: str
    primary_dsn: str
    replica_dsn: str

    def on_primary(self, sql: str) -> object:
        with psycopg.connect(self.primary_dsn, autocommit=True) as conn:
            return conn.execute(sql).fetchone()[0]

    def on_replica(self, sql: str) -> object:
        with psycopg.connect(self.replica_dsn, autocommit=True) as conn:
            return conn.execute(sql).fetchone()[0]

    def caught_up(self) -> bool:
        """The replica has replayed everything the primary has written so far."""
        target = self.on_primary("SELECT pg_current_wal_lsn()::text")
        return bool(self.on_replica(f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"))


def _as_postgres_owner(command: list[str]) -> None:
    """Run a PostgreSQL binary as the user that owns the data directories (pgserver's, when we are root)."""
    owner = "pgserver" if subprocess.run(["id", "-u"], capture_output=True, text=True).stdout.strip() == "0" else None
    result = subprocess.run(command, capture_output=True, timeout=120, text=True, user=owner)
    if result.returncode:
        pytest.fail(f"{Path(command[0]).name} failed ({result.returncode}): {result.stderr}{result.stdout}")


@pytest.fixture
def cluster(broker) -> Iterator[Cluster]:
    """A private primary (embedded binaries, its own socket directory) and a streaming replica of it."""
    root = Path(tempfile.mkdtemp(prefix="nvr-"))
    root.chmod(0o777)  # PostgreSQL runs as its own user when we are root, and writes the replica here
    primary_root, replica_dir, replica_sockets = root / "p", root / "r", root / "s"
    replica_sockets.mkdir()
    replica_sockets.chmod(0o777)
    binaries = None
    try:
        primary_url = embedded.postgres_up(primary_root)
        binaries = embedded._postgres_bin(primary_root)
        primary_sockets = embedded._postgres_socket_dir(primary_root)
        # The replica connects over the primary's socket as a replication client.
        with (primary_root / "pgdata" / "pg_hba.conf").open("a") as hba:
            hba.write("local replication all trust\n")
        with psycopg.connect(f"host={primary_sockets} user=postgres dbname=postgres", autocommit=True) as conn:
            conn.execute("SELECT pg_reload_conf()")
        # A fast checkpoint: the default spreads it over minutes.
        basebackup = ["-D", str(replica_dir), "-R", "-X", "stream", "-c", "fast", "-h", str(primary_sockets)]
        _as_postgres_owner([str(binaries / "pg_basebackup"), *basebackup, "-U", "postgres"])
        port = free_port()
        # The copy carries the primary's settings: give the replica its own port and socket directory, no TCP.
        with (replica_dir / "postgresql.auto.conf").open("a") as conf:
            conf.write(f"port = {port}\nunix_socket_directories = '{replica_sockets}'\nlisten_addresses = ''\n")
        _as_postgres_owner(
            [str(binaries / "pg_ctl"), "-D", str(replica_dir), "-l", str(root / "replica.log"), "-w", "start"]
        )
        name = embedded.DATABASE_NAME
        cluster = Cluster(
            primary_url=primary_url,
            replica_url=f"postgresql://postgres@:{port}/{name}?host={replica_sockets}",
            primary_dsn=f"host={primary_sockets} user=postgres dbname={name}",
            replica_dsn=f"host={replica_sockets} port={port} user=postgres dbname={name}",
        )
        assert cluster.on_replica("SELECT pg_is_in_recovery()") is True
        yield cluster
    finally:
        if binaries is not None and (replica_dir / "postmaster.pid").exists():
            _as_postgres_owner([str(binaries / "pg_ctl"), "-D", str(replica_dir), "-m", "fast", "-w", "stop"])
        embedded.postgres_down(primary_root)
        shutil.rmtree(root, ignore_errors=True)


def _series(web: Web, token: str) -> list:
    reply = web.request("GET", SERIES, headers={"Authorization": f"Bearer {token}"})
    assert reply.status == 200, reply.body
    return reply.json()["series"]


def _page(web: Web, session: str) -> bytes:
    reply = web.request("GET", "/dashboards/divisions/novacore-runtime/", headers={"Cookie": f"sessionid={session}"})
    assert reply.status == 200, reply.body[:500]
    return reply.body


def test_dashboards_read_from_a_streaming_replica_and_writes_go_to_the_primary(cluster, broker, tmp_path):
    servers = {"database_url": cluster.primary_url, "redis_url": broker.url}
    manage("migrate", "--no-input", **servers)
    seeded = json.loads(manage("shell", "-c", SEED, **servers).strip().splitlines()[-1])
    manage("shell", "-c", LAND.format(hours_ago=3, value=40.0), **servers)
    on_replica = web_start(**servers, log_dir=tmp_path, env={"DATABASE_REPLICA_URL": cluster.replica_url})
    on_primary = web_start(**servers, log_dir=tmp_path)
    try:
        wait_until(cluster.caught_up, timeout=30, what="the replica to replay the seed")
        assert _series(on_replica, seeded["token"]) == _series(on_primary, seeded["token"])
        assert BANNER not in _page(on_replica, seeded["session"])

        cluster.on_replica("SELECT pg_wal_replay_pause()::text")
        manage("shell", "-c", LAND.format(hours_ago=2, value=80.0), **servers)
        fresh = _series(on_primary, seeded["token"])
        assert [value for _, value in fresh[0]["points"]] == [40.0, 80.0]
        # The replica has the newer points' WAL but has not replayed it: the answer it serves lacks them.
        assert [value for _, value in _series(on_replica, seeded["token"])[0]["points"]] == [40.0]
        wait_until(
            lambda: BANNER in _page(on_replica, seeded["session"]), timeout=30, what="the lag banner", interval=1
        )

        body = json.dumps({"points": [{"metric": "latency_p95_ms", "ts": fresh[0]["points"][0][0], "value": 1.0}]})
        posted = on_replica.request(
            "POST",
            "/api/v1/metrics/batches",
            body=body.encode(),
            headers={"Authorization": f"Bearer {seeded['token']}", "Content-Type": "application/json"},
        )
        assert posted.status == 202, posted.body
        batch = posted.json()["id"]
        assert cluster.on_primary(f"SELECT count(*) FROM metrics_ingestbatch WHERE id = {batch}") == 1

        cluster.on_replica("SELECT pg_wal_replay_resume()::text")
        wait_until(cluster.caught_up, timeout=30, what="the replica to catch up")
        assert _series(on_replica, seeded["token"]) == _series(on_primary, seeded["token"]) == fresh
        assert BANNER not in _page(on_replica, seeded["session"])
    finally:
        stop_group(on_replica.process)
        stop_group(on_primary.process)
