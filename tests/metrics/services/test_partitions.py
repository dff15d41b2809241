from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import IntegrityError, connection, transaction

from metrics.services.partitions import partitions_ensure, partitions_existing, partitions_maintain

pytestmark = pytest.mark.django_db


def test_ensure_creates_one_partition_per_day_once():
    start = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    created = partitions_ensure(start=start, end=start + timedelta(hours=2))
    assert created == ["metrics_point_20260301", "metrics_point_20260302"]
    assert partitions_ensure(start=start, end=start + timedelta(hours=2)) == []


def test_points_land_in_their_days_partition():
    start = datetime(2026, 3, 1, tzinfo=UTC)
    partitions_ensure(start=start, end=start)
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO metrics_point VALUES (1, %s, 1.0)", [start + timedelta(hours=5)])
        cursor.execute("SELECT tableoid::regclass::text FROM metrics_point")
        assert cursor.fetchone()[0] == "metrics_point_20260301"
        # a day without a partition refuses the row rather than losing it somewhere
        with pytest.raises(IntegrityError), transaction.atomic():
            cursor.execute("INSERT INTO metrics_point VALUES (1, %s, 1.0)", [start + timedelta(days=5)])


def test_maintain_creates_ahead_and_drops_past_retention(settings):
    settings.METRICS_RETENTION_DAYS = 10
    settings.METRICS_PARTITIONS_AHEAD_DAYS = 3
    today = date(2026, 6, 15)
    old = datetime(2026, 6, 1, tzinfo=UTC)  # wholly before the 10-day cutoff (June 5)
    edge = datetime(2026, 6, 5, tzinfo=UTC)  # its day ends after the cutoff starts: kept
    partitions_ensure(start=old, end=old)
    partitions_ensure(start=edge, end=edge)

    result = partitions_maintain(today=today)

    names = set(partitions_existing())
    assert "metrics_point_20260601" in result["dropped"] and "metrics_point_20260601" not in names
    assert "metrics_point_20260605" in names
    assert {f"metrics_point_202606{d}" for d in range(14, 19)} <= names  # yesterday, today, 3 ahead
    assert partitions_maintain(today=today)["created"] == []
