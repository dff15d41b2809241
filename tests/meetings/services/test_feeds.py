"""meetings.services.feeds: a secret per person, kept as a hash; rotating retires the old one."""

from datetime import UTC, datetime, timedelta

from meetings.models import CalendarFeed
from meetings.services.feeds import feed_create_or_rotate, feed_secret_hash, feed_user


def test_the_token_finds_its_person_and_only_a_hash_is_stored(crew):
    feed, token = feed_create_or_rotate(user=crew.runtime_member)
    prefix, secret = token.split("_", 1)
    assert feed.prefix == prefix
    assert feed.secret_sha256 == feed_secret_hash(secret) != secret
    assert feed_user(token=token) == crew.runtime_member


def test_rotating_retires_the_previous_token(crew):
    _, first = feed_create_or_rotate(user=crew.core)
    _, second = feed_create_or_rotate(user=crew.core)
    assert first != second
    assert feed_user(token=first) is None
    assert feed_user(token=second) == crew.core
    assert CalendarFeed.objects.filter(user=crew.core).count() == 1


def test_a_wrong_token_finds_nobody(crew):
    _, token = feed_create_or_rotate(user=crew.core)
    prefix, secret = token.split("_", 1)
    for wrong in (f"{prefix}_{secret[:-1]}x", f"{prefix}_", prefix, "", f"deadbeef_{secret}", "_" * 40, token + "a"):
        assert feed_user(token=wrong) is None, wrong


def test_another_persons_secret_with_my_prefix_finds_nobody(crew):
    _, mine = feed_create_or_rotate(user=crew.core)
    _, theirs = feed_create_or_rotate(user=crew.meridian)
    assert feed_user(token=mine.split("_", 1)[0] + "_" + theirs.split("_", 1)[1]) is None


def test_use_is_noted_at_most_every_few_minutes(crew):
    _, token = feed_create_or_rotate(user=crew.core)
    now = datetime(2026, 3, 10, 15, tzinfo=UTC)
    feed_user(token=token, now=now)
    feed_user(token=token, now=now + timedelta(minutes=1))
    assert CalendarFeed.objects.get(user=crew.core).last_used_at == now
    feed_user(token=token, now=now + timedelta(hours=1))
    assert CalendarFeed.objects.get(user=crew.core).last_used_at == now + timedelta(hours=1)


def test_an_inactive_user_has_no_feed(crew):
    _, token = feed_create_or_rotate(user=crew.core)
    crew.core.is_active = False
    crew.core.save()
    assert feed_user(token=token) is None
