"""Serializers every API shares: the problem body (for the schema), strict input parsing, and the fields and schema
extensions that keep what a request may carry and what the schema says it may carry the same."""

from collections.abc import Mapping
from typing import Any

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiSerializerExtension, OpenApiSerializerFieldExtension
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
    min_fields = 0  # at least this many fields must be sent (1 for a PATCH: an empty change is refused)

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


class TextField(serializers.CharField):
    """A CharField that takes text only, and measures it as the schema does.

    DRF's CharField turns 0 into "0" and checks max_length after trimming; the schema (TextFieldSchema) says a
    string of at most max_length characters, not blank unless allow_blank, without NUL (which PostgreSQL cannot
    store and DRF refuses): this field refuses exactly what the schema refuses.
    """

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """An IntegerField that takes JSON integers only: DRF's would take "2", 2.0 and "2.0" (not what the schema says)."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


# Regular expressions valid in both ECMA 262 (OpenAPI) and Python (Hypothesis): text without NUL, and text with at
# least one character that is neither whitespace nor NUL (DRF trims whitespace, then refuses a blank value).
NO_NUL_PATTERN = r"^[^\u0000]*$"
NOT_EMPTY_NO_NUL_PATTERN = r"^[^\u0000]+$"
NOT_BLANK_PATTERN = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"


class TextFieldSchema(OpenApiSerializerFieldExtension):
    target_class = TextField
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if self.target.allow_blank:
            # drf-spectacular then wraps a blank-allowing field with a pattern in oneOf [it, an empty string]: the
            # pattern must not match "" too, or "" would match both branches, which oneOf forbids.
            schema["pattern"] = NOT_EMPTY_NO_NUL_PATTERN
        else:
            schema["minLength"] = max(schema.get("minLength", 0), 1)
            schema["pattern"] = NOT_BLANK_PATTERN
        return schema


class StrictInputSchema(OpenApiSerializerExtension):
    # Strict inputs refuse unknown fields (additionalProperties: false); `min_fields` says how many must be sent.
    target_class = StrictInputSerializer
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        schema["additionalProperties"] = False
        if getattr(self.target, "min_fields", 0):
            schema["minProperties"] = self.target.min_fields
        return schema


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's AutoSchema, saying that a write's body is required: every POST and PATCH here refuses a
    request without one (415 without a JSON body, 400 for an empty change), while drf-spectacular would call a PATCH
    body or a body given as a plain schema optional. Views with a body (and the
    MethodRoutes that hold them) set `schema = AutoSchema()`."""

    def _get_request_body(self, direction: str = "request") -> dict[str, Any] | None:
        body = super()._get_request_body(direction)
        if body:
            body["required"] = True
        return body


class ItemListField(serializers.ListField):
    """A ListField whose item errors are a list by position, as novaops.api reads them into `index` (DRF keys them
    by position in a dict, where item 0's key would be lost)."""

    def run_child_validation(self, data: list[Any]) -> list[Any]:
        try:
            return super().run_child_validation(data)
        except serializers.ValidationError as error:
            if not isinstance(error.detail, dict):
                raise
            raise serializers.ValidationError([error.detail.get(index, []) for index in range(len(data))]) from None
