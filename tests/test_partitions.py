"""Registrations partitioned by month, their upkeep and the 7-year retention (PostgreSQL).

checkins migration 0011, checkins/partitions.py, `manage.py ensurepartitions` and
`manage.py purgeregistrations`; docs/security.md ("Retention") and docs/scaling.md.
"""

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from checkins import history
from checkins.day_views import day_and_neighbours
from checkins.models import (
    ChainCut,
    FirstRegistration,
    Registration,
    RegistrationKey,
    local_day_bounds,
)
from checkins.partitions import ensure_month, ensure_months, partitions, retention_cutoff
from checkins.services import Place, latest_registration, person_scope, register
from clao import prepared
from clao.dbroles import grant_app_privileges, grant_retention_privileges
from tests.conftest import APP_ROLE, make_db_role
from tests.factories import BRUSSELS_GPS, make_registration
from tests.saml import hidden_inputs


def execute(sql: str, params=None) -> list:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def partition_of(registration: Registration) -> str:
    return execute(
        "SELECT tableoid::regclass::text FROM checkins_registration WHERE id = %s",
        [registration.pk],
    )[0][0]


def month_name(day: date) -> str:
    return f"checkins_registration_p{day:%Y%m}"


def months_between(first: date, last: date) -> list[date]:
    months, month = [], first.replace(day=1)
    while month <= last:
        months.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return months


def verify() -> tuple[bool, str]:
    out = StringIO()
    try:
        call_command("verifyregistrations", stdout=out)
    except CommandError as error:
        return False, out.getvalue() + str(error)
    return True, out.getvalue()


def purge(*args: str) -> str:
    out = StringIO()
    call_command("purgeregistrations", *args, stdout=out)
    return out.getvalue()


def test_it_partitions_registrations_by_month_through_twelve_months_ahead(db):
    assert execute(
        "SELECT partstrat FROM pg_partitioned_table "
        "WHERE partrelid = 'checkins_registration'::regclass"
    ) == [("r",)]
    today = timezone.localdate()
    last = (today.replace(day=1) + timedelta(days=366)).replace(day=1)
    names = [p.name for p in partitions()]
    for month in months_between(today, last):
        assert month_name(month) in names
    # Each month starts at Brussels' midnight: a local day lies in one partition.
    current = next(p for p in partitions() if p.name == month_name(today))
    assert current.lower == local_day_bounds(today.replace(day=1))[0]


def test_it_stores_a_registration_in_the_partition_of_its_month(anne, nsi):
    now = make_registration(anne, "IN")
    old = make_registration(anne, "OUT", datetime(2024, 7, 1, 12, tzinfo=UTC))
    assert partition_of(now) == month_name(timezone.localdate())
    assert partition_of(old) == "checkins_registration_p202407"


def test_it_reads_one_partition_for_the_days_registrations(anne, nsi):
    make_registration(anne, "IN")
    day = timezone.localdate()
    plan = anne.registrations.on_local_day(day).explain()
    scanned = set(re.findall(r"\bcheckins_registration_p\d{6}\b(?!_)", plan))
    assert scanned == {month_name(day)}


def test_it_keeps_one_registration_per_key_across_months(anne, nsi):
    key = str(uuid.uuid4())
    first = make_registration(anne, "IN", datetime(2024, 7, 1, 12, tzinfo=UTC), key=key)
    again = register(
        worker=anne,
        kind="IN",
        enterprise_number=nsi.number,
        place=BRUSSELS_GPS,
        source="smartphone",
        idempotency_key=key,
    )
    assert again.created is False
    assert again.registration.pk == first.pk
    assert Registration.objects.filter(idempotency_key=key).count() == 1
    key_row = RegistrationKey.objects.get(key_scope=person_scope(anne), idempotency_key=key)
    assert (key_row.registration_id, key_row.recorded_at) == (first.pk, first.recorded_at)
    # Written past register() (its lock and read), the key is still refused in another month.
    with pytest.raises(IntegrityError), transaction.atomic():
        execute(
            "INSERT INTO checkins_registration (worker_id, kind, enterprise_number, "
            "employer_name, ddt_number, latitude, longitude, postal_code, municipality, street, "
            "house_number, box, source, key_scope, idempotency_key, reason) "
            "VALUES (%s, 'IN', %s, '', '', 50.8, 4.3, '', '', '', '', '', 'smartphone', %s, "
            "%s, '')",
            [anne.pk, nsi.number, person_scope(anne), key],
        )


