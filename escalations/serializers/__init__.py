"""Plain serializers of the escalations API, outputs in `outputs`, inputs in `inputs` (no ModelSerializer: the
shapes are the contract).

Outputs read a ticket as escalations.selectors.escalation_get loads it (divisions, assignees, links, claims,
sign-offs and follow-ups prefetched); what depends on the caller or needs queries of its own (the timeline, the
transitions this caller may make) is computed by the API and handed over in the serializer's context. Inputs only
parse and validate: names of other objects (division slugs, agent handles, metric keys, usernames) become rows
here, so an unknown one is a 400 naming it, and the services get plain values.
"""

from decimal import Decimal

from escalations import constants

AMOUNT = {"max_digits": constants.AMOUNT_DIGITS, "decimal_places": constants.AMOUNT_PLACES}
# The largest number PostgreSQL's integer holds: ticket numbers, claim ids and versions are at most this.
INTEGER_MAX = 2_147_483_647
# The smallest amount a claim can ask: one unit of the stored precision.
AMOUNT_MIN = Decimal(1).scaleb(-constants.AMOUNT_PLACES)
