"""The append-only record, enforced by PostgreSQL below the application (docs/security.md).

The suite connects as the test database's owner (a superuser). The application's role is
`clao_app_test` (tests/conftest.py), created inside each test's transaction (so rolled back
with it) and given its privileges by the product's own grant function; `SET ROLE` then makes
every statement run with that role's privileges only, as a login of the application would.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import translation

from checkins.models import Registration
from checkins.partitions import ensure_month
from checkins.services import RegistrationRefused, register
from clao.dbroles import grant_app_privileges, setup_roles
from tests.conftest import APP_ROLE, make_db_role
from tests.factories import BRUSSELS_GPS, make_registration

IN_2020 = datetime(2020, 3, 2, 8, 0, tzinfo=UTC)


def execute(sql: str, params=None):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def database_now() -> datetime:
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        return cursor.fetchone()[0]


def stored(anne) -> Registration:
    registration = make_registration(anne, "IN", datetime(2026, 11, 27, 8, tzinfo=UTC))
    # As if committed: no deferred foreign-key check pending (TRUNCATE would refuse for that).
    execute("SET CONSTRAINTS ALL IMMEDIATE")
    return registration


@pytest.mark.django_db
def test_it_refuses_truncate_even_to_the_owner(anne):
    registration = stored(anne)
    with pytest.raises(DatabaseError, match=r"append-only \(TRUNCATE refused\)"):
        execute("TRUNCATE checkins_registration CASCADE")
    assert Registration.objects.get().pk == registration.pk


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("statement", "refusal"),
    [
        ("UPDATE checkins_registration SET kind = 'OUT'", "permission denied"),
        ("DELETE FROM checkins_registration", "permission denied"),
        ("TRUNCATE checkins_registration", "permission denied"),
        (
            "ALTER TABLE checkins_registration DISABLE TRIGGER checkins_registration_append_only",
            "must be owner",
        ),
        ("ALTER TABLE checkins_registration DISABLE TRIGGER ALL", "must be owner"),
        ("DROP TRIGGER checkins_registration_append_only ON checkins_registration", "must be"),
        ("SET session_replication_role = replica", "permission denied"),
        ("SET LOCAL session_replication_role = replica", "permission denied"),
        ("ALTER TABLE checkins_registration OWNER TO clao_app_test", "must be owner"),
        ("CREATE TABLE checkins_shadow (id int)", "permission denied"),
    ],
)
def test_it_refuses_each_bypass_to_the_application_role(anne, statement, refusal):
    registration = stored(anne)
    with connection.cursor() as cursor:
        make_db_role(APP_ROLE, "NOLOGIN")
        grant_app_privileges(connection, APP_ROLE)
        cursor.execute(f"SET ROLE {APP_ROLE}")
        try:
            with pytest.raises(DatabaseError, match=refusal):
                execute(statement)
            # What the role can do: read, and the registration is untouched.
            cursor.execute("SELECT id, kind FROM checkins_registration")
            assert cursor.fetchall() == [(registration.pk, "IN")]
            cursor.execute("SHOW session_replication_role")
            assert cursor.fetchone() == ("origin",)
        finally:
            cursor.execute("RESET ROLE")


@pytest.mark.django_db
def test_it_dates_a_registration_of_the_application_role_with_the_database_clock(
    anne, nsi, as_app_role
):
    before = database_now()
    result = register(
        worker=anne,
        kind="IN",
        enterprise_number=nsi.number,
        place=BRUSSELS_GPS,
        source=Registration.Source.SMARTPHONE,
        idempotency_key="k",
    )
    after = database_now()
    row = Registration.objects.get()
    assert before <= row.recorded_at <= after
    # What register() hands back is what the database stored (RETURNING).
    assert result.registration.recorded_at == row.recorded_at


@pytest.mark.django_db
def test_it_refuses_a_time_given_through_the_application_role(anne, nsi, as_app_role):
    # The database refused the INSERT: a caller inside a transaction loses what it holds, so
    # this one, like a batch of a badge reader, gives register() a savepoint of its own.
    with pytest.raises(RegistrationRefused) as refused, transaction.atomic():
        register(
            worker=anne,
            kind="IN",
            enterprise_number=nsi.number,
            place=BRUSSELS_GPS,
            source=Registration.Source.SMARTPHONE,
            idempotency_key="k",
            recorded_at=IN_2020,
        )
    assert refused.value.code == "history_needs_owner"
    with translation.override("en"):
        assert str(refused.value.message) == (
            "Only the database owner's role may store a registration with a given time."
        )
    assert not Registration.objects.exists()


RAW_INSERT = (
    "INSERT INTO checkins_registration (worker_id, kind, {time_column} enterprise_number,"
    " employer_name, ddt_number, latitude, longitude, postal_code, municipality, street,"
    " house_number, box, source, key_scope, idempotency_key, reason)"
    " VALUES (%s, 'IN', {time_value} '0450905686', '', '', 50.8, 4.3, '', '', '', '', '',"
    " 'smartphone', 'raw', 'raw', '')"
)


@pytest.mark.django_db
def test_it_dates_a_raw_insert_of_the_application_role_with_the_database_clock(anne, as_app_role):
    with pytest.raises(DatabaseError, match="permission denied for table checkins_registration"):
        execute(RAW_INSERT.format(time_column="recorded_at,", time_value="%s,"), [anne.pk, IN_2020])
    assert not Registration.objects.exists()
    execute(RAW_INSERT.format(time_column="", time_value=""), [anne.pk])
    recorded_at = Registration.objects.get().recorded_at
    assert abs(recorded_at - database_now()) < timedelta(minutes=1)


@pytest.mark.django_db
def test_it_refuses_a_given_time_even_if_the_role_were_granted_the_column(anne):
    # The second wall: a mistaken grant of the column still does not let a time through.
    # (The month exists: what refuses the row is the clock's trigger, not a missing partition.)
    ensure_month(IN_2020)
    make_db_role(APP_ROLE, "NOLOGIN")
    grant_app_privileges(connection, APP_ROLE)
    execute(f"GRANT INSERT (recorded_at) ON checkins_registration TO {APP_ROLE}")
    execute(f"SET ROLE {APP_ROLE}")
    try:
        with pytest.raises(DatabaseError, match="recorded_at is set by the database"):
            execute(
                RAW_INSERT.format(time_column="recorded_at,", time_value="%s,"),
                [anne.pk, IN_2020],
            )
    finally:
        execute("RESET ROLE")
    assert not Registration.objects.exists()


@pytest.mark.django_db
def test_it_keeps_the_time_of_history_loaded_by_the_owner(anne):
    # The one path for history (demo data, an import): the owner's role, e.g. loaddemo.
    assert stored(anne).recorded_at == datetime(2026, 11, 27, 8, tzinfo=UTC)
    assert Registration.objects.get().recorded_at == datetime(2026, 11, 27, 8, tzinfo=UTC)


@pytest.mark.django_db
def test_it_grants_the_application_role_after_migrate(settings):
    role = "clao_app_test_migrate"
    settings.CLAO_DB_APP_ROLE = role
    settings.DATABASE_URL = f"postgres://{role}:secret@127.0.0.1:5432/clao"
    setup_roles(using="default")

    def may(table: str, privilege: str) -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT has_table_privilege(%s, %s, %s)", [role, table, privilege])
            return cursor.fetchone()[0]

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls"
            " FROM pg_roles WHERE rolname = %s",
            [role],
        )
        assert cursor.fetchone() == (True, False, False, False, False)
    assert may("checkins_registration", "SELECT")
    assert not may("checkins_registration", "INSERT")  # not every column: only these
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name FROM information_schema.column_privileges WHERE grantee = %s"
            " AND table_name = 'checkins_registration' AND privilege_type = 'INSERT'",
            [role],
        )
        insertable = {name for (name,) in cursor.fetchall()}
    assert {"worker_id", "kind", "idempotency_key", "reason"} <= insertable
    assert not insertable & {"id", "recorded_at", "chain_previous", "chain_hash"}
    for privilege in ("UPDATE", "DELETE", "TRUNCATE", "TRIGGER", "REFERENCES"):
        assert not may("checkins_registration", privilege), privilege
    assert may("accounts_person", "UPDATE")
    assert may("django_session", "DELETE")
    assert may("django_migrations", "SELECT")
    assert not may("django_migrations", "INSERT")


@pytest.mark.django_db
def test_it_runs_migrate_as_the_owner_and_the_rest_as_the_application():
    import os
    import subprocess
    import sys
    from pathlib import Path

    database = connection.settings_dict["NAME"]
    env = {key: value for key, value in os.environ.items() if not key.startswith("CLAO_")}
    env |= {
        "DEBUG": "1",
        # Nobody can log in with this one: only a command that uses the owner's URL succeeds.
        "DATABASE_URL": f"postgres://clao_nobody@127.0.0.1:5432/{database}",
        "DATABASE_OWNER_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
    }

    def manage(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=Path(__file__).resolve().parent.parent,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    migrate = manage("migrate", "--check")
    assert migrate.returncode == 0, migrate.stderr
    other = manage("showmigrations", "checkins")
    assert other.returncode != 0
    assert 'role "clao_nobody" does not exist' in other.stderr
