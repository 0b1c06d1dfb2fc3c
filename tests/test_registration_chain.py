"""The tamper-evident chain and `manage.py verifyregistrations` (docs/security.md)."""

import os
import subprocess
import sys
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from checkins.chain import canonical, chain_hash, pg_float, values_of
from checkins.models import Registration, RegistrationChainHead
from checkins.services import register
from tests.factories import BRUSSELS_GPS, make_registration
from tests.saml import JAN

ROOT = Path(__file__).resolve().parent.parent


def when(day: int, hour: int) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def verify(*args: str) -> tuple[bool, str]:
    out = StringIO()
    try:
        call_command("verifyregistrations", *args, stdout=out)
    except CommandError as error:
        return False, out.getvalue() + str(error)
    return True, out.getvalue()


def tamper(sql: str, params) -> None:
    """What only the owner can do: switch the append-only trigger off, change, switch it on."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            "ALTER TABLE checkins_registration DISABLE TRIGGER checkins_registration_append_only"
        )
        cursor.execute(sql, params)
        cursor.execute(
            "ALTER TABLE checkins_registration ENABLE TRIGGER checkins_registration_append_only"
        )


@pytest.fixture
def annes_week(anne, nsi):
    return [
        make_registration(
            anne, "IN", when(23, 7), latitude="50.8", longitude="4.3", accuracy_m=12.5
        ),
        make_registration(
            anne,
            "OUT",
            when(23, 15),
            postal_code="1000",
            municipality="Bruxelles",
            street="Rue du Midi",
            house_number="100",
            box="b2",
        ),
        make_registration(anne, "IN", when(24, 7), enterprise_number="RO18547290"),
        make_registration(
            anne, "OUT", when(24, 16), latitude="-0.000001", longitude="4.3", accuracy_m=3.0
        ),
    ]


@pytest.mark.django_db
def test_it_links_each_registration_to_the_workers_previous_one(annes_week, other_worker):
    jans = make_registration(other_worker, "IN", when(24, 8))
    stored = list(Registration.objects.filter(worker=annes_week[0].worker).order_by("id"))
    assert [r.chain_previous for r in stored] == ["", *[r.chain_hash for r in stored[:-1]]]
    # What register() handed back is what the database computed (RETURNING).
    assert [r.chain_hash for r in annes_week] == [r.chain_hash for r in stored]
    # Python's canonical text gives the database's hash: an inspector can recompute it.
    for registration in stored:
        assert chain_hash(registration.chain_previous, values_of(registration)) == (
            registration.chain_hash
        )
    # Each worker has a chain of his own.
    assert jans.chain_previous == ""
    assert RegistrationChainHead.objects.get(worker=other_worker).head_hash == jans.chain_hash
    ok, output = verify()
    assert ok, output
    assert "5 registrations of 2 workers verified: every chain holds." in output


@pytest.mark.django_db
def test_it_finds_a_registration_changed_by_the_owner_with_the_trigger_off(annes_week):
    changed = annes_week[1]
    tamper("UPDATE checkins_registration SET street = 'Rue Neuve' WHERE id = %s", [changed.pk])
    ok, output = verify()
    assert not ok
    assert (
        f"BROKEN registration #{changed.pk} of worker 85.07.30-033.28, recorded 23/11/2026 "
        "16:00:00: its content no longer gives its stored hash" in output
    )
    assert "1 broken links" in output


@pytest.mark.django_db
def test_it_finds_a_change_whose_hash_was_recomputed(annes_week):
    # The forger recomputes the changed row's own hash: the next one no longer links to it.
    changed, following = annes_week[1], annes_week[2]
    changed.street = "Rue Neuve"
    forged = chain_hash(changed.chain_previous, values_of(changed))
    tamper(
        "UPDATE checkins_registration SET street = 'Rue Neuve', chain_hash = %s WHERE id = %s",
        [forged, changed.pk],
    )
    ok, output = verify()
    assert not ok
    assert f"BROKEN registration #{following.pk} " in output
    assert "does not link to the registration stored before it" in output


@pytest.mark.django_db
def test_it_finds_a_removed_registration(annes_week):
    tamper("DELETE FROM checkins_registration WHERE id = %s", [annes_week[1].pk])
    ok, output = verify()
    assert not ok
    assert f"BROKEN registration #{annes_week[2].pk} " in output


@pytest.mark.django_db
def test_it_finds_the_removal_of_the_last_registration(annes_week):
    tamper("DELETE FROM checkins_registration WHERE id = %s", [annes_week[3].pk])
    ok, output = verify()
    assert not ok
    assert f"BROKEN registration #{annes_week[2].pk} " in output
    assert "registrations stored after it were removed" in output


@pytest.mark.django_db
def test_it_verifies_one_worker_from_a_day(annes_week, other_worker):
    jans = make_registration(other_worker, "IN", when(24, 8))
    tamper("UPDATE checkins_registration SET kind = 'OUT' WHERE id = %s", [jans.pk])
    ok, output = verify("--worker", "85.07.30-033.28", "--since", "2026-11-24")
    assert ok, output
    assert "2 registrations of 1 workers verified: every chain holds." in output
    assert f"Chain head of 85.07.30-033.28: {annes_week[3].chain_hash}" in output
    ok, output = verify("--since", "2026-11-24")
    assert not ok
    assert f"BROKEN registration #{jans.pk} " in output


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--worker", "00000000000"), "--worker: '00000000000' is not a valid NISS."),
        (("--worker", JAN["niss"]), f"No worker with NISS {JAN['niss']!r}."),
        (("--since", "24/11/2026"), "--since: expected YYYY-MM-DD, got '24/11/2026'"),
    ],
)
def test_it_says_what_is_wrong_with_its_arguments(args, message):
    ok, output = verify(*args)
    assert not ok
    assert message in output


@pytest.mark.django_db
def test_it_chains_the_application_roles_registrations_without_letting_it_write_a_head(
    anne, nsi, as_app_role
):
    first = make_registration(anne, "IN")
    second = make_registration(anne, "OUT")
    assert second.chain_previous == first.chain_hash
    for statement in (
        "UPDATE checkins_registrationchainhead SET head_hash = ''",
        "DELETE FROM checkins_registrationchainhead",
        "INSERT INTO checkins_registrationchainhead VALUES (0, '', 0)",
    ):
        with (
            pytest.raises(DatabaseError, match="permission denied"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement)
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
    ok, output = verify()
    assert ok, output


@pytest.mark.django_db
def test_it_writes_doubles_as_postgresql_does():
    values = [12.0, 12.5, 0.1, 1e-4, 1e-5, 123456789012345.0, 1234567890123456.0, 1e15]
    values += [1e16, 1e17, 0.000123456, 3.0000000000000004, -0.0, 1e300, 5e-324, -1.5e-7]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL extra_float_digits = 1")
        cursor.execute("SELECT x::text FROM unnest(%s::float8[]) x", [values])
        written = [row[0] for row in cursor.fetchall()]
    assert [pg_float(value) for value in values] == written


def test_it_chains_the_embedded_demo_on_sqlite(tmp_path):
    # No trigger on SQLite: register() chains, and the verification holds there too.
    database = ROOT / "var" / "test" / f"chain-demo-{os.getpid()}.sqlite3"
    database.unlink(missing_ok=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith("CLAO_")}
    env |= {
        # Relative to the repository (clao/settings.py database_from_url).
        "DATABASE_URL": f"sqlite:///{database.relative_to(ROOT)}",
        "DEBUG": "1",
        "CLAO_DEV_IDP": "1",
        "CLAO_VAR_DIR": str(tmp_path),
    }

    def manage(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    for command in (["migrate", "--no-input"], ["loaddemo", "--today", "2026-11-27"]):
        result = manage(*command)
        assert result.returncode == 0, result.stderr
    result = manage("verifyregistrations")
    database.unlink(missing_ok=True)
    assert result.returncode == 0, result.stderr
    assert "registrations of 3 workers verified: every chain holds." in result.stdout


@pytest.mark.django_db
def test_it_chains_a_badge_swipe_and_a_correction_with_their_own_fields(
    annes_week, device, inspector
):
    # Version 2 covers the device, its swipe time and the correction: changing any of them,
    # or adding one to a version-1 registration, breaks the chain.
    swipe = register(
        worker=annes_week[0].worker,
        kind="IN",
        enterprise_number=annes_week[0].enterprise_number,
        place=BRUSSELS_GPS,
        source=Registration.Source.BADGE_READER,
        idempotency_key="swipe-1",
        key_scope=f"device:{device.pk}",
        device=device,
        swiped_at=timezone.now(),
    ).registration
    correction = register(
        worker=annes_week[0].worker,
        kind="IN",
        enterprise_number=annes_week[0].enterprise_number,
        place=BRUSSELS_GPS,
        source=Registration.Source.ONSS_APP,
        idempotency_key="correction-1",
        acted_by=inspector,
        corrects=annes_week[1],
        correction_kind="cancel",
        correction_reason="duplicate",
        reason="Registered twice",
    ).registration
    for registration in (swipe, correction):
        stored = Registration.objects.get(pk=registration.pk)
        assert canonical(stored.chain_previous, values_of(stored)).startswith(
            "clao-registration-v2\n"
        )
        assert chain_hash(stored.chain_previous, values_of(stored)) == stored.chain_hash
    assert canonical("", values_of(annes_week[0])).startswith("clao-registration-v1\n")
    ok, output = verify()
    assert ok, output

    tamper(
        "UPDATE checkins_registration SET swiped_at = swiped_at - interval '1 hour' WHERE id = %s",
        [swipe.pk],
    )
    tamper(
        "UPDATE checkins_registration SET device_id = %s WHERE id = %s",
        [device.pk, annes_week[0].pk],
    )
    ok, output = verify()
    assert not ok
    assert f"BROKEN registration #{swipe.pk} " in output
    assert f"BROKEN registration #{annes_week[0].pk} " in output


@pytest.mark.django_db
def test_it_lets_postgresql_inline_the_field_function_of_the_chain():
    """The trigger calls checkins_chain_field 21 times a row: inlined, it is an expression;
    not inlined, each call ran the SQL function executor (0.8 ms of CPU per registration)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN (VERBOSE, COSTS OFF) SELECT checkins_chain_field('name', relname::text) "
            "FROM pg_class"
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("SELECT checkins_chain_field('a', 'héllo'), checkins_chain_field('b', NULL)")
        values = cursor.fetchone()

    assert "checkins_chain_field" not in plan
    assert values == ("a=5:héllo\n", "b=-\n")
