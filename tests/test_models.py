import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import translation

from accounts.models import Person
from checkins.models import AppendOnlyError, Registration
from checkins.partitions import ensure_month
from employers.ddt import parse_ddt
from employers.models import Employer, WorkDeclaration
from employers.numbers import EnterpriseNumber, parse_enterprise_number

BRUSSELS = ZoneInfo("Europe/Brussels")
UTC = ZoneInfo("UTC")


@pytest.fixture
def worker(db):
    return Person.objects.create_user("85.07.30-033.28", first_name="Anne-Sophie")


@pytest.fixture
def employer(db):
    employer = Employer(number="0450905686", name="N.S.I.")
    employer.full_clean()
    employer.save()
    return employer


def registration(worker, employer, **fields) -> Registration:
    values = {
        "worker": worker,
        "kind": Registration.Kind.IN,
        "enterprise_number": employer.number,
        "employer": employer,
        "employer_name": employer.name,
        "source": Registration.Source.SMARTPHONE,
        "latitude": Decimal("50.845060"),
        "longitude": Decimal("4.349540"),
        "accuracy_m": 12.0,
        "key_scope": "test",
        "idempotency_key": str(uuid.uuid4()),
    }
    if "recorded_at" in fields:
        # History: its month exists first (PostgreSQL's monthly partitions).
        ensure_month(fields["recorded_at"])
    return Registration(**(values | fields))


def assert_message(error: ValidationError, field: str | None, message: str) -> None:
    # English, whatever LANGUAGE_CODE is: the messages are lazy and translated when read.
    with translation.override("en"):
        messages = error.message_dict[field] if field else error.messages
        assert message in messages


# NISS / BIS numbers


@pytest.mark.django_db
def test_it_refuses_an_invalid_niss_with_a_message():
    worker = Person(niss="85073003329")
    with pytest.raises(ValidationError) as excinfo:
        worker.full_clean()
    assert_message(excinfo.value, "niss", "This is not a valid NISS or BIS number.")

    with pytest.raises(ValidationError) as excinfo:
        Person.objects.create_user("85073003329")
    assert_message(excinfo.value, None, "This is not a valid NISS or BIS number.")
    assert not Person.objects.exists()


@pytest.mark.django_db
def test_it_accepts_a_bis_number():
    worker = Person.objects.create_user("98472899765", first_name="Ana")
    assert Person.objects.get(pk=worker.pk).niss == "98472899765"


@pytest.mark.django_db
def test_it_stores_the_niss_compact(worker):
    assert Person.objects.get(pk=worker.pk).niss == "85073003328"
    assert worker.formatted_niss == "85.07.30-033.28"


# Enterprise numbers


@pytest.mark.parametrize("value", ["0450.905.686", "BE0450905686", "450905686", "be 0450 905 686"])
def test_it_parses_a_belgian_enterprise_number(value):
    assert parse_enterprise_number(value) == EnterpriseNumber("BE", "0450905686", True)


def test_it_refuses_an_invalid_belgian_number_with_a_message():
    with pytest.raises(ValidationError) as excinfo:
        parse_enterprise_number("0450.905.687")
    assert excinfo.value.code == "invalid_be"
    assert_message(excinfo.value, None, "This is not a valid Belgian enterprise number.")


def test_it_accepts_a_valid_foreign_vat_number_as_checked():
    assert parse_enterprise_number("FR 40 303 265 045") == EnterpriseNumber(
        "FR", "FR40303265045", True
    )


def test_it_accepts_a_country_without_checker_unchecked():
    # python-stdnum has no VAT module for the United States: nothing to check against.
    assert parse_enterprise_number("US123456789") == EnterpriseNumber("US", "US123456789", False)


@pytest.mark.parametrize("value", ["XX123", "ZZ1234567", "QQ 12 34 56"])
def test_it_refuses_a_prefix_that_is_no_country_of_a_vat_number(value):
    with pytest.raises(ValidationError) as excinfo:
        parse_enterprise_number(value)
    assert excinfo.value.code == "unknown_country"
    prefix = value[:2]
    assert_message(
        excinfo.value,
        None,
        f"{prefix} is not the country code of a VAT number. Start a foreign VAT number with "
        "its country code, for example FR or NL.",
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # Greece's VAT prefix is EL (its ISO code is GR); Northern Ireland's is XI.
        ("EL 094 259 216", EnterpriseNumber("EL", "EL094259216", True)),
        ("XI980780684", EnterpriseNumber("XI", "XI980780684", True)),
        ("NL004495445B01", EnterpriseNumber("NL", "NL004495445B01", True)),
        ("CHE-116.281.710 MWST", EnterpriseNumber("CH", "CHE116281710MWST", True)),
        # Countries python-stdnum knows without a VAT checker: kept as typed, unchecked.
        ("ZA4123456789", EnterpriseNumber("ZA", "ZA4123456789", False)),
        ("UA12345678", EnterpriseNumber("UA", "UA12345678", False)),
    ],
)
def test_it_knows_the_eu_vat_prefixes_and_python_stdnum_countries(value, expected):
    assert parse_enterprise_number(value) == expected


