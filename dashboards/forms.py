"""The dashboards' POST forms: save a view, rename one, choose a time zone. The rules live in the services (names,
permissions, the query's validity); these forms only carry the fields and show the services' refusals beside them."""

from __future__ import annotations

import zoneinfo
from functools import cache

from django import forms

from dashboards.models import SavedView

BROWSER_ZONE = ""  # the preference's value for "the browser's zone"


class SavedViewCreateForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200, help_text="Shown to everyone on the overview.")
    page = forms.ChoiceField(choices=SavedView.Page.choices, widget=forms.HiddenInput)
    query = forms.CharField(required=False, max_length=4000, widget=forms.HiddenInput)


class SavedViewRenameForm(forms.Form):
    # Longer than the model allows, so that the service (not the form) refuses a long name with its own message.
    name = forms.CharField(label="New name", max_length=200)


@cache
def zone_choices() -> list[tuple[str, str]]:
    """Every IANA zone this machine knows, sorted, after the browser's own."""
    return [(BROWSER_ZONE, "The browser's time zone"), *((z, z) for z in sorted(zoneinfo.available_timezones()))]


class TimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(
        label="Show times in",
        required=False,
        choices=zone_choices,
        help_text="Every chart's axis and table, and the CSV exports, use this zone unless a link names another.",
    )
