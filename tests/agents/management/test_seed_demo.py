"""manage.py seed_demo."""

import pytest
from django.core.management import CommandError, call_command

from agents.models import Agent

pytestmark = pytest.mark.django_db


def test_seed_command_refuses_with_debug_off(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="Refusing"):
        call_command("seed_demo")
    call_command("seed_demo", "--force")
    assert Agent.objects.count() > 150
