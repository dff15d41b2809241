"""What the database itself enforces: the constraints a bug in a service cannot get past, and the append-only
trail, comments and tickets (refused by triggers, also for the ORM calls the admin makes)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import IntegrityError, connection, transaction
from django.db.utils import InternalError, ProgrammingError

from escalations.models import Comment, Escalation, EscalationEvent, ResourceClaim, SignOff, SlaPolicy
from escalations.services.changes import comment_add
from escalations.services.raising import Claim
from metrics.models import Metric
from tests.factories import AgentFactory

REFUSED = (InternalError, ProgrammingError)
EVENT_MODELS = [model for model in apps.get_app_config("escalations").get_models() if model.__name__.endswith("Event")]


def _refused(call, errors=REFUSED):
    with pytest.raises(errors), transaction.atomic():
        call()


@pytest.fixture
def ticket(org, raise_ticket):
    return raise_ticket(claims=[Claim(division=org.workflow, amount=Decimal(30), justification="Batch")])


@pytest.mark.parametrize(
    "change",
    [
        {"kind": "complaint"},
        {"state": "lost"},
        {"priority": "P5"},
        {"level": 4},
        {"level": 0},
        {"resource_capacity": None},
        {"waiting_since": "2030-01-01T00:00Z"},
    ],
)
def test_ticket_constraints(ticket, change):
    _refused(lambda: Escalation.objects.filter(pk=ticket.pk).update(**change), IntegrityError)


@pytest.mark.parametrize(
    "change",
    [{"amount": Decimal(0)}, {"allocated": Decimal(31)}, {"allocated": Decimal(-1)}, {"priority": "P0"}],
)
def test_claim_constraints(ticket, change):
    _refused(lambda: ResourceClaim.objects.filter(escalation=ticket).update(**change), IntegrityError)


def test_one_claim_and_one_sign_off_per_division_and_domain(ticket, org):
    claim = ticket.claims.get()
    _refused(
        lambda: ResourceClaim.objects.create(escalation=ticket, division=claim.division, amount=1, justification="x"),
        IntegrityError,
    )
    SignOff.objects.create(escalation=ticket, domain=org.runtime.domain, user=org.core)
    _refused(
        lambda: SignOff.objects.create(escalation=ticket, domain=org.runtime.domain, user=org.core), IntegrityError
    )


def test_sla_policy_constraints(db):
    # The defaults are data from a migration, which a transactional test's flush may have emptied.
    SlaPolicy.objects.update_or_create(
        priority="P1", defaults={"acknowledge_within": timedelta(hours=1), "resolve_within": timedelta(days=1)}
    )
    _refused(lambda: SlaPolicy.objects.filter(priority="P1").update(acknowledge_within=timedelta(0)), IntegrityError)
    _refused(
        lambda: SlaPolicy.objects.filter(priority="P1").update(
            acknowledge_within=timedelta(days=2), resolve_within=timedelta(days=1)
        ),
        IntegrityError,
    )


def test_tickets_are_never_deleted(ticket):
    _refused(ticket.delete)
    _refused(lambda: Escalation.objects.filter(pk=ticket.pk).delete())
    assert Escalation.objects.filter(pk=ticket.pk).exists()


def test_comments_can_be_neither_edited_nor_deleted(ticket, org):
    comment = comment_add(number=ticket.number, actor=org.core, body="As said.")
    comment.body = "As I never said."
    _refused(comment.save)
    _refused(lambda: Comment.objects.filter(pk=comment.pk).update(body="Nothing"))
    _refused(comment.delete)
    assert Comment.objects.get(pk=comment.pk).body == "As said."


@pytest.mark.parametrize("model", EVENT_MODELS, ids=lambda model: model.__name__)
def test_trail_rows_can_be_neither_changed_nor_deleted(ticket, org, model):
    # One row in each trail table.
    SignOff.objects.create(escalation=ticket, domain=org.runtime.domain, user=org.core)
    ticket.follow_ups.create(description="Rota", owner=org.core, due_on="2030-01-01")
    SlaPolicy.objects.update_or_create(
        priority="P4", defaults={"acknowledge_within": timedelta(days=3), "resolve_within": timedelta(days=31)}
    )
    ticket.agent_links.create(agent=AgentFactory(division=org.runtime))
    ticket.metric_links.create(metric=Metric.objects.first())
    event = model.objects.first()
    assert event is not None
    _refused(lambda: model.objects.filter(pk=event.pk).update(pgh_context={"actor": "someone else"}))
    _refused(lambda: model.objects.filter(pk=event.pk).delete())
    # As the admin would: load the row, change it, save it; delete it.
    event.pgh_context = {"actor": "someone else"}
    _refused(event.save)
    _refused(event.delete)
    with connection.cursor() as cursor:
        _refused(lambda: cursor.execute(f"DELETE FROM {model._meta.db_table}"))
    assert model.objects.filter(pk=event.pk).exclude(pgh_context={"actor": "someone else"}).exists()


def test_the_ticket_trail_survives_the_ticket_row_changes(ticket):
    Escalation.objects.filter(pk=ticket.pk).update(title="Renamed")
    assert list(EscalationEvent.objects.filter(pgh_obj_id=ticket.pk).values_list("title", flat=True)) == [
        ticket.title,
        "Renamed",
    ]
