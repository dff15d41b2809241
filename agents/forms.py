"""Forms of the registry pages: the agent edit form, and the presentation of the shared AgentFilter's form."""

from typing import Any

from django import forms

from agents.models import Agent

TIER_CHOICES = [(1, "Tier 1"), (2, "Tier 2"), (3, "Tier 3")]


def _max_length(field_name: str) -> int | None:
    # Kept in step with the model so the form refuses what the database would refuse.
    return Agent._meta.get_field(field_name).max_length


class AgentEditForm(forms.Form):
    """The fields a lead or a division member may change on an agent; the write goes through agent_update()."""

    callsign = forms.CharField(max_length=_max_length("callsign"), help_text="The name the agent is known by.")
    role_title = forms.CharField(max_length=_max_length("role_title"), required=False, label="Role title")
    tier = forms.TypedChoiceField(choices=TIER_CHOICES, coerce=int)
    lifecycle_state = forms.ChoiceField(choices=Agent.Lifecycle.choices, label="Lifecycle state")

    def __init__(self, *args: Any, agent: Agent, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "callsign": agent.callsign,
                "role_title": agent.role_title,
                "tier": agent.tier,
                "lifecycle_state": agent.lifecycle_state,
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
    AgentFilter is shared with the API, so the page-only presentation lives here rather than in the FilterSet.
    """
    search = form.fields["q"]
    search.widget.input_type = "search"
    search.widget.attrs.update({"placeholder": "e.g. ta_00008 or Core", "autocomplete": "off", "spellcheck": "false"})
    search.help_text = "Handles match from the start; callsigns and role titles anywhere."
    # Name what was wrong, in the API's words, rather than Django's generic "Select a valid choice".
    form.fields["domain"].error_messages["invalid_choice"] = "No domain with slug “%(value)s”."
    form.fields["division"].error_messages["invalid_choice"] = "No division with slug “%(value)s”."
    form.fields["tier"].error_messages["invalid_choice"] = "Tier must be 1, 2 or 3, not “%(value)s”."
    form.fields["lifecycle_state"].error_messages["invalid_choice"] = (
        "Lifecycle state must be one of " + ", ".join(Agent.Lifecycle.values) + "; not “%(value)s”."
    )
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
