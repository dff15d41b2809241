"""novaops.middleware.SessionMiddleware: a read answered while its session was signed out elsewhere goes out as it
is (the session stays deleted); a write keeps Django's refusal."""

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.exceptions import SessionInterrupted
from django.contrib.sessions.models import Session
from django.http import HttpResponse
from django.test import RequestFactory

from novaops.middleware import SessionMiddleware

pytestmark = pytest.mark.django_db


def _request_whose_session_is_deleted_meanwhile(method: str):
    session = SessionStore()
    session["seen"] = 1
    session.save()
    request = getattr(RequestFactory(), method.lower())("/dashboards/summary/overview/cards/")
    request.session = SessionStore(session_key=session.session_key)
    request.session["seen"] = 2  # modified: the middleware will want to save it
    Session.objects.filter(session_key=session.session_key).delete()  # signed out in another tab
    return request


def test_a_read_is_answered_and_the_session_stays_signed_out():
    request = _request_whose_session_is_deleted_meanwhile("GET")

    response = SessionMiddleware(lambda request: HttpResponse("panel")).process_response(request, HttpResponse("panel"))

    assert (response.status_code, response.content) == (200, b"panel")
    assert not response.cookies
    assert not Session.objects.exists()


def test_a_write_is_still_refused():
    request = _request_whose_session_is_deleted_meanwhile("POST")

    with pytest.raises(SessionInterrupted):
        SessionMiddleware(lambda request: HttpResponse()).process_response(request, HttpResponse())
    assert not Session.objects.exists()
