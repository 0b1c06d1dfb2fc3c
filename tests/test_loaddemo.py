import uuid
from datetime import date, datetime, time, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from stdnum.be import vat as be_vat

from accounts.models import Person
from checkins.models import Registration
from checkins.services import latest_registration
from demo.people import DEMO_INSPECTOR, DEMO_PEOPLE, DEMO_STAFF, NEWCOMER
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
        person["niss"] for person in [*DEMO_PEOPLE, *DEMO_STAFF, DEMO_INSPECTOR]
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
    # Her smartphone IN is still open: "Vous arrêtez de travailler ?" offers its OUT.
    assert today[0].latitude is not None
    assert latest_registration(anne) == today[0]


def test_it_loads_a_night_shift_across_midnight():
    # Jan's night shift ends yesterday morning: that night (24 to 25 October) the clocks go back.
    today = date(2026, 10, 26)
    loaddemo("--today", today.isoformat())
    yesterday, before = today - timedelta(days=1), today - timedelta(days=2)
    night_in = (
        Registration.objects.on_local_day(before)
        .filter(kind="IN", recorded_at__gte=datetime.combine(before, time(20), BRUSSELS))
        .get()
    )
    night_out = (
        night_in.worker.registrations.on_local_day(yesterday)
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

    line = next(line for line in output.splitlines() if line.startswith("Demo badge reader ("))
    token = line.rsplit(" ", 1)[-1]
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


# Item 6 of issue 10: the README's demo table works whatever the hour of loading.

README_HOURS = [time(0, 20), time(2, 0), time(6, 30), time(12, 0), time(22, 50), time(23, 59)]


def login(client, first_name: str) -> None:
    # In French, whatever the demo person's language: the assertions read the French pages.
    person = worker(first_name)
    person.language = "fr"
    person.save()
    client.force_login(person)


@pytest.mark.parametrize("hour", README_HOURS, ids=lambda hour: hour.strftime("%H%M"))
def test_it_keeps_every_row_of_the_readme_demo_working_at_any_hour(client, hour):
    moment = datetime.combine(date(2026, 11, 29), hour, tzinfo=BRUSSELS)
    with time_machine.travel(moment, tick=False):
        loaddemo()
        today = moment.date()
        # Anne-Sophie: today's list shows the badge reader, the employer application and her
        # smartphone; "Vous arrêtez de travailler ?" closes her open IN.
        login(client, "Anne-Sophie")
        home = client.get("/").content.decode()
        for source in ("Badgeuse", "Application employeur", "Smartphone"):
            assert source in home
        assert "Vous arrêtez de travailler ?" in home.replace("\xa0", " ")
        assert {r.source for r in worker("Anne-Sophie").registrations.on_local_day(today)} == {
            "badge",
            "employer",
            "smartphone",
        }
        assert all(r.recorded_at <= moment for r in Registration.objects.all())
        # Jan: yesterday's night shift, whose OUT says which IN it closes.
        login(client, "Jan")
        yesterday = client.get(f"/?date={today - timedelta(days=1)}").content.decode()
        assert "Clôture l’IN du" in yesterday
        assert worker("Jan").contracts.values("employer").distinct().count() == 3


def test_it_reopens_the_demo_in_when_loaded_again_after_the_quick_out(client):
    moment = datetime(2026, 11, 29, 9, 0, tzinfo=BRUSSELS)
    with time_machine.travel(moment, tick=False):
        loaddemo()
        login(client, "Anne-Sophie")
        assert "Vous arrêtez de travailler ?" in client.get("/").content.decode().replace(
            "\xa0", " "
        )
        open_in = worker("Anne-Sophie").registrations.order_by("-recorded_at").first()
        client.post(
            "/registrations/quick-out/",
            {
                "client_token": str(uuid.uuid4()),
                "closes": open_in.pk,
                "latitude": "50.845",
                "longitude": "4.349",
                "accuracy": "9",
            },
        )
    assert worker("Anne-Sophie").registrations.order_by("-recorded_at").first().kind == "OUT"
    with time_machine.travel(moment + timedelta(hours=1), tick=False):
        loaddemo()
        login(client, "Anne-Sophie")
        home = client.get("/").content.decode().replace("\xa0", " ")
    assert "Vous arrêtez de travailler ?" in home
    # The next morning a reload places a new day, with its IN at work, and only once.
    with time_machine.travel(moment + timedelta(hours=21), tick=False):
        loaddemo()
        login(client, "Anne-Sophie")
        home = client.get("/").content.decode().replace("\xa0", " ")
        assert "Vous arrêtez de travailler ?" in home
        before = Registration.objects.count()
        loaddemo()
        assert Registration.objects.count() == before


def test_it_makes_the_demo_inspector_an_inspector_of_an_office():
    from inspection.roles import active_role

    loaddemo("--today", TODAY.isoformat())
    loaddemo("--today", TODAY.isoformat())
    inspector = Person.objects.get(niss=DEMO_INSPECTOR["niss"])
    assert active_role(inspector).office == "ONSS Bruxelles"
    assert inspector.inspector_roles.count() == 1
    assert not inspector.registrations.exists()
