"""Reads of the registry (agents.selectors) that the pages and the API tests do not pin down on their own."""

import pytest
from django.core.exceptions import ValidationError

from agents.selectors import agent_list_filtered, division_token_by_prefix
from agents.services.tokens import division_token_create
from tests.factories import DivisionFactory

pytestmark = pytest.mark.django_db


def test_agent_list_filtered_names_every_bad_value_cut_to_60_characters():
    with pytest.raises(ValidationError) as refused:
        agent_list_filtered(filters={"division": "x" * 100, "tier": "9", "colour": "blue"})

    assert refused.value.message_dict == {
        "division": [f"No division with slug '{'x' * 60}'."],
        "tier": ["Tier must be 1, 2 or 3, not '9'."],
    }


def test_division_token_by_prefix_joins_division_and_domain(django_assert_num_queries):
    token, _ = division_token_create(division=DivisionFactory(), name="collector")

    with django_assert_num_queries(1):
        found = division_token_by_prefix(prefix=token.prefix)
        assert (found, found.division.domain) == (token, token.division.domain)
    assert division_token_by_prefix(prefix="unknown") is None