def test_it_creates_missing_months_and_is_idempotent(db):
    before = {p.name for p in partitions()}
    assert month_name(date(2015, 3, 1)) not in before
    out = StringIO()
    call_command("ensurepartitions", "--since", "2015-01-01", stdout=out)
    created = int(out.getvalue().split()[0])
    last = (timezone.localdate().replace(day=1) + timedelta(days=366)).replace(day=1)
    every = {month_name(month) for month in months_between(date(2015, 1, 1), last)}
    assert created == len(every - before)
    assert every <= {p.name for p in partitions()}
    assert ensure_months(date(2015, 1, 1)) == 0
    # A new month refuses TRUNCATE like the others (statement triggers are not inherited).
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        execute("TRUNCATE checkins_registration_p201501")


@pytest.fixture
def old_history(anne, nsi):
    """Anne's registrations of 2019 (more than 7 years ago), 2020 and now, in time order; their
    months are made by make_registration, with the month where the retention's cutoff falls."""
    ensure_month(retention_cutoff(7))
    stored = [
        make_registration(anne, "IN", datetime(2019, 3, 4, 7, tzinfo=UTC)),
        make_registration(anne, "OUT", datetime(2019, 4, 4, 15, tzinfo=UTC)),
        make_registration(anne, "IN", datetime(2020, 3, 2, 7, tzinfo=UTC)),
        make_registration(anne, "OUT"),
    ]
    # As if committed: a table with pending (deferred) foreign key checks cannot be dropped.
    execute("SET CONSTRAINTS ALL IMMEDIATE")
    return stored


def test_it_lists_the_expired_months_without_dropping_them(old_history):
    listed = purge()
    assert "Would drop checkins_registration_p201903" in listed
    assert "Would drop checkins_registration_p201904" in listed
    assert "p201912" not in listed
    assert "Dry run: nothing dropped" in listed
    assert Registration.objects.count() == 4


def test_it_drops_only_the_months_older_than_seven_years(old_history):
    cutoff = retention_cutoff(7)
    expired = [p.name for p in partitions() if p.upper <= local_day_bounds(cutoff)[0]]
    assert {month_name(date(2019, 3, 1)), month_name(date(2019, 4, 1))} <= set(expired)
    out = purge("--apply")
    assert f"{len(expired)} months" in out
    names = {p.name for p in partitions()}
    assert not set(expired) & names
    assert month_name(date(2019, 4, 1)) not in names
    assert month_name(cutoff) in names
    kept = list(Registration.objects.order_by("id"))
    assert kept == old_history[2:]
    # Their keys are gone with them; the chain starts from the last one dropped.
    assert not RegistrationKey.objects.filter(registration_id__in=[r.pk for r in old_history[:2]])
    assert ChainCut.objects.get(worker=old_history[0].worker).hash == old_history[1].chain_hash
    assert verify()[0]


def test_it_finds_a_removed_first_registration_after_a_purge(old_history):
    purge("--apply")
    with transaction.atomic():
        execute("SET LOCAL session_replication_role = replica")
        execute("DELETE FROM checkins_registration WHERE id = %s", [old_history[2].pk])
    holds, out = verify()
    assert not holds
    assert f"BROKEN registration #{old_history[3].pk}" in out


def test_it_refuses_to_drop_anything_younger_than_seven_years_even_when_asked(old_history):
    with pytest.raises(CommandError, match="7 years at least"):
        purge("--apply", "--years", "3")
    # The database function itself refuses, whoever calls it.
    with pytest.raises(DatabaseError, match="kept 7 years"), transaction.atomic():
        execute("SELECT clao_drop_expired_partitions(%s)", [date.today()])
    assert Registration.objects.count() == 4


def test_it_lets_only_the_retention_role_drop_months(old_history, as_app_role):
    with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
        execute("SELECT clao_drop_expired_partitions(%s)", [retention_cutoff(7)])
    execute("RESET ROLE")
    make_db_role("clao_retention_test", "NOLOGIN")
    grant_retention_privileges(connection, "clao_retention_test")
    execute("SET ROLE clao_retention_test")
    try:
        # No table of its own to read or change: only the function.
        with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
            execute("SELECT count(*) FROM checkins_registration")
        dropped = execute("SELECT * FROM clao_drop_expired_partitions(%s)", [retention_cutoff(7)])
    finally:
        execute("RESET ROLE")
    assert ("checkins_registration_p201903",) in dropped
    assert Registration.objects.count() == 2


