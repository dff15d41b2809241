"""Forms of the registry pages: the agent edit form, the presentation of the shared AgentFilter's form, and the
division API token forms (list filter, create)."""

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from agents.constants import TIER_CHOICES
from agents.filters import UNKNOWN_DIVISION, form_message
from agents.models import Agent, Division, DivisionToken
from agents.services.lifecycle import REASON_MAX, VERSION_MAX


def _max_length(field_name: str) -> int | None:
    # Kept in step with the model so the form refuses what the database would refuse.
    return Agent._meta.get_field(field_name).max_length


class AgentEditForm(forms.Form):
    """The fields a lead or a division member may change on an agent; the write goes through agent_update(). The
    lifecycle state is not here: it changes through the transition buttons of the agent page."""

    callsign = forms.CharField(max_length=_max_length("callsign"), help_text="The name the agent is known by.")
    role_title = forms.CharField(max_length=_max_length("role_title"), required=False, label="Role title")
    tier = forms.TypedChoiceField(choices=TIER_CHOICES, coerce=int)

    def __init__(self, *args: Any, agent: Agent, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "callsign": agent.callsign,
                "role_title": agent.role_title,
                "tier": agent.tier,
            },
        )
        super().__init__(*args, **kwargs)

    def changed_fields(self) -> dict[str, Any]:
        """Only what the user changed, so an untouched submit writes nothing."""
        return {name: self.cleaned_data[name] for name in self.changed_data}


def bootstrap_form(form: forms.BaseForm) -> forms.BaseForm:
    """Give every widget its Bootstrap class, plus is-invalid on invalid fields.

    Django itself adds aria-invalid and aria-describedby ("<id>_helptext <id>_error"); templates/includes/field.html
    renders the help text and the errors under those ids.
    """
    for name, field in form.fields.items():
        widget = field.widget
        classes = ["form-select" if isinstance(widget, forms.Select) else "form-control"]
        if form.is_bound and name in form.errors:
            classes.append("is-invalid")
        widget.attrs["class"] = " ".join(classes)
    return form


def agent_filter_form(form: forms.BaseForm) -> forms.BaseForm:
    """Dress the AgentFilter form for the page: labels, help, readable "any …" choices, a search box.

    Call it before the form is validated: bound fields copy labels and help texts when they are first built.
    AgentFilter is shared with the API, so the page-only presentation lives here rather than in the FilterSet; the
    error messages are AgentFilter's own, the API's words.
    """
    search = form.fields["q"]
    search.widget.input_type = "search"
    search.widget.attrs.update({"placeholder": "e.g. ta_00008 or Core", "autocomplete": "off", "spellcheck": "false"})
    search.help_text = "Handles match from the start; callsigns and role titles anywhere."
    form.fields["domain"].label = "Domain"
    form.fields["domain"].empty_label = "Any domain"
    form.fields["division"].empty_label = "Any division"
    state = form.fields["lifecycle_state"]
    state.empty_label = "Any state"
    # The widget holds a shallow copy of the choice iterator that still points at the class-level field: re-sync.
    state.widget.choices = state.choices
    # The tier filter is a plain TypedChoiceField without a blank choice: without one, the browser would preselect
    # "Tier 1" and a plain submit would silently filter on it.
    tier = form.fields["tier"]
    tier.choices = [("", "Any tier"), *[choice for choice in tier.choices if choice[0] != ""]]
    return form


class TransitionForm(forms.Form):
    """One lifecycle transition from the agent page: an optional reason, and for a deploy the version deployed.
    The service checks both (and who may); the form only keeps the values to show them again on a refusal."""

    reason = forms.CharField(required=False, max_length=REASON_MAX, widget=forms.Textarea(attrs={"rows": 2}))
    version = forms.CharField(required=False, max_length=VERSION_MAX)


# --- division API tokens -------------------------------------------------------------------------------------------

EXPIRY_NEVER = "never"
EXPIRY_ON_DATE = "date"
EXPIRY_CHOICES = [
    ("30", "In 30 days"),
    ("90", "In 90 days"),
    ("365", "In 365 days"),
    (EXPIRY_NEVER, "Never"),
    (EXPIRY_ON_DATE, "On a date…"),
]


