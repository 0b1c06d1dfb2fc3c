from datetime import date, datetime, time, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from stdnum.be import vat as be_vat

from accounts.models import Person
from checkins.models import Registration
from demo.people import DEMO_PEOPLE, DEMO_STAFF, NEWCOMER
from employers.models import Contract, Employer, Mandate, WorkDeclaration

pytestmark = pytest.mark.django_db

BRUSSELS = ZoneInfo("Europe/Brussels")
TODAY = date(2026, 10, 25)  # the night shift then spans the autumn clock change


def loaddemo(*args) -> str:
    out = StringIO()
    call_command("loaddemo", *args, stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Person, Employer, Contract, WorkDeclaration, Registration, Mandate)
    }


def worker(first_name: str) -> Person:
    return Person.objects.get(first_name=first_name)


def test_it_changes_nothing_when_run_twice():
    loaddemo()
    first = counts()
    tokens = set(Registration.objects.values_list("idempotency_key", flat=True))
    output = loaddemo()
    assert counts() == first
    assert set(Registration.objects.values_list("idempotency_key", flat=True)) == tokens
    assert "Registrations: 0 created" in output


def test_it_is_idempotent_on_a_given_day():
    loaddemo("--today", TODAY.isoformat())
    first = counts()
    loaddemo("--today", TODAY.isoformat())
    assert counts() == first
    assert all(count > 0 for count in first.values())


def test_it_creates_the_demo_people_but_not_the_newcomer():
    loaddemo("--today", TODAY.isoformat())
    assert set(Person.objects.values_list("niss", flat=True)) == {
        person["niss"] for person in [*DEMO_PEOPLE, *DEMO_STAFF]
    }
    assert not Person.objects.filter(niss=NEWCOMER["niss"]).exists()
    assert not worker("Jan").has_usable_password()


def test_it_gives_each_demo_person_their_employers():
    loaddemo("--today", TODAY.isoformat())
    assert worker("Jan").contracts.values("employer").distinct().count() == 3
    assert worker("Anne-Sophie").contracts.count() == 1
    assert not worker("Maria").contracts.exists()
    assert not worker("Maria").registrations.exists()

    ana = worker("Ana").contracts.get()
    assert ana.kind == Contract.Kind.LIMOSA
    assert ana.employer.country != "BE"


def test_it_uses_valid_numbers_and_readable_links():
    loaddemo("--today", TODAY.isoformat())
    belgian = Employer.objects.filter(country="BE")
    assert belgian.count() >= 3
    assert all(be_vat.is_valid(employer.number) for employer in belgian)
    nsi = Employer.objects.get(link_token="nsi-demo")
    assert (nsi.number, nsi.name) == ("0450905686", "N.S.I.")
    for declaration in WorkDeclaration.objects.all():
        declaration.full_clean()


def test_it_registers_from_every_source():
    loaddemo("--today", TODAY.isoformat())
    registrations = Registration.objects.all()
    assert {r.source for r in registrations} == set(Registration.Source.values)
    assert all(r.employer_name == r.employer.name for r in registrations)
    assert all(r.enterprise_number == r.employer.number for r in registrations)
    # GPS positions and typed addresses; known and "not known" declarations.
    assert registrations.filter(latitude__isnull=False, accuracy_m__isnull=False).exists()
    assert registrations.filter(latitude__isnull=True).exclude(street="").exists()
    assert registrations.filter(ddt_number="").exists()
    assert registrations.filter(source="qr").exclude(ddt_number="").exists()
    for registration in registrations:
        registration.full_clean()


def test_it_shows_anne_sophie_today_from_badge_reader_employer_app_and_smartphone():
    loaddemo("--today", TODAY.isoformat())
    anne = worker("Anne-Sophie")
    today = list(anne.registrations.on_local_day(TODAY))
    assert [(r.kind, r.source) for r in today] == [
        ("IN", "smartphone"),
        ("OUT", "employer"),
        ("IN", "employer"),
        ("OUT", "badge"),
        ("IN", "badge"),
    ]
    assert today[0].recorded_at.astimezone(BRUSSELS).hour < 12
    assert today[0].latitude is not None


def test_it_loads_a_night_shift_across_midnight():
    loaddemo("--today", TODAY.isoformat())
    yesterday = TODAY - timedelta(days=1)
    night_in = (
        Registration.objects.on_local_day(yesterday)
        .filter(kind="IN", recorded_at__gte=datetime.combine(yesterday, time(20), BRUSSELS))
        .get()
    )
    night_out = (
        night_in.worker.registrations.on_local_day(TODAY)
        .filter(kind="OUT", employer=night_in.employer)
        .get()
    )
    # 22:00 to 06:00 is nine hours on the night the clocks go back.
    assert night_out.recorded_at - night_in.recorded_at == timedelta(hours=9)


def test_it_adds_only_the_new_day_when_run_the_next_day():
    loaddemo("--today", TODAY.isoformat())
    before = Registration.objects.count()
    tomorrow = TODAY + timedelta(days=1)
    loaddemo("--today", tomorrow.isoformat())
    # The earlier days already hold registrations: none is duplicated or mixed in.
    added = Registration.objects.on_local_day(tomorrow).count()
    assert added > 0
    assert Registration.objects.count() == before + added


def test_it_refuses_a_malformed_day():
    with pytest.raises(CommandError):
        loaddemo("--today", "26/10/2026")


def test_it_refuses_to_run_without_the_development_idp(settings):
    settings.CLAO_DEV_IDP = False
    with pytest.raises(CommandError):
        loaddemo()
    assert not Person.objects.exists()


def test_it_creates_one_demo_badge_reader_whose_printed_token_works():
    from django.test import Client

    from api.models import Device

    output = loaddemo()
    loaddemo()

    token = output.strip().splitlines()[-1].rsplit(" ", 1)[-1]
    assert Device.objects.count() == 1
    assert Device.objects.get().may_send_for.count() == Employer.objects.count()
    answer = Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/api/v1/presence-registrations")
    assert answer.status_code == 200


def test_it_gives_each_demo_employer_one_access_manager():
    loaddemo("--today", TODAY.isoformat())
    for employer in Employer.objects.all():
        managers = Mandate.objects.active().filter(employer=employer, role="manager")
        assert [m.person.niss for m in managers] == [
            p["niss"] for p in DEMO_STAFF if p["employer"] == employer.link_token
        ]
