"""Plain serializers of the meetings API, outputs in `outputs`, inputs in `inputs` (no ModelSerializer: the shapes
are the contract).

Inputs only parse and validate: division and domain slugs and usernames become rows here (an unknown one is a 400
naming it), and whether a series can be at all (its rule, its zone) is left to meetings.services.series.series_check,
so the API and the pages give the same field errors.
"""

from datetime import UTC, datetime

# Ids are PostgreSQL bigints: a larger number in a path names nothing (and must not reach the database).
ID_MAX = 9_223_372_036_854_775_807
# A series starts within these years: enough for any real calendar, and no expansion runs for millennia.
YEAR_MIN, YEAR_MAX = 2000, 2100
# The occurrences window: RFC 3339 instants within these bounds, at most a year long.
WINDOW_MIN = datetime(YEAR_MIN, 1, 1, tzinfo=UTC)
WINDOW_MAX = datetime(YEAR_MAX + 1, 1, 1, tzinfo=UTC)
WINDOW_DAYS_MAX = 366
DURATION_MINUTES_MAX = 24 * 60
RECURRENCE_ID_PATTERN = r"^[0-9]{8}T[0-9]{6}Z$"


def rfc3339(moment: datetime) -> str:
    """An instant as the API writes it: UTC, seconds, `Z` (2026-12-08T16:00:00Z)."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
