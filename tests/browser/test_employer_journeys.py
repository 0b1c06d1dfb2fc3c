"""The employer's journeys (issue 14): an access manager of N.S.I. creates a DDT, prints its
poster, a worker scans it with another phone, and the IN appears in the employer's list."""

import csv
import io
import re
from pathlib import Path

import pytest
from django.core import mail

from accounts.models import Person
from demo.people import DEMO_STAFF
from employers.mandates import grant
from employers.models import Employer, WorkDeclaration
from tests.browser.conftest import PHONE, POSITION, Phone
from tests.saml import ANNE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SOPHIE, MARC = DEMO_STAFF[0], DEMO_STAFF[1]
DESKTOP = {
    "viewport": {"width": 1280, "height": 900},
    "locale": "fr-BE",
    "timezone_id": "Europe/Brussels",
}
CONFIRMATION = re.compile(r"/registrations/\d+/$")
NEW_DDT = "1Y1005D7JWM3B"


@pytest.fixture
def staff_site(site):
    nsi = Employer.objects.get(number="0450905686")
    grant(employer=nsi, niss=SOPHIE["niss"], role="manager", granted_by=None)
    other = Employer.objects.create(number="0755123422", name="Net & Propre SRL")
    grant(employer=other, niss=MARC["niss"], role="manager", granted_by=None)
    Person.objects.filter(niss__in=[SOPHIE["niss"], MARC["niss"]]).update(
        first_name="Sophie", last_name="Lambert"
    )
    Person.objects.filter(niss=MARC["niss"]).update(first_name="Marc", last_name="Dupont")
    return site, nsi, other


def _device(browser, site, options):
    context = browser.new_context(**options)
    return context, Phone(context.new_page(), site)


@pytest.mark.parametrize("screen", ["phone", "desktop"])
def test_it_takes_an_employer_from_a_new_ddt_to_the_workers_in(
    browser, staff_site, screen, settings
):
    site, nsi, other = staff_site
    size = PHONE if screen == "phone" else DESKTOP
    contexts = []
    try:
        context, staff = _device(browser, site, size)
        contexts.append(context)
        page = staff.page
        staff.login("/employer/", person=SOPHIE["niss"])
        page.wait_for_url(f"**/employer/{nsi.pk}/")
        assert page.locator("nav.spaces [aria-current=page]").inner_text() == "Espace employeur"
        staff.axe(f"{screen} registrations, empty")

        # 1. A new declaration of works, its address typed with the suggestions.
        page.locator("nav.subnav").get_by_role("link", name="Déclarations de travaux").click()
        page.get_by_label("Numéro de déclaration").fill(NEW_DDT.lower())
        page.get_by_label("Code postal").press_sequentially("1000", delay=30)
        page.locator("#municipality-box button").first.click()
        page.get_by_label("Rue").fill("Rue Neuve")
        page.locator("[name=house_number]").fill("12")
        staff.axe(f"{screen} new declaration form")
        page.get_by_role("button", name="Ajouter la déclaration").click()
        page.wait_for_url(f"**/declarations/{NEW_DDT}/")
        assert WorkDeclaration.objects.get(number=NEW_DDT).employer == nsi

        # 2. Its poster: four languages, the QR code, the URL; printed, and as a PDF.
        qr_url = f"{site}/qr/{NEW_DDT}/"
        poster = page.locator("article.poster")
        assert qr_url in poster.inner_text()
        assert "Rue Neuve 12, 1000 Bruxelles" in poster.inner_text()
        assert page.locator("img.poster-qr").evaluate("img => img.naturalWidth") > 100
        staff.axe(f"{screen} poster")
        page.emulate_media(media="print")
        assert page.locator("header.topbar").is_hidden()
        assert page.locator("nav.subnav").is_hidden()
        assert poster.is_visible()
        page.emulate_media(media="screen")
        with page.expect_download() as download:
            page.get_by_role("link", name="Télécharger le PDF").click()
        assert download.value.suggested_filename == f"clao-ddt-{NEW_DDT}.pdf"

        # 3. The personalised link, sent by e-mail and SMS (the demo's backends), once. One
        # recipient per request: the job's page sends the others by itself (htmx POSTs).
        settings.CLAO_LINK_SEND_CHUNK = 1
        page.locator("nav.subnav").get_by_role("link", name="Lien personnalisé").click()
        page.get_by_label("Destinataires").fill("anne@example.be\n0470 12 34 56\njan@example.be")
        staff.axe(f"{screen} personalised link")
        # Tapped twice in a hurry: one sending.
        page.get_by_role("button", name="Envoyer", exact=True).dblclick()
        page.wait_for_url("**/link/sendings/*/")
        page.locator("#progress", has_text="3 sur 3 envoyés, 0 en échec, 0 en attente.").wait_for()
        assert "Tout est envoyé." in page.locator("#progress").inner_text()
        assert page.locator("#deliveries .result-sent").count() == 3
        assert "+32470123456" in page.locator("#deliveries").inner_text()
        assert any(r.method == "POST" and r.url.endswith("/send/") for r in staff.requests), (
            "the page did not move the sending on by itself"
        )
        staff.axe(f"{screen} sending results")
        assert sorted(to for m in mail.outbox for to in m.to) == [
            "anne@example.be",
            "jan@example.be",
        ]
        assert f"/l/{nsi.link_token}/" in mail.outbox[0].body

        # 4. A worker scans the QR code with another phone: the form has that DDT locked.
        context, worker = _device(
            browser, site, dict(PHONE, geolocation=POSITION, permissions=["geolocation"])
        )
        contexts.append(context)
        worker.login(qr_url.removeprefix(site), person=ANNE["niss"])
        # The lock travels in the form's address (?qr=), not in the session.
        worker.page.wait_for_url(re.compile(r"/registrations/new/\?qr=" + NEW_DDT + "$"))
        assert worker.page.locator("output.locked").inner_text() == NEW_DDT
        worker.page.locator("#gps-status:not([hidden])").wait_for()
        worker.page.get_by_role("button", name="IN", exact=True).click()
        worker.page.wait_for_url(CONFIRMATION)

        # 5. The employer sees that IN, flagged open, and exports the day as CSV.
        page.locator("nav.subnav").get_by_role("link", name="Enregistrements").click()
        row = page.locator("#registrations tbody tr")
        assert row.count() == 1
        assert "Dubois" in row.inner_text() and "IN ouvert" in row.inner_text()
        staff.axe(f"{screen} registrations with the worker's IN")
        with page.expect_download() as download:
            page.get_by_role("link", name="Exporter en CSV").click()
        text = Path(download.value.path()).read_text(encoding="utf-8-sig")
        rows = list(csv.reader(io.StringIO(text), delimiter=";"))
        assert [(r[1], r[2], r[6]) for r in rows[1:]] == [("IN", "85.07.30-033.28", NEW_DDT)]

        # 6. A member of another enterprise sees none of it.
        context, outsider = _device(browser, site, size)
        contexts.append(context)
        outsider.login("/employer/", person=MARC["niss"])
        outsider.page.wait_for_url(f"**/employer/{other.pk}/")
        assert "Dubois" not in outsider.page.locator("main").inner_text()
        response = outsider.go(f"/employer/{nsi.pk}/declarations/{NEW_DDT}/")
        assert response.status == 404
        outsider.go(f"/employer/{other.pk}/declarations/")
        assert NEW_DDT not in outsider.page.locator("main").inner_text()
    finally:
        for context in contexts:
            context.close()


