"""Email to the people a ticket reaches: a row per (ticket, person, reason) first, the mail after commit.

The unique row is the guard: a beat job that runs twice, late or in two workers creates it once, and the sender
claims each row by compare-and-swap on `sent_at` before mailing, so a retried send does not mail twice.
"""

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from escalations.models import Escalation, Notification
from novaops.celery import enqueue

REASONS = {
    "raised": "was raised and assigned to you",
    "escalated": "was escalated and is now assigned to you",
    "acknowledge-breached": "passed its acknowledge deadline and was escalated to you",
    "resolve-breached": "passed its resolve deadline and was escalated to you",
    "reassigned": "was handed to you",
}


def notify_assignees(*, escalation: Escalation, users: Iterable[Any], reason: str) -> None:
    """Queue one email per user for `reason` (e.g. "escalated-level-2"); sent by a task after commit."""
    rows = [Notification(escalation=escalation, user=user, reason=reason) for user in users if user.email]
    if not rows:
        return
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    transaction.on_commit(lambda: enqueue("escalations.notifications_send", escalation.pk))


def notifications_send(*, escalation_id: int) -> int:
    """Mail every unsent notification of a ticket; returns how many went out.

    Each row is claimed (sent_at set where it is empty) before its mail: of two runners one claims it. A mail that
    fails gives its claim back, so the sweep or a retry sends it later.
    """
    sent = 0
    for notification in Notification.objects.filter(escalation_id=escalation_id, sent_at__isnull=True).select_related(
        "escalation", "user"
    ):
        if not Notification.objects.filter(pk=notification.pk, sent_at__isnull=True).update(sent_at=timezone.now()):
            continue
        try:
            _mail(notification)
        except Exception:
            Notification.objects.filter(pk=notification.pk).update(sent_at=None)
            raise
        sent += 1
    return sent


def _mail(notification: Notification) -> None:
    escalation = notification.escalation
    what = REASONS.get(notification.reason.rsplit("-level-", 1)[0], "needs your attention")
    url = f"{settings.NOVAOPS_BASE_URL}{reverse('escalations:detail', args=[escalation.number])}"
    send_mail(
        subject=f"[{escalation.key}] {escalation.priority} {escalation.title}",
        message=(
            f"{escalation.key} ({escalation.get_kind_display()}, {escalation.priority}) {what}.\n"
            f"Level {escalation.level}, {escalation.get_state_display().lower()}.\n\n{escalation.title}\n\n{url}\n"
        ),
        from_email=None,
        recipient_list=[notification.user.email],
    )
