"""The escalations' analytics page, `/escalations/analytics/`: over a range (the dashboards' toolbar and URL state,
default the last 30 days) MTTA and MTTR by kind, priority and division, the breach rate, and the open tickets by age.
Tables only: each is a handful of numbers, and a table is its own text alternative."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from dashboards.views.common import toolbar, view_state
from escalations import analytics as measures
from escalations import selectors
from escalations.models import Escalation
from novaops.decorators import person_required, reads_from_replica

RANGE_PARAMETERS = frozenset({"range", "from", "to", "tz", "refresh"})
DEFAULTS = {"range": "30d"}
# (heading, the frame's column, how its values are named)
BREAKDOWNS = (
    ("By kind", "kind", dict(Escalation.Kind.choices)),
    ("By priority", "priority", dict(Escalation.Priority.choices)),
    ("By division involved", "division", {}),
)


@require_safe
@person_required
@reads_from_replica
def analytics(request: HttpRequest) -> HttpResponse:
    state = view_state(request, defaults=DEFAULTS, allowed=RANGE_PARAMETERS)
    now = timezone.now()
    tickets, links = selectors.analytics_frames(start=state.start, end=state.end)
    missed, raised, rate = measures.breach_rate(tickets, now=now)
    context = {
        "state": state,
        "toolbar": toolbar(state),
        "section": "escalations",
        "raised": raised,
        "overall_rows": [_row("All tickets", measures.overall_times(tickets))],
        "breakdowns": [
            {
                "title": title,
                "rows": [
                    _row(names.get(row[column], row[column]), row)
                    for row in measures.response_times(tickets, by=column, links=links).to_dict("records")
                ],
            }
            for title, column, names in BREAKDOWNS
        ],
        "breach": {"missed": missed, "raised": raised, "percent": None if rate is None else round(100 * rate, 1)},
        "ages": _ages(selectors.open_created_at(), now=now),
    }
    return render(request, "escalations/analytics.html", context)


def _row(label: str, times: dict) -> dict:
    return {
        "label": label,
        "tickets": times["tickets"],
        "acknowledged": times["acknowledged"],
        "mtta": measures.duration_text(times["mtta"]),
        "resolved": times["resolved"],
        "mttr": measures.duration_text(times["mttr"]),
    }


def _ages(created: list, *, now) -> dict:
    """The age buckets with each one's share of the open tickets (the width of its bar)."""
    buckets = measures.age_buckets(created, now=now)
    total = sum(count for _, count in buckets)
    return {
        "total": total,
        "buckets": [
            {"label": label, "count": count, "percent": round(100 * count / total) if total else 0}
            for label, count in buckets
        ],
    }
