"""The employer space: mandates, the scoping matrix, DDTs, posters, registrations, CSV."""

import csv
import io
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from accounts.roles import spaces_for
from checkins.models import Registration
from employers.links import parse_recipients, record_sending
from employers.models import Mandate, WorkDeclaration
from tests.factories import make_declaration, make_person, make_registration

pytestmark = pytest.mark.django_db

SUB_DDT = "1Y1003A8HTX2K"


@pytest.fixture
def staff(client, nsi_manager):
    # English msgids: the assertions do not depend on the state of the catalogs.
    nsi_manager.language = "en"
    nsi_manager.save()
    client.force_login(nsi_manager)
    return client


@pytest.fixture
def nsi_site(nsi):
    return make_declaration(nsi, "1Y1002V9KLZ6Z", house_number="100")


@pytest.fixture
def other_site(other_enterprise):
    return make_declaration(other_enterprise, "1Y1004C5GRV9D", street="Avenue Louise")


def url(enterprise, name="", *parts):
    base = f"/employer/{enterprise.pk}/"
    return base + (f"{name}/" if name else "") + "".join(f"{p}/" for p in parts)


# -- Roles and the header -------------------------------------------------------------------


def test_it_offers_the_employer_space_only_to_people_with_a_mandate(anne, nsi_manager):
    assert [s.key for s in spaces_for(anne)] == ["worker"]
    assert [s.key for s in spaces_for(nsi_manager)] == ["worker", "employer"]


def test_it_lets_a_person_with_two_roles_switch_spaces_in_the_header(staff, nsi):
    response = staff.get("/")
    assertContains(
        response,
        '<a href="/employer/">Employer space</a>',
        html=True,
    )
    response = staff.get(url(nsi))
    assertContains(response, '<a href="/">My registrations</a>', html=True)
    assertContains(response, 'aria-current="page">Employer space</a>')


def test_it_shows_no_space_switch_to_a_worker(client, anne):
    anne.language = "en"
    anne.save()
    client.force_login(anne)
    assertNotContains(client.get("/"), "/employer/")


def test_it_lets_a_revoked_person_in_no_more(client, nsi, nsi_manager, nsi_user):
    mandate = Mandate.objects.get(person=nsi_user)
    client.force_login(nsi_manager)
    response = client.post(url(nsi, "access", mandate.pk, "revoke"))
    assert response.status_code == 302
    client.force_login(nsi_user)
    assert client.get(url(nsi)).status_code == 404
    assert [s.key for s in spaces_for(nsi_user)] == ["worker"]


# -- The first access manager, and the access managers' page ---------------------------------


def test_it_sets_the_first_access_manager_with_a_command(db):
    call_command("grant_access_manager", "0450.905.686", "75.04.12-101.75", "--name", "N.S.I.")
    mandate = Mandate.objects.get()
    assert (mandate.person.niss, mandate.employer.number, mandate.role) == (
        "75041210175",
        "0450905686",
        "manager",
    )
    assert mandate.granted_by is None


