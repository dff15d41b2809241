"""`make run`: embedded servers, migrations, the demo seed, then web + worker + beat in the foreground.

Ctrl-C (or SIGTERM) stops every process this started, the embedded servers included; their data stays under
NOVAOPS_DATA_DIR for the next run.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from novaops import embedded

BASE_DIR = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _pump(name: str, stream, lock: threading.Lock) -> None:
    for line in iter(stream.readline, b""):
        with lock:
            sys.stdout.write(f"{name:>6} | {line.decode(errors='replace')}")
            sys.stdout.flush()


def _wait_until_up(url: str, processes: list[subprocess.Popen], timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes):
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
    """Migrate, seed the demo organisation and backfill its metrics (each idempotent); False when one failed."""
    manage = [str(BIN / "python"), str(BASE_DIR / "manage.py")]
    try:
        subprocess.run([*manage, "migrate", "--no-input"], env=env, check=True)
        subprocess.run([*manage, "seed_demo", "--force"], env=env, check=True)
        # The last 14 days of DEMO metrics, through the ingest pipeline; resumes where the previous run stopped.
        subprocess.run([*manage, "metrics_demo_backfill", "--days", "14", "--force"], env=env, check=True)
    except subprocess.CalledProcessError:
        return False
    return True


def _commands(*, root: Path, host: str, port: str) -> dict[str, list[str]]:
    """The command line of every process `make run` keeps running."""
    commands = {
        "web": [
            str(BIN / "gunicorn"),
            "novaops.wsgi",
            *("--bind", f"{host}:{port}", "--workers", "2", "--threads", "4", "--timeout", "60"),
            *("--access-logfile", "-"),
        ],
        "worker": [str(BIN / "celery"), "-A", "novaops", "worker", "--loglevel", "INFO", "--concurrency", "2"],
        "beat": [
            str(BIN / "celery"),
            *("-A", "novaops", "beat", "--loglevel", "INFO"),
            *("--schedule", str(root / "celerybeat-schedule")),
        ],
    }
    if os.environ.get("NOVAOPS_SIMULATOR", "on") != "off":
        # Live DEMO points for every division through the real HTTP API with real division tokens.
        commands["sim"] = [
            *(str(BIN / "python"), str(BASE_DIR / "manage.py"), "metrics_demo_simulate"),
            *("--url", f"http://{host}:{port}", "--interval", "5", "--force"),
        ]
    return commands


def _start(commands: dict[str, list[str]], env: dict[str, str], lock: threading.Lock) -> list[subprocess.Popen]:
    processes: list[subprocess.Popen] = []
    for name, command in commands.items():
        # Own process groups: Ctrl-C reaches only us, and we stop the children in order.
        process = subprocess.Popen(
            command, cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
        )
        threading.Thread(target=_pump, args=(name, process.stdout, lock), daemon=True).start()
        processes.append(process)
    return processes


def _stop(processes: list[subprocess.Popen], *, grace: float = 15) -> None:
    """SIGTERM every process group, then SIGKILL what is still there after `grace` seconds."""
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def main() -> int:
    root = Path(os.environ.get("NOVAOPS_DATA_DIR") or BASE_DIR / "var").resolve()
    os.environ["NOVAOPS_DATA_DIR"] = str(root)
    port = os.environ.get("PORT", "8000")
    host = os.environ.get("HOST", "127.0.0.1")

    _dev_env_write(root)
    was_running = embedded.status(root)
    env = {**os.environ, **embedded.up(root)}
    started = [name for name, running in was_running.items() if not running]
    if started:
        print(f"Started embedded {', '.join(started)} with data under {root}")
    if not _prepare(env):
        embedded.down(root, only=started)
        return 1

    lock = threading.Lock()
    processes = _start(_commands(root=root, host=host, port=port), env, lock)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    if _wait_until_up(f"http://{host}:{port}/healthz", processes):
        with lock:
            print(
                f"\n  NovaOps is running at http://{host}:{port}\n"
                "  Demo logins (password novaops-demo): core (NovaOps Tier 1 lead, admin), "
                "meridian (OrchOps Tier 1 lead, admin), member (NovaCore Runtime member), viewer (read-only)\n"
                "  Press Ctrl-C to stop.\n",
                flush=True,
            )
    while not stop.is_set():
        if any(p.poll() is not None for p in processes):
            print("A process exited; stopping the rest.", flush=True)
            break
        stop.wait(0.5)

    _stop(processes)
    embedded.down(root, only=started)
    print("Stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
