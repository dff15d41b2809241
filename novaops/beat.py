"""Celery beat, once per cluster: every host may run a beat, only the holder of one PostgreSQL advisory lock sends.

Each beat takes a session-level `pg_try_advisory_lock` on a psycopg connection of its own before it sends
anything. The others stay in standby (they say so once) and try again every few seconds; the lock passes to one of
them when the leader's session ends: the process died (its socket closed, at once) or its host vanished (the
server's keepalives on that session give up after about 11 s). Before every send the leader checks its lock
connection with `SELECT 1`; when that fails it stops sending and goes back to standby, so there are never two
senders: the server frees the lock only after the leader's last answered check, and the leader sends nothing
without one.

The lock's connection goes straight to the primary (a pooler in transaction mode would hand the session's lock to
whoever got the server connection next). Schedule state stays in each host's shelve file: a beat that takes over
sends at once whatever its own file says is due; every task is safe to run twice (docs/architecture.md,
"Reliability"), which is what makes that harmless. docs/scale-out.md, "Beat: once per cluster", says more.
"""

from __future__ import annotations

import logging
import os
import socket
import time

import psycopg
from celery.beat import PersistentScheduler
from django.db import connections

logger = logging.getLogger(__name__)

# pg_try_advisory_lock(namespace, key): our other advisory locks use namespaces 7_201_0xx and 7_201_1xx.
LOCK_NAMESPACE = 7_201_001
LOCK_KEY = 1
# Who holds the lock, as pg_stat_activity shows it (and a standby logs it).
APPLICATION_NAME = "novaops-beat"

# How often a standby tries to take the lock, and the longest a leader sleeps between two checks of its connection.
STANDBY_RETRY_SECONDS = 3.0
LEADER_MAX_INTERVAL_SECONDS = 5.0

# The lock connection's own bounds. Client side: an unanswered check fails after 3 s (tcp_user_timeout) rather than
# after the kernel's 15 minutes of retransmissions. Server side (the `-c` options): a leader host that vanished
# loses its session, and the lock, after 5 s of silence and 3 unanswered probes 2 s apart.
_CLIENT_BOUNDS = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 3000,
    "connect_timeout": 5,
}
_SERVER_BOUNDS = "-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3"


class LeaderLock:
    """The cluster-wide beat lock on a dedicated connection to the primary (Django's "default" database)."""

    def __init__(self, *, name: str) -> None:
        self.name = name
        self._connection: psycopg.Connection | None = None

    def acquire(self) -> bool:
        """Take the lock if no other session holds it. Raises psycopg.Error when the database does not answer."""
        self.release()
        connection = psycopg.connect(**self._params())
        try:
            taken = connection.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, LOCK_KEY]).fetchone()[0]
        except BaseException:
            connection.close()
            raise
        if not taken:
            connection.close()
            return False
        self._connection = connection
        return True

    def held(self) -> bool:
        """True while the session holding the lock answers; a session that ended took its lock with it."""
        if self._connection is None:
            return False
        try:
            self._connection.execute("SELECT 1").fetchone()
        except psycopg.Error as exc:
            logger.warning("beat: the connection holding the lock failed (%s)", exc)
            self.release()
            return False
        return True

    def holder(self) -> str:
        """Who holds the lock now, as its session named itself; empty when unknown."""
        try:
            with psycopg.connect(**self._params()) as connection:
                row = connection.execute(
                    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
                    " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s",
                    [LOCK_NAMESPACE, LOCK_KEY],
                ).fetchone()
        except psycopg.Error:
            return ""
        return row[0] if row else ""

    def release(self) -> None:
        """Close the lock's connection (ending the session frees the lock); safe to call at any time."""
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except psycopg.Error:
                pass

    def _params(self) -> dict:
        # Django's own parameters for the primary (the same server, credentials and options as the ORM), with the
        # bounds above instead of the ORM's, in autocommit: a session lock, never a transaction.
        params = connections["default"].get_connection_params()
        params.update(_CLIENT_BOUNDS, application_name=self.name[:63], autocommit=True)
        params["options"] = " ".join(filter(None, [params.get("options"), _SERVER_BOUNDS]))
        return params


class ClusterScheduler(PersistentScheduler):
    """Celery's shelve-backed scheduler that sends only while it holds the cluster's LeaderLock."""

    max_interval = LEADER_MAX_INTERVAL_SECONDS

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lock = LeaderLock(name=f"{APPLICATION_NAME} {socket.gethostname()} {os.getpid()}")
        self.leading = False
        self._next_attempt = 0.0
        self._standby_reason = ""

    def tick(self, *args, **kwargs) -> float:
        if self.leading and not self.lock.held():
            self.leading = False
            # Not straight back: a standby that is waiting gets its turn first.
            self._next_attempt = time.monotonic() + STANDBY_RETRY_SECONDS
            logger.warning("beat: lost the cluster lock; standby, sending nothing until it is taken again")
        if not self.leading and not self._take_lead():
            return max(self._next_attempt - time.monotonic(), 0.1)
        return super().tick(*args, **kwargs)

    def _take_lead(self) -> bool:
        now = time.monotonic()
        if now < self._next_attempt:
            return False
        self._next_attempt = now + STANDBY_RETRY_SECONDS
        try:
            taken = self.lock.acquire()
        except psycopg.Error as exc:
            self._standby(f"the database does not answer ({str(exc).strip().splitlines()[0]})")
            return False
        if not taken:
            self._standby(f"the cluster lock is held by {self.lock.holder() or 'another beat'}")
            return False
        logger.info("beat: took the cluster lock as %s; sending what is due", self.lock.name)
        self.leading = True
        self._standby_reason = ""
        # Rebuild the heap from the entries as this host last recorded them: whatever is due by them goes now.
        self._heap = None
        return True

    def _standby(self, reason: str) -> None:
        """Log why this beat waits, once for as long as the reason stays the same."""
        if reason != self._standby_reason:
            logger.info("beat: standby, %s; trying again every %.0f s", reason, STANDBY_RETRY_SECONDS)
            self._standby_reason = reason

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.leading = False
            self.lock.release()

    @property
    def info(self) -> str:
        return f"{super().info}\n    . sends while it holds the cluster lock ({LOCK_NAMESPACE}, {LOCK_KEY})"
