"""The API holds its own schema: Schemathesis runs every check, and its examples, coverage and fuzzing phases,
against the live schema, once with a Tier 1 lead's session and once with a division token, and finds nothing.

The `schemathesis` CLI runs as a subprocess against Django's live server (a thread of this process, on the test
database): the CLI is the documented way to run all phases with all checks, its exit status is the verdict and its
output names every failure with a curl line to reproduce it; the live server shares the test database and this
process's settings, so whatever the run creates (agents, catalogue entries, batches) is rolled away with it.
Bounded by examples per operation and a fixed seed (not by time, which would make the run depend on the machine's
speed): about a minute per run on two cores.

Schemathesis also prints warnings, which are not failures and are expected here: with a lead's session the batch POST
answers only 401 (it takes division tokens alone); with a token the registry writes answer 401/403 (people only)
and batch ids are unknown (404).
"""

import os
import secrets
import subprocess
import sys
from datetime import date, time, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from agents.services.tokens import division_token_create
from meetings.services.series import SeriesFields, series_create
from tests.factories import AgentFactory
from tests.helpers.processes import PROJECT

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
# Examples per operation and phase; with ~10 operations this keeps each run at about a minute on two cores.
MAX_EXAMPLES = 30
SEED = 20261202

# Starts a server (out of the quick subset). Each run walks every operation of the API, which grows with every app:
# its own time limit, above the suite's 300 s, lets a loaded machine finish it rather than report a timeout.
RUN_SECONDS = 900
pytestmark = [pytest.mark.worker, pytest.mark.timeout(RUN_SECONDS + 60)]


@pytest.fixture(autouse=True)
def _batches_land_in_process():
    """The live server runs in this process: accepted batches land there (eager Celery), in the test database,
    rather than waiting in a broker no worker of this test reads (`worker` tests otherwise publish for real)."""
    from novaops.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def schema_file(live_server, cast, tmp_path) -> Path:
    """The live schema as the lead's session fetches it (the schema is for people with a role)."""
    response = _lead_client(cast).get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    path = tmp_path / "openapi.json"
    path.write_bytes(response.content)
    return path


def _lead_client(cast) -> Client:
    client = Client()
    client.force_login(cast.lead)
    return client


def _registry(cast) -> None:
    """A few agents for the examples and the fuzzer to find, in two divisions (so a token's scope shows), ta_00008
    being the agent of the batch example; and a meeting series."""
    for handle, division in [
        ("ta_00001", cast.division),
        ("ta_00008", cast.division),
        ("ta_00010", cast.other_division),
    ]:
        AgentFactory(handle=handle, division=division)
    # A meeting series for the meetings operations' ids to find.
    weekly = SeriesFields(
        title="Weekly sync",
        kind="weekly_sync",
        rrule="FREQ=WEEKLY;BYDAY=TU",
        start_date=date(2026, 1, 6),
        start_time=time(9),
        timezone="America/Denver",
        duration=timedelta(minutes=30),
        divisions=[cast.division],
        attendees=[cast.lead, cast.member],
    )
    series_create(actor=cast.lead, fields=weekly)


# Operations whose input names other objects (a division, a domain, a metric, an agent): a well-formed name of
# nothing is a 400 problem naming the parameter (docs/architecture.md §3), which Schemathesis cannot know from the
# schema, so for these alone positive_data_acceptance also accepts a 400. Every other check still runs on them.
NAMES_OTHER_OBJECTS = [
    "agents_list",  # ?division=, ?domain=
    "agents_create",  # division
    "agents_export",  # ?division=, ?domain= (the list's filters)
    "agents_import",  # rows name divisions and handles that may be taken
    "agents_bulk",  # handles, a division; a transition from the wrong state is a 409
    "divisions_list",  # ?domain=
    "metrics_series_aggregate",  # ?metric=, ?agent=, ?division=, ?domain=; start/end are parsed timestamps
    "metrics_batch_create",  # points name metrics and agents; the body is checked whole by metrics.sources
    # Escalations name divisions, agents, metrics, people and claims, and their writes depend on the ticket's state
    # and who acts on it (a valid transition from the wrong state is a 409, from the wrong person a 403).
    "escalations_.*",
    # Meetings name divisions, domains and people, occurrences by a series and a start its rule may not have (404),
    # and refuse writes by the occurrence's state (a cancelled or closed one is a 409).
    "meetings_.*",
]


def _config(tmp_path: Path, auth: str) -> Path:
    path = tmp_path / "schemathesis.toml"
    path.write_text(
        f"""{auth}

[[operations]]
include-operation-id-regex = "^({"|".join(NAMES_OTHER_OBJECTS)})$"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]
"""
    )
    return path


def _run(schema_file: Path, live_server, tmp_path: Path, *, auth: str, env: dict[str, str] | None = None) -> None:
    report = tmp_path / "junit.xml"
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(_config(tmp_path, auth)),
        "run",
        str(schema_file),
        "--url",
        live_server.url,
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--no-color",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
    ]
    environment = {
        **os.environ,
        "PYTHONPATH": str(PROJECT),
        "SCHEMATHESIS_HOOKS": "tests.novaops.schemathesis_hooks",
        **(env or {}),
    }
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=RUN_SECONDS, check=False, cwd=tmp_path, env=environment
    )
    print(result.stdout[-60_000:])
    print(result.stderr[-5_000:], file=sys.stderr)
    assert result.returncode == 0, "Schemathesis found problems; see the output above"


def test_a_leads_session_finds_nothing(schema_file, live_server, cast, tmp_path):
    _registry(cast)
    session = _lead_client(cast).cookies[settings.SESSION_COOKIE_NAME].value
    csrf = secrets.token_hex(16)  # an unmasked 32-character secret: the cookie and the header carry the same

    _run(
        schema_file,
        live_server,
        tmp_path,
        auth=f'[auth.openapi.cookieAuth]\napi_key = "{session}"',
        env={"NOVAOPS_SCHEMATHESIS_CSRF": csrf},
    )


def test_a_division_token_finds_nothing(schema_file, live_server, cast, tmp_path):
    _registry(cast)
    _, secret = division_token_create(division=cast.division, name="schemathesis")

    _run(schema_file, live_server, tmp_path, auth=f'[auth.openapi.divisionToken]\nbearer = "{secret}"')
