"""Where a query goes: the primary, or the streaming replica (`DATABASE_REPLICA_URL`, alias "replica").

Only reads a view hands over go to the replica: a view wrapped in `novaops.decorators.reads_from_replica` (the
dashboards, the series API, the catalogue list, the escalations' analytics) runs inside `replica_reads()`, and the
router sends that view's reads there. Everything else stays on the primary: writes, forms, tasks, the admin, and
every read outside such a view. The middleware runs outside the view, so the session and `request.user` are read
from the primary; the apps below stay there even inside a wrapped view, because a replica a few seconds behind
would undo what the viewer has just done (signed in, saved a view, chosen a time zone).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model

REPLICA = "replica"
# The viewer's own rows, read right after their own writes.
PRIMARY_ONLY_APPS = frozenset({"admin", "auth", "axes", "contenttypes", "sessions", "dashboards"})

# A context variable, not a thread-local: it follows the request through the view and nothing else (gunicorn's
# sync workers run one request at a time, but a thread or an async view would not leak it either).
_reading_from_replica: ContextVar[bool] = ContextVar("novaops_reading_from_replica", default=False)


def replica_configured() -> bool:
    return REPLICA in connections.settings


@contextmanager
def replica_reads() -> Iterator[None]:
    """Inside this block, the reads the router may route go to the replica (when one is configured)."""
    token = _reading_from_replica.set(True)
    try:
        yield
    finally:
        _reading_from_replica.reset(token)


def read_alias(app_label: str | None = None) -> str:
    """The alias a read of `app_label`'s tables (or raw SQL over the metrics and registry tables) goes to now."""
    if _reading_from_replica.get() and replica_configured() and app_label not in PRIMARY_ONLY_APPS:
        return REPLICA
    return DEFAULT_DB_ALIAS


def read_connection() -> BaseDatabaseWrapper:
    """The connection for a selector's raw SQL: the replica inside `replica_reads()`, else the primary."""
    return connections[read_alias()]


class PrimaryReplicaRouter:
    """DATABASE_ROUTERS: reads inside `replica_reads()` to the replica, everything else to the primary."""

    def db_for_read(self, model: type[Model], **hints: object) -> str:
        return read_alias(model._meta.app_label)

    def db_for_write(self, model: type[Model], **hints: object) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Model, obj2: Model, **hints: object) -> bool:
        # Both aliases hold the same rows: an object read from the replica may point at one read from the primary.
        return True

    def allow_migrate(self, db: str, app_label: str, **hints: object) -> bool:
        # The replica replays the primary's WAL, schema included; it is read-only anyway.
        return db == DEFAULT_DB_ALIAS
