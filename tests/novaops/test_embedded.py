import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest
import redis

from novaops import embedded
from tests.helpers import subprocess_env

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def data_root():
    """A fresh data dir outside pytest's 0700 temp root, which PostgreSQL's own user could not enter."""
    root = Path(tempfile.mkdtemp(prefix="novaops-embedded-test-"))
    yield root / "data"
    embedded.down(root / "data")
    shutil.rmtree(root, ignore_errors=True)


def test_up_starts_both_servers_on_sockets_only_and_is_idempotent(data_root):
    root = data_root
    try:
        urls = embedded.up(root)
        assert embedded.status(root) == {"postgres": True, "valkey": True}
        assert embedded.up(root) == urls, "a second up finds the running servers"

        with psycopg.connect(embedded.database_url(root)) as conn:
            listen = conn.execute("SHOW listen_addresses").fetchone()[0]
            assert listen == "", "PostgreSQL listens on its Unix socket only, never on a TCP port"
            assert conn.execute("SELECT current_database()").fetchone()[0] == embedded.DATABASE_NAME

        sock = urls["REDIS_URL"].removeprefix("redis+socket://")
        client = redis.Redis(unix_socket_path=sock)
        assert client.ping()
        config = client.config_get("*")
        assert config["appendonly"] == "yes", "the broker queue survives a restart"
        assert config["port"] == "0", "no TCP listener"
    finally:
        embedded.down(root)
    assert embedded.status(root) == {"postgres": False, "valkey": False}


def test_valkey_keeps_its_queue_across_a_restart(data_root):
    root = data_root
    try:
        url = embedded.valkey_up(root)
        client = redis.Redis(unix_socket_path=url.removeprefix("redis+socket://"))
        client.rpush("celery", "message-1")
        embedded.valkey_down(root)
        embedded.valkey_up(root)
        client = redis.Redis(unix_socket_path=url.removeprefix("redis+socket://"))
        assert client.lrange("celery", 0, -1) == [b"message-1"]
    finally:
        embedded.valkey_down(root)


def test_urls_follow_from_the_data_directory_alone(tmp_path):
    assert embedded.database_url(tmp_path).endswith(f"?host={tmp_path / 'pgdata'}")
    assert embedded.redis_url(tmp_path) == f"redis+socket://{tmp_path / 'valkey' / 'valkey.sock'}"


def test_a_deep_data_directory_gets_a_short_socket_path(tmp_path):
    deep = tmp_path / ("d" * 90)
    url = embedded.redis_url(deep)
    assert len(url.removeprefix("redis+socket://")) <= 100


def test_nothing_listens_on_the_standard_ports_on_our_behalf(data_root):
    # The machine's own PostgreSQL/Redis may use 5432/6379; our servers must not need them. A running embedded
    # pair adds no listener: compare the TCP listeners before and after.
    def listeners() -> set[str]:
        out = subprocess.run(["cat", "/proc/net/tcp", "/proc/net/tcp6"], capture_output=True, text=True).stdout
        return {line.split()[1] for line in out.splitlines()[1:] if len(line.split()) > 3 and line.split()[3] == "0A"}

    before = listeners()
    root = data_root
    try:
        embedded.up(root)
        assert listeners() - before == set()
    finally:
        embedded.down(root)


# --- Backups -------------------------------------------------------------------------------------------------------


def _manage(*args: str, root: Path, database_url: str) -> str:
    """manage.py against the private server, configured by the test alone (no DATABASE_URL of the test run)."""
    env = subprocess_env(DATABASE_URL=database_url, NOVAOPS_DATA_DIR=str(root))
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _embedded(*args: str, root: Path) -> subprocess.CompletedProcess:
    """`python -m novaops.embedded …` as a person would run it: no DATABASE_URL, the data directory named."""
    return subprocess.run(
        [sys.executable, "-m", "novaops.embedded", *args, "--data-dir", str(root)],
        cwd=BASE_DIR,
        env=subprocess_env(without={"DATABASE_URL"}),
        capture_output=True,
        text=True,
        timeout=300,
    )