@pytest.mark.parametrize(
    "args, message",
    [
        (["0450.905.687", "75041210175", "--name", "X"], "0450.905.687"),
        (["0450905686", "75041210175"], "give its name with --name"),
        (["0450905686", "12345678901", "--name", "X"], "12345678901"),
    ],
)
def test_it_refuses_a_bad_first_access_manager_with_a_reason(db, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("grant_access_manager", *args)
    assert not Mandate.objects.exists()


def test_it_lets_an_access_manager_grant_access_to_a_niss(staff, nsi, nsi_manager):
    response = staff.post(url(nsi, "access"), {"niss": "83.06.07-407.04", "role": "user"})
    assert response.status_code == 302
    mandate = Mandate.objects.get(person__niss="83060740704")
    assert (mandate.role, mandate.granted_by) == ("user", nsi_manager)


def test_it_refuses_a_bad_niss_or_a_second_grant_and_stores_nothing(staff, nsi, nsi_user):
    response = staff.post(url(nsi, "access"), {"niss": "12345678901", "role": "user"})
    assertContains(response, "NISS", status_code=400)
    response = staff.post(url(nsi, "access"), {"niss": nsi_user.niss, "role": "manager"})
    assertContains(response, "This person already has access to this enterprise.", status_code=400)
    assert Mandate.objects.filter(employer=nsi).count() == 2


def test_it_never_revokes_the_last_access_manager(staff, nsi, nsi_manager):
    mine = Mandate.objects.get(person=nsi_manager)
    response = staff.post(url(nsi, "access", mine.pk, "revoke"), follow=True)
    assertContains(response, "This is the last access manager of the enterprise")
    assert Mandate.objects.active().filter(pk=mine.pk).exists()


def test_it_keeps_the_access_page_for_access_managers(client, nsi, nsi_user):
    client.force_login(nsi_user)
    assert client.get(url(nsi)).status_code == 200
    assert client.get(url(nsi, "access")).status_code == 404


# -- The scoping matrix: staff of A never see B's data ---------------------------------------


def test_it_shows_nothing_of_another_enterprise(
    client, nsi, other_enterprise, other_manager, nsi_manager, nsi_site, other_site, anne
):
    make_registration(anne, employer=nsi, ddt_number=nsi_site.number)
    nsi_mandate = Mandate.objects.get(person=nsi_manager)
    sending, _created = record_sending(
        employer=nsi,
        sent_by=nsi_manager,
        recipients=parse_recipients("anne@example.be")[0],
        key="matrix",
    )
    client.force_login(other_manager)
    for path in [
        url(nsi),
        url(nsi, "link"),
        url(nsi, "link", "sendings", sending.pk),
        url(other_enterprise, "link", "sendings", sending.pk),
        url(nsi, "declarations"),
        url(nsi, "declarations", nsi_site.number),
        url(nsi, "declarations", nsi_site.number) + "qr.png",
        url(nsi, "declarations", nsi_site.number) + "poster.pdf",
        url(nsi) + "registrations.csv",
        url(nsi, "access"),
        # B's own space with A's ids: not found either.
        url(other_enterprise, "declarations", nsi_site.number),
        url(other_enterprise, "declarations", nsi_site.number) + "qr.png",
    ]:
        assert client.get(path).status_code == 404, path
    response = client.post(url(nsi, "access", nsi_mandate.pk, "revoke"))
    assert response.status_code == 404
    response = client.post(url(other_enterprise, "access", nsi_mandate.pk, "revoke"))
    assert response.status_code == 404
    # A's send job: neither read, nor moved on, nor retried from B's space or A's.
    for path in [
        url(nsi, "link", "sendings", sending.pk, "send"),
        url(nsi, "link", "sendings", sending.pk, "retry"),
        url(other_enterprise, "link", "sendings", sending.pk, "send"),
        url(other_enterprise, "link", "sendings", sending.pk, "retry"),
    ]:
        assert client.post(path).status_code == 404, path
    assert mail.outbox == []
    assert sending.deliveries.get().status == "pending"
    assert Mandate.objects.active().filter(pk=nsi_mandate.pk).exists()
    # B's own pages list none of A's workers, DDTs or registrations.
    page = client.get(url(other_enterprise)).content.decode()
    page += client.get(url(other_enterprise, "declarations")).content.decode()
    page += client.get(url(other_enterprise) + "registrations.csv").content.decode()
    assert nsi_site.number not in page
    assert anne.formatted_niss not in page and "Dubois" not in page


def test_it_refuses_the_space_to_a_worker_without_mandate(client, anne, nsi):
    anne.language = "en"
    anne.save()
    client.force_login(anne)
    assert client.get(url(nsi)).status_code == 404
    assertContains(client.get("/employer/"), "You have no access to an enterprise.")


def test_it_sends_anonymous_people_to_the_login(client, nsi):
    response = client.get(url(nsi))
    assert response.status_code == 302 and "/login/" in response["Location"]


# -- DDTs ------------------------------------------------------------------------------------


SITE = {
    "number": "1y1005 d7jwm3b",
    "postal_code": "1000",
    "municipality": "bruxelles",
    "street": "Rue Neuve",
    "house_number": "12",
    "box": "",
    "latitude": "",
    "longitude": "",
}


def test_it_creates_a_declaration_and_opens_its_poster(staff, nsi, geo_data):
    response = staff.post(url(nsi, "declarations"), SITE)
    declaration = WorkDeclaration.objects.get(number="1Y1005D7JWM3B")
    assert (declaration.employer, declaration.municipality) == (nsi, "Bruxelles")
    assert response["Location"] == url(nsi, "declarations", "1Y1005D7JWM3B")


@pytest.mark.parametrize(
    "change, field_message",
    [
        ({"number": "1Y1005D7JWM3"}, "A declaration number has 13 characters"),
        ({"number": "1Y1005D7JWM3O"}, "A declaration number has 13 characters"),
        ({"postal_code": "0999"}, "A Belgian postal code has 4 digits."),
        ({"postal_code": "1001"}, "This Belgian postal code does not exist."),
        ({"municipality": "Gent"}, "This municipality does not match postal code 1000"),
        ({"street": ""}, "Enter the street."),
        ({"latitude": "50.8"}, "Give both coordinates of the site, or none."),
        ({"latitude": "95", "longitude": "4"}, "Give a number between -90 and 90"),
    ],
)
def test_it_refuses_a_bad_declaration_with_a_reason(staff, nsi, geo_data, change, field_message):
    response = staff.post(url(nsi, "declarations"), {**SITE, **change})
    assertContains(response, field_message, status_code=400)
    assertContains(response, 'value="{}"'.format({**SITE, **change}["street"]), status_code=400)
    assert not WorkDeclaration.objects.exists()


def test_it_refuses_a_declaration_number_already_known(staff, nsi, geo_data, other_site):
    response = staff.post(url(nsi, "declarations"), {**SITE, "number": other_site.number})
    assertContains(
        response, "This declaration number is already registered in ClaO.", status_code=400
    )
    assert WorkDeclaration.objects.count() == 1


def test_it_prints_a_poster_whose_qr_code_holds_the_url(staff, nsi, nsi_site, settings):
    import zxingcpp
    from PIL import Image

    expected = settings.SITE_ROOT + "/qr/1Y1002V9KLZ6Z/"
    response = staff.get(url(nsi, "declarations", nsi_site.number))
    assertContains(response, expected)
    assertContains(response, "Rue du Midi 100, 1000 Bruxelles")
    for phrase in [
        "Enregistrez votre travail ici",
        "Registreer hier uw werk",
        "Registrieren Sie hier Ihre Arbeit",
        "Register your work here",
    ]:
        assertContains(response, phrase)
    image = staff.get(url(nsi, "declarations", nsi_site.number) + "qr.png")
    assert image["Content-Type"] == "image/png"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(image.content)))
    assert [code.text for code in decoded] == [expected]