@pytest.mark.parametrize("value", ["EL094259217", "XI980780685", "DE12345"])
def test_it_checks_the_number_of_a_country_with_a_checker(value):
    with pytest.raises(ValidationError) as excinfo:
        parse_enterprise_number(value)
    assert excinfo.value.code == "invalid_vat"


def test_it_refuses_an_invalid_foreign_vat_number():
    with pytest.raises(ValidationError) as excinfo:
        parse_enterprise_number("FR40303265046")
    assert excinfo.value.code == "invalid_vat"
    assert_message(excinfo.value, None, "This is not a valid VAT number for that country.")


@pytest.mark.django_db
def test_it_normalises_the_employer_number_in_full_clean():
    belgian = Employer(number="BE 0450.905.686", name="N.S.I.")
    belgian.full_clean()
    assert (belgian.country, belgian.number) == ("BE", "0450905686")

    foreign = Employer(number="fr40 303 265 045", name="Propreté de France")
    foreign.full_clean()
    assert (foreign.country, foreign.number) == ("FR", "FR40303265045")


def test_it_displays_an_enterprise_number():
    assert Employer(country="BE", number="0450905686").display_number == "0450.905.686"
    assert Employer(country="FR", number="FR40303265045").display_number == "FR40303265045"


@pytest.mark.django_db
def test_it_refuses_an_employer_with_an_invalid_number():
    with pytest.raises(ValidationError):
        Employer(number="0450905687", name="Nobody").full_clean()


# Declarations of works (DDT)


def test_it_accepts_a_valid_ddt_number():
    assert parse_ddt("1Y1002V9KLZ6Z") == "1Y1002V9KLZ6Z"


def test_it_normalises_a_lower_case_ddt_number_with_spaces():
    assert parse_ddt(" 1y10 02v9 klz6z ") == "1Y1002V9KLZ6Z"


@pytest.mark.parametrize(
    "value", ["1Y1002V9KLZ6", "1Y1002V9KLZ6ZZ", "1Y1002V9KLZ6I", "1Y1OO2V9KLZ6Z"]
)
def test_it_refuses_a_ddt_number_of_wrong_length_or_with_i_or_o(value):
    with pytest.raises(ValidationError) as excinfo:
        parse_ddt(value)
    assert excinfo.value.code == "invalid_ddt"
    assert_message(
        excinfo.value,
        None,
        "A declaration number has 13 characters: digits and letters, without I or O.",
    )


def work_declaration(employer, number) -> WorkDeclaration:
    return WorkDeclaration(
        number=number,
        employer=employer,
        postal_code="1000",
        municipality="Bruxelles",
        street="Rue du Midi",
        house_number="100",
    )


@pytest.mark.django_db
def test_it_refuses_a_work_declaration_with_a_bad_number(employer):
    declaration = work_declaration(employer, "1Y1002V9KLZ6O")
    with pytest.raises(ValidationError) as excinfo:
        declaration.full_clean()
    assert "number" in excinfo.value.message_dict

    # The database refuses it too, for whatever skips full_clean.
    with pytest.raises(IntegrityError), transaction.atomic():
        declaration.save()


@pytest.mark.django_db
def test_it_stores_a_valid_work_declaration(employer):
    declaration = work_declaration(employer, "1Y1002V9KLZ6Z")
    declaration.full_clean()
    declaration.save()
    assert WorkDeclaration.objects.get().number == "1Y1002V9KLZ6Z"


# Registrations: an append-only legal record


@pytest.fixture
def stored(worker, employer):
    stored = registration(worker, employer)
    stored.full_clean()
    stored.save()
    return stored


@pytest.mark.django_db
def test_it_cannot_update_a_stored_registration(stored):
    stored.kind = Registration.Kind.OUT
    with pytest.raises(AppendOnlyError):
        stored.save()
    assert Registration.objects.get(pk=stored.pk).kind == Registration.Kind.IN


@pytest.mark.django_db
def test_it_cannot_update_or_delete_registrations_through_a_queryset(stored):
    with pytest.raises(AppendOnlyError):
        Registration.objects.filter(pk=stored.pk).update(kind=Registration.Kind.OUT)
    with pytest.raises(AppendOnlyError):
        Registration.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        Registration.objects.update(kind=Registration.Kind.OUT)
    assert Registration.objects.get(pk=stored.pk).kind == Registration.Kind.IN


@pytest.mark.django_db
def test_it_cannot_delete_a_registration(stored):
    with pytest.raises(AppendOnlyError):
        stored.delete()
    assert Registration.objects.filter(pk=stored.pk).exists()