def _organisation(database_url: str) -> dict[str, object]:
    """Everything the demo seed writes that a restore must bring back exactly."""
    with psycopg.connect(database_url) as conn:

        def rows(sql: str) -> list[tuple]:
            return conn.execute(sql).fetchall()

        return {
            "agents": rows(
                "SELECT a.handle, a.callsign, a.tier, a.role_title, a.lifecycle_state, d.slug FROM agents_agent a"
                " JOIN agents_division d ON d.id = a.division_id ORDER BY a.handle"
            ),
            "domain leads": rows(
                "SELECT d.slug, a.handle FROM agents_domain d LEFT JOIN agents_agent a ON a.id = d.lead_id ORDER BY 1"
            ),
            "division leads": rows(
                "SELECT d.slug, a.handle FROM agents_division d LEFT JOIN agents_agent a ON a.id = d.lead_id ORDER BY 1"
            ),
            "people": rows(
                "SELECT u.username, p.role, a.handle FROM agents_person p JOIN auth_user u ON u.id = p.user_id"
                " LEFT JOIN agents_agent a ON a.id = p.agent_id ORDER BY 1"
            ),
        }


@pytest.mark.worker  # a PostgreSQL of its own, migrate, seed, pg_dump, pg_restore: about 10 s
def test_backup_and_restore_round_trip_the_demo_organisation(data_root, tmp_path):
    root = data_root
    url = embedded.postgres_up(root)
    _manage("migrate", "--no-input", root=root, database_url=url)
    _manage("seed_demo", "--force", root=root, database_url=url)
    seeded = _organisation(url)
    callsigns = {handle: callsign for handle, callsign, *_ in seeded["agents"]}
    assert len(callsigns) == 186
    assert (callsigns["ta_00008"], callsigns["ta_00151"], callsigns["ta_00002"]) == ("Core", "Meridian", "Beacon")
    assert ("novaops", "ta_00008") in seeded["domain leads"] and ("orchops", "ta_00151") in seeded["domain leads"]

    backup = tmp_path / "novaops.dump"
    made = _embedded("backup", str(backup), root=root)
    assert made.returncode == 0, made.stderr
    assert backup.read_bytes()[:5] == b"PGDMP", "pg_dump's custom format"
    assert not backup.with_name("novaops.dump.partial").exists()

    _manage("shell", "-c", "from agents.models import Agent; Agent.objects.all().delete()", root=root, database_url=url)
    changed = _organisation(url)
    assert changed["agents"] == [] and ("novaops", None) in changed["domain leads"]

    restored = _embedded("restore", str(backup), root=root)
    assert restored.returncode == 0, restored.stderr
    assert _organisation(url) == seeded


def test_backup_refuses_when_the_embedded_postgres_is_not_running(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert embedded.main(["backup", str(tmp_path / "novaops.dump"), "--data-dir", str(tmp_path)]) == 1
    assert f"The embedded PostgreSQL under {tmp_path} is not running" in capsys.readouterr().err
    assert not (tmp_path / "novaops.dump").exists()


def test_restore_refuses_a_backup_file_that_does_not_exist(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert embedded.main(["restore", str(tmp_path / "missing.dump"), "--data-dir", str(tmp_path)]) == 1
    assert f"No backup file at {tmp_path / 'missing.dump'}" in capsys.readouterr().err


def test_backup_and_restore_point_at_pg_dump_when_database_url_names_another_server(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", "postgres://novaops@db.internal:5432/novaops")
    assert embedded.main(["backup", str(tmp_path / "novaops.dump"), "--data-dir", str(tmp_path)]) == 1
    assert 'pg_dump -Fc "$DATABASE_URL"' in capsys.readouterr().err
