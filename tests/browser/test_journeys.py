"""The journeys of issue #6, each through the development IdP and the real SAML round trip."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from checkins.models import Registration
from tests.factories import make_registration

# A stored registration's confirmation, not the form at /registrations/new/.
CONFIRMATION = re.compile(r"/registrations/\d+/$")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_registers_in_with_gps_then_out_from_the_list(phone):
    page = phone.page
    phone.login("/")
    assert page.locator(".usermenu .niss").inner_text() == "85.07.30-033.28"
    phone.axe("empty list")
    page.get_by_role("link", name="Nouvel enregistrement").click()
    page.locator("#gps-status:not([hidden])").wait_for()
    assert "X: 4.834123 Y: 50.681805" in page.locator("#gps-status").inner_text()
    assert page.locator("#free-address").is_hidden()
    phone.axe("form with GPS")
    page.get_by_label("Numéro de déclaration", exact=True).select_option("unknown")
    page.get_by_role("button", name="IN", exact=True).click()
    page.wait_for_url(CONFIRMATION)
    confirmation = page.locator("main").inner_text()
    assert "X: 4.834123 Y: 50.681805" in confirmation
    assert "N.S.I." in confirmation
    phone.axe("confirmation")
    page.get_by_role("link", name="Retour à la liste").click()
    page.get_by_role("heading", name="Vous arrêtez de travailler ?").wait_for()
    phone.axe("list with open IN")
    page.locator("#quick-out-form").get_by_role("button", name="OUT").click()
    page.wait_for_url(CONFIRMATION)
    out = Registration.objects.get(kind="OUT")
    assert (out.enterprise_number, float(out.latitude)) == ("0450905686", 50.681805)
    assert "OUT" in page.locator(".confirmation .kind").inner_text()


def test_it_falls_back_to_a_free_address_when_location_is_refused(phone_without_location):
    phone, page = phone_without_location, phone_without_location.page
    phone.login("/registrations/new/")
    # One line of explanation comes before the browser's own question.
    assert "ClaO demande votre position" in page.locator("#gps-explain").inner_text()
    page.get_by_role("button", name="Partager ma position").click()
    why = page.locator("#gps-why")
    # This browser has no permission to give: the worker "refuses".
    why.wait_for()
    assert "position" in why.inner_text()
    assert page.get_by_role("link", name="Comment activer la géolocalisation").is_visible()
    phone.axe("form without GPS")
    page.get_by_label("Numéro de déclaration", exact=True).select_option("unknown")
    page.get_by_label("Code postal").press_sequentially("105", delay=50)
    page.locator("#municipality-box li").first.wait_for()
    phone.axe("municipality suggestions open")
    page.locator("#municipality-box button", has_text="Ixelles").click()
    assert page.get_by_label("Commune").input_value() == "Ixelles"
    page.get_by_label("Rue").press_sequentially("louise", delay=50)
    page.locator("#street-box button", has_text="Avenue Louise").click()
    page.locator("[name=house_number]").fill("54")
    page.get_by_role("button", name="IN", exact=True).click()
    page.wait_for_url(CONFIRMATION)
    registration = Registration.objects.get()
    assert (registration.postal_code, registration.municipality, registration.street) == (
        "1050",
        "Ixelles",
        "Avenue Louise",
    )
    assert registration.latitude is None


def test_it_locks_the_ddt_of_a_qr_code(any_phone):
    page = any_phone.page
    any_phone.login("/qr/1Y1002V9KLZ6Z/")
    assert page.url.endswith("/registrations/new/?qr=1Y1002V9KLZ6Z")
    assert page.locator("output.locked").inner_text() == "1Y1002V9KLZ6Z"
    assert page.locator("[name=ddt_number]").count() == 0
    any_phone.type_address()
    page.get_by_role("button", name="IN", exact=True).click()
    page.wait_for_url(CONFIRMATION)
    registration = Registration.objects.get()
    assert registration.source == Registration.Source.QR_CODE
    assert registration.ddt_number == "1Y1002V9KLZ6Z"


def test_it_moves_between_days(any_phone):
    from accounts.models import Person

    anne = Person.objects.get()
    yesterday = timezone.now() - timedelta(days=1)
    make_registration(
        anne,
        "IN",
        yesterday,
        employer_name="N.S.I.",
        postal_code="1000",
        municipality="Bruxelles",
        street="Rue du Midi",
        source=Registration.Source.BADGE_READER,
    )
    page = any_phone.page
    any_phone.login("/")
    forward = page.locator("[aria-disabled=true]")
    assert forward.count() == 1 and forward.get_attribute("href") is None
    page.get_by_role("link", name="Jour précédent").click()
    page.locator(".cards li").first.wait_for()
    assert "date=" in page.url
    page.locator(".cards summary").first.click()
    assert "Badgeuse" in page.locator(".cards").inner_text()
    page.get_by_role("link", name="Jour suivant").click()
    page.wait_for_url(lambda url: str(timezone.localdate()) in url)
    day = (timezone.localdate() - timedelta(days=3)).isoformat()
    page.locator("input[type=date]").fill(day)
    page.get_by_role("button", name="Afficher").click()
    page.wait_for_url(f"**date={day}")
    assert page.locator(".cards li").count() == 0


def test_it_switches_language_on_the_form_keeping_what_was_typed(any_phone):
    page = any_phone.page
    any_phone.login("/registrations/new/")
    page.get_by_label("Autre numéro de déclaration").fill("1Y1002V9KLZ6Z")
    any_phone.use_address()
    page.get_by_label("Code postal").fill("1000")
    page.get_by_label("Rue").fill("Rue du Midi")
    page.locator(".usermenu summary").click()
    page.get_by_role("button", name="Nederlands").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "nl"
    assert page.get_by_role("heading", name="Nieuwe registratie").is_visible()
    assert page.locator("[name=ddt_number]").input_value() == "1Y1002V9KLZ6Z"
    assert page.locator("[name=postal_code]").input_value() == "1000"
    assert page.locator("[name=street]").input_value() == "Rue du Midi"
    assert page.locator("[name=enterprise_number]").input_value() == "0450.905.686"


def test_it_keeps_the_form_through_a_new_login_after_six_hours(any_phone):
    page = any_phone.page
    any_phone.login("/registrations/new/")
    page.get_by_label("Autre numéro de déclaration").fill("1Y1002V9KLZ6Z")
    any_phone.type_address()
    with time_machine.travel(timezone.now() + timedelta(hours=6, minutes=5), tick=True):
        page.get_by_role("button", name="IN", exact=True).click()
        page.wait_for_url("**/dev-idp/sso/**")
        assert not Registration.objects.exists()
        any_phone.answer_idp()
        page.wait_for_url("**/registrations/new/")
        assert page.locator("[name=ddt_number]").input_value() == "1Y1002V9KLZ6Z"
        assert page.locator("[name=street]").input_value() == "Rue du Midi"
        page.get_by_role("button", name="IN", exact=True).click()
        page.wait_for_url(CONFIRMATION)
    assert Registration.objects.get().ddt_number == "1Y1002V9KLZ6Z"


def test_it_stores_one_registration_for_a_double_tap(any_phone):
    page = any_phone.page
    any_phone.login("/registrations/new/")
    page.get_by_label("Numéro de déclaration", exact=True).select_option("unknown")
    any_phone.type_address()
    page.get_by_role("button", name="IN", exact=True).dblclick()
    page.wait_for_url(CONFIRMATION)
    page.wait_for_load_state("networkidle")
    assert Registration.objects.count() == 1
