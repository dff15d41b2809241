"""Who may do what to a ticket. One table (RULES) says which relations to a ticket allow each action; `relations`
works out the viewer's relations once, so a page can show exactly the buttons this viewer may use and a service
refuses the same actions with the same words. Roles themselves come from novaops.policies.

Relations:
- `responder`: one of the ticket's assignees, a Tier 1 lead (leads act on any ticket), or a superuser;
- `raiser`: the person who raised it, or a member or lead of the raising division;
- `involved`: a member or lead of a division the ticket involves;
- `client`: the division token of the raising or an involved division (it raises and comments, nothing else);
- `tier1:<domain id>`: the Tier 1 lead of that domain (signs strategic decisions off for it).
"""

from dataclasses import dataclass
from typing import Any

from agents.selectors import led_division_id
from escalations.models import Escalation
from novaops import policies

RESPONDER = "responder"
RAISER = "raiser"
INVOLVED = "involved"
CLIENT = "client"

# action → the relations that allow it.
RULES: dict[str, frozenset[str]] = {
    "acknowledge": frozenset({RESPONDER}),
    "start": frozenset({RESPONDER}),
    "wait": frozenset({RESPONDER}),
    "resolve": frozenset({RESPONDER}),
    "close": frozenset({RESPONDER, RAISER}),
    "reopen": frozenset({RESPONDER, RAISER}),
    "escalate": frozenset({RESPONDER, RAISER}),
    "reassign": frozenset({RESPONDER}),
    "edit": frozenset({RESPONDER, RAISER}),
    "decide": frozenset({RESPONDER}),
    "claim": frozenset({RESPONDER, RAISER, INVOLVED}),
    "follow_up": frozenset({RESPONDER}),
    "comment": frozenset({RESPONDER, RAISER, INVOLVED, CLIENT}),
}
# A raiser answering what they were asked for sends the ticket back to work: start is theirs too, from waiting.
RAISER_RESUMES = "start"

# Actions whose name is not the verb a sentence needs.
VERBS = {"comment": "comment on", "claim": "add a claim to", "decide": "decide", "follow_up": "add follow-ups to"}

# Who may, in words, most specific first: the refusal names the widest group the action allows.
WHO: list[tuple[str, str]] = [
    (INVOLVED, "the divisions involved, the raising division, its assignees or a Tier 1 lead"),
    (RAISER, "the raising division, its assignees or a Tier 1 lead"),
    (RESPONDER, "its assignees or a Tier 1 lead"),
]


@dataclass(frozen=True)
class Viewer:
    """A viewer's relations to one ticket, and the domains whose Tier 1 lead they are."""

    relations: frozenset[str]
    tier1_domain_ids: frozenset[int]
    is_client: bool

    def may(self, action: str, escalation: Escalation) -> bool:
        if self.is_client and action != "comment":
            return False
        allowed = RULES[action]
        if action == RAISER_RESUMES and escalation.state == Escalation.State.WAITING:
            allowed = allowed | {RAISER}
        return bool(self.relations & allowed)

    def refusal(self, action: str, escalation: Escalation) -> str:
        """Why this viewer may not: the sentence the 403 and the page message give."""
        verb = VERBS.get(action, action.replace("_", " "))
        if self.is_client:
            return (
                f"A division token can raise and comment on escalations; to {verb} {escalation.key} "
                "sign in as a person."
            )
        who = next(words for relation, words in WHO if relation in RULES[action])
        return f"You cannot {verb} {escalation.key}: only {who} can."


def viewer_of(user: Any, escalation: Escalation, *, involved_ids: set[int], assignee_ids: set[int]) -> Viewer:
    """Work out `user`'s relations to `escalation` (its involved division ids and assignee user ids given)."""
    if policies.is_division_client(user):
        division_id = user.division.pk
        mine = division_id == escalation.raised_division_id or division_id in involved_ids
        return Viewer(relations=frozenset({CLIENT} if mine else set()), tier1_domain_ids=frozenset(), is_client=True)
    relations: set[str] = set()
    person = policies.person_of(user)
    tier1_domains: frozenset[int] = frozenset()
    if user.is_authenticated and (user.is_superuser or user.pk in assignee_ids or policies.is_lead(user)):
        relations.add(RESPONDER)
    if person is not None:
        tier1_domains = frozenset(_tier1_domain_ids(person))
        own = {person.division_id} if person.role == "division_member" and person.division_id else set()
        led = led_division_id(person=person)
        own |= {led} if led else set()
        if escalation.raised_by_id == user.pk or escalation.raised_division_id in own:
            relations.add(RAISER)
        if own & involved_ids:
            relations.add(INVOLVED)
    return Viewer(relations=frozenset(relations), tier1_domain_ids=tier1_domains, is_client=False)


def _tier1_domain_ids(person: Any) -> set[int]:
    """The domains this person leads as Tier 1: the domain whose lead is their agent, and a Tier 1 lead's own."""
    domains: set[int] = set()
    if person.is_lead and person.domain_id:
        domains.add(person.domain_id)
    agent = person.agent if person.agent_id else None
    led_domain = getattr(agent, "led_domain", None) if agent is not None else None
    if led_domain is not None:
        domains.add(led_domain.pk)
    return domains


def may_raise_for(user: Any, division_id: int) -> bool:
    """Raise an escalation on behalf of a division: its people and its token, Tier 1 leads for any division."""
    if policies.is_division_client(user):
        return user.division.pk == division_id
    if not policies.has_role(user):
        return False
    if policies.is_lead(user):
        return True
    person = policies.person_of(user)
    return person is not None and (
        (person.role == "division_member" and person.division_id == division_id)
        or led_division_id(person=person) == division_id
    )
