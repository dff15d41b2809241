"""metrics.services.quotas through batch_accept: per-division counts in Redis, the database when Redis is away."""

import pytest

from metrics.services.batches import batch_accept
from novaops.errors import TooManyRequests
from tests.factories import AgentFactory
from tests.metrics.services.bodies import points_body


def _accept(division, token, *offsets: int) -> None:
    batch_accept(division=division, token=token[0], body=points_body(*((s, 1.0) for s in offsets)), enqueue=False)


def test_a_division_over_its_batches_a_minute_is_refused(division, token, agent, settings):
    settings.METRICS_QUOTA_BATCHES_PER_MINUTE = 2
    _accept(division, token, 0)
    _accept(division, token, 1)
    with pytest.raises(TooManyRequests) as refused:
        _accept(division, token, 2)
    assert refused.value.headers["Retry-After"] == "60"


def test_a_refused_batch_is_not_counted(division, token, agent, settings):
    settings.METRICS_QUOTA_BATCHES_PER_MINUTE = 1
    _accept(division, token, 0)
    for offset in (1, 2, 3):
        with pytest.raises(TooManyRequests):
            _accept(division, token, offset)
    settings.METRICS_QUOTA_BATCHES_PER_MINUTE = 2
    _accept(division, token, 4)  # the three refusals left the count at one


def test_points_an_hour_count_every_batch_of_the_division(division, token, agent, settings):
    settings.METRICS_QUOTA_POINTS_PER_HOUR = 5
    _accept(division, token, 0, 1, 2)
    with pytest.raises(TooManyRequests) as refused:
        _accept(division, token, 3, 4, 5)
    assert "5 points an hour" in refused.value.message
    _accept(division, token, 6, 7)


def test_each_division_has_its_own_counts(division, token, agent, settings, cast):
    settings.METRICS_QUOTA_BATCHES_PER_MINUTE = 1
    _accept(division, token, 0)
    other = cast.other_division
    AgentFactory(handle="ta_00042", division=other)
    body = points_body((0, 1.0)).replace(b"ta_00008", b"ta_00042")
    batch_accept(division=other, token=None, body=body, enqueue=False)


def test_without_redis_the_batch_table_is_counted(division, token, agent, settings, broker):
    settings.REDIS_URL = broker.url
    broker.stop()
    settings.METRICS_QUOTA_BATCHES_PER_MINUTE = 1
    _accept(division, token, 0)
    with pytest.raises(TooManyRequests):
        _accept(division, token, 1)


def test_a_frozen_redis_falls_back_to_the_batch_table_after_one_timeout(division, token, agent, settings, broker):
    settings.REDIS_URL = broker.url
    settings.METRICS_QUOTA_BATCHES_PER_MINUTE = 2
    _accept(division, token, 0)  # counted in Redis
    broker.freeze()
    try:
        _accept(division, token, 1)  # Redis times out once (no retries); the batch table holds one batch
        with pytest.raises(TooManyRequests):
            _accept(division, token, 2)
    finally:
        broker.thaw()