def _division_choices(divisions: Sequence[Division]) -> list[tuple[str, list[tuple[str, str]]]]:
    """Division choices grouped by domain (divisions arrive ordered by domain, then name)."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for division in divisions:
        groups.setdefault(division.domain.name, []).append((division.slug, division.name))
    return list(groups.items())


class DivisionChoiceField(forms.ChoiceField):
    """A division by slug; its choices (grouped by domain, after an empty_label choice) are set by the form."""

    def __init__(self, *, empty_label: str, **kwargs: Any) -> None:
        self.empty_label = empty_label
        kwargs.setdefault("error_messages", {}).setdefault("invalid_choice", form_message(UNKNOWN_DIVISION))
        super().__init__(**kwargs)


class _DivisionPickerForm(forms.Form):
    """A form whose `division` field picks, by slug, one of the divisions the view already loaded.

    A plain ChoiceField over a list rather than a ModelChoiceField: the filter and the create form share one query for
    their choices, and the cleaned value is the Division itself without another lookup.
    """

    division: DivisionChoiceField

    def __init__(self, *args: Any, divisions: Sequence[Division], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.divisions = {division.slug: division for division in divisions}
        field = cast(DivisionChoiceField, self.fields["division"])
        field.choices = [("", field.empty_label), *_division_choices(divisions)]

    def clean_division(self) -> Division | None:
        slug = self.cleaned_data["division"]
        return self.divisions[slug] if slug else None


class TokenFilterForm(_DivisionPickerForm):
    """The division filter of the token list (GET ?division=<slug>); an unknown slug is an error, not an empty list."""

    division = DivisionChoiceField(empty_label="All divisions", required=False)


class TokenCreateForm(_DivisionPickerForm):
    """A new token: its division, a name unique within the division, and when it stops working.

    cleaned_data["expires_at"] is the moment the token stops working (None: never). A date means 00:00 UTC of that
    day, so it must be after today (UTC); the presets count from now.
    """

    division = DivisionChoiceField(
        empty_label="Choose a division",
        error_messages={"required": "Choose the division the token acts for."},
        help_text="The token posts metrics for this division's agents only.",
    )
    name = forms.CharField(
        max_length=DivisionToken._meta.get_field("name").max_length,
        help_text="What uses it, e.g. the collector's host. Unique within the division.",
        error_messages={"required": "Name the token after what uses it, e.g. collector-eu-1."},
    )
    expires = forms.ChoiceField(
        choices=EXPIRY_CHOICES,
        initial="90",
        label="Expires",
        help_text="Short-lived tokens limit the damage of a leak.",
    )
    expires_on = forms.DateField(
        required=False,
        label="Expiry date",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="The token stops working at 00:00 UTC on this day.",
    )

    def __init__(self, *args: Any, divisions: Sequence[Division], **kwargs: Any) -> None:
        super().__init__(*args, divisions=divisions, **kwargs)
        self.fields["name"].widget.attrs.update({"autocomplete": "off", "spellcheck": "false"})
        self.fields["expires_on"].widget.attrs["min"] = (self._today() + timedelta(days=1)).isoformat()

    @staticmethod
    def _today() -> date:
        return timezone.now().astimezone(UTC).date()

    def clean_name(self) -> str:
        return self.cleaned_data["name"].strip()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        choice, on = cleaned.get("expires"), cleaned.get("expires_on")
        if choice == EXPIRY_ON_DATE:
            today = self._today()
            if on is None:
                if "expires_on" not in self.errors:
                    self.add_error("expires_on", "Give the day the token stops working.")
            elif on <= today:
                self.add_error("expires_on", f"The expiry date must be after today ({today.day} {today:%b %Y}, UTC).")
            else:
                cleaned["expires_at"] = datetime.combine(on, time.min, tzinfo=UTC)
        elif on is not None:
            # Never guess which of the two the user meant.
            self.add_error("expires_on", "A date goes with “On a date…”: choose that under Expires, or clear the date.")
        elif choice == EXPIRY_NEVER:
            cleaned["expires_at"] = None
        elif choice:
            cleaned["expires_at"] = timezone.now() + timedelta(days=int(choice))
        return cleaned

    def add_service_errors(self, exc: ValidationError) -> None:
        """Put the errors division_token_create() raised next to the fields they concern."""
        for field, errors in exc.error_dict.items() if hasattr(exc, "error_dict") else [(None, exc.error_list)]:
            for error in errors:
                self.add_error(field if field in self.fields else None, error)
