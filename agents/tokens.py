"""Temporary alias, to be deleted: tests/conftest.py (the token_client fixture) still imports
division_token_create from here.

Token writes now live in agents.services.tokens, the DRF authentication and DivisionPrincipal in
agents.authentication. Delete this module once tests/conftest.py imports agents.services.tokens.
"""

from agents.services.tokens import division_token_create

__all__ = ["division_token_create"]
