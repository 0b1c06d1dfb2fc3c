"""Registrations partitioned by month, their upkeep and the 7-year retention (PostgreSQL).

checkins migration 0010, checkins/partitions.py, `manage.py ensurepartitions` and
`manage.py purgeregistrations`; docs/security.md ("Retention") and docs/scaling.md.
"""

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from checkins.models import ChainCut, Registration, RegistrationKey, local_day_bounds
from checkins.partitions import ensure_month, ensure_months, partitions, retention_cutoff
from checkins.services import person_scope, register
from clao.dbroles import grant_app_privileges, grant_retention_privileges
from tests.conftest import APP_ROLE, make_db_role
from tests.factories import BRUSSELS_GPS, make_registration


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
