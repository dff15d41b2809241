"""manage.py token_create."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from agents.models import DivisionToken
from agents.services.tokens import division_token_create
from tests.agents import bearer_client
from tests.factories import DivisionFactory

pytestmark = pytest.mark.django_db


def test_token_create_command_prints_the_token_last(capsys):
    division = DivisionFactory(slug="tool-ecosystem")
    call_command("token_create", "--division", "tool-ecosystem", "--name", "ci", "--expires", "30d")
    secret = capsys.readouterr().out.split()[-1]
    token = DivisionToken.objects.get(division=division, name="ci")
    assert secret.startswith(f"nvo_{token.prefix}_")
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    assert bearer_client(secret).get("/api/v1/metrics/batches/1").status_code == 404


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


def test_token_create_command_refuses_a_name_the_division_uses():
    division = DivisionFactory(slug="tool-ecosystem", name="Tool Ecosystem")
    division_token_create(division=division, name="ci")
    with pytest.raises(CommandError, match="Tool Ecosystem already has a token named 'ci'; pick another name."):
        call_command("token_create", "--division", "tool-ecosystem", "--name", "ci")
