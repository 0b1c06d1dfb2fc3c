"""Probes for load balancers and Kubernetes, answered before any other middleware.

/healthz: the process is up and answers (liveness): no database, nothing else.
/readyz: the database answers and every migration of this code is applied (readiness): a node
that cannot serve a registration, or runs code ahead of the schema, is taken out of rotation.

Being first in MIDDLEWARE, they skip the HTTPS redirect (probes speak plain HTTP to the pod or
node), ALLOWED_HOSTS (probes use an IP address as host), sessions, CSRF and authentication.
"""

import logging
from functools import cache

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.loader import MigrationLoader
from django.http import HttpRequest, HttpResponse

HEALTHZ = "/healthz"
READYZ = "/readyz"

logger = logging.getLogger(__name__)

Migration = tuple[str, str]


@cache
def expected_migrations() -> dict[Migration, frozenset[Migration]]:
    """Every migration on disk, with the ones it replaces when squashed; read once a process."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return {
        key: frozenset(loader.replacements[key].replaces if key in loader.replacements else ())
        for key in loader.graph.nodes
    }


def unapplied_migrations() -> list[Migration]:
    """One query on the primary; raises DatabaseError when it cannot be reached."""
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT app, name FROM django_migrations")
        applied = set(cursor.fetchall())
    return sorted(
        key
        for key, replaces in expected_migrations().items()
        if key not in applied and not (replaces and replaces <= applied)
    )


def _plain(text: str, status: int = 200) -> HttpResponse:
    response = HttpResponse(text + "\n", content_type="text/plain; charset=utf-8", status=status)
    response["Cache-Control"] = "no-store"
    return response


def readiness() -> HttpResponse:
    try:
        pending = unapplied_migrations()
    except DatabaseError as error:
        logger.warning("not ready: database unreachable: %s", error)
        return _plain("not ready: database unreachable", status=503)
    if pending:
        names = ", ".join(f"{app}.{name}" for app, name in pending)
        return _plain(f"not ready: migrations not applied: {names}", status=503)
    return _plain("ready")


class HealthCheckMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path not in (HEALTHZ, READYZ):
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            response = _plain("GET or HEAD only", status=405)
            response["Allow"] = "GET, HEAD"
            return response
        return _plain("ok") if request.path == HEALTHZ else readiness()
