import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "x7#k2!pq9-production-like-secret-key-with-enough-entropy-0123456789",
    "ALLOWED_HOSTS": "novaops.example.org",
}


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env={**clean, **env}, capture_output=True, text=True
    )


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
