import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest
import redis

from novaops import embedded


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