def test_it_refuses_changes_in_each_partition(anne, nsi):
    stored = make_registration(anne, "IN")
    # The partition's name comes from the catalog, not from input.
    partition = partition_of(stored)
    delete = f"DELETE FROM {partition} WHERE id = %s"  # noqa: S608
    update = f"UPDATE {partition} SET kind = 'OUT' WHERE id = %s"  # noqa: S608
    select = f"SELECT * FROM {partition} WHERE id = %s"  # noqa: S608
    for statement in (delete, update):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            execute(statement, [stored.pk])
    make_db_role(APP_ROLE, "NOLOGIN")
    grant_app_privileges(connection, APP_ROLE)
    execute(f"SET ROLE {APP_ROLE}")
    try:
        # The application reaches registrations through the parent table only.
        for statement, params in (
            (delete, [stored.pk]),
            (select, [stored.pk]),
            ("SELECT clao_ensure_registration_partitions(%s, 1)", [date(2010, 1, 1)]),
        ):
            with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
                execute(statement, params)
    finally:
        execute("RESET ROLE")
    assert Registration.objects.get(pk=stored.pk).kind == "IN"


# The worker's pages read only the months they need (checkins/windows.py), and what they show
# is what the whole table gives: checked against queries without any bound of time.


def reference_day(worker, day: date) -> tuple[list[int], set[int]]:
    """The day list's rows as the unbounded queries give them: the day's records newest first,
    and the record before the day, the one after it and the latest in force."""
    start, end = local_day_bounds(day)
    owned = Registration.objects.records().filter(worker=worker)
    shown = list(
        owned.filter(recorded_at__gte=start, recorded_at__lt=end)
        .order_by("-recorded_at", "-pk")
        .values_list("pk", flat=True)
    )
    around = {
        owned.filter(recorded_at__lt=start).order_by("-recorded_at", "-pk").first(),
        owned.filter(recorded_at__gte=end).order_by("recorded_at", "pk").first(),
        owned.in_force().order_by("-recorded_at", "-pk").first(),
    }
    return shown, {r.pk for r in around if r is not None} - set(shown)


def cancel(registration: Registration, inspector) -> Registration:
    return register(
        worker=registration.worker,
        kind=registration.kind,
        enterprise_number=registration.enterprise_number,
        place=Place.of(registration),
        source=Registration.Source.ONSS_APP,
        idempotency_key=str(uuid.uuid4()),
        acted_by=inspector,
        corrects=registration,
        correction_kind="cancel",
        correction_reason="not_worked",
    ).registration


def ago(**delta) -> datetime:
    return timezone.now() - timedelta(**delta)


@pytest.mark.parametrize(
    "history, days_ago",
    [
        # At work every day: every neighbour is in the windows.
        ([{"days": d, "hours": h} for d in range(0, 12) for h in (2, 9)], 0),
        # Away for four months: the latest record and the one before today are older.
        ([{"days": 130, "hours": 3}, {"days": 125}, {"days": 124}], 0),
        # A day half a year ago, the next registration four months after it.
        ([{"days": 200}, {"days": 183, "hours": 5}, {"days": 183, "hours": 2}, {"days": 60}], 183),
        # No history before the day shown.
        ([{"hours": 1}], 0),
        # An empty day two months ago between registrations a year before and today.
        ([{"days": 400}, {"hours": 1}], 61),
    ],
)
def test_the_day_list_shows_what_the_whole_table_gives(anne, nsi, history, days_ago):
    for index, delta in enumerate(sorted(history, key=lambda d: ago(**d))):
        make_registration(anne, "IN" if index % 2 == 0 else "OUT", ago(**delta))
    day = timezone.localdate() - timedelta(days=days_ago)
    day_rows, around = day_and_neighbours(anne, *local_day_bounds(day))
    assert ([r.pk for r in day_rows], {r.pk for r in around}) == reference_day(anne, day)


