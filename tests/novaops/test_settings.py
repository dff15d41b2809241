import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import time_machine
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from novaops.run import _dev_env_write
from tests.helpers import subprocess_env

BASE_DIR = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "x7#k2!pq9-production-like-secret-key-with-enough-entropy-0123456789",
    "ALLOWED_HOSTS": "novaops.example.org",
}


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    """manage.py configured by `env` alone: none of the test run's settings variables, no `make run` dev.env."""
    clean = subprocess_env(without={"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_ALLOW_ASYNC_UNSAFE"}, **env)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=clean, capture_output=True, text=True)


def test_check_deploy_passes_with_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_secret_key_is_required_when_debug_is_off():
    result = _manage("check", DEBUG="false", ALLOWED_HOSTS="novaops.example.org")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_seed_refuses_with_debug_off_unless_forced():
    result = _manage("seed_demo", **PRODUCTION)
    assert result.returncode != 0
    assert "Refusing to seed DEMO data with DEBUG off" in result.stderr


def test_manage_py_reads_make_runs_dev_env_unless_switched_off(tmp_path):
    """`make run`'s dev.env configures manage.py in another terminal; NOVAOPS_DEV_ENV=off (the tests) ignores it."""
    _dev_env_write(tmp_path)
    secret = next(line for line in (tmp_path / "dev.env").read_text().splitlines() if line.startswith("SECRET_KEY="))
    show = (
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.DEBUG, settings.SECRET_KEY)",
    )

    read = _manage(*show, NOVAOPS_DATA_DIR=str(tmp_path), NOVAOPS_DEV_ENV="on")
    assert read.returncode == 0, read.stderr
    assert read.stdout.split() == ["False", secret.removeprefix("SECRET_KEY=")]

    ignored = _manage(*show, NOVAOPS_DATA_DIR=str(tmp_path), NOVAOPS_DEV_ENV="off")
    assert ignored.returncode != 0, "without the file, DEBUG is off and no SECRET_KEY is set"
    assert "SECRET_KEY" in ignored.stderr


# --- Configuration read from the environment ---------------------------------------------------------------------

_SHOW_CONFIGURATION = """
import json
from django.conf import settings
from django.test import RequestFactory
from axes.helpers import get_client_ip_address
request = RequestFactory().get(
    "/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.66, 203.0.113.9", HTTP_X_FORWARDED_PROTO="https"
)
print(json.dumps({
    "failure_limit": settings.AXES_FAILURE_LIMIT,
    "cool_off_seconds": settings.AXES_COOLOFF_TIME.total_seconds(),
    "session_age": settings.SESSION_COOKIE_AGE,
    "sliding": settings.SESSION_SAVE_EVERY_REQUEST,
    "client": get_client_ip_address(request),
    "https": request.is_secure(),
}))
"""


def _configuration(**env: str) -> dict:
    result = _manage("shell", "--no-imports", "-c", _SHOW_CONFIGURATION, DEBUG="true", **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_sign_in_session_and_proxy_defaults_trust_no_forwarded_header():
    """Without TRUSTED_PROXY_COUNT the client is the peer address and X-Forwarded-* are a client's own words."""
    assert _configuration() == {
        "failure_limit": 5,
        "cool_off_seconds": 15 * 60,
        "session_age": 480 * 60,
        "sliding": True,
        "client": "10.0.0.2",
        "https": False,
    }


def test_sign_in_session_and_proxy_settings_come_from_the_environment():
    configured = _configuration(
        LOGIN_FAILURE_LIMIT="3", LOGIN_LOCKOUT_MINUTES="2", SESSION_IDLE_MINUTES="30", TRUSTED_PROXY_COUNT="1"
    )
    assert configured == {
        "failure_limit": 3,
        "cool_off_seconds": 120,
        "session_age": 30 * 60,
        "sliding": True,
        # One proxy: the address it appended (the right-most); the entry left of it is the client's own claim.
        "client": "203.0.113.9",
        "https": True,
    }
    # Two proxies: the outer one's entry, one further left.
    assert _configuration(TRUSTED_PROXY_COUNT="2")["client"] == "198.51.100.66"


# --- Sessions ------------------------------------------------------------------------------------------------------


def test_a_session_idle_longer_than_session_idle_minutes_is_signed_out(cast, client, settings):
    idle = timedelta(seconds=settings.SESSION_COOKIE_AGE)
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        client.force_login(cast.viewer)
        # Sliding: each request starts the idle time again, so a session in use outlives SESSION_IDLE_MINUTES.
        for _ in range(3):
            traveller.shift(idle - timedelta(minutes=1))
            assert client.get("/registry/agents/").status_code == 200

        traveller.shift(idle + timedelta(minutes=1))
        response = client.get("/registry/agents/")
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    assert response.wsgi_request.user.is_anonymous


def test_signing_out_ends_the_session_on_the_server(cast, client, settings):
    client.force_login(cast.viewer)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert Session.objects.filter(session_key=key).exists()

    assert client.post(reverse("logout")).status_code == 302
    assert not Session.objects.filter(session_key=key).exists()

    # Someone who kept the old cookie gets nothing from it.
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = key
    response = replay.get("/registry/agents/")
    assert response.status_code == 302
    assert response.wsgi_request.user.is_anonymous
    assert replay.get("/api/v1/agents").status_code == 401
