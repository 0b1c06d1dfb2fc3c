"""The PostgreSQL backend's health check (clao/backends/postgresql): no round trip while the
kept connection is idle and open; a connection the server ended is replaced before a query."""

import select
import time

import pytest
from django.db import connection, connections

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's backend"),
]


@pytest.fixture
def kept():
    """A connection of its own, kept as a worker process keeps one between requests."""
    wrapper = connections.create_connection("default")
    wrapper.ensure_connection()
    yield wrapper
    wrapper.close()


def test_it_checks_an_idle_open_connection_without_a_query(kept, monkeypatch):
    queries = []
    monkeypatch.setattr(kept, "is_usable", lambda: queries.append("SELECT 1") or True)
    before = kept.connection
    kept.health_check_done = False
    kept.close_if_health_check_failed()
    assert queries == []
    assert kept.connection is before


def test_it_replaces_a_connection_the_server_ended(kept):
    pid = kept.connection.info.backend_pid
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    deadline = time.monotonic() + 5
    while not select.select([kept.connection.pgconn.socket], [], [], 0.05)[0]:
        assert time.monotonic() < deadline, "the server did not end the connection"
    kept.health_check_done = False
    kept.close_if_health_check_failed()
    assert kept.connection is None
    # The next query opens a new connection instead of failing.
    with kept.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid
