"""The one handle pattern (agents.constants) that the model, the pages, the API and metrics share."""

import pytest

from agents.constants import HANDLE_PATTERN, HANDLE_RE, is_handle
from agents.models import Agent, handle_validator


@pytest.mark.parametrize("text", ["ta_00000", "ta_00008", "ta_99999"])
def test_handles(text):
    assert is_handle(text)


@pytest.mark.parametrize(
    "text", ["", "ta_0008", "ta_000008", "TA_00008", "xx_00008", "ta_0000a", " ta_00008", "ta_00008 ", "ta_00008\n"]
)
def test_not_handles(text):
    assert not is_handle(text)


def test_the_model_pattern_is_the_anchored_form_the_migrations_hold():
    # Changing this string would change the check constraint's SQL and need a migration.
    assert HANDLE_PATTERN == r"^ta_[0-9]{5}$"
    assert HANDLE_RE.pattern in HANDLE_PATTERN
    constraint = next(c for c in Agent._meta.constraints if c.name == "agent_handle_format")
    assert constraint.condition.children == [("handle__regex", HANDLE_PATTERN)]
    assert handle_validator.regex.pattern == HANDLE_PATTERN
