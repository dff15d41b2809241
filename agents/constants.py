"""Facts about the registry that more than one layer needs (models, forms, serializers, APIs, other apps).

Kept apart from agents.models so that code which only checks a handle or a tier (metrics, say) need not import
the models.
"""

import re
from datetime import timedelta

# An agent handle: "ta_" and five digits. Match with fullmatch (is_handle): "$" also matches before a trailing
# newline, so "^…$" with re.match or re.search would accept "ta_00008\n".
HANDLE_RE = re.compile(r"ta_[0-9]{5}")
# The anchored form the model's CheckConstraint (SQL regex) and RegexValidator need; equal to the string the
# migrations hold ("^ta_[0-9]{5}$"), so deriving it here generates no migration.
HANDLE_PATTERN = f"^{HANDLE_RE.pattern}$"
# How a handle is spelled, in the words of every message and help text that explains it.
HANDLE_FORMAT = "'ta_' followed by five digits"
HANDLE_EXAMPLE = "ta_00008"

TIER_CHOICES = [(1, "Tier 1"), (2, "Tier 2"), (3, "Tier 3")]

# The refusal a viewer gets for any change, on the pages and from the API.
READ_ONLY_MESSAGE = "Your role can read the registry but not change it."

# Division API tokens read `nvo_<prefix>_<secret>`.
TOKEN_PREFIX = "nvo"


def is_handle(text: str) -> bool:
    """True when `text` is exactly an agent handle (ta_00008), nothing before or after it."""
    return HANDLE_RE.fullmatch(text) is not None


# The liveness monitor records its runs (novaops.services.heartbeat_run) under this name; a run more than LIVENESS_GAP
# after the previous one (beat runs it every 30 s) means NovaOps was down, and watching starts again.
LIVENESS_COMPONENT = "liveness-monitor"
LIVENESS_GAP = timedelta(minutes=2)
