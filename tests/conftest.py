"""Shared fixtures: the embedded servers, the fixed cast of users for permission tests, API clients."""

import json
import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse
from rest_framework.test import APIClient

from metrics.models import IngestBatch
from metrics.services.batches import batch_accept
from novaops import embedded
from tests.factories import DivisionFactory, DomainFactory, PersonFactory, UserFactory
from tests.helpers.processes import Broker, Worker, database_url_for_subprocesses, stop_group, worker_start

_started_here: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    """Start the embedded PostgreSQL / Valkey unless DATABASE_URL / REDIS_URL point elsewhere."""
    from django.conf import settings

    root = settings.NOVAOPS_DATA_DIR
    was_running = embedded.status(root)
    embedded.up(root)
    _started_here.extend(name for name, running in was_running.items() if not running)


def pytest_unconfigure(config: pytest.Config) -> None:
    # Leave servers alone that were already up (a `make run` in another terminal, say).
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    from django.conf import settings

    embedded.down(settings.NOVAOPS_DATA_DIR, only=_started_here)


@pytest.fixture(scope="session", autouse=True)
def _as_after_make_run():
    """The whole suite runs as it would after a `make run`: the data directory holds the `dev.env` it writes (DEBUG
    off, a SECRET_KEY of its own, plain HTTP). Neither the tests nor the processes they start may read it
    (NOVAOPS_DEV_ENV=off, see tests.helpers.subprocess_env); one that did would fail here as it would on a
    developer's machine. The file (and the staticfiles directory `make run` creates with it) is removed at the end
    only when this fixture created it: a `make run` in another terminal keeps its own."""
    from django.conf import settings

    from novaops.run import _dev_env_write

    root = settings.NOVAOPS_DATA_DIR
    dev_env, staticfiles = root / "dev.env", root / "staticfiles"
    created = [path for path in (dev_env, staticfiles) if not path.exists()]
    _dev_env_write(root)
    yield
    if dev_env in created:
        dev_env.unlink(missing_ok=True)
    if staticfiles in created:
        try:
            staticfiles.rmdir()
        except OSError:  # not empty: something put files there since, leave them
            pass


@pytest.fixture(autouse=True)
def _celery_eager_unless_real_worker(request):
    """Unit tests run tasks in-process; tests marked `worker` talk to a real worker through a real broker."""
    from novaops.celery import app

    app.conf.task_always_eager = request.node.get_closest_marker("worker") is None
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def _metric_catalogue_present(request, django_db_setup, django_db_blocker):
    """The default catalogue is data from migration 0003. A transactional test's flush (browser tests, real-worker
    tests) empties it, and with --reuse-db the next session would start without it: seed it back
    before each database test and after each transactional one (this fixture's teardown runs after that flush)."""
    from django.db import connection

    from metrics.services.batches import catalogue_forget
    from metrics.services.catalogue import metric_catalogue_seed

    # Ingest caches the catalogue's ids per process; each test's rollback or flush takes back rows it may have read.
    catalogue_forget()
    uses_db = {"db", "transactional_db"} & set(request.fixturenames) or request.node.get_closest_marker("django_db")

    def ensure() -> None:
        # Only ever the test database (a session without database tests never switched to it).
        if not uses_db or not connection.settings_dict["NAME"].startswith("test_"):
            return
        with django_db_blocker.unblock():
            metric_catalogue_seed()

    ensure()
    yield
    catalogue_forget()
    if "transactional_db" in request.fixturenames:
        ensure()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2's deliberate slowness buys nothing in tests.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass
class Cast:
    """One user per role, plus the divisions they act for."""

    lead: object
    member: object
    other_member: object
    viewer: object
    no_role: object
    anonymous: object
    division: object
    other_division: object

    def by_name(self, name: str):
        return getattr(self, name)


