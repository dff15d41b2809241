"""The queue's filters and sorting, shared by the page (/escalations/) and the API (GET /api/v1/escalations).
Every filter is in the URL; a value that names nothing is a validation error (a form error, a 400), not an empty
queue."""

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils import timezone

from agents.filters import UNKNOWN_DIVISION, form_message
from agents.models import Division
from escalations.models import ACTIVE_STATES, Escalation

SORTS = {
    "newest": ("-created_at", "Newest first"),
    "oldest": ("created_at", "Oldest first"),
    "priority": ("priority", "Priority"),
    "due": ("resolve_due_at", "Resolve deadline"),
    "updated": ("-updated_at", "Recently changed"),
    "level": ("-level", "Level, highest first"),
}

# The filters that join a ticket's many-valued relations (and so may repeat it).
JOINING_FILTERS = ("division", "assignee", "mine")


def _choices_message(noun: str, values: list[str]) -> dict[str, str]:
    return {"invalid_choice": f"{noun} must be one of {', '.join(values)}; not '%(value)s'."}


class EscalationFilter(django_filters.FilterSet):
    """kind, state (or `active`), priority, level, division (involved), assignee (username), breached, mine, sort.
    `mine` needs the request (the queue passes it): tickets assigned to the viewer or raised by them."""

    kind = django_filters.MultipleChoiceFilter(
        choices=Escalation.Kind.choices, error_messages=_choices_message("Kind", Escalation.Kind.values)
    )
    state = django_filters.MultipleChoiceFilter(
        choices=[("active", "Active (not resolved)"), *Escalation.State.choices],
        method="by_state",
        error_messages=_choices_message("State", ["active", *Escalation.State.values]),
    )
    priority = django_filters.MultipleChoiceFilter(
        choices=Escalation.Priority.choices, error_messages=_choices_message("Priority", Escalation.Priority.values)
    )
    level = django_filters.TypedChoiceFilter(
        choices=[(1, "1"), (2, "2"), (3, "3")], coerce=int, error_messages=_choices_message("Level", ["1", "2", "3"])
    )
    division = django_filters.ModelChoiceFilter(
        field_name="involved__division",
        queryset=Division.objects.all(),
        to_field_name="slug",
        error_messages={"invalid_choice": form_message(UNKNOWN_DIVISION)},
    )
    assignee = django_filters.ModelChoiceFilter(
        field_name="assignments__user",
        queryset=get_user_model().objects.all(),
        to_field_name="username",
        error_messages={"invalid_choice": "No person with username '%(value)s'."},
    )
    breached = django_filters.BooleanFilter(method="by_breach", label="Breached")
    mine = django_filters.BooleanFilter(method="by_viewer", label="Mine")
    sort = django_filters.ChoiceFilter(
        choices=[(key, label) for key, (_, label) in SORTS.items()],
        method="by_sort",
        empty_label=None,
        error_messages=_choices_message("Sort", list(SORTS)),
    )

    class Meta:
        model = Escalation
        fields = ["kind", "state", "priority", "level", "division", "assignee", "breached", "mine", "sort"]

    def by_state(self, queryset: QuerySet, name: str, value: list[str]) -> QuerySet:
        if not value:
            return queryset
        states = set(value) - {"active"}
        if "active" in value:
            states |= set(ACTIVE_STATES)
        return queryset.filter(state__in=states)

    def by_breach(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value is None:
            return queryset
        return queryset.filter(breached_q(now=timezone.now())) if value else queryset.exclude(breached_q())

    def by_viewer(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        user = getattr(self.request, "user", None)
        if not value or user is None or not user.is_authenticated or getattr(user, "is_division_client", False):
            return queryset
        return queryset.filter(Q(assignments__user=user) | Q(raised_by=user))

    def by_sort(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.order_by(SORTS.get(value or "newest", SORTS["newest"])[0], "-number")

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        # Joins through involved divisions and assignees can repeat a ticket; the default order is newest first.
        # DISTINCT only then: over every column it sorts the whole table for each page and its count (it made the
        # first page's queries grow with the number of tickets, python -m bench escalations).
        queryset = super().filter_queryset(queryset)
        if not self.form.cleaned_data.get("sort"):
            queryset = queryset.order_by("-created_at", "-number")
        if any(self.form.cleaned_data.get(name) for name in JOINING_FILTERS):
            queryset = queryset.distinct()
        return queryset


def breached_q(*, now=None) -> Q:
    """A ticket whose deadline passed: a breach recorded by the SLA job, or a clock past due and still running."""
    now = now or timezone.now()
    running_acknowledge = Q(state=Escalation.State.OPEN, acknowledge_due_at__lt=now)
    running_resolve = Q(
        state__in=[Escalation.State.OPEN, Escalation.State.ACKNOWLEDGED, Escalation.State.IN_PROGRESS],
        resolve_due_at__lt=now,
    )
    recorded = Q(acknowledge_breached_at__isnull=False) | Q(resolve_breached_at__isnull=False)
    return recorded | running_acknowledge | running_resolve
