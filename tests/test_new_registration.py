import gzip
import re
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone
from pytest_django.asserts import assertInHTML

from accounts.models import Person
from checkins.models import Registration
from checkins.partitions import ensure_month
from employers.models import Contract, Employer, WorkDeclaration
from tests.factories import make_registration
from tests.pages import (
    contains_html,
    field_value,
    is_hidden,
    options,
    selected,
    suggested_kind,
    tree,
)
from tests.saml import hidden_inputs

pytestmark = pytest.mark.django_db

BRUSSELS = ZoneInfo("Europe/Brussels")
URL = "/registrations/new/"
GPS = {"latitude": "50.681805", "longitude": "4.834123", "accuracy": "12"}
ADDRESS = {"postal_code": "1000", "municipality": "Bruxelles", "street": "Rue du Midi"}


@pytest.fixture(autouse=True)
def _geo(geo_data):
    pass


@pytest.fixture
def nsi(db):
    return Employer.objects.create(number="0450905686", name="N.S.I.", link_token="nsi")


@pytest.fixture
def other(db):
    return Person.objects.create_user("92021415810", first_name="Jan")


def employer(number: str, name: str) -> Employer:
    return Employer.objects.create(number=number, name=name)


def register(worker, when: datetime, kind="IN", **fields) -> Registration:
    return make_registration(worker, kind, when, **fields)


def assert_refused(response, message: str, field: str) -> None:
    """A refusal: the form again (400), the message next to its field, nothing stored."""
    assert response.status_code == 400
    page = text(response)
    error = page[page.index(f'id="{field}-error"') :].split("</p>")[0]
    assert message in error
    assert not Registration.objects.exists()


def text(response) -> str:
    """The page, with French typography's non-breaking spaces read as spaces."""
    return response.content.decode().replace("\xa0", " ").replace("\u202f", " ")


def form_page(client, url: str = URL) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return text(response)


def submit(client, url: str = URL, **data):
    token = hidden_inputs(form_page(client, url))["client_token"]
    values = {"client_token": token, "enterprise_number": "0450905686", "ddt_choice": "unknown"}
    return client.post(url, values | data)


def qr_form_url(client, number: str = "1Y1002V9KLZ6Z") -> str:
    """Where the QR code of a poster leads: the form, with its lock in the address."""
    response = client.get(f"/qr/{number}/")
    assert response.status_code == 302
    return response["Location"]


