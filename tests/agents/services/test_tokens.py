"""Minting and revoking division API tokens (agents.services.tokens)."""

import pytest
from django.db import IntegrityError

from agents.models import DivisionToken
from agents.services.tokens import division_token_create, division_token_revoke
from novaops.errors import Conflict
from tests.factories import DivisionFactory

pytestmark = pytest.mark.django_db


def test_only_a_hash_and_a_public_prefix_are_stored():
    token, secret = division_token_create(division=DivisionFactory(), name="collector")
    stored = DivisionToken.objects.get(pk=token.pk)
    assert secret.startswith(f"nvo_{stored.prefix}_")
    assert secret.split("_", 2)[2] not in str(stored.__dict__)
    assert len(stored.secret_sha256) == 64


def test_revoking_twice_keeps_the_first_time():
    token, _ = division_token_create(division=DivisionFactory(), name="collector")
    first = division_token_revoke(token=token).revoked_at
    assert division_token_revoke(token=token).revoked_at == first
    assert token.state == "revoked"


def test_a_name_the_division_already_uses_is_a_conflict():
    division = DivisionFactory(name="NovaCore Runtime")
    division_token_create(division=division, name="collector")

    with pytest.raises(Conflict, match="NovaCore Runtime already has a token named “collector”. Pick another name."):
        division_token_create(division=division, name="collector")

    assert DivisionToken.objects.filter(division=division).count() == 1
    # The same name in another division is fine.
    division_token_create(division=DivisionFactory(), name="collector")


def test_other_integrity_errors_are_not_a_conflict(monkeypatch):
    """Only a taken name is a Conflict; anything else the database refuses stays an error."""
    monkeypatch.setattr("agents.services.tokens.secrets.token_hex", lambda n: "deadbeef")
    division_token_create(division=DivisionFactory(), name="first")

    with pytest.raises(IntegrityError, match="prefix"):
        division_token_create(division=DivisionFactory(), name="second")
