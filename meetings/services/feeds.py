"""Personal calendar feeds: a secret URL per person, because calendar apps cannot send login headers. Only the
secret's SHA-256 is stored, with a short public prefix to find the row (as agents' division tokens do)."""

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from meetings.models import CalendarFeed

# last_used_at is refreshed at most this often: calendar apps poll, and a poll should not always cost a write.
LAST_USED_RESOLUTION = timedelta(minutes=10)
# A hash compared when the prefix is unknown, so the time taken does not tell which prefixes exist.
_NO_FEED = hashlib.sha256(b"no such feed").hexdigest()


def feed_secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def feed_create_or_rotate(*, user: Any) -> tuple[CalendarFeed, str]:
    """The person's feed with a new secret; returns it with the token for the URL (`<prefix>_<secret>`), which is
    never stored and cannot be shown again. Rotating makes the previous URL answer 404 at once."""
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    hashed = feed_secret_hash(secret)
    with transaction.atomic():
        # get_or_create settles two first subscriptions at once (the one-per-person row); the row lock orders two
        # rotations at once, and the later one's secret is the one that works.
        feed, created = CalendarFeed.objects.get_or_create(
            user=user, defaults={"prefix": prefix, "secret_sha256": hashed}
        )
        if not created:
            feed = CalendarFeed.objects.select_for_update().get(pk=feed.pk)
            feed.prefix, feed.secret_sha256 = prefix, hashed
            feed.created_at, feed.last_used_at = timezone.now(), None
            feed.save()
    return feed, f"{prefix}_{secret}"


def feed_user(*, token: str, now: datetime | None = None) -> Any | None:
    """The person a feed token belongs to (None for a malformed, unknown or rotated one), noting the use."""
    prefix, _, secret = token.partition("_")
    feed = CalendarFeed.objects.select_related("user").filter(prefix=prefix[:12]).first() if secret else None
    expected = feed.secret_sha256 if feed is not None else _NO_FEED
    if not hmac.compare_digest(expected, feed_secret_hash(secret)) or feed is None or not feed.user.is_active:
        return None
    now = now or timezone.now()
    if feed.last_used_at is None or feed.last_used_at < now - LAST_USED_RESOLUTION:
        CalendarFeed.objects.filter(pk=feed.pk).update(last_used_at=now)
    return feed.user