@pytest.mark.django_db
def test_it_refuses_a_duplicate_key_in_one_scope(stored, worker, employer):
    duplicate = registration(
        worker, employer, key_scope=stored.key_scope, idempotency_key=stored.idempotency_key
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()
    assert Registration.objects.count() == 1


@pytest.mark.django_db
def test_it_refuses_a_registration_without_a_place(worker, employer):
    nowhere = registration(worker, employer, latitude=None, longitude=None, accuracy_m=None)
    with pytest.raises(ValidationError) as excinfo:
        nowhere.full_clean()
    assert_message(
        excinfo.value, "__all__", "Give the place of work: your GPS position or an address."
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        nowhere.save()


@pytest.mark.django_db
def test_it_accepts_a_free_address_and_an_unknown_ddt(worker, employer):
    typed = registration(
        worker,
        employer,
        latitude=None,
        longitude=None,
        accuracy_m=None,
        postal_code="1060",
        municipality="Saint-Gilles",
        street="Place Victor Horta",
        house_number="11",
        ddt_number="",
    )
    typed.full_clean()
    typed.save()
    assert not Registration.objects.get().has_gps


@pytest.mark.django_db
def test_it_refuses_a_registration_with_a_malformed_ddt_in_the_database(worker, employer):
    with pytest.raises(IntegrityError), transaction.atomic():
        registration(worker, employer, ddt_number="1Y1002V9KLZ6O").save()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("day", "hours"),
    [
        (date(2026, 3, 29), 23),  # clocks go from 02:00 to 03:00
        (date(2026, 10, 25), 25),  # clocks go from 03:00 back to 02:00
        (date(2026, 6, 15), 24),
    ],
)
def test_it_returns_each_registration_once_on_its_local_day(worker, employer, day, hours):
    first_day, last_day = day - timedelta(days=1), day + timedelta(days=1)
    window_start = datetime.combine(first_day, time.min, tzinfo=BRUSSELS)
    window_end = datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=BRUSSELS)
    # One registration every half hour (in UTC, so none is skipped or doubled by the clock
    # change), from two hours before the window to two hours after it.
    begin = window_start.astimezone(UTC) - timedelta(hours=2)
    moments = []
    while begin < window_end + timedelta(hours=2):
        moments.append(begin)
        begin += timedelta(minutes=30)
    stored = Registration.objects.bulk_create(
        registration(worker, employer, recorded_at=moment) for moment in moments
    )

    found = [
        pk
        for d in (first_day, day, last_day)
        for pk in Registration.objects.on_local_day(d).values_list("pk", flat=True)
    ]
    # Each registration of the three days is found on exactly one of them.
    assert sorted(found) == sorted(
        r.pk for r in stored if window_start <= r.recorded_at < window_end
    )
    on_day = Registration.objects.on_local_day(day)
    assert on_day.count() == hours * 2
    assert {r.recorded_at.astimezone(BRUSSELS).date() for r in on_day} == {day}


@pytest.mark.django_db
@pytest.mark.parametrize("day", [date(2026, 3, 29), date(2026, 10, 25)])
def test_it_puts_a_registration_at_half_past_midnight_on_that_day(worker, employer, day):
    moment = datetime.combine(day, time(0, 30), tzinfo=BRUSSELS)
    stored = registration(worker, employer, recorded_at=moment)
    stored.save()
    assert list(Registration.objects.on_local_day(day)) == [stored]
    assert not Registration.objects.on_local_day(day - timedelta(days=1)).exists()


@pytest.mark.django_db
def test_it_puts_both_repeated_hours_of_the_autumn_change_on_that_day(worker, employer):
    # 02:30 happens twice on 25 October 2026: in summer time (fold=0), then in winter time.
    first = datetime(2026, 10, 25, 2, 30, tzinfo=BRUSSELS)
    second = first.replace(fold=1)
    assert second.astimezone(UTC) - first.astimezone(UTC) == timedelta(hours=1)
    Registration.objects.bulk_create(
        [registration(worker, employer, recorded_at=m) for m in (first, second)]
    )
    assert Registration.objects.on_local_day(date(2026, 10, 25)).count() == 2


def test_it_refuses_raw_sql_changes_to_a_registration_on_postgresql(anne):
    from django.db import DatabaseError, connection, transaction

    from checkins.models import Registration

    registration = Registration.objects.create(
        worker=anne,
        kind=Registration.Kind.IN,
        enterprise_number="0450905686",
        latitude="50.681805",
        longitude="4.834123",
        source=Registration.Source.SMARTPHONE,
    )
    for statement in (
        "UPDATE checkins_registration SET kind = 'OUT' WHERE id = %s",
        "DELETE FROM checkins_registration WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement, [registration.pk])
    assert Registration.objects.get(pk=registration.pk).kind == "IN"
