"""Who may do what in meetings: leads and a series' organiser edit the series and its agendas; division members add
agenda items for their own division and edit the action items they own or their division's; viewers read."""

from typing import Any

from agents.selectors import led_division_id
from meetings.models import ActionItem, MeetingSeries
from novaops import policies


def may_edit_series(user: Any, series: MeetingSeries) -> bool:
    """The series, its occurrences (move, cancel) and their agendas, notes, decisions and attendance."""
    return policies.is_lead(user) or (policies.has_role(user) and series.organiser_id == user.pk)


def own_division_id(user: Any) -> int | None:
    """The division a person acts for here: a member's, or the one their agent leads."""
    person = policies.person_of(user)
    if person is None:
        return None
    if person.role == "division_member" and person.division_id:
        return person.division_id
    return led_division_id(person=person)


def may_add_item_for(user: Any, series: MeetingSeries, division_id: int | None) -> bool:
    """An agenda item: editors for anything, a division member for their own division (when it takes part)."""
    if may_edit_series(user, series):
        return True
    own = own_division_id(user)
    return own is not None and own == division_id and series.divisions.filter(pk=own).exists()


def may_edit_action(user: Any, item: ActionItem) -> bool:
    """An action item's status and due date: editors, its owner, and members of its division."""
    if may_edit_series(user, item.occurrence.series):
        return True
    if not policies.has_role(user):
        return False
    return item.owner_id == user.pk or (item.division_id is not None and own_division_id(user) == item.division_id)
