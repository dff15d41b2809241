"""novaops.celery: the guard on kombu's Redis channel (why: its docstring; proof with real processes:
tests/metrics/test_faults.py, the broker-restart test)."""

from types import SimpleNamespace

import pytest
import redis
from kombu.transport import redis as kombu_redis

from novaops import celery


def test_kombus_redis_channel_is_guarded():
    assert kombu_redis.Channel._connparams is celery._connparams_of_an_open_transport


@pytest.mark.parametrize("connection", [None, SimpleNamespace(client=None)])
def test_a_closed_transport_is_a_connection_error_that_kombu_ignores(connection):
    channel = SimpleNamespace(connection=connection)
    with pytest.raises(redis.exceptions.ConnectionError):
        celery._connparams_of_an_open_transport(channel)
    assert redis.exceptions.ConnectionError in kombu_redis.Transport.connection_errors
