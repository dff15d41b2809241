"""The demo escalations (escalations.demo) and their command."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command

from agents.demo import demo_organisation_seed
from escalations.demo import STORIES, escalations_demo_seed
from escalations.models import Escalation, Notification
from escalations.selectors import is_breached
from escalations.timeline import timeline

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo():
    demo_organisation_seed()
    assert escalations_demo_seed() == list(STORIES)
    return {ticket.title: ticket for ticket in Escalation.objects.all()}


def test_each_kind_in_several_states(demo):
    by_kind: dict[str, set] = {}
    for ticket in demo.values():
        by_kind.setdefault(ticket.kind, set()).add(ticket.state)
    assert by_kind == {
        "friction": {"open", "in_progress", "closed"},
        "resource_conflict": {"acknowledged", "waiting_on_raiser", "resolved"},
        "strategic_alignment": {"in_progress", "acknowledged"},
    }
    assert len({ticket.created_at.date() for ticket in demo.values()}) >= 6  # raised over the past days


def test_the_outcomes_the_demo_promises(demo):
    resolved = demo["Scheduler capacity during the queue migration"]
    assert [claim.allocated for claim in resolved.claims.order_by("pk")] == [300, 100, 100]
    signed = demo["One task schema across NovaOps and OrchOps"]
    assert [sign.user.username for sign in signed.sign_offs.all()] == ["core"]
    closed = demo["Hand-off hours between Workflow Engineering and Framework Integration"]
    assert closed.follow_ups.count() == 2 and closed.decision
    breached = demo["Who owns latency budgets for cross-domain workflows"]
    assert breached.level == 3 and breached.acknowledge_breached_at and breached.resolve_breached_at
    assert is_breached(breached)
    sweeps = [entry.at - breached.created_at for entry in timeline(breached) if entry.actor == "NovaOps SLA"]
    assert sweeps == [timedelta(hours=1, minutes=1), timedelta(days=1, minutes=1)]  # when the job ran, not today
    assert all(ticket.agents.exists() and ticket.metrics.exists() for ticket in demo.values())
    assert sum(ticket.comments.count() for ticket in demo.values()) >= 7


def test_timelines_run_in_the_past_in_order(demo):
    for ticket in demo.values():
        times = [entry.at for entry in timeline(ticket)]
        assert times == sorted(times)
        assert times[0] == ticket.created_at


def test_nobody_is_mailed_about_the_history(demo):
    assert not Notification.objects.filter(sent_at__isnull=True).exists()


def test_idempotent(demo):
    count = Escalation.objects.count()
    assert escalations_demo_seed() == []
    assert Escalation.objects.count() == count


def test_the_command_refuses_with_debug_off_unless_forced(settings, capsys):
    demo_organisation_seed()
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG off"):
        call_command("escalations_demo")
    call_command("escalations_demo", "--force")
    assert "8 added, 0 already there" in capsys.readouterr().out
    call_command("escalations_demo", "--force")
    assert "0 added, 8 already there" in capsys.readouterr().out