def test_it_sends_a_long_list_of_links_without_javascript(browser, staff_site, settings):
    """Without JavaScript the job's page offers a button and refreshes itself; nothing waits
    for a script."""
    from employers import sms

    site, nsi, _other = staff_site
    settings.CLAO_LINK_SEND_CHUNK = 1
    settings.CLAO_SMS_BACKEND = "locmem"
    sms.outbox.clear()
    context = browser.new_context(**DESKTOP, java_script_enabled=False)
    try:
        staff = Phone(context.new_page(), site)
        staff.javascript = False
        page = staff.page
        staff.login("/employer/", person=SOPHIE["niss"])
        page.wait_for_url(f"**/employer/{nsi.pk}/")
        page.locator("nav.subnav").get_by_role("link", name="Lien personnalisé").click()
        page.get_by_label("Destinataires").fill("a@example.be\nb@example.be\n0470 12 34 56")
        page.get_by_role("button", name="Envoyer", exact=True).click()
        page.wait_for_url("**/link/sendings/*/")
        assert (
            "1 sur 3 envoyés, 0 en échec, 2 en attente." in page.locator("#progress").inner_text()
        )
        assert page.locator('head meta[http-equiv="refresh"]').count() == 1
        page.get_by_role("button", name="Envoyer maintenant les messages en attente").click()
        page.wait_for_load_state()
        progress = page.locator("#progress").inner_text()
        assert "3 sur 3 envoyés, 0 en échec, 0 en attente." in progress, progress
        assert page.locator('head meta[http-equiv="refresh"]').count() == 0
        assert sorted(to for m in mail.outbox for to in m.to) == ["a@example.be", "b@example.be"]
        assert [to for to, _text in sms.outbox] == ["+32470123456"]
    finally:
        context.close()
        sms.outbox.clear()