def test_the_latest_record_in_force_beyond_the_windows_is_not_a_cancelled_one(anne, nsi, inspector):
    older_in = make_registration(anne, "IN", ago(days=150))
    cancelled_in = make_registration(anne, "IN", ago(days=120))
    cancel(cancelled_in, inspector)
    start, end = local_day_bounds(timezone.localdate())
    day_rows, around = day_and_neighbours(anne, start, end)
    latest = max((r for r in around if not r.cancelled), key=lambda r: r.recorded_at)
    assert latest.pk == older_in.pk
    # The check-in's lock-and-read and the batch path: the same function, the same answer.
    assert execute("SELECT id FROM clao_worker_latest_in_force(%s)", [anne.pk]) == [(older_in.pk,)]
    # And what the quick OUT closes (one function for every page, checkins.services).
    assert latest_registration(anne).pk == older_in.pk


def test_the_form_proposes_what_the_whole_table_gives(anne, nsi, inspector):
    # Two registrations a month for ten months, each with its DDT number; an address now and
    # then; the latest one cancelled.
    stored = []
    for index in range(20):
        moment = ago(days=15 * index + 1)
        address = {}
        if index % 4 == 0:
            address = {"postal_code": "1000", "municipality": "Bruxelles", "street": f"Rue {index}"}
        stored.append(
            make_registration(
                anne,
                "IN" if index % 2 else "OUT",
                moment,
                ddt_number=f"1Y1002V9KLZ{index:02d}",
                **address,
            )
        )
    cancel(stored[0], inspector)
    in_force = Registration.objects.filter(worker=anne).in_force().order_by("-recorded_at", "-pk")
    assert history.recent_registrations(anne) == list(in_force[:15])
    addresses = (
        Registration.objects.filter(worker=anne)
        .exclude(postal_code="")
        .order_by("-recorded_at")
        .values_list("postal_code", "municipality", "street", "house_number", "box")[:200]
    )
    expected = list(dict.fromkeys(history.SavedAddress(*row) for row in addresses))[:10]
    assert history.saved_addresses(anne) == expected
    assert len(expected) == 5


def test_a_short_window_costs_no_query_more_for_a_worker_without_older_history(anne, nsi):
    make_registration(anne, "IN", ago(hours=3))
    # The window falls short (one registration): its query also read the first registration,
    # which says nothing is older.
    with CaptureQueriesContext(connection) as captured:
        assert len(history.recent_registrations(anne)) == 1
    assert len(captured) == 1


def test_it_keeps_each_workers_first_registration_and_moves_it_with_the_retention(old_history):
    first = FirstRegistration.objects.get(worker=old_history[0].worker)
    assert first.recorded_at == old_history[0].recorded_at
    purge("--apply")
    first.refresh_from_db()
    # Nothing of hers is older than the first month kept (2019's are dropped).
    assert first.recorded_at == local_day_bounds(date(2019, 5, 1))[0]
    assert first.recorded_at <= old_history[2].recorded_at


def test_a_resubmitted_form_leads_to_what_its_token_stored(client, anne, nsi):
    client.force_login(anne)
    token = str(uuid.uuid4())
    data = {"client_token": token, "enterprise_number": "0450905686", "ddt_choice": "unknown"}
    gps = {"latitude": "50.681805", "longitude": "4.834123", "accuracy": "12"}
    stored = client.post("/registrations/new/", data | gps | {"kind": "IN"})
    registration = Registration.objects.get(idempotency_key=token)
    assert stored["Location"] == f"/registrations/{registration.pk}/"
    # Sent again without its position (no longer valid): found through the key table.
    again = client.post("/registrations/new/", data | {"kind": "IN"})
    assert again.status_code == 302
    assert again["Location"] == f"/registrations/{registration.pk}/"


# With 8 years of months, as production has under the 7-year retention.


def partitions_scanned() -> dict[str, int]:
    """Scans (sequential or by index) this transaction started, per month of registrations."""
    return dict(
        execute(
            "SELECT relname, seq_scan + coalesce(idx_scan, 0) FROM pg_stat_xact_user_tables "
            "WHERE relname ~ '^checkins_registration_p[0-9]{6}$'"
        )
    )


def scans_and_queries(action) -> tuple[set[str], list[str]]:
    """The months the action scanned, and its queries."""
    before = partitions_scanned()
    with CaptureQueriesContext(connection) as captured:
        action()
    scanned = {name for name, n in partitions_scanned().items() if n != before.get(name, 0)}
    return scanned, [query["sql"] for query in captured.captured_queries]


def planned(sql: str) -> set[str]:
    plan = "\n".join(row[0] for row in execute(f"EXPLAIN {sql}"))
    return set(re.findall(r"\bcheckins_registration_p\d{6}\b(?!_)", plan))


