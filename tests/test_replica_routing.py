"""Reads that may lag go to the replica; a worker's own writes are always read from the primary.

The "replica" of these tests is a second connection to the test database. Everything a test
writes stays in its uncommitted transaction on the primary connection, so this replica sees
none of it: a replica that lags behind by the whole test.
"""

import copy
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, connections
from django.test.utils import CaptureQueriesContext
from pytest_django.asserts import assertContains, assertNotContains

from checkins.models import Registration
from clao import db_router
from clao.db_router import READ_YOUR_WRITES_COOKIE, REPLICA, pinned_to_primary, reads_may_lag
from tests.factories import make_registration
from tests.saml import hidden_inputs

BRUSSELS = ZoneInfo("Europe/Brussels")
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=BRUSSELS)
YESTERDAY = date(2026, 11, 29)
GPS = {"latitude": "50.681805", "longitude": "4.834123", "accuracy": "12"}
EMPTY_PAST_DAY = '<p class="empty">No registrations on this day.</p>'

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


@pytest.fixture
def worker(client, anne):
    # English msgids: the assertions do not depend on the catalogs.
    anne.language = "en"
    anne.save()
    with time_machine.travel(NOW, tick=False) as traveller:
        client.force_login(anne)
        make_registration(anne, "IN", datetime(2026, 11, 29, 8, 0, tzinfo=BRUSSELS))
        make_registration(anne, "OUT", datetime(2026, 11, 29, 16, 30, tzinfo=BRUSSELS))
        yield traveller


def test_it_reads_a_past_day_from_the_replica_and_today_from_the_primary(client, anne, worker):
    make_registration(anne, "IN", datetime(2026, 11, 30, 7, 45, tzinfo=BRUSSELS))

    with CaptureQueriesContext(connections[REPLICA]) as on_replica:
        past = client.get(f"/?date={YESTERDAY}")
    # The day's registrations and their neighbours, in the one query of the list: from the
    # replica, which has not received yesterday's registrations yet. Its windows of recent
    # months empty there, the worker's first registration is read too (nothing older to look
    # for: checkins/partitions.py), from the replica as well.
    assert len(on_replica) == 2
    assert "checkins_firstregistration" in on_replica.captured_queries[1]["sql"]
    assertContains(past, EMPTY_PAST_DAY, html=True)

    with CaptureQueriesContext(connections[REPLICA]) as on_replica:
        today = client.get("/")
    assert len(on_replica) == 0
    assertContains(today, '<time datetime="2026-11-30T07:45:00+01:00">07:45</time>', html=True)


def test_it_shows_the_registration_just_made_whatever_the_replica_lags(client, anne, worker):
    token = hidden_inputs(client.get("/registrations/new/").content.decode())["client_token"]
    fields = {"enterprise_number": "0450905686", "ddt_choice": "unknown", **GPS}

    with CaptureQueriesContext(connections[REPLICA]) as on_replica:
        response = client.post(
            "/registrations/new/", {"client_token": token, "kind": "IN"} | fields
        )
        confirmation = client.get(response["Location"])
        today = client.get("/")
        past = client.get(f"/?date={YESTERDAY}")

    stored = Registration.objects.get(idempotency_key=token)
    assert response["Location"] == f"/registrations/{stored.pk}/"
    assert response.cookies[READ_YOUR_WRITES_COOKIE]["max-age"] == 60
    assertContains(confirmation, "<dt>Time</dt><dd>10:00</dd>", html=True)
    assertContains(today, '<time datetime="2026-11-30T10:00:00+01:00">10:00</time>', html=True)
    # This browser has just written: even its past days come from the primary for a while.
    assertContains(past, '<time datetime="2026-11-29T16:30:00+01:00">16:30</time>', html=True)
    assert len(on_replica) == 0

    # The mark lasts CLAO_READ_YOUR_WRITES_SECONDS: then the past day may lag again.
    worker.shift(61)
    client.cookies.pop(READ_YOUR_WRITES_COOKIE)  # expired: a browser no longer sends it
    assertContains(client.get(f"/?date={YESTERDAY}"), EMPTY_PAST_DAY, html=True)


def test_it_reads_past_days_from_the_primary_while_the_replica_is_stopped(
    client, anne, worker, stopped_replica
):
    past = client.get(f"/?date={YESTERDAY}")
    assertNotContains(past, EMPTY_PAST_DAY, html=True)
    assertContains(past, '<time datetime="2026-11-29T08:00:00+01:00">08:00</time>', html=True)
