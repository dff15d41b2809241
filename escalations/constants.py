"""Facts the escalations modules share: the levels, the SLA defaults, the limits on what a client may send."""

from datetime import timedelta
from decimal import Decimal

# Level 1: the leads of the divisions involved; 2: the Tier 1 lead of each involved domain; 3: both Tier 1 leads.
LEVEL_MIN = 1
LEVEL_MAX = 3
LEVEL_NAMES = {1: "Division leads", 2: "Tier 1 lead of each domain", 3: "Both Tier 1 leads, jointly"}

# (time to acknowledge, time to resolve) per priority, until a lead edits the policy.
SLA_DEFAULTS = {
    "P1": (timedelta(hours=1), timedelta(days=1)),
    "P2": (timedelta(hours=4), timedelta(days=3)),
    "P3": (timedelta(days=1), timedelta(days=10)),
    "P4": (timedelta(days=3), timedelta(days=30)),
}

TITLE_MAX = 200
DESCRIPTION_MAX = 20_000
COMMENT_MAX = 20_000
FOLLOW_UP_MAX = 300
DIVISIONS_MAX = 20
LINKS_MAX = 50
CLAIMS_MAX = 20
# Decimal amounts: up to 12 digits before the point and 3 after (CPU cores, GiB, agent-hours…).
AMOUNT_DIGITS = 15
AMOUNT_PLACES = 3


def amount_text(value: Decimal) -> str:
    """An amount as people write it: stored to the thousandth, 60.000 reads 60 and 12.500 reads 12.5."""
    return str(value.quantize(Decimal(1)) if value == value.to_integral() else value.normalize())


# The transitions, in the order a ticket page shows their buttons; each is also POST /api/v1/escalations/<n>/<name>.
TRANSITIONS = ("acknowledge", "start", "wait", "resolve", "close", "reopen", "escalate")
