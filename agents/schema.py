"""OpenAPI description of the division token authentication (drf-spectacular picks it up on import)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class DivisionTokenScheme(OpenApiAuthenticationExtension):
    target_class = "agents.authentication.DivisionTokenAuthentication"
    name = "divisionToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "nvo_<prefix>_<secret>",
            "description": "A division API token (manage.py token_create, the admin, or the tokens page).",
        }
