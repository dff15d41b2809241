"""Saved views: a lead names the current explorer or comparison state; everyone sees the list on the overview.

Only leads manage them (novaops.policies.is_lead): the list is shared by the whole organisation, so a name there is
an editorial choice. The query is validated through dashboards.state before it is stored, so a saved view always
opens (the metrics it names may still be retired later; the page then says which one is unknown).
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models.functions import Lower

from dashboards.models import SavedView
from dashboards.state import state_check_query
from novaops import policies
from novaops.errors import Conflict, Forbidden, InvalidInput

NOT_A_LEAD_MESSAGE = "Saved views are managed by the Tier 1 leads; every role can open them."
NAME_MAX_LENGTH = SavedView._meta.get_field("name").max_length
QUERY_MAX_LENGTH = SavedView._meta.get_field("query").max_length


def _require_lead(user: Any) -> None:
    if not policies.is_lead(user):
        raise Forbidden(NOT_A_LEAD_MESSAGE)


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise InvalidInput("A saved view needs a name.", errors=[{"field": "name", "message": "may not be blank."}])
    if len(name) > NAME_MAX_LENGTH:
        raise InvalidInput(
            f"A saved view's name is at most {NAME_MAX_LENGTH} characters.",
            errors=[{"field": "name", "message": f"at most {NAME_MAX_LENGTH} characters."}],
        )
    return name


def _clean_query(query: str) -> str:
    if len(query or "") > QUERY_MAX_LENGTH:
        raise InvalidInput(
            f"This view's link is longer than {QUERY_MAX_LENGTH} characters; choose fewer filters.",
            errors=[{"field": "query", "message": f"at most {QUERY_MAX_LENGTH} characters."}],
        )
    return state_check_query(query or "")


def _taken(name: str) -> Conflict:
    return Conflict(f"A saved view is already called “{name}” (names ignore case); choose another name.")


def _save(view: SavedView, *, name: str, **kwargs: Any) -> SavedView:
    """INSERT or UPDATE; the case-insensitive unique index decides (no check-then-write race)."""
    try:
        with transaction.atomic():
            view.save(**kwargs)
    except IntegrityError:
        if SavedView.objects.annotate(lower=Lower("name")).filter(lower=name.lower()).exists():
            raise _taken(name) from None
        raise
    return view


def saved_view_create(*, user: Any, name: str, page: str, query: str) -> SavedView:
    """A lead saves `query` (a view state of `page`, explore or compare) under `name`."""
    _require_lead(user)
    if page not in SavedView.Page.values:
        raise InvalidInput(
            f"A saved view is of the {' or '.join(SavedView.Page.values)} page.",
            errors=[{"field": "page", "message": f"must be one of {', '.join(SavedView.Page.values)}."}],
        )
    name = _clean_name(name)
    view = SavedView(name=name, page=page, query=_clean_query(query), created_by=user if user.pk else None)
    return _save(view, name=name, force_insert=True)


def saved_view_rename(*, user: Any, view: SavedView, name: str) -> SavedView:
    _require_lead(user)
    view.name = _clean_name(name)
    return _save(view, name=view.name, update_fields=["name", "updated_at"])


def saved_view_delete(*, user: Any, view: SavedView) -> None:
    _require_lead(user)
    view.delete()