def test_it_downloads_the_poster_as_a_pdf_whose_qr_code_holds_the_url(
    staff, nsi, nsi_site, settings
):
    import zxingcpp
    from pypdf import PdfReader

    response = staff.get(url(nsi, "declarations", nsi_site.number) + "poster.pdf")
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    # The QR code printed on the page: the one image of the PDF's one page, decoded as a phone
    # would read it.
    (page,) = PdfReader(io.BytesIO(response.content)).pages
    (image,) = page.images
    decoded = zxingcpp.read_barcodes(image.image)
    assert [code.text for code in decoded] == [settings.SITE_ROOT + "/qr/1Y1002V9KLZ6Z/"]
    # The URL printed under the QR code is also a link of the page.
    link = f"/URI ({settings.SITE_ROOT}/qr/1Y1002V9KLZ6Z/)".encode()
    assert link in response.content
    assert b"/Title (ClaO - 1Y1002V9KLZ6Z)" in response.content


# -- Registrations ---------------------------------------------------------------------------


def test_it_lists_its_workers_and_subcontractors_at_its_sites(
    staff, nsi, nsi_site, other_enterprise, anne, other_worker
):
    make_registration(anne, employer=nsi)
    # A subcontractor's worker at N.S.I.'s site.
    make_registration(other_worker, employer=other_enterprise, ddt_number=nsi_site.number)
    stranger = make_person("78110324522", first_name="Maria", last_name="Schmidt")
    make_registration(stranger, employer=other_enterprise)
    response = staff.get(url(nsi))
    assertContains(response, "Dubois")
    assertContains(response, "Peeters")
    assertNotContains(response, "Schmidt")
    assertContains(response, "IN open", count=2)


