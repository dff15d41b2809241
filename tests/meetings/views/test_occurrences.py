"""The review session's pages: the occurrence page, presenter view, minutes (page and Markdown) and every POST through
meetings:act, per role; refusals answer their own status with the page, never a 500."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from meetings.models import ActionItem, AgendaItem, Occurrence
from meetings.services.occurrences import occurrence_cancel, occurrence_open

MEETING = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
RID = "20260310T150000Z"


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(MEETING, tick=False):
        yield


@pytest.fixture
def occurrence(weekly_sync):
    return occurrence_open(series=weekly_sync, original_start=MEETING)


@pytest.fixture
def signed_in(client, crew):
    def make(name: str):
        client.force_login(getattr(crew, name))
        return client

    return make


def url(series, name="occurrence", *args):
    return reverse(f"meetings:{name}", args=[series.pk, RID, *args])


def test_the_occurrence_page_shows_an_empty_agenda_and_the_editors_buttons(signed_in, weekly_sync):
    page = signed_in("core").get(url(weekly_sync))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Nothing on the agenda yet" in html
    assert 'data-action="freeze"' in html and 'data-action="close"' in html
    assert Occurrence.objects.filter(series=weekly_sync, original_start=MEETING).exists()


def test_a_viewer_reads_without_buttons_and_is_refused_a_freeze(signed_in, weekly_sync):
    viewer = signed_in("viewer")
    html = viewer.get(url(weekly_sync)).content.decode()
    assert 'data-action="freeze"' not in html and "Add an agenda item" not in html
    refused = viewer.post(url(weekly_sync, "act", "freeze"))
    assert refused.status_code == 403
    assert Occurrence.objects.get(series=weekly_sync).frozen_at is None


def test_unknown_meetings_and_actions_are_404(signed_in, weekly_sync):
    lead = signed_in("core")
    assert lead.get(reverse("meetings:occurrence", args=[weekly_sync.pk, "20260311T150000Z"])).status_code == 404
    assert lead.get(reverse("meetings:occurrence", args=[weekly_sync.pk, "garbage"])).status_code == 404
    assert lead.get(reverse("meetings:occurrence", args=[9999, RID])).status_code == 404
    assert lead.post(url(weekly_sync, "act", "explode")).status_code == 404


def test_a_member_adds_an_item_for_their_division_only(signed_in, crew, weekly_sync, occurrence):
    member = signed_in("runtime_member")
    added = member.post(url(weekly_sync, "act", "item-add"), {"title": "Rollout plan", "division": crew.runtime.pk})
    assert added.status_code == 302
    refused = member.post(url(weekly_sync, "act", "item-add"), {"title": "Theirs", "division": crew.workflow.pk})
    assert refused.status_code == 403
    assert list(occurrence.agenda.values_list("title", flat=True)) == ["Rollout plan"]


def test_bad_input_is_a_field_error_not_a_500(signed_in, weekly_sync, occurrence):
    lead = signed_in("core")
    empty = lead.post(url(weekly_sync, "act", "item-add"), {"title": "  "})
    assert empty.status_code == 400 and "An item needs a title." in empty.content.decode()
    no_owner = lead.post(url(weekly_sync, "act", "action-add"), {"title": "x", "owner": "abc"})
    assert no_owner.status_code == 400
    bad_date = lead.post(url(weekly_sync, "act", "action-add"), {"title": "x", "owner": "1", "due_on": "tomorrow"})
    assert bad_date.status_code == 400


def test_a_stale_edit_is_refused_with_the_current_text(signed_in, weekly_sync, occurrence, crew):
    lead = signed_in("core")
    lead.post(url(weekly_sync, "act", "item-add"), {"title": "Capacity"})
    item = occurrence.agenda.get()
    first = lead.post(url(weekly_sync, "act", "item-edit"), {"item": item.pk, "version": 1, "title": "Capacity (Q2)"})
    assert first.status_code == 302
    late = lead.post(url(weekly_sync, "act", "item-edit"), {"item": item.pk, "version": 1, "title": "Capacity plan"})
    assert late.status_code == 409
    html = late.content.decode()
    assert "Not saved: someone else changed this item." in html
    assert "Capacity (Q2)" in html and 'value="Capacity plan"' in html  # theirs shown, yours kept
    assert AgendaItem.objects.get(pk=item.pk).title == "Capacity (Q2)"


def test_a_meeting_run_through_the_page(signed_in, crew, weekly_sync, occurrence, django_capture_on_commit_callbacks):
    lead = signed_in("core")
    lead.post(url(weekly_sync, "act", "item-add"), {"title": "Capacity"})
    item = occurrence.agenda.get()
    assert lead.post(url(weekly_sync, "act", "start")).status_code == 302
    lead.post(url(weekly_sync, "act", "notes"), {"item": item.pk, "version": 1, "notes": "Needs two more nodes."})
    lead.post(url(weekly_sync, "act", "decision"), {"text": "Order two nodes.", "item": item.pk})
    lead.post(url(weekly_sync, "act", "attendance"), {"present": [crew.core.pk, crew.meridian.pk]})
    lead.post(
        url(weekly_sync, "act", "action-add"),
        {"title": "Order nodes", "owner": crew.runtime_member.pk, "division": crew.runtime.pk, "due_on": "2026-03-17"},
    )
    page = lead.get(url(weekly_sync)).content.decode()
    assert "Figures frozen: as seen at" in page and "Order nodes" in page and "Order two nodes." in page
    with django_capture_on_commit_callbacks(execute=True):
        assert lead.post(url(weekly_sync, "act", "close")).status_code == 302
    assert len(mail.outbox) == 4
    minutes = lead.get(url(weekly_sync, "minutes")).content.decode()
    assert "Needs two more nodes." in minutes and "Order nodes" in minutes
    markdown = lead.get(url(weekly_sync, "minutes_md"))
    assert markdown["Content-Type"].startswith("text/markdown")
    text = markdown.content.decode()
    assert "# Minutes: Weekly sync" in text and "- [ ] Order nodes (owner runtime-member, due 2026-03-17, open)" in text
    # Closed: the page has no editing buttons, a further edit is refused.
    assert lead.post(url(weekly_sync, "act", "item-add"), {"title": "Late"}).status_code == 409


def test_the_owner_updates_their_action_item_after_the_meeting(signed_in, crew, weekly_sync, occurrence):
    action = ActionItem.objects.create(occurrence=occurrence, title="Order nodes", owner=crew.runtime_member)
    member = signed_in("runtime_member")
    done = member.post(url(weekly_sync, "act", "action-update"), {"action": action.pk, "version": 1, "status": "done"})
    assert done.status_code == 302
    assert ActionItem.objects.get(pk=action.pk).status == "done"
    other = signed_in("workflow_member")
    refused = other.post(
        url(weekly_sync, "act", "action-update"), {"action": action.pk, "version": 2, "status": "open"}
    )
    assert refused.status_code == 403


def test_a_cancelled_occurrence_takes_no_edits(signed_in, crew, weekly_sync, occurrence):
    occurrence_cancel(actor=crew.core, occurrence=occurrence)
    lead = signed_in("core")
    refused = lead.post(url(weekly_sync, "act", "item-add"), {"title": "x"})
    assert refused.status_code == 409 and "cancelled" in refused.content.decode()


def test_the_presenter_view_has_the_timer_and_the_keys(signed_in, weekly_sync, occurrence):
    lead = signed_in("core")
    lead.post(url(weekly_sync, "act", "item-add"), {"title": "Capacity"})
    html = lead.get(url(weekly_sync, "present")).content.decode()
    assert 'data-timer data-duration="1800"' in html and 'id="keys-help"' in html and "Capacity" in html
    assert "<script>" not in html  # no inline script (CSP)
