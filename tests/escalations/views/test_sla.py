"""The SLA policy page (escalations/views/sla.py): everyone with a role reads it, Tier 1 leads change it."""

from datetime import timedelta

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from escalations.models import SlaPolicy

SLA = reverse("escalations:sla")


@pytest.mark.parametrize(("username", "edits"), [("core", True), ("runtime-lead", False), ("viewer", False)])
def test_everyone_reads_leads_edit(page_as, username, edits):
    response = page_as(username).get(SLA)

    assert response.status_code == 200
    for words in ["P1 · critical", "1 h", "1 d", "P4 · low", "3 d", "30 d"]:
        assertContains(response, words)
    (assertContains if edits else assertNotContains)(response, "Save P1")


def test_each_rows_fields_have_their_own_ids(page_as):
    response = page_as("core").get(SLA)

    assertContains(response, 'id="id_P1_acknowledge_within"')
    assertContains(response, 'id="id_P4_resolve_within"')
    assertContains(response, 'value="4h"')


def test_a_lead_changes_a_priority(page_as, org):
    response = page_as("core").post(SLA, {"priority": "P2", "acknowledge_within": "90m", "resolve_within": "2d"})

    assertRedirects(response, SLA, fetch_redirect_response=False)
    policy = SlaPolicy.objects.get(priority="P2")
    assert (policy.acknowledge_within, policy.resolve_within) == (timedelta(minutes=90), timedelta(days=2))


@pytest.mark.parametrize(
    ("acknowledge", "resolve", "message"),
    [
        ("soon", "2d", "Write a duration such as 90m, 4h, 3d or 2w; not &#x27;soon&#x27;."),
        ("0h", "2d", "Write a duration such as"),
        ("3d", "1d", "Time to acknowledge must be positive and no longer than time to resolve."),
    ],
)
def test_bad_durations_are_errors(page_as, org, acknowledge, resolve, message):
    data = {"priority": "P2", "acknowledge_within": acknowledge, "resolve_within": resolve}

    response = page_as("core").post(SLA, data)

    assert response.status_code == 400
    assertContains(response, "The policy was not saved", status_code=400)
    assertContains(response, message, status_code=400)
    assert not SlaPolicy.objects.filter(priority="P2", resolve_within=timedelta(days=2)).exists()


def test_others_may_not_change_it(page_as, org):
    data = {"priority": "P2", "acknowledge_within": "1h", "resolve_within": "1d"}

    response = page_as("runtime-lead").post(SLA, data)

    assert response.status_code == 403
    assertContains(response, "Only Tier 1 leads can change the SLA policy.", status_code=403)
