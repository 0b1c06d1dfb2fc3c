"""Reads that may lag go to the replica; a worker's own writes are always read from the primary.

The "replica" of these tests is a second connection to the test database. Everything a test
writes stays in its uncommitted transaction on the primary connection, so this replica sees
none of it: a replica that lags behind by the whole test.
"""

import copy

import pytest
from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, connections

from clao import db_router
from clao.db_router import READ_YOUR_WRITES_COOKIE, REPLICA, pinned_to_primary, reads_may_lag

pytestmark = pytest.mark.django_db(databases=[DEFAULT_DB_ALIAS, REPLICA])


@pytest.fixture(scope="module", autouse=True)
def _replica_alias(django_db_setup):
    """The replica alias, for this module only: other tests run without a replica."""
    # The same test database through a connection of its own (not a mirror).
    replica = copy.deepcopy(connections[DEFAULT_DB_ALIAS].settings_dict)
    connections.settings[REPLICA] = replica
    yield
    connections[REPLICA].close()
    del connections[REPLICA]
    del connections.settings[REPLICA]


@pytest.fixture(autouse=True)
def _replica_not_marked_down(monkeypatch):
    monkeypatch.setattr(db_router, "_replica_down_until", 0.0)


@pytest.fixture
def stopped_replica():
    # Nothing listens on port 9 of the loopback: the connection is refused at once.
    working = connections[REPLICA]
    stopped = type(working)({**working.settings_dict, "PORT": "9"}, REPLICA)
    connections[REPLICA] = stopped
    yield stopped
    stopped.close()
    connections[REPLICA] = working


@pytest.fixture
def newcomer(db):
    return get_user_model().objects.create_user("88081219093", first_name="Karim")


def people_seen() -> int:
    return get_user_model().objects.filter(niss="88081219093").count()


def test_it_reads_from_the_primary_unless_lag_is_allowed(newcomer):
    assert people_seen() == 1
    with reads_may_lag():
        assert people_seen() == 0
    assert people_seen() == 1


def test_it_writes_to_the_primary_even_where_lag_is_allowed():
    with reads_may_lag():
        get_user_model().objects.create_user("88081219093")
    assert people_seen() == 1


def test_it_reads_from_the_primary_when_pinned(newcomer):
    with reads_may_lag(), pinned_to_primary():
        assert people_seen() == 1


def test_it_reads_from_the_primary_while_the_replica_is_stopped(stopped_replica, newcomer, caplog):
    with reads_may_lag():
        assert people_seen() == 1
        assert people_seen() == 1
    # Tried once, then left alone for a while instead of a failed connection per query.
    warnings = [r for r in caplog.records if r.name == "clao.db_router"]
    assert len(warnings) == 1
    assert warnings[0].getMessage().startswith("replica unreachable, reading from the primary")


def test_it_marks_a_browser_that_sent_a_write(client, settings):
    settings.CLAO_READ_YOUR_WRITES_SECONDS = 45
    assert READ_YOUR_WRITES_COOKIE not in client.get("/healthz").cookies
    # Any unsafe method counts, even a refused one: the mark only costs primary reads.
    response = client.post("/help/")
    mark = response.cookies[READ_YOUR_WRITES_COOKIE]
    assert mark["max-age"] == 45
    assert mark["httponly"]
    assert mark["samesite"] == "Lax"