@pytest.fixture
def cast(db) -> Cast:
    domain = DomainFactory(name="NovaOps", slug="novaops")
    division = DivisionFactory(domain=domain, name="NovaCore Runtime", slug="novacore-runtime")
    other_division = DivisionFactory(domain=domain, name="Tool Ecosystem", slug="tool-ecosystem")
    lead = PersonFactory(role="tier1_lead", domain=domain, user__username="lead").user
    member = PersonFactory(role="division_member", division=division, user__username="member").user
    other_member = PersonFactory(role="division_member", division=other_division, user__username="other").user
    viewer = PersonFactory(role="viewer", user__username="viewer").user
    no_role = UserFactory(username="norole")
    return Cast(lead, member, other_member, viewer, no_role, AnonymousUser(), division, other_division)


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def api_as(cast):
    """api_as("member") → an APIClient signed in as that member of the cast (anonymous for "anonymous")."""

    def make(name: str) -> APIClient:
        client = APIClient()
        user = cast.by_name(name)
        if user.is_authenticated:
            client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def schema(client) -> dict:
    """The OpenAPI schema the API serves, as JSON."""
    response = client.get(reverse("api:schema"), {"format": "json"})
    assert response.status_code == 200
    return response.json()


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_superuser=True, is_staff=True)


@pytest.fixture
def client_as(client, cast, superuser):
    """client_as("member") → the test client signed in as that member of the cast, or as a superuser ("superuser");
    not signed in at all for "anonymous"."""

    def make(name: str):
        user = superuser if name == "superuser" else cast.by_name(name)
        if user.is_authenticated:
            client.force_login(user)
        return client

    return make


@pytest.fixture
def token_client(cast) -> APIClient:
    """An API client with a token of the cast's division (NovaCore Runtime)."""
    from agents.services.tokens import division_token_create

    _, secret = division_token_create(division=cast.division, name="collector")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def broker() -> Iterator[Broker]:
    """A Valkey of the test's own (Unix socket, AOF on) that the test may stop, freeze and start again: a broker no
    other test shares."""
    # A short directory of our own: the socket path must fit in sun_path.
    root = Path(tempfile.mkdtemp(prefix="nvf-vk-"))
    try:
        url = embedded.valkey_up(root)
        yield Broker(root, url)
    finally:
        pid = embedded._valkey_pid(root)
        if pid is not None:
            os.kill(pid, signal.SIGCONT)  # a frozen server would not act on the SIGTERM that stops it
        embedded.valkey_down(root)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def celery_on_broker(broker) -> Iterator[None]:
    """Point this process's Celery app at the private broker, so a service called here (batch_sweep) enqueues
    where the test's worker listens. The connection pools are per-URL and cached, so they are dropped both ways."""
    from kombu import pools as kombu_pools

    from novaops.celery import app

    def reset_pools() -> None:
        # kombu keeps the pools in per-URL registries: closing one without dropping it from them leaves a closed
        # pool behind for the next user of that URL ("Acquire on closed pool"; an eager apply_async acquires a
        # producer too). pools.reset() closes them all and empties the registries.
        kombu_pools.reset()
        app._pool = None
        if "amqp" in app.__dict__:
            app.amqp._producer_pool = None

    previous = app.conf.broker_url
    reset_pools()
    app.conf.broker_url = broker.url
    try:
        yield
    finally:
        reset_pools()
        app.conf.broker_url = previous


@pytest.fixture
def workers(transactional_db, broker, tmp_path) -> Iterator[Callable[..., Worker]]:
    """start(*extra_args) → a real Celery worker against the test database and the private broker, ready to consume;
    every worker started is stopped with its whole process group at teardown. The first is named celery@<host>."""
    started: list[Worker] = []

    def start(*extra_args: str) -> Worker:
        worker = worker_start(
            *extra_args,
            database_url=database_url_for_subprocesses(),
            redis_url=broker.url,
            log=tmp_path / f"worker-{len(started)}.log",
            hostname=f"celery{len(started) or ''}@%h",
        )
        started.append(worker)
        return worker

    yield start
    for worker in started:
        stop_group(worker.process, grace=10)


@pytest.fixture
def land(django_capture_on_commit_callbacks):
    """land(division, [(metric, handle or None, ts, value), …]) → the batch, accepted and processed eagerly."""

    def run(division, points) -> IngestBatch:
        body = {
            "points": [
                {"metric": metric, "ts": ts.isoformat(), "value": value, **({"agent": handle} if handle else {})}
                for metric, handle, ts, value in points
            ]
        }
        with django_capture_on_commit_callbacks(execute=True):
            accepted = batch_accept(division=division, token=None, body=json.dumps(body).encode())
        batch = IngestBatch.objects.get(pk=accepted.batch.pk)
        assert batch.status == IngestBatch.Status.DONE, batch.error
        return batch

    return run
