"""metrics.models: the rollup origin and levels, each stated once for Python and for SQL."""

import pytest
from django.db import connection

from metrics.models import ROLLUP_ORIGIN, ROLLUP_ORIGIN_SQL, RollupResolution


@pytest.mark.django_db
def test_each_rollup_level_is_the_same_width_in_seconds_and_as_an_sql_interval():
    with connection.cursor() as cursor:
        for level in RollupResolution:
            cursor.execute("SELECT extract(epoch FROM %s::interval)::int", [level.sql_interval])
            assert cursor.fetchone()[0] == level.value, level


@pytest.mark.django_db
def test_the_rollup_origin_is_the_same_moment_in_python_and_in_sql():
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {ROLLUP_ORIGIN_SQL}")
        assert cursor.fetchone()[0] == ROLLUP_ORIGIN