@pytest.fixture(scope="class")
def eight_years_of_months(django_db_setup, django_db_blocker):
    """About 100 months: made once for these tests (committed), dropped after them."""
    with django_db_blocker.unblock():
        before = {p.name for p in partitions()}
        ensure_months(timezone.localdate() - timedelta(days=8 * 366))
        made = [p.name for p in partitions() if p.name not in before]
    yield len(before) + len(made)
    with django_db_blocker.unblock():
        for name in made:
            execute(f"ALTER TABLE checkins_registration DETACH PARTITION {name}")
            execute(f"DROP TABLE {name}")
        # Outside any test: this connection would otherwise stay open until the end, and keep
        # the test database from being dropped.
        connection.close()


@pytest.fixture
def mid_month(eight_years_of_months):
    """The 15th of this month at 10:00: every window is this one month."""
    moment = timezone.localtime().replace(day=15, hour=10, minute=0, second=0, microsecond=0)
    with time_machine.travel(moment, tick=False):
        yield moment


@pytest.mark.usefixtures("mid_month")
class TestEightYearsOfMonths:
    def test_there_are_about_a_hundred_months(self, eight_years_of_months):
        assert eight_years_of_months >= 8 * 12 + 12

    def test_the_day_list_plans_and_scans_one_month(
        self, client, anne, nsi, mid_month, monkeypatch
    ):
        this_month = {month_name(mid_month.date())}
        make_registration(anne, "IN", mid_month - timedelta(days=1, hours=2))
        make_registration(anne, "OUT", mid_month - timedelta(days=1))
        make_registration(anne, "IN", mid_month - timedelta(hours=1))
        client.force_login(anne)
        client.get("/")  # the session's first queries
        scanned, queries = scans_and_queries(lambda: client.get("/"))
        # The session, the worker, the day with its neighbours: one query, of one month, run
        # through its function (clao/prepared.py: the plan kept, the months pruned as it runs).
        assert len(queries) == 3
        assert len([sql for sql in queries if "clao_q_day_and_neighbours_" in sql]) == 1
        assert scanned == this_month
        # Where the function is not there yet, the query itself plans that one month.
        monkeypatch.setattr(prepared, "_INSTALLED", {})
        scanned, queries = scans_and_queries(lambda: client.get("/"))
        (day_list,) = [sql for sql in queries if "checkins_registration" in sql]
        assert planned(day_list) == this_month
        assert scanned == this_month

    def test_the_check_in_the_form_and_the_detail_read_only_their_months(
        self, client, anne, nsi, mid_month
    ):
        this_month = {month_name(mid_month.date())}
        # At work for weeks: the last 15 registrations are all in this month's window.
        for hours in range(16, 0, -1):
            make_registration(
                anne, "IN" if hours % 2 else "OUT", mid_month - timedelta(hours=hours)
            )
        # And once at an address (a worker without any reads their first one: one query more).
        address = {"postal_code": "1000", "municipality": "Bruxelles", "street": "Rue du Midi"}
        make_registration(anne, "OUT", mid_month - timedelta(minutes=30), **address)
        client.force_login(anne)
        token = hidden_inputs(client.get("/registrations/new/").content.decode())["client_token"]
        data = {"client_token": token, "enterprise_number": "0450905686", "ddt_choice": "unknown"}
        gps = {"latitude": "50.681805", "longitude": "4.834123", "accuracy": "12"}
        scanned, queries = scans_and_queries(
            lambda: client.post("/registrations/new/", data | gps | {"kind": "OUT"})
        )
        # The lock-and-read looked for the latest record in this month only.
        assert scanned == this_month
        assert len(queries) <= 4
        stored = Registration.objects.get(idempotency_key=token)

        scanned, queries = scans_and_queries(lambda: client.get(f"/registrations/{stored.pk}/"))
        assert scanned == this_month
        for sql in [sql for sql in queries if "checkins_registration " in sql]:
            assert planned(sql) == this_month

        scanned, queries = scans_and_queries(lambda: client.get("/registrations/new/"))
        assert len(queries) == 6
        # The numbers used this year (or in the last 30 days) read this year's months; the
        # rest reads this month.
        year_start = min(mid_month.date().replace(month=1, day=1), mid_month.date() - timedelta(30))
        this_year = {month_name(m) for m in months_between(year_start, mid_month.date())}
        assert scanned == this_year
        for sql in [sql for sql in queries if "checkins_registration " in sql]:
            assert planned(sql) in (this_month, this_year)
