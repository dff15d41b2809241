from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from agents.models import DivisionToken
from agents.tokens import division_token_create, division_token_revoke
from tests.factories import DivisionFactory, UserFactory

pytestmark = pytest.mark.django_db


def _reader(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_only_a_hash_and_a_public_prefix_are_stored():
    token, secret = division_token_create(division=DivisionFactory(), name="collector")
    stored = DivisionToken.objects.get(pk=token.pk)
    assert secret.startswith(f"nvo_{stored.prefix}_")
    assert secret.split("_", 2)[2] not in str(stored.__dict__)
    assert len(stored.secret_sha256) == 64


def test_a_token_authenticates_and_records_last_use_at_most_once_a_minute(django_assert_max_num_queries):
    token, secret = division_token_create(division=DivisionFactory(), name="collector")
    client = _reader(secret)
    assert client.get("/api/v1/metrics/batches/1").status_code == 404  # authenticated, then no such batch
    first = DivisionToken.objects.get(pk=token.pk).last_used_at
    assert first is not None
    with django_assert_max_num_queries(2):  # token lookup + batch lookup: no last_used write this time
        client.get("/api/v1/metrics/batches/1")
    assert DivisionToken.objects.get(pk=token.pk).last_used_at == first
    DivisionToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now() - timedelta(minutes=2))
    client.get("/api/v1/metrics/batches/1")
    assert DivisionToken.objects.get(pk=token.pk).last_used_at > first


def test_revoking_twice_keeps_the_first_time():
    token, _ = division_token_create(division=DivisionFactory(), name="collector")
    first = division_token_revoke(token=token).revoked_at
    assert division_token_revoke(token=token).revoked_at == first
    assert token.state == "revoked"


def test_token_create_command_prints_the_token_last(capsys):
    division = DivisionFactory(slug="tool-ecosystem")
    call_command("token_create", "--division", "tool-ecosystem", "--name", "ci", "--expires", "30d")
    secret = capsys.readouterr().out.split()[-1]
    token = DivisionToken.objects.get(division=division, name="ci")
    assert secret.startswith(f"nvo_{token.prefix}_")
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    assert _reader(secret).get("/api/v1/metrics/batches/1").status_code == 404


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--division", "nope", "--name", "x"], "No division 'nope'"),
        (["--division", "tool-ecosystem", "--name", "x", "--expires", "soon"], "--expires 'soon'"),
    ],
)
def test_token_create_command_explains_bad_input(args, message):
    DivisionFactory(slug="tool-ecosystem")
    with pytest.raises(CommandError, match=message):
        call_command("token_create", *args)


def test_admin_mints_shows_once_and_revokes(client):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    division = DivisionFactory()
    response = client.post(
        "/admin/agents/divisiontoken/add/", {"division": division.pk, "name": "from-admin"}, follow=True
    )
    token = DivisionToken.objects.get(name="from-admin")
    shown = [str(m) for m in response.context["messages"]]
    assert any(f"nvo_{token.prefix}_" in m for m in shown)
    secret = next(m for m in shown if "nvo_" in m).split()[-1]
    assert _reader(secret).get("/api/v1/metrics/batches/1").status_code == 404
    client.post("/admin/agents/divisiontoken/", {"action": "revoke", "_selected_action": [token.pk]})
    assert DivisionToken.objects.get(pk=token.pk).revoked_at is not None
    assert _reader(secret).get("/api/v1/metrics/batches/1").status_code == 403
