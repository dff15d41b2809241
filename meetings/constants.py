"""Facts the meetings modules share."""

from datetime import timedelta

MAX_DURATION = timedelta(days=1)
# How far ahead beat materialises occurrences, and how long before a meeting its reminder goes out.
MATERIALISE_AHEAD = timedelta(days=35)
REMINDER_BEFORE = timedelta(minutes=30)
# How many occurrences one expansion may return (a FREQ=MINUTELY rule must not run away).
MAX_OCCURRENCES = 2000
TITLE_MAX = 200
TEXT_MAX = 20_000
