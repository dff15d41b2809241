"""The admin of the registry: division tokens are minted (secret shown once) and revoked, never edited."""

from datetime import timedelta

import pytest
import time_machine

from agents.authentication import TOKEN_CACHE_TTL
from agents.models import DivisionToken
from tests.agents import bearer_client
from tests.factories import DivisionFactory

pytestmark = pytest.mark.django_db


def test_admin_mints_shows_once_and_revokes(client, superuser):
    client.force_login(superuser)
    division = DivisionFactory()
    response = client.post(
        "/admin/agents/divisiontoken/add/", {"division": division.pk, "name": "from-admin"}, follow=True
    )
    token = DivisionToken.objects.get(name="from-admin")
    shown = [str(m) for m in response.context["messages"]]
    assert any(f"nvo_{token.prefix}_" in m for m in shown)
    secret = next(m for m in shown if "nvo_" in m).split()[-1]
    assert bearer_client(secret).get("/api/v1/metrics/batches/1").status_code == 404
    client.post("/admin/agents/divisiontoken/", {"action": "revoke", "_selected_action": [token.pk]})
    revoked_at = DivisionToken.objects.get(pk=token.pk).revoked_at
    assert revoked_at is not None
    # A process that read the token moments ago may take it for TOKEN_CACHE_TTL more, no longer.
    with time_machine.travel(revoked_at + TOKEN_CACHE_TTL + timedelta(milliseconds=1)):
        assert bearer_client(secret).get("/api/v1/metrics/batches/1").status_code == 403
