"""Meetings writes: series and their exceptions (series.py, occurrences.py), the review session (agenda.py,
session.py), reminders and calendar feeds."""
