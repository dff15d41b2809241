"""The metrics APIs, one module per entity: batches, catalogue, series."""

from rest_framework.authentication import SessionAuthentication

from agents.authentication import DivisionTokenAuthentication

# Reads answer division clients (each view scopes them to their own division) and signed-in people alike.
READ_AUTHENTICATION = [DivisionTokenAuthentication, SessionAuthentication]
