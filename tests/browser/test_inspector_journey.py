"""Issue #15: the ONSS inspector's side, tried as an inspector would, then seen by the worker."""

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from checkins.models import Registration
from demo.people import DEMO_INSPECTOR
from inspection.models import AccessLog, CorrectionProof
from tests.browser.conftest import _context
from tests.factories import make_inspector, make_registration
from tests.saml import ANNE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def yesterday_at(hour: int) -> datetime:
    day = timezone.localdate() - timedelta(days=1)
    return datetime.combine(day, time(hour), tzinfo=timezone.get_default_timezone())


@pytest.fixture
def anne_yesterday(site):
    from accounts.models import Person

    anne = Person.objects.get(niss=ANNE["niss"])
    right = make_registration(anne, "IN", yesterday_at(8), enterprise_number="0450905686")
    wrong = make_registration(
        anne,
        "IN",
        yesterday_at(9),
        enterprise_number="0403170701",
        postal_code="1000",
        municipality="Bruxelles",
        street="Rue du Midi",
    )
    make_registration(anne, "OUT", yesterday_at(12), enterprise_number="0450905686")
    return {"right": right, "wrong": wrong}


def test_it_lets_an_inspector_find_and_cancel_a_registration_the_worker_then_sees(
    phone, browser, site, anne_yesterday
):
    make_inspector(DEMO_INSPECTOR["niss"], first_name="Inès", last_name="Lambert")
    wrong = anne_yesterday["wrong"]
    day = yesterday_at(0).date().isoformat()
    page = phone.page

    # The demo inspector logs in through the development IdP and opens the ONSS space.
    phone.login("/", person=DEMO_INSPECTOR["niss"])
    page.get_by_role("link", name="Inspection ONSS").click()
    page.get_by_label("Numéro NISS ou BIS").fill("85.07.30-033.28")
    page.get_by_label("Du", exact=True).fill(day)
    page.get_by_label("Au", exact=True).fill(day)
    page.get_by_role("button", name="Rechercher").click()
    page.wait_for_load_state()
    assert page.locator("#results").inner_text() == "3 enregistrements"
    assert page.locator(".result-head .niss").all_inner_texts() == ["85.07.30-033.28"] * 3
    phone.axe("search results")

    # The wrong IN of 09:00 is cancelled, with a reason and a PDF.
    page.locator(f"a[href='/onss/registrations/{wrong.pk}/correct/']").click()
    page.get_by_label("annulation").check()
    page.get_by_label("Motif").select_option("duplicate")
    page.get_by_label("Explication").fill("Deuxième IN encodé par erreur")
    page.set_input_files(
        "input[name=proof]",
        files=[{"name": "pv.pdf", "mimeType": "application/pdf", "buffer": PDF}],
    )
    phone.axe("correction form")
    page.get_by_role("button", name="Enregistrer la correction").click()
    page.wait_for_load_state()
    assert "La correction a été enregistrée." in page.locator(".messages").inner_text()
    assert page.locator(".correction-flag").all_inner_texts() == ["Annulé par l’ONSS"]
    correction = Registration.objects.get(corrects=wrong)
    assert correction.source == "onss" and correction.correction_kind == "cancel"
    assert CorrectionProof.objects.get(correction=correction).content_type == "application/pdf"

    # The inspector's access log shows the search.
    page.get_by_role("link", name="Mes accès").click()
    log = page.locator("table.log").inner_text()
    assert "Recherche" in log and "niss=85073003328" in log
    assert AccessLog.objects.filter(action="search", criteria__niss="85073003328").exists()

    # Anne sees the IN marked as cancelled, the original values and the correction's source.
    context = _context(browser)
    worker = context.new_page()
    worker.goto(f"{site}/?date={day}")
    worker.locator(f"input[name=person][value='{ANNE['niss']}']").check()
    worker.locator("input[name=means][value=itsme]").check()
    worker.locator("main form button[type=submit]").click()
    worker.wait_for_load_state()
    if "date=" not in worker.url:
        worker.goto(f"{site}/?date={day}")
    card = worker.locator("details.registration.corrected")
    assert card.locator(".correction-flag").inner_text() == "Annulé par l’ONSS"
    card.locator("summary").click()
    assert "0403.170.701" in card.inner_text()
    correction_text = card.locator(".correction").inner_text()
    assert "Enregistré deux fois : Deuxième IN encodé par erreur" in correction_text.replace(
        "\u00a0", " "
    )
    assert "Application de l’ONSS" in correction_text
    assert worker.locator("details.registration").count() == 3

    # She sees that the ONSS consulted her data, by office, without the inspector's name.
    worker.get_by_role("link", name="Qui à l’ONSS a consulté mes enregistrements ?").click()
    accesses = worker.locator("table.log").inner_text()
    assert "ONSS Bruxelles" in accesses and "Lambert" not in accesses

    # And she reaches none of the inspector's pages, nor the proof.
    proof = CorrectionProof.objects.get()
    for path in ("/onss/", "/onss/log/", f"/onss/registrations/{wrong.pk}/correct/"):
        assert worker.goto(site + path).status == 404, path
    assert worker.goto(f"{site}/onss/proofs/{proof.pk}/").status == 404
    context.close()

    # Nor does a visitor who is not logged in.
    anonymous = _context(browser)
    assert anonymous.new_page().goto(f"{site}/onss/").status == 404
    anonymous.close()
