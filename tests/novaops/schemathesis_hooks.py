"""Schemathesis hooks for tests/novaops/test_schema_conformance.py (loaded by the CLI through SCHEMATHESIS_HOOKS).

A lead's session writes only with Django's CSRF token: the same secret in the csrftoken cookie and the X-CSRFToken
header. The session cookie itself is the schema's `cookieAuth`, set by Schemathesis (so its auth checks can remove
it); the CSRF pair rides along on every request, which changes nothing for reads and for requests without a session.
"""

import os
from typing import Any

import schemathesis


@schemathesis.hook
def before_call(context: Any, case: Any, **kwargs: Any) -> None:
    csrf = os.environ.get("NOVAOPS_SCHEMATHESIS_CSRF")
    if csrf:
        case.cookies = {**(case.cookies or {}), "csrftoken": csrf}
        case.headers = {**(case.headers or {}), "X-CSRFToken": csrf}
