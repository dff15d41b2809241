"""Forms of the escalation pages: raising a ticket (with a resource conflict's resource and first claims), the
ticket page's actions (comment, reassign, allocation, decision, follow-up, claim), the SLA policy, and the queue's
filters as the page shows them. Forms check input; the services decide (and refuse with novaops.errors)."""

import re
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from agents.forms import bootstrap_form
from agents.models import Agent, Division
from escalations import constants
from escalations.models import Escalation, ResourceClaim
from metrics.models import Metric

AMOUNT = {"max_digits": constants.AMOUNT_DIGITS, "decimal_places": constants.AMOUNT_PLACES}
HANDLE_SPLIT = re.compile(r"[\s,]+")
DURATION_RE = re.compile(r"^\s*(\d{1,5})\s*(m|min|h|d|w)\s*$", re.IGNORECASE)
DURATION_UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def division_choices(divisions: Sequence[Division]) -> list[tuple[str, list[tuple[str, str]]]]:
    """Division choices by slug, grouped by domain (divisions arrive ordered by domain, then name)."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for division in divisions:
        groups.setdefault(division.domain.name, []).append((division.slug, division.name))
    return list(groups.items())


def _textarea(rows: int) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows})


# --- raising -------------------------------------------------------------------------------------------------------


class ClaimForm(forms.Form):
    """One division's claim on the disputed resource (a row of the raise form, or the ticket page's claim form)."""

    division = forms.ChoiceField(label="Division")
    amount = forms.DecimalField(min_value=Decimal("0.001"), label="Amount asked", **AMOUNT)
    priority = forms.ChoiceField(choices=Escalation.Priority.choices, initial=Escalation.Priority.P3)
    justification = forms.CharField(max_length=constants.DESCRIPTION_MAX, widget=_textarea(2))
    gains = forms.CharField(
        required=False, max_length=constants.DESCRIPTION_MAX, widget=_textarea(2), help_text="What it gains."
    )
    gives = forms.CharField(
        required=False,
        max_length=constants.DESCRIPTION_MAX,
        widget=_textarea(2),
        help_text="What it gives in return: the mutual benefit.",
    )

    def __init__(self, *args: Any, divisions: Sequence[Division], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.divisions = {division.slug: division for division in divisions}
        self.fields["division"].choices = [("", "Choose a division"), *division_choices(divisions)]

    def clean_division(self) -> Division | None:
        slug = self.cleaned_data["division"]
        return self.divisions[slug] if slug else None


class BaseClaimFormSet(forms.BaseFormSet):
    """The first claims of a resource conflict: rows left blank are skipped, one claim per division."""

    def __init__(self, *args: Any, divisions: Sequence[Division], **kwargs: Any) -> None:
        self.divisions = divisions
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        return {"divisions": self.divisions}

    def clean(self) -> None:
        if any(self.errors):
            return
        seen: set[int] = set()
        for form in self.forms:
            division = form.cleaned_data.get("division")
            if division is not None and division.pk in seen:
                raise ValidationError("One claim per division: merge the rows of the same division.")
            if division is not None:
                seen.add(division.pk)

    def filled(self) -> list[dict[str, Any]]:
        """The cleaned rows the raiser filled in (blank rows are skipped)."""
        return [form.cleaned_data for form in self.forms if form.has_changed() and form.cleaned_data]


ClaimFormSet = forms.formset_factory(
    ClaimForm, formset=BaseClaimFormSet, extra=1, min_num=0, max_num=constants.CLAIMS_MAX, validate_max=True
)


class RaiseForm(forms.Form):
    """What a raiser states. The resource fields count only for a resource conflict; escalation_raise decides the
    rest (who may raise for which division, the limits)."""

    kind = forms.ChoiceField(choices=Escalation.Kind.choices, initial=Escalation.Kind.RESOURCE_CONFLICT)
    title = forms.CharField(max_length=constants.TITLE_MAX)
    description = forms.CharField(max_length=constants.DESCRIPTION_MAX, widget=_textarea(5))
    priority = forms.ChoiceField(choices=Escalation.Priority.choices, initial=Escalation.Priority.P3)
    raised_division = forms.ChoiceField(label="Raising division")
    divisions = forms.MultipleChoiceField(
        label="Divisions involved",
        help_text="The other divisions this concerns (any domain). Hold Ctrl or ⌘ to choose several.",
    )
    agents = forms.CharField(
        required=False, label="Agents", help_text="Handles of the agents concerned, separated by spaces or commas."
    )
    metrics = forms.MultipleChoiceField(required=False, label="Metrics", help_text="The ticket charts them.")
    resource_name = forms.CharField(required=False, max_length=120, label="Resource")
    resource_unit = forms.CharField(required=False, max_length=30, label="Unit", help_text="e.g. GPU hours, cores.")
    resource_capacity = forms.DecimalField(required=False, min_value=Decimal(0), label="Capacity available", **AMOUNT)

    def __init__(
        self,
        *args: Any,
        raisable: Sequence[Division],
        divisions: Sequence[Division],
        metrics: Sequence[Metric],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.all_divisions = {division.slug: division for division in divisions}
        self.raisable = {division.slug: division for division in raisable}
        self.metrics = {metric.key: metric for metric in metrics}
        self.fields["raised_division"].choices = division_choices(raisable)
        self.fields["divisions"].choices = division_choices(divisions)
        # Room for every division and its domain's heading, up to a scroll.
        domains = {division.domain_id for division in divisions}
        self.fields["divisions"].widget.attrs["size"] = min(10, max(3, len(divisions) + len(domains)))
        self.fields["metrics"].choices = [(metric.key, f"{metric.name} ({metric.key})") for metric in metrics]
        self.fields["metrics"].widget.attrs["size"] = min(6, max(3, len(metrics)))
        self.fields["agents"].widget.attrs.update({"autocomplete": "off", "spellcheck": "false"})

    def clean_agents(self) -> list[Agent]:
        handles = [handle for handle in HANDLE_SPLIT.split(self.cleaned_data["agents"]) if handle]
        if len(handles) > constants.LINKS_MAX:
            raise ValidationError(f"At most {constants.LINKS_MAX} agents.")
        found = {agent.handle: agent for agent in Agent.objects.filter(handle__in=handles)}
        unknown = [handle for handle in handles if handle not in found]
        if unknown:
            raise ValidationError(f"No agent with handle {', '.join(unknown)}.")
        return [found[handle] for handle in dict.fromkeys(handles)]

    def clean_raised_division(self) -> Division:
        return self.raisable[self.cleaned_data["raised_division"]]

    def clean_divisions(self) -> list[Division]:
        return [self.all_divisions[slug] for slug in self.cleaned_data["divisions"]]

    def clean_metrics(self) -> list[Metric]:
        return [self.metrics[key] for key in self.cleaned_data["metrics"]]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("kind") == Escalation.Kind.RESOURCE_CONFLICT:
            for name, words in (("resource_name", "Name the resource"), ("resource_capacity", "Give its capacity")):
                if cleaned.get(name) in (None, "") and name not in self.errors:
                    self.add_error(name, f"{words}: a resource conflict is about one resource.")
        return cleaned


# --- the ticket page's actions ---------------------------------------------------------------------------------------


class CommentForm(forms.Form):
    body = forms.CharField(
        label="Comment",
        max_length=constants.COMMENT_MAX,
        widget=_textarea(4),
        help_text="Markdown: **bold**, _italic_, lists, `code`, [links](https://example.org). No HTML.",
        error_messages={"required": "Write something to comment."},
    )


class ReassignForm(forms.Form):
    """Hand the ticket to people of its level's pool (the service checks the pool again under the lock)."""

    assignees = forms.TypedMultipleChoiceField(coerce=int, label="Assignees", help_text="People of this level.")

    def __init__(self, *args: Any, pool: Sequence[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["assignees"]
        field.choices = [(user.pk, user.get_full_name() or user.username) for user in pool]
        field.widget.attrs["size"] = min(6, max(2, len(pool)))


class AllocationForm(forms.Form):
    """An amount and a rationale per claim, and the decision's overall rationale; pre-filled with what is decided,
    else NovaOps' proposal."""

    rationale = forms.CharField(
        required=False,
        max_length=constants.DESCRIPTION_MAX,
        widget=_textarea(3),
        label="Decision rationale",
        help_text="Why this allocation: the ticket keeps it with the decision.",
    )

    def __init__(
        self, *args: Any, claims: Sequence[ResourceClaim], proposal: Sequence[Decimal], decision: str = "", **kwargs
    ) -> None:
        kwargs.setdefault("initial", {"rationale": decision})
        super().__init__(*args, **kwargs)
        self.claims = list(claims)
        for claim, proposed in zip(self.claims, proposal, strict=True):
            amount = forms.DecimalField(
                min_value=Decimal(0),
                max_value=claim.amount,
                label=f"{claim.division.name} (asked {claim.amount})",
                initial=claim.allocated if claim.allocated is not None else proposed,
                **AMOUNT,
            )
            self.fields[f"amount_{claim.pk}"] = amount
            self.fields[f"rationale_{claim.pk}"] = forms.CharField(
                required=False, max_length=constants.DESCRIPTION_MAX, label="Why", initial=claim.rationale
            )

    def rows(self) -> list[tuple[ResourceClaim, forms.BoundField, forms.BoundField]]:
        return [(claim, self[f"amount_{claim.pk}"], self[f"rationale_{claim.pk}"]) for claim in self.claims]

    def allocations(self) -> list[tuple[int, Decimal, str]]:
        data = self.cleaned_data
        return [(claim.pk, data[f"amount_{claim.pk}"], data[f"rationale_{claim.pk}"]) for claim in self.claims]


class DecisionForm(forms.Form):
    text = forms.CharField(max_length=constants.DESCRIPTION_MAX, widget=_textarea(5), label="Decision")

    def __init__(self, *args: Any, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if kind == Escalation.Kind.FRICTION:
            self.fields["text"].label = "Resolution note"
            self.fields["text"].help_text = "How the friction was resolved."
        else:
            self.fields["text"].help_text = "Changing it withdraws the sign-offs given so far."


class FollowUpForm(forms.Form):
    description = forms.CharField(max_length=300, label="Action")
    owner = forms.TypedChoiceField(coerce=int, label="Owner")
    due_on = forms.DateField(label="Due", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))

    def __init__(self, *args: Any, people: Sequence[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.people = {user.pk: user for user in people}
        self.fields["owner"].choices = [("", "Choose an owner")] + [
            (user.pk, user.get_full_name() or user.username) for user in people
        ]

    def owner_user(self) -> Any:
        return self.people[self.cleaned_data["owner"]]


# --- SLA policy ------------------------------------------------------------------------------------------------------


class DurationTextField(forms.Field):
    """A duration written as people say it: 90m, 4h, 3d, 2w."""

    widget = forms.TextInput(attrs={"maxlength": 10, "autocomplete": "off", "spellcheck": "false"})

    def to_python(self, value: Any) -> timedelta | None:
        text = str(value or "").strip()[:20]
        if not text:
            return None
        match = DURATION_RE.match(text)
        if match is None or int(match[1]) == 0:
            raise ValidationError(f"Write a duration such as 90m, 4h, 3d or 2w; not '{text}'.")
        return timedelta(**{DURATION_UNITS[match[2].lower()]: int(match[1])})


def duration_text(value: timedelta) -> str:
    """A duration in the largest unit that divides it exactly (the inverse of DurationTextField)."""
    seconds = int(value.total_seconds())
    for unit, size in (("w", 604_800), ("d", 86_400), ("h", 3_600)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{max(seconds // 60, 1)}m"


class SlaPolicyForm(forms.Form):
    priority = forms.ChoiceField(choices=Escalation.Priority.choices, widget=forms.HiddenInput)
    acknowledge_within = DurationTextField(label="Acknowledge within")
    resolve_within = DurationTextField(label="Resolve within")


# --- the queue's filters ---------------------------------------------------------------------------------------------


def queue_filter_form(form: forms.BaseForm) -> forms.BaseForm:
    """Dress the shared EscalationFilter's form for the page: "any …" choices, sizes, a username box."""
    form.fields["level"].choices = [("", "Any level"), *[c for c in form.fields["level"].choices if c[0] != ""]]
    form.fields["division"].empty_label = "Any division"
    # The FilterSet's labels come from the lookups ("Involved division", "Assignments user"): say what they mean.
    labels = {"division": "Division involved", "assignee": "Assignee", "level": "Level", "sort": "Sort by"}
    for name, label in labels.items():
        form.fields[name].label = label
    assignee = form.fields["assignee"]
    assignee.widget = forms.TextInput(attrs={"placeholder": "username", "autocomplete": "off", "spellcheck": "false"})
    for name in ("breached", "mine"):
        form.fields[name].widget = forms.Select(choices=[("", "Any"), ("true", "Yes"), ("false", "No")])
    form.fields["mine"].label = "Mine"
    form.fields["mine"].help_text = "Assigned to me or raised by me."
    for name in ("kind", "state", "priority"):
        field = form.fields[name]
        field.widget.attrs["size"] = min(7, len(field.choices))
    return bootstrap_form(form)
