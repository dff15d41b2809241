"""dashboards.forms: what the POST forms accept before the services decide."""

from dashboards.forms import BROWSER_ZONE, SavedViewCreateForm, TimeZoneForm, zone_choices


def test_zone_choices_start_with_the_browsers_and_hold_the_iana_zones():
    values = [value for value, _ in zone_choices()]
    assert values[0] == BROWSER_ZONE and "Europe/Berlin" in values and values[1:] == sorted(values[1:])


def test_the_time_zone_form_takes_a_listed_zone_or_blank_only():
    assert TimeZoneForm({"time_zone": "Europe/Berlin"}).is_valid()
    assert TimeZoneForm({"time_zone": ""}).is_valid()
    assert not TimeZoneForm({"time_zone": "Mars/Olympus"}).is_valid()


def test_the_save_form_needs_a_name_and_a_known_page():
    assert SavedViewCreateForm({"name": "Errors", "page": "explore", "query": "range=7d"}).is_valid()
    assert not SavedViewCreateForm({"name": "", "page": "explore"}).is_valid()
    assert not SavedViewCreateForm({"name": "Errors", "page": "overview"}).is_valid()