def test_it_requires_login(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/registrations/new/"


def test_it_shows_the_server_time_not_editable(client, anne):
    client.force_login(anne)
    moment = datetime(2024, 7, 1, 13, 33, tzinfo=BRUSSELS)
    with time_machine.travel(moment, tick=False):
        page = form_page(client)
    assert "<output>01/07/24, 13:33</output>" in page
    assert 'name="recorded_at"' not in page


def test_it_stores_the_server_time_whatever_the_browser_sends(client, anne, nsi):
    client.force_login(anne)
    moment = datetime(2026, 11, 29, 6, 0, tzinfo=BRUSSELS)
    with time_machine.travel(moment, tick=False):
        submit(client, kind="IN", recorded_at="2020-01-01T00:00", **GPS)
    assert Registration.objects.get().recorded_at == moment


def test_it_fills_the_only_employer(client, anne, nsi):
    Contract.objects.create(worker=anne, employer=nsi, kind="DIMONA", start_date=date(2025, 1, 1))
    client.force_login(anne)
    page = form_page(client)
    assert field_value(page, "enterprise_number") == "0450.905.686"
    assert "0450.905.686 - N.S.I." in page


def test_it_lists_at_most_five_employers_recent_ones_first(client, anne):
    employers = [
        employer(number, f"Employer {index}")
        for index, number in enumerate(
            ["0450905686", "0755123422", "0812345603", "0689123434", "0202239951", "0403170701"]
        )
    ]
    for item in employers[:5]:
        Contract.objects.create(worker=anne, employer=item, kind="DIMONA", start_date=date.today())
    recent = employers[5]
    register(
        anne,
        timezone.now() - timedelta(days=2),
        enterprise_number=recent.number,
        employer=recent,
        latitude=Decimal(50),
        longitude=Decimal(4),
    )
    client.force_login(anne)
    page = form_page(client)
    radios = re.findall(r'<input type="radio" name="employer" value="([\d.]+)"', page)
    assert len(radios) == 5
    # Used 2 days ago: first, before the employers known only from contracts.
    assert radios[0] == employers[5].display_number
    assert "0403.170.701 - Employer 5</span>" in page
    assert field_value(page, "enterprise_number") == ""
    assert tree(page).xpath('//input[@name="employer"][@checked]') == []


def test_it_proposes_numbers_used_in_30_days_whether_or_not_the_employer_is_known(
    client, anne, nsi
):
    # Six numbers in the last 30 days (the oldest one first): NSI is known, the others not.
    numbers = ["0450905686", "0755123422", "0812345603", "0689123434", "0202239951", "0403170701"]
    for days_ago, number in zip([20, 10, 8, 6, 4, 2], numbers, strict=True):
        register(
            anne,
            timezone.now() - timedelta(days=days_ago),
            enterprise_number=number,
            employer=nsi if number == nsi.number else None,
            employer_name="N.S.I." if number == nsi.number else "",
        )
    client.force_login(anne)
    page = form_page(client)
    radios = re.findall(r'<input type="radio" name="employer" value="([\d.]+)"', page)
    # The 5 most recent, newest first: the oldest (NSI, 20 days ago) no longer fits.
    assert radios == [
        "0403.170.701",
        "0202.239.951",
        "0689.123.434",
        "0812.345.603",
        "0755.123.422",
    ]
    assert "<span>0755.123.422</span>" in page
    response = submit(client, kind="IN", enterprise_number="", employer="0812.345.603", **GPS)
    assert response.status_code == 302
    assert Registration.objects.latest("recorded_at").enterprise_number == "0812345603"


def test_it_names_a_known_employer_in_the_history(client, anne, nsi):
    register(anne, timezone.now() - timedelta(days=3), employer=nsi, employer_name="N.S.I.")
    register(anne, timezone.now() - timedelta(days=2), enterprise_number="0755123422")
    client.force_login(anne)
    page = form_page(client)
    assert "<span>0755.123.422</span>" in page
    assert "<span>0450.905.686 - N.S.I.</span>" in page


def test_it_takes_the_employer_tapped_in_the_list(client, anne, nsi):
    other = employer("0755123422", "Net & Propre SRL")
    for item in (nsi, other):
        Contract.objects.create(worker=anne, employer=item, kind="DIMONA", start_date=date.today())
    client.force_login(anne)
    response = submit(client, kind="IN", enterprise_number="", employer="0755.123.422", **GPS)
    assert response.status_code == 302
    registration = Registration.objects.get()
    assert (registration.enterprise_number, registration.employer) == ("0755123422", other)


def test_it_says_a_typed_number_wins_over_a_ticked_employer(client, anne, nsi):
    other = employer("0755123422", "Net & Propre SRL")
    for item in (nsi, other):
        Contract.objects.create(worker=anne, employer=item, kind="DIMONA", start_date=date.today())
    client.force_login(anne)
    assert is_hidden(form_page(client), "typed-wins")
    # Shown again after an error (no DDT choice): both are filled, the page says which counts.
    response = submit(
        client, kind="IN", employer="0755.123.422", enterprise_number="0450905686", ddt_choice=""
    )
    assert response.status_code == 400
    page = text(response)
    assert not is_hidden(page, "typed-wins")
    assert "C’est le numéro tapé qui sera enregistré, pas l’employeur coché." in page


def test_it_asks_to_choose_among_several_employers(client, anne, nsi):
    other = employer("0755123422", "Net & Propre SRL")
    for item in (nsi, other):
        Contract.objects.create(worker=anne, employer=item, kind="DIMONA", start_date=date.today())
    client.force_login(anne)
    response = submit(client, kind="IN", enterprise_number="", **GPS)
    assert_refused(
        response, "Choisissez votre employeur ou encodez son numéro d’entreprise.", "enterprise"
    )


def test_it_starts_with_the_employer_of_the_personal_link(client, anne, nsi):
    client.force_login(anne)
    client.get("/l/nsi/")
    assert 'value="0450.905.686"' in form_page(client)


@pytest.mark.parametrize("typed", ["0450.905.686", "BE0450905686", "450905686", "be 0450 905 686"])
def test_it_accepts_every_usual_spelling_of_an_enterprise_number(client, anne, nsi, typed):
    client.force_login(anne)
    response = submit(client, kind="IN", enterprise_number=typed, **GPS)
    assert response.status_code == 302
    registration = Registration.objects.get()
    assert registration.enterprise_number == "0450905686"
    assert registration.employer == nsi
    assert registration.employer_name == "N.S.I."


def test_it_refuses_a_wrong_enterprise_number_next_to_the_field_keeping_the_rest(client, anne):
    client.force_login(anne)
    response = submit(
        client, kind="IN", enterprise_number="0450.905.687", ddt_number="1y1002v9klz6z", **ADDRESS
    )
    page = text(response)
    assert response.status_code == 400
    assert 'id="enterprise-error"' in page
    assert "numéro d’entreprise belge valide" in page
    assert 'value="0450.905.687"' in page
    assert 'value="1y1002v9klz6z"' in page
    assert 'value="Rue du Midi"' in page
    assert not Registration.objects.exists()


def test_it_requires_an_enterprise_number(client, anne):
    client.force_login(anne)
    response = submit(client, kind="IN", enterprise_number="", **GPS)
    assert_refused(response, "Encodez le numéro d’entreprise.", "enterprise")


def test_it_accepts_a_checked_foreign_vat_number(client, anne):
    client.force_login(anne)
    response = submit(client, kind="IN", enterprise_number="FR 40 303 265 045", **GPS)
    assert response.status_code == 302
    assert Registration.objects.get().enterprise_number == "FR40303265045"


def test_it_accepts_an_uncheckable_foreign_number_with_a_note(client, anne):
    client.force_login(anne)
    response = submit(client, kind="IN", enterprise_number="US123456789", **GPS)
    page = text(client.get(response["Location"]))
    assert Registration.objects.get().enterprise_number == "US123456789"
    assert "n’a pas pu être vérifié" in page


def test_it_refuses_a_foreign_number_without_country(client, anne):
    client.force_login(anne)
    response = submit(client, kind="IN", enterprise_number="XYZ", **GPS)
    assert_refused(
        response,
        "Commencez un numéro de TVA étranger par son code pays, par exemple FR ou NL.",
        "enterprise",
    )


@pytest.mark.parametrize("typed", ["XX123", "ZZ1234567"])
def test_it_refuses_a_foreign_number_of_no_known_country_before_storing(client, anne, typed):
    client.force_login(anne)
    response = submit(client, kind="IN", enterprise_number=typed, **GPS)
    assert response.status_code == 400
    assert not Registration.objects.exists()
    page = text(response)
    assert f"{typed[:2]} n’est pas le code pays d’un numéro de TVA." in page
    # What was typed stays in the field, to be corrected.
    assert f'value="{typed}"' in page


def test_it_refuses_an_invalid_number_of_a_country_with_a_checker(client, anne):
    client.force_login(anne)
    response = submit(client, kind="IN", enterprise_number="EL094259217", **GPS)
    assert response.status_code == 400
    assert not Registration.objects.exists()
    assert "Ce n’est pas un numéro de TVA valide pour ce pays." in text(response)


def test_it_stores_a_greek_number_with_its_vat_prefix(client, anne):
    client.force_login(anne)
    response = submit(client, kind="IN", enterprise_number="EL094259216", **GPS)
    assert response.status_code == 302
    assert Registration.objects.get().enterprise_number == "EL094259216"


def test_it_lists_the_ddt_numbers_of_the_last_15_registrations_newest_first(client, anne):
    now = timezone.now()
    numbers = [f"1Y1002V9KLZ{index:02d}" for index in range(17)]
    for index, number in enumerate(numbers):
        register(
            anne,
            now - timedelta(hours=100 - index),
            ddt_number=number,
            latitude=Decimal(50),
            longitude=Decimal(4),
        )
    register(
        anne,
        now - timedelta(hours=1),
        ddt_number=numbers[-1],
        latitude=Decimal(50),
        longitude=Decimal(4),
    )
    client.force_login(anne)
    page = form_page(client)
    shown = [number for number in numbers if number in options(page, "ddt_choice")]
    # The last 15 registrations hold 14 different numbers (the newest is a repeat).
    assert shown == numbers[3:]
    assert page.index(numbers[-1]) < page.index(numbers[-2])
    assert contains_html(page, '<option value="unknown">non connu</option>')


def test_it_makes_not_known_an_explicit_choice(client, anne, nsi):
    client.force_login(anne)
    response = submit(client, kind="IN", ddt_choice="", **GPS)
    assert response.status_code == 400
    assert "« non connu »" in text(response)
    submit(client, kind="IN", ddt_choice="unknown", **GPS)
    assert Registration.objects.get().ddt_number == ""


def test_it_normalises_and_checks_a_typed_ddt_number(client, anne, nsi):
    client.force_login(anne)
    response = submit(client, kind="IN", ddt_choice="other", ddt_number="1y10 02v9 klz6i", **GPS)
    assert response.status_code == 400
    assert "13 caractères" in text(response)
    submit(client, kind="IN", ddt_choice="other", ddt_number="1y10 02v9 klz6z", **GPS)
    assert Registration.objects.get().ddt_number == "1Y1002V9KLZ6Z"


def test_it_locks_the_ddt_number_of_a_qr_code_and_stores_the_source(client, anne, nsi):
    WorkDeclaration.objects.create(number="1Y1002V9KLZ6Z", employer=nsi, **ADDRESS)
    client.force_login(anne)
    url = qr_form_url(client)
    # A different number posted by a crafted form is ignored: the QR code's number wins.
    response = submit(client, url, kind="IN", ddt_choice="other", ddt_number="AAAAAAAAAAAAA", **GPS)
    assert response.status_code == 302
    registration = Registration.objects.get()
    assert registration.ddt_number == "1Y1002V9KLZ6Z"
    assert registration.source == Registration.Source.QR_CODE


def test_it_keeps_the_qr_lock_to_the_form_reached_from_the_qr_code(client, anne, nsi):
    WorkDeclaration.objects.create(number="1Y1002V9KLZ6Z", employer=nsi, **ADDRESS)
    client.force_login(anne)
    url = qr_form_url(client)
    assert "1Y1002V9KLZ6Z" in url
    locked = form_page(client, url)
    assert '<output aria-labelledby="ddt-label" class="locked">1Y1002V9KLZ6Z</output>' in locked
    # "This is not my site": the same form without the lock, with the usual DDT choice.
    assert f'<a href="{URL}">Ce n’est pas mon chantier</a>' in locked
    # Back to the list, then "New registration": no lock, and the source is the smartphone.
    plain = form_page(client)
    assert 'class="locked"' not in plain and 'name="ddt_choice"' in plain
    response = submit(client, kind="IN", **GPS)
    assert response.status_code == 302
    registration = Registration.objects.get()
    assert (registration.ddt_number, registration.source) == ("", "smartphone")


def test_it_refuses_a_crafted_qr_lock_of_an_unknown_poster(client, anne, nsi):
    client.force_login(anne)
    response = client.post(f"{URL}?qr=AAAAAAAAAAAAA", {"kind": "IN", **GPS})
    assert response.status_code == 404
    assert not Registration.objects.exists()
    assert "n’est pas connu" in text(response)


def test_it_stores_gps_coordinates_and_shows_them_as_the_manual(client, anne, nsi):
    client.force_login(anne)
    response = submit(client, kind="IN", **GPS)
    registration = Registration.objects.get()
    assert (registration.latitude, registration.longitude) == (
        Decimal("50.681805"),
        Decimal("4.834123"),
    )
    assert registration.accuracy_m == 12
    assert registration.postal_code == ""
    page = text(client.get(response["Location"]))
    assert "X: 4.834123 Y: 50.681805" in page


def test_it_shows_the_free_address_part_without_javascript(client, anne):
    client.force_login(anne)
    page = form_page(client)
    assert '<div id="free-address">' in page
    assert "<noscript>" in page
    assert '<a href="/help/#geolocation">' in page
    assert 'name="postal_code"' in page and 'name="street"' in page


def test_it_stores_a_free_address_and_learns_its_street(client, anne, nsi):
    from geo.models import Street

    client.force_login(anne)
    response = submit(
        client,
        kind="IN",
        postal_code="1050",
        municipality="elsene",
        street="Rue Inventée",
        house_number="12",
        box="3",
    )
    assert response.status_code == 302
    registration = Registration.objects.get()
    assert (registration.postal_code, registration.municipality) == ("1050", "Ixelles")
    assert (registration.street, registration.house_number, registration.box) == (
        "Rue Inventée",
        "12",
        "3",
    )
    assert Street.objects.filter(name="Rue Inventée", source="learned").exists()


@pytest.mark.parametrize(
    ("address", "field", "message"),
    [
        ({"postal_code": "", "municipality": "", "street": ""}, "postal_code", "code postal"),
        (
            {"postal_code": "10", "municipality": "Bruxelles", "street": "X"},
            "postal_code",
            "4 chiffres",
        ),
        ({"postal_code": "1000", "municipality": "Gent", "street": "X"}, "municipality", "1000"),
        ({"postal_code": "1000", "municipality": "Bruxelles", "street": ""}, "street", "rue"),
    ],
)
def test_it_explains_an_incomplete_address(client, anne, nsi, address, field, message):
    client.force_login(anne)
    response = submit(client, kind="IN", **address)
    page = text(response)
    assert response.status_code == 400
    error_id = field.replace("_", "-") + "-error"
    assert f'id="{error_id}"' in page
    error = page[page.index(f'id="{error_id}"') :].split("</p>")[0]
    assert message in error
    assert not Registration.objects.exists()


def test_it_offers_addresses_of_previous_registrations(client, anne, nsi):
    register(
        anne,
        timezone.now() - timedelta(days=3),
        postal_code="1000",
        municipality="Bruxelles",
        street="Rue du Midi",
        house_number="100",
        box="5",
    )
    register(
        anne,
        timezone.now() - timedelta(days=2),
        postal_code="1000",
        municipality="Bruxelles",
        street='Rue "<Neuve>" & Cie',
    )
    client.force_login(anne)
    page = form_page(client)
    assert "Rue du Midi 100/Bte 5, 1000 Bruxelles" in page
    # Each address's fields for registration.js, escaped; the most recent first.
    assertInHTML(
        """<select name="saved_address" id="id_saved_address">
        <option value="">Choisissez…</option>
        <option value="1000|Bruxelles|Rue &quot;&lt;Neuve&gt;&quot; &amp; Cie||"
          data-postal_code="1000" data-municipality="Bruxelles"
          data-street="Rue &quot;&lt;Neuve&gt;&quot; &amp; Cie" data-house_number="" data-box="">
          Rue &quot;&lt;Neuve&gt;&quot; &amp; Cie, 1000 Bruxelles</option>
        <option value="1000|Bruxelles|Rue du Midi|100|5" data-postal_code="1000"
          data-municipality="Bruxelles" data-street="Rue du Midi" data-house_number="100"
          data-box="5">Rue du Midi 100/Bte 5, 1000 Bruxelles</option>
        </select>""",
        page,
    )
    submit(client, kind="OUT", saved_address="1000|Bruxelles|Rue du Midi|100|5")
    registration = Registration.objects.latest("recorded_at")
    assert (registration.street, registration.house_number, registration.box) == (
        "Rue du Midi",
        "100",
        "5",
    )


def test_it_writes_an_address_the_same_way_everywhere(client, anne, nsi):
    """The manual's "Rue du Midi 100/Bte 5, 1000 Bruxelles": saved addresses, confirmation, list."""
    client.force_login(anne)
    response = submit(client, kind="IN", house_number="100", box="5", **ADDRESS)
    expected = "Rue du Midi 100/Bte 5, 1000 Bruxelles"
    assert expected in text(client.get(response["Location"]))
    assert expected in text(client.get("/"))
    assert f">{expected}</option>" in form_page(client)
    submit(client, kind="OUT", house_number="", box="7", **ADDRESS)
    assert "Rue du Midi/Bte 7, 1000 Bruxelles" not in text(client.get("/"))
    assert "Rue du Midi Bte 7, 1000 Bruxelles" in text(client.get("/"))


def test_it_suggests_in_first_then_out_after_an_in(client, anne):
    client.force_login(anne)
    assert suggested_kind(form_page(client)) == "IN"
    register(anne, timezone.now() - timedelta(hours=3))
    page = form_page(client)
    assert suggested_kind(page) == "OUT"
    assert "n’a pas d’OUT" not in page


def test_it_suggests_in_when_the_open_in_is_older_than_16_hours(client, anne):
    moment = datetime(2026, 11, 28, 6, 5, tzinfo=BRUSSELS)
    register(anne, moment)
    client.force_login(anne)
    with time_machine.travel(moment + timedelta(hours=17), tick=False):
        page = form_page(client)
    assert suggested_kind(page) == "IN"
    assert "Votre IN du 28/11/26, 06:05 n’a pas d’OUT." in page


def test_it_stores_one_registration_for_a_double_tap(client, anne, nsi):
    client.force_login(anne)
    token = hidden_inputs(form_page(client))["client_token"]
    data = {"client_token": token, "enterprise_number": "0450905686", "ddt_choice": "unknown"}
    first = client.post(URL, data | GPS | {"kind": "IN"})
    second = client.post(URL, data | GPS | {"kind": "IN"})
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Registration.objects.count() == 1


def test_it_shows_the_confirmation_again_for_a_retry_after_a_qr_registration(client, anne, nsi):
    WorkDeclaration.objects.create(number="1Y1002V9KLZ6Z", employer=nsi, **ADDRESS)
    client.force_login(anne)
    url = qr_form_url(client)
    token = hidden_inputs(form_page(client, url))["client_token"]
    data = {"client_token": token, "enterprise_number": "0450905686", "kind": "IN"} | GPS
    first = client.post(url, data)
    # A retry of the same form shows what was stored, nothing more.
    retry = client.post(url, data)
    assert retry.status_code == 302 and retry["Location"] == first["Location"]
    assert Registration.objects.count() == 1


def test_it_shows_a_complete_confirmation(client, anne, nsi):
    register(anne, datetime(2024, 6, 25, 15, 42, tzinfo=BRUSSELS), kind="OUT")
    client.force_login(anne)
    moment = datetime(2024, 7, 1, 13, 33, tzinfo=BRUSSELS)
    # The registration is stored "now" in July 2024: that month exists as the current one would.
    ensure_month(moment)
    with time_machine.travel(moment, tick=False):
        response = submit(client, kind="IN", ddt_choice="other", ddt_number="1Y1002V9KLZ6Z", **GPS)
        page = text(client.get(response["Location"]))
    for expected in (
        "IN",
        "01/07/24",
        "13:33",
        "0450.905.686",
        "1Y1002V9KLZ6Z",
        "X: 4.834123 Y: 50.681805",
        "N.S.I.",
        "Retour à la liste",
        "Se déconnecter",
        "Dernier enregistrement : OUT - 25/06/24, 15:42",
        "Besoin d’aide ?",
        'href="/help/"',
    ):
        assert expected in page, expected


def test_it_checks_ownership(client, anne, other):
    theirs = register(other, timezone.now())
    client.force_login(anne)
    assert client.get(f"/registrations/{theirs.pk}/").status_code == 404
    # Their submission key cannot be used to see or overwrite their registration, nor can it
    # block Anne's own submission (keys are unique per person).
    response = client.post(URL, {"client_token": theirs.idempotency_key, "kind": "IN"})
    assert response.status_code == 400
    assert Registration.objects.count() == 1
    response = client.post(
        URL,
        {"client_token": theirs.idempotency_key, "kind": "IN", "enterprise_number": "0450905686"}
        | {"ddt_choice": "unknown"}
        | GPS,
    )
    assert response.status_code == 302
    mine = Registration.objects.get(worker=anne)
    assert response["Location"] == f"/registrations/{mine.pk}/"
    assert mine.idempotency_key == theirs.idempotency_key
    assert Registration.objects.get(pk=theirs.pk).worker == other


def test_it_runs_a_fixed_number_of_queries_for_the_form(
    client, anne, nsi, django_assert_num_queries
):
    for index in range(40):
        register(
            anne,
            timezone.now() - timedelta(hours=index + 1),
            employer=nsi,
            ddt_number=f"1Y1002V9KLZ{index:02d}",
            postal_code="1000",
            municipality="Bruxelles",
            street=f"Rue {index}",
        )
    client.force_login(anne)
    # Issue 12's budget (at most 6): 1 session, 2 worker, 3 the last registrations (the DDT
    # numbers and the latest one, for the open-IN rule), 4 numbers used this year (with the
    # names), 5 employers of contracts, 6 saved addresses.
    with django_assert_num_queries(6):
        assert client.get(URL).status_code == 200


def test_it_runs_a_fixed_number_of_queries_to_submit(
    client, anne, nsi, django_assert_max_num_queries
):
    for index in range(40):
        register(anne, timezone.now() - timedelta(hours=index + 1), employer=nsi)
    client.force_login(anne)
    token = hidden_inputs(form_page(client))["client_token"]
    data = {"client_token": token, "enterprise_number": "0450905686", "ddt_choice": "unknown"}
    # Issue 12's budget: 1 session, 2 person, then register(): 3 the lock on the person with
    # the key already used and the latest registration (one function call on PostgreSQL),
    # 4 the insert, which looks the employer's name up itself. No savepoint, no form options.
    with django_assert_max_num_queries(4):
        response = client.post(URL, data | GPS | {"kind": "OUT"})
    assert response.status_code == 302
    stored = Registration.objects.get(idempotency_key=token)
    assert response["Location"] == f"/registrations/{stored.pk}/"
    assert (stored.kind, stored.employer, stored.employer_name) == ("OUT", nsi, nsi.name)


def test_it_weighs_under_50_kb_compressed_with_its_css_and_scripts(client, anne):
    client.force_login(anne)
    page = form_page(client)
    static = Path(__file__).resolve().parent.parent / "static"
    assets = [static / "css/clao.css", static / "js/htmx.min.js", static / "js/registration.js"]
    for asset in assets:
        assert f"/static/{asset.relative_to(static)}" in page
    total = len(gzip.compress(page.encode())) + sum(
        len(gzip.compress(asset.read_bytes())) for asset in assets
    )
    assert total < 50 * 1024
    assert "https://" not in page.split("<main")[0]


class TestQuickOut:
    def test_it_asks_are_you_stopping_work_after_an_in(self, client, anne):
        register(anne, timezone.now() - timedelta(hours=2), ddt_number="1Y1002V9KLZ6Z")
        client.force_login(anne)
        page = text(client.get("/"))
        assert "Vous arrêtez de travailler ?" in page
        assert 'id="quick-out-form"' in page

    def test_it_does_not_ask_after_an_out(self, client, anne):
        register(anne, timezone.now() - timedelta(hours=2), kind="OUT")
        client.force_login(anne)
        assert "Vous arrêtez de travailler ?" not in text(client.get("/"))

    def test_it_registers_the_out_at_once_with_the_position(self, client, anne, nsi):
        register(
            anne,
            timezone.now() - timedelta(hours=2),
            ddt_number="1Y1002V9KLZ6Z",
            employer=nsi,
            employer_name="N.S.I.",
            latitude=Decimal(50),
            longitude=Decimal(4),
        )
        client.force_login(anne)
        shown = hidden_inputs(client.get("/").content.decode())
        data = {"client_token": shown["client_token"], "closes": shown["closes"]} | GPS
        response = client.post("/registrations/quick-out/", data | {"kind": "OUT"})
        out = Registration.objects.get(kind="OUT")
        assert response["Location"] == f"/registrations/{out.pk}/"
        assert (out.enterprise_number, out.ddt_number, out.employer) == (
            "0450905686",
            "1Y1002V9KLZ6Z",
            nsi,
        )
        assert out.latitude == Decimal("50.681805")
        # Tapping twice stores one OUT.
        again = client.post("/registrations/quick-out/", data | {"kind": "OUT"})
        assert again["Location"] == f"/registrations/{out.pk}/"
        assert Registration.objects.filter(kind="OUT").count() == 1

    def test_it_opens_the_form_for_out_without_a_position(self, client, anne):
        opened = register(anne, timezone.now() - timedelta(hours=2), ddt_number="1Y1002V9KLZ6Z")
        client.force_login(anne)
        shown = hidden_inputs(client.get("/").content.decode())
        response = client.post(
            "/registrations/quick-out/",
            {"client_token": shown["client_token"], "closes": shown["closes"]},
        )
        assert response["Location"] == f"{URL}?out_of={opened.pk}"
        page = text(client.get(response["Location"]))
        assert suggested_kind(page) == "OUT"
        assert field_value(page, "enterprise_number") == "0450.905.686"
        assert selected(page, "ddt_choice") == "1Y1002V9KLZ6Z"
        assert not Registration.objects.filter(kind="OUT").exists()

    def test_it_checks_ownership(self, client, anne, other):
        theirs = register(other, timezone.now() - timedelta(hours=1))
        client.force_login(anne)
        response = client.get(f"{URL}?out_of={theirs.pk}")
        assert field_value(text(response), "enterprise_number") == ""
        response = client.post(
            "/registrations/quick-out/",
            {"client_token": str(uuid.uuid4()), "closes": str(theirs.pk)} | GPS,
        )
        assert response["Location"] == "/"
        assert Registration.objects.count() == 1

    def test_it_requires_login(self, client):
        response = client.post("/registrations/quick-out/", GPS)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")


class TestQuickOutAfterAForgottenIn:
    def test_it_offers_to_close_an_in_older_than_16_hours(self, client, anne):
        register(anne, timezone.now() - timedelta(hours=17))
        client.force_login(anne)
        page = text(client.get("/"))
        assert "Vous arrêtez de travailler ?" not in page
        assert "n’a pas d’OUT." in page
        assert 'id="quick-out-form"' in page

    def test_it_closes_a_forgotten_in_at_once_as_made_now(self, client, anne):
        opened = register(anne, timezone.now() - timedelta(hours=17))
        client.force_login(anne)
        shown = hidden_inputs(client.get("/").content.decode())
        response = client.post("/registrations/quick-out/", shown | GPS | {"kind": "OUT"})
        out = Registration.objects.get(kind="OUT")
        assert response["Location"] == f"/registrations/{out.pk}/"
        # Never back-dated: the OUT is made now, 17 hours after its IN.
        assert out.recorded_at - opened.recorded_at >= timedelta(hours=17)


def test_it_names_the_employer_of_a_typed_number(client, anne, nsi):
    client.force_login(anne)
    response = client.get(
        "/employers/name/?enterprise_number=BE 0450 905 686", HTTP_HX_REQUEST="true"
    )
    assert text(response).strip() == '<span class="employer-name">0450.905.686 - N.S.I.</span>'
    for unknown in ("0755.123.422", "not a number", ""):
        response = client.get(f"/employers/name/?enterprise_number={unknown}")
        assert text(response).strip() == ""
    # Without JavaScript: the form shown again after an error names it too.
    response = submit(client, enterprise_number="0450905686", **GPS)
    assert '<span class="employer-name">0450.905.686 - N.S.I.</span>' in text(response)


def test_it_names_employers_only_for_logged_in_workers(client, nsi):
    response = client.get("/employers/name/?enterprise_number=0450905686")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert "N.S.I." not in response.content.decode()


def test_it_gives_each_form_its_own_choices_and_shares_only_the_fields_no_form_changes():
    """The registration form copies only the fields whose choices it sets (checkins.forms)."""
    from checkins.forms import FormOptions, RegistrationForm

    first = RegistrationForm(options=FormOptions(ddt_numbers=["A1"]))
    second = RegistrationForm()

    assert [value for value, _label in first.fields["ddt_choice"].choices][:2] == ["", "A1"]
    assert "A1" not in [value for value, _label in second.fields["ddt_choice"].choices]
    assert first.fields["employer"] is not second.fields["employer"]
    assert first.fields["street"] is second.fields["street"]
