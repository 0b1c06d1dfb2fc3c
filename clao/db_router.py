"""Where each query goes: the primary, unless an entry point says that its reads may lag.

A streaming replica answers a little behind the primary. Only reads whose caller accepts that
go there, and only when they are wrapped in `reads_may_lag()` (a past day of the worker's list,
an employer's or inspector's search). Everything else, writes and the reads that must see them
(the confirmation, today's list, the open-IN rule), stays on the primary. A browser that has
just written is kept on the primary for CLAO_READ_YOUR_WRITES_SECONDS by a cookie, so that even
its lag-tolerant reads show what it did. A replica that cannot be reached is skipped.

This module is infrastructure: it imports nothing of the entry points or the domain.
"""

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.http import HttpRequest, HttpResponse

REPLICA = "replica"
# Not secret and not signed: a forged or stale cookie can only send reads to the primary.
READ_YOUR_WRITES_COOKIE = "clao_rw"
# After a failed connection the replica is left alone for this long (seconds).
REPLICA_RETRY_AFTER = 10.0

logger = logging.getLogger(__name__)
_reads_may_lag: ContextVar[bool] = ContextVar("clao_reads_may_lag", default=False)
_pinned_to_primary: ContextVar[bool] = ContextVar("clao_pinned_to_primary", default=False)
_replica_down_until = 0.0


@contextmanager
def reads_may_lag() -> Iterator[None]:
    """Reads inside may come from the replica (usable as a decorator too)."""
    token = _reads_may_lag.set(True)
    try:
        yield
    finally:
        _reads_may_lag.reset(token)


@contextmanager
def pinned_to_primary() -> Iterator[None]:
    """Reads inside come from the primary, even those declared lag-tolerant."""
    token = _pinned_to_primary.set(True)
    try:
        yield
    finally:
        _pinned_to_primary.reset(token)


def replica_usable() -> bool:
    """The replica is configured and answers; a failure is remembered for a few seconds."""
    global _replica_down_until
    if REPLICA not in connections.settings or time.monotonic() < _replica_down_until:
        return False
    replica = connections[REPLICA]
    try:
        # A connection kept from an earlier request may have died with the replica: with
        # CONN_HEALTH_CHECKS it is pinged once per request, and closed if dead.
        replica.close_if_health_check_failed()
        replica.ensure_connection()
    except DatabaseError as error:
        _replica_down_until = time.monotonic() + REPLICA_RETRY_AFTER
        logger.warning("replica unreachable, reading from the primary: %s", error)
        return False
    return True


class PrimaryReplicaRouter:
    def db_for_read(self, model, **hints) -> str:
        if _reads_may_lag.get() and not _pinned_to_primary.get() and replica_usable():
            return REPLICA
        return DEFAULT_DB_ALIAS

    def db_for_write(self, model, **hints) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        # Both aliases hold the same rows: objects read from either may be related.
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints) -> bool:
        # The replica receives the schema by streaming replication.
        return db != REPLICA


class ReadYourWritesMiddleware:
    """Keeps a browser that has just sent a write on the primary, across app nodes."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        marked_until = request.COOKIES.get(READ_YOUR_WRITES_COOKIE, "")
        # A timestamp of ours: ASCII digits ("²" is a digit for str.isdigit(), not for int()).
        recent = (
            marked_until.isascii()
            and marked_until.isdigit()
            and len(marked_until) <= 12
            and int(marked_until) > time.time()
        )
        if recent:
            with pinned_to_primary():
                response = self.get_response(request)
        else:
            response = self.get_response(request)
        if request.method not in ("GET", "HEAD", "OPTIONS", "TRACE"):
            seconds = settings.CLAO_READ_YOUR_WRITES_SECONDS
            response.set_cookie(
                READ_YOUR_WRITES_COOKIE,
                str(int(time.time()) + seconds),
                max_age=seconds,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response
