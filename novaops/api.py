"""Shared API plumbing: the problem-response exception handler, pagination, one API class per method on a path,
and the problem responses of the OpenAPI schema."""

import logging
from collections.abc import Callable
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponseBase
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import exceptions, pagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from novaops.errors import TITLES, ApplicationError, PayloadTooLarge, ServiceUnavailable
from novaops.problems import PROBLEM_CONTENT_TYPE, error_body, problem_body

logger = logging.getLogger(__name__)


def _flatten(detail: Any, prefix: str = "") -> list[dict[str, Any]]:
    """DRF's nested error details → a flat [{"field", "message"}] list (with "index" for list items)."""
    errors: list[dict[str, Any]] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            field = key if key != "non_field_errors" else ""
            errors += _flatten(value, f"{prefix}.{field}" if prefix and field else (field or prefix))
    elif isinstance(detail, list):
        for position, value in enumerate(detail):
            if isinstance(value, (dict, list)) and value:
                for item in _flatten(value, prefix):
                    item.setdefault("index", position)
                    errors.append(item)
            elif value:
                errors.append({"field": prefix, "message": str(value)})
    else:
        errors.append({"field": prefix, "message": str(detail)})
    return errors


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Every API error as application/problem+json: refused operations (novaops.errors), validation errors, lost
    databases, DRF's own exceptions, and bugs (a 500 problem, never an HTML page, not even with DEBUG on)."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        exc = ServiceUnavailable("The database is unreachable; retry shortly.")
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge(str(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or None)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    if isinstance(exc, ApplicationError):
        return Response(error_body(exc), status=exc.status, headers=exc.headers, content_type=PROBLEM_CONTENT_TYPE)
    if not isinstance(exc, exceptions.APIException):
        logger.error("Unhandled API exception", exc_info=exc)
        body = problem_body(status=500, detail="Something went wrong on our side.")
        return Response(body, status=500, content_type=PROBLEM_CONTENT_TYPE)

    headers: dict[str, str] = {}
    status = exc.status_code
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        request = context.get("request")
        authenticator = getattr(request, "_authenticator", None) if request else None
        header = authenticator.authenticate_header(request) if authenticator else None
        headers["WWW-Authenticate"] = header or 'Bearer realm="api"'
        status = 401
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        headers["Retry-After"] = str(int(exc.wait) + 1)

    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        detail = errors[0]["message"] if len(errors) == 1 else f"{len(errors)} problems in the request."
        body = problem_body(status=status, title=TITLES[400], detail=detail, errors=errors)
    else:
        body = problem_body(status=status, detail=str(exc.detail))
    return Response(body, status=status, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


class Pagination(pagination.PageNumberPagination):
    """Page-number pagination with a client-chosen page size and totals in the body.

    `page` and `page_size` are whole numbers (page from 1, page_size from 1 to max_page_size): anything else is a
    400 problem naming the parameter, as the schema (`parameters()`) says; a page past the end is a 404 problem.
    """

    page_size_query_param = "page_size"
    max_page_size = 500
    query_parameters = ("page", "page_size")
    invalid_page_message = "Page {page_number!r} does not exist: {message}"

    @classmethod
    def parameters(cls) -> list[OpenApiParameter]:
        """The query parameters of a paginated list, for its @extend_schema."""
        return [
            OpenApiParameter(
                "page",
                {"type": "integer", "minimum": 1},
                description="1-based; a page past the end is a 404 problem.",
            ),
            OpenApiParameter(
                "page_size",
                {"type": "integer", "minimum": 1, "maximum": cls.max_page_size},
                description=f"Default {settings.REST_FRAMEWORK['PAGE_SIZE']}, from 1 to {cls.max_page_size}.",
            ),
        ]

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> list[Any] | None:
        errors = {
            name: [message]
            for name, maximum in (("page", None), ("page_size", self.max_page_size))
            if (message := _whole_number_problem(request.query_params, name, maximum)) is not None
        }
        if errors:
            raise exceptions.ValidationError(errors)
        return super().paginate_queryset(queryset, request, view)

    @classmethod
    def respond(cls, request: Request, view: APIView, queryset: Any, serializer: type[Serializer]) -> Response:
        """The requested page of `queryset`, each row rendered by `serializer`, with the totals around it."""
        paginator = cls()
        page = paginator.paginate_queryset(queryset, request, view=view)
        return paginator.get_paginated_response(serializer(page, many=True).data)

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {
                "count": self.page.paginator.count,
                "page": self.page.number,
                "pages": self.page.paginator.num_pages,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        base = super().get_paginated_response_schema(schema)
        base["properties"]["page"] = {"type": "integer", "example": 1}
        base["properties"]["pages"] = {"type": "integer", "example": 3}
        return base


def _whole_number_problem(params: Any, name: str, maximum: int | None) -> str | None:
    """Why the query parameter `name` is not a whole number from 1 to `maximum`, or None when it is (or is absent)."""
    values = params.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        return f"Give {name} once."
    text = values[0]
    limit = f" to {maximum}" if maximum is not None else ""
    if not (text.isascii() and text.isdigit()) or int(text) < 1 or (maximum is not None and int(text) > maximum):
        return f"{name} is a whole number from 1{limit}; not {text[:40]!r}."
    return None


def refuse_unknown_parameters(request: Any, *known: str) -> None:
    """A 400 problem naming each query parameter the endpoint does not take (a misspelt filter, `?divison=`, must
    not answer with everything, which reads as a valid and wrong result), and each value holding a NUL character
    (which no name, slug or text stored in PostgreSQL can hold, and which PostgreSQL refuses to compare)."""
    params = request.query_params
    takes = f"takes {', '.join(sorted(known))}" if known else "takes no query parameters"
    errors = {name[:60]: [f"Unknown query parameter; this endpoint {takes}."] for name in params if name not in known}
    for name in known:
        if any("\x00" in value for value in params.getlist(name)):
            errors[name] = ["A value cannot hold a NUL character."]
    if errors:
        raise exceptions.ValidationError(dict(sorted(errors.items())))


class MethodRoute(APIView):
    """One path, one API class per HTTP method: `MethodRoute.of(AgentListApi, AgentCreateApi)`.

    Each request runs the whole DRF cycle (authentication, permissions, parsing) of the class that owns its
    method, so a GET class cannot lend its read permission to a POST. Methods no class handles come here and are
    answered by APIView itself: 401/403 for who may not use the path at all, else 405 with the path's Allow.
    """

    views: ClassVar[dict[str, Callable[..., HttpResponseBase]]] = {}

    @classmethod
    def of(cls, *apis: type[APIView]) -> Callable[..., HttpResponseBase]:
        by_method: dict[str, type[APIView]] = {}
        for api in apis:
            for method in api.http_method_names:
                if method not in ("head", "options") and hasattr(api, method):
                    assert method not in by_method, f"{method.upper()} is served by two APIs"
                    by_method[method] = api
        views = {method: api.as_view() for method, api in by_method.items()}
        if "get" in views:
            views["head"] = views["get"]
        # The handlers are copied onto the route for drf-spectacular, which documents one class per path and
        # reads each method's @extend_schema from it; at run time dispatch() never calls them on the route.
        # No docstring of its own, so the schema describes each operation by its @extend_schema alone.
        attrs: dict[str, Any] = {"views": views, "__doc__": None}
        attrs.update({method: getattr(api, method) for method, api in by_method.items()})
        route = type("".join(api.__name__.removesuffix("Api") for api in apis) + "Route", (cls,), attrs)
        return route.as_view()

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        view = self.views.get((request.method or "").lower())
        if view is None:
            return super().dispatch(request, *args, **kwargs)
        response = view(request, *args, **kwargs)
        # The API class knows only its own method; Allow describes the path.
        response["Allow"] = ", ".join(self.allowed_methods)
        return response


PROBLEM_DESCRIPTIONS = {
    400: "Invalid input; `errors` lists every field or query parameter at fault.",
    401: "Not signed in and no division token (answered with WWW-Authenticate).",
    403: "Signed in without a NovaOps role.",
    404: "No such object, or no such page.",
    406: "Accept names a format this endpoint does not produce.",
    409: "Refused: that name is already taken.",
    413: "Body over the size limit.",
    415: "Body is not application/json.",
}


def problem_responses(*statuses: int, **described: str) -> dict[Any, OpenApiResponse]:
    """The problem responses of an operation for drf-spectacular; `described` overrides by status, e.g. s403="…"."""
    from novaops.serializers import ProblemSerializer

    descriptions = {**PROBLEM_DESCRIPTIONS, **{int(key[1:]): text for key, text in described.items()}}
    return {
        (status, PROBLEM_CONTENT_TYPE): OpenApiResponse(ProblemSerializer, description=descriptions[status])
        for status in sorted(statuses)
    }
