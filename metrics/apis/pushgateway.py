"""Placeholder: the pushgateway front door is being built on its own branch; it answers 501 until it lands."""

from django.http import HttpRequest, HttpResponse


def receive(request: HttpRequest, **kwargs: str) -> HttpResponse:
    return HttpResponse(status=501)
