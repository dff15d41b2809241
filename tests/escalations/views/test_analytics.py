"""The escalations' analytics page: its range from the URL (the dashboards' toolbar), the numbers of known tickets,
its empty state, and refusals."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from escalations.models import Escalation
from escalations.services.outcomes import decision_write
from escalations.services.transitions import escalation_transition
from tests.factories import UserFactory

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
URL = reverse("escalations:analytics")


def _row(body: str, table: str, label: str) -> list[str]:
    """The cells of the row headed `label` in the times table `table`."""
    section = body[body.index(f'data-times="{table}"') :].split("</table>")[0]
    row = section[section.index(f'<th scope="row">{label}</th>') :].split("</tr>")[0]
    return re.findall(r"<td[^>]*>([^<]*)</td>", row)


@pytest.fixture
def worked(org, raise_ticket):
    """Two P1 frictions acknowledged after 30 min, one resolved at T0 + 2 h, and a P2 conflict never acknowledged."""
    with time_machine.travel(T0, tick=False) as clock:
        first = raise_ticket(Escalation.Kind.FRICTION, priority="P1")
        second = raise_ticket(Escalation.Kind.FRICTION, priority="P1")
        raise_ticket(priority="P2")
        clock.shift(timedelta(minutes=30))
        for ticket in (first, second):
            escalation_transition(number=ticket.number, name="acknowledge", actor=org.core)
        escalation_transition(number=first.number, name="start", actor=org.core)
        decision_write(number=first.number, actor=org.core, text="Shared rota.")
        clock.shift(timedelta(minutes=90))
        escalation_transition(number=first.number, name="resolve", actor=org.core)


def _get(client, user, now, **params):
    client.force_login(user)
    with time_machine.travel(now, tick=False):
        return client.get(URL, params)


def test_known_tickets_give_known_numbers(client, org, worked):
    response = _get(client, org.viewer, T0 + timedelta(hours=5), range="7d")

    assert response.status_code == 200
    body = response.content.decode()
    assert _row(body, "overall", "All tickets") == ["3", "2", "30 min", "1", "2 h 00 min"]
    assert _row(body, "1", "Friction resolution") == ["2", "2", "30 min", "1", "2 h 00 min"]
    assert _row(body, "1", "Resource conflict") == ["1", "0", "–", "0", "–"]
    assert _row(body, "2", "P2 · high") == ["1", "0", "–", "0", "–"]
    assert _row(body, "3", "NovaCore Runtime") == ["3", "2", "30 min", "1", "2 h 00 min"]
    # At T0 + 5 h the P2 conflict is past its 4 hours to acknowledge: 1 of 3.
    assert re.search(r"data-breach-rate>\s*33[.,]3 %", body)
    # Two tickets still open, raised 5 hours ago.
    assert re.search(r"1 to 24 hours</th><td[^>]*>2</td>", body)


def test_the_range_decides_which_tickets_count(client, org, worked):
    body = _get(
        client, org.viewer, T0 + timedelta(days=2), **{"from": "2026-03-03T00:00", "to": "2026-03-04T00:00"}
    ).content.decode()
    assert "No escalations were raised in this range." in body
    assert re.search(r"1 to 7 days</th><td[^>]*>2</td>", body)  # open tickets are counted whatever the range


def test_the_empty_state(client, org):
    body = _get(client, org.viewer, T0).content.decode()
    assert "No escalations were raised in this range." in body
    assert "No open escalations." in body
    assert 'aria-current="true">30d<' in body  # the page's default range


def test_a_bad_range_is_refused_with_its_reason(client, org):
    response = _get(client, org.viewer, T0, range="forever")
    assert response.status_code == 400
    assert "range" in response.content.decode()
    assert _get(client, org.viewer, T0, metric="x").status_code == 400


def test_the_page_is_for_people_with_a_role(client, org):
    assert client.get(URL).status_code == 302
    assert _get(client, UserFactory(username="nobody"), T0).status_code == 403
