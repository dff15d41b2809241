"""Serializers every API shares: the problem body (for the schema) and strict input parsing."""

from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

# The problem bodies come from novaops.api.problem_exception_handler; these describe them in the schema.


@extend_schema_serializer(component_name="ProblemItem")
class ProblemItemSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="The input field or query parameter at fault; empty for the whole body.")
    message = serializers.CharField()
    index = serializers.IntegerField(required=False, help_text="Position in a list, for item-level problems.")


@extend_schema_serializer(component_name="Problem")
class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details, served as application/problem+json."""

    type = serializers.CharField(default="about:blank")
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    errors = ProblemItemSerializer(many=True, required=False)
    errors_not_listed = serializers.IntegerField(required=False, help_text="Problems beyond the listed ones.")


class StrictInputSerializer(serializers.Serializer):
    # Refuses fields it does not know: a typo or a read-only field (handle, division on PATCH) must not be
    # silently dropped, which would answer 200 for a change that did not happen. (A comment, not a docstring:
    # drf-spectacular would publish a docstring as the description of every subclass.)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                allowed = ", ".join(self.fields)
                raise serializers.ValidationError(
                    {name: [f"Unknown field; this request accepts {allowed}."] for name in unknown}
                )
        return super().to_internal_value(data)
