"""Database helpers every app's services share."""

from typing import TypeVar

from django.db import IntegrityError, transaction
from django.db.models import Model

from novaops.errors import Conflict

M = TypeVar("M", bound=Model)


def insert_or_conflict(instance: M, *, unique_field: str, conflict: str) -> M:
    """Validate fields, then INSERT; a taken unique value becomes Conflict (409) with `conflict` as detail.

    The insert decides, not a lookup before it, so two clients creating the same name at once cannot both
    succeed. Uniqueness and check constraints are left to the database (they stand behind the field validators).
    """
    instance.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            instance.save(force_insert=True)
    except IntegrityError:
        value = getattr(instance, unique_field)
        if type(instance)._default_manager.filter(**{unique_field: value}).exists():
            raise Conflict(conflict) from None
        raise
    return instance