def test_it_flags_an_in_without_out(staff, nsi, anne):
    make_registration(anne, employer=nsi, when=timezone.now() - timedelta(hours=17))
    response = staff.get(
        url(nsi) + "?date=" + timezone.localdate(timezone.now() - timedelta(hours=17)).isoformat()
    )
    assertContains(response, "IN without OUT")


def test_it_filters_by_ddt_and_worker_and_exports_the_selection(
    staff, nsi, nsi_site, anne, other_worker
):
    make_registration(anne, employer=nsi, ddt_number=nsi_site.number)
    make_registration(other_worker, employer=nsi)
    response = staff.get(url(nsi), {"ddt": nsi_site.number})
    assertContains(response, "Dubois")
    assertNotContains(response, "Peeters")
    response = staff.get(url(nsi), {"worker": "peet"})
    assertNotContains(response, "Dubois")
    assertContains(response, "Peeters")
    export = staff.get(url(nsi) + "registrations.csv", {"ddt": nsi_site.number})
    assert export["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:3] == ["Date and time", "Type", "NISS or BIS number"]
    assert [(r[1], r[2], r[6]) for r in rows[1:]] == [("IN", anne.formatted_niss, nsi_site.number)]


def test_it_explains_a_bad_day_in_the_selection(staff, nsi):
    response = staff.get(url(nsi), {"date": "2026-02-30"})
    assertContains(response, "Check the selection", status_code=400)


def test_it_lists_a_day_in_a_fixed_number_of_queries(
    staff, nsi, nsi_site, anne, other_worker, django_assert_max_num_queries
):
    for worker in (anne, other_worker):
        make_registration(worker, employer=nsi, ddt_number=nsi_site.number)
    with django_assert_max_num_queries(12):
        assert staff.get(url(nsi)).status_code == 200


BUSY_DAY = "2026-03-02"


@pytest.fixture
def busy_day(nsi, nsi_site, anne, other_worker):
    """120 registrations at N.S.I.'s site on one day, one a minute from 06:00, and 3 elsewhere:
    a large enterprise's day (thousands in real life) in three pages."""
    start = datetime(2026, 3, 2, 6, 0, tzinfo=ZoneInfo("Europe/Brussels"))
    for i in range(120):
        worker = anne if i % 2 == 0 else other_worker
        kind = "IN" if i % 4 < 2 else "OUT"
        make_registration(
            worker,
            kind,
            start + timedelta(minutes=i),
            employer=nsi,
            ddt_number=nsi_site.number,
        )
    for i in range(3):
        make_registration(anne, "IN", start + timedelta(hours=5, minutes=i), employer=nsi)


def times(response) -> list[str]:
    table = response.content.decode().split('id="registrations"')[1].split("</table>")[0]
    return re.findall(r"<td>(\d\d:\d\d)</td>", table)


def pager_link(response, rel: str) -> str | None:
    found = re.search(rf'<a rel="{rel}" href="([^"]+)"', response.content.decode())
    return found.group(1).replace("&amp;", "&") if found else None


def test_it_pages_a_long_day_and_keeps_the_filters(staff, nsi, nsi_site, busy_day):
    filters = f"?date={BUSY_DAY}&ddt={nsi_site.number}"
    first = staff.get(url(nsi) + filters)
    assert times(first)[:2] == ["06:00", "06:01"] and len(times(first)) == 50
    assertContains(first, "Registrations 1 to 50 of 120.")
    assertContains(first, "Page 1 of 3")
    assert pager_link(first, "prev") is None
    assert pager_link(first, "next") == f"{filters}&page=2"
    # The CSV link is the selection's, without a page: it exports the whole selection.
    assertContains(first, f'href="{url(nsi)}registrations.csv?date={BUSY_DAY}&amp;ddt=')
    assertContains(first, "The export holds all 120 registrations of the selection")

    second = staff.get(url(nsi) + pager_link(first, "next"))
    assert times(second)[0] == "06:50" and len(times(second)) == 50
    assertContains(second, "Registrations 51 to 100 of 120.")
    assert pager_link(second, "prev") == f"{filters}&page=1"
    assert pager_link(second, "next") == f"{filters}&page=3"
    # The filter form shows the selection the pages belong to.
    assertContains(second, f'<option value="{nsi_site.number}" selected>', html=False)

    last = staff.get(url(nsi) + pager_link(second, "next"))
    assert times(last) == [f"07:{m:02d}" for m in range(40, 60)]
    assert pager_link(last, "next") is None
    # A page out of range or not a number shows the nearest page, never an error.
    assert times(staff.get(url(nsi) + filters + "&page=99")) == times(last)
    assert times(staff.get(url(nsi) + filters + "&page=x")) == times(first)

    # Without the DDT filter the 3 registrations elsewhere are counted too.
    assertContains(staff.get(url(nsi), {"date": BUSY_DAY}), "Registrations 1 to 50 of 123.")


def test_it_exports_the_whole_selection_whatever_the_page(staff, nsi, nsi_site, busy_day):
    export = staff.get(
        url(nsi) + "registrations.csv", {"date": BUSY_DAY, "ddt": nsi_site.number, "page": "2"}
    )
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig")), delimiter=";"))
    assert len(rows) == 1 + 120
    assert {r[6] for r in rows[1:]} == {nsi_site.number}
    assert (rows[1][0][11:16], rows[-1][0][11:16]) == ("06:00", "07:59")


def test_it_shows_a_page_of_a_long_day_in_a_fixed_number_of_queries(
    staff, nsi, busy_day, django_assert_max_num_queries
):
    with django_assert_max_num_queries(12):
        response = staff.get(url(nsi), {"date": BUSY_DAY, "page": "2"})
    assert len(times(response)) == 50


def test_it_shows_registrations_in_the_workers_source_format(staff, nsi, anne, nsi_manager):
    make_registration(
        anne, employer=nsi, source=Registration.Source.EMPLOYER_APP, acted_by=nsi_manager
    )
    assertContains(staff.get(url(nsi)), "Employer application")


def test_it_shows_the_onss_corrections_with_the_registrations_they_correct(
    staff, nsi, anne, inspector, settings
):
    from inspection.corrections import correct
    from inspection.roles import active_role

    settings.CLAO_SHOW_INSPECTOR_NAMES = False
    wrong = make_registration(anne, employer=nsi, when=timezone.now() - timedelta(minutes=30))
    correct(
        active_role(inspector),
        wrong,
        correction_kind="cancel",
        correction_reason="duplicate",
        reason="Badge and phone both",
        token="cancel-1",
    )
    response = staff.get(url(nsi))
    # The cancelled IN is marked, not flagged as open, and its cancellation follows it.
    assertContains(
        response, '<span class="flag correction-flag">Cancelled by the ONSS</span>', html=True
    )
    assertNotContains(response, "IN open")
    assertContains(response, "Cancellation of the registration of")
    assertContains(response, "Registered twice: Badge and phone both")
    assertNotContains(response, "Inès")
    # One line per registration in the list (the correction is not a registration of work).
    assert response.content.decode().count('<tr class="correction">') == 1
    export = staff.get(url(nsi) + "registrations.csv")
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig")), delimiter=";"))
    when = timezone.localtime(wrong.recorded_at).strftime("%Y-%m-%d %H:%M:%S")
    assert [(r[1], r[8], r[9], r[10], r[11]) for r in rows[1:]] == [
        ("IN", "smartphone", "", "", "Cancelled by the ONSS"),
        (
            "IN",
            "ONSS application",
            "the ONSS",
            "Registered twice: Badge and phone both",
            f"Cancels the registration of {when}",
        ),
    ]
