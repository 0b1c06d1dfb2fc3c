"""Issue #10: the worker's side on a phone, as a new user tries it (location states, refused
numbers, the calendar, the language on another day, 320 px, the rough edges)."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone, translation
from django.utils.dateformat import format as format_date

from checkins.models import Registration
from employers.models import Contract, Employer
from tests.browser.conftest import POSITION
from tests.factories import make_registration

CONFIRMATION = re.compile(r"/registrations/\d+/$")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def fake_geolocation(page, *, delay_ms: int = 0, error_code: int | None = None) -> None:
    """The phone's GPS as the page sees it: slow, or failing with a given error code."""
    answer = (
        f"error({{code: {error_code}, message: 'test'}})"
        if error_code is not None
        else (
            f"success({{coords: {{latitude: {POSITION['latitude']}, "
            f"longitude: {POSITION['longitude']}, accuracy: {POSITION['accuracy']}}}, "
            "timestamp: Date.now()})"
        )
    )
    page.add_init_script(
        "navigator.geolocation.getCurrentPosition = function (success, error) {"
        f"  setTimeout(function () {{ {answer}; }}, {delay_ms});"
        "};"
    )


def focused_name(page) -> str:
    return page.evaluate("document.activeElement && document.activeElement.name")


def anne():
    from accounts.models import Person

    return Person.objects.get()


def stored(**fields) -> Registration:
    values = {
        "worker": anne(),
        "kind": "IN",
        "recorded_at": timezone.now() - timedelta(days=1),
        "enterprise_number": "0450905686",
        "employer_name": "N.S.I.",
        "postal_code": "1000",
        "municipality": "Bruxelles",
        "street": "Rue du Midi",
        "source": Registration.Source.SMARTPHONE,
    }
    values |= fields
    worker, kind, when = values.pop("worker"), values.pop("kind"), values.pop("recorded_at")
    return make_registration(worker, kind, when, **values)


# Item 1: a submit that cannot be stored always says why.


@pytest.mark.parametrize("state", ["not asked", "refused", "timed out", "unavailable"])
def test_it_explains_a_refused_in_whatever_the_state_of_the_location(phone_without_location, state):
    phone, page = phone_without_location, phone_without_location.page
    if state in ("timed out", "unavailable"):
        fake_geolocation(page, error_code=3 if state == "timed out" else 2)
    phone.login("/registrations/new/")
    page.get_by_label("Numéro de déclaration", exact=True).select_option("unknown")
    if state != "not asked":
        page.get_by_role("button", name="Partager ma position").click()
        page.locator("#gps-why:not([hidden])").wait_for()
    page.get_by_role("button", name="IN", exact=True).click()
    page.wait_for_load_state()

    assert not Registration.objects.exists()
    assert page.get_by_role("alert").filter(has_text="Rien n’a été enregistré").is_visible()
    assert page.get_by_text("Encodez le code postal.").is_visible()
    assert page.get_by_text("Encodez la rue.").is_visible()
    # The worker is taken to the first field to correct, and told about the location.
    page.wait_for_function("document.activeElement.name === 'postal_code'")
    assert page.locator("#gps-why").is_visible()
    assert "position" in page.locator("#gps-why").inner_text()
    phone.axe(f"refused IN, location {state}")


def test_it_stores_the_in_once_the_position_is_shared_after_a_refusal(phone_without_location):
    phone, page = phone_without_location, phone_without_location.page
    phone.login("/registrations/new/")
    page.get_by_label("Numéro de déclaration", exact=True).select_option("unknown")
    page.get_by_role("button", name="IN", exact=True).click()
    page.get_by_text("Encodez le code postal.").wait_for()
    assert "ClaO n’a pas votre position" in page.locator("#gps-why").inner_text()
    # Now the worker allows the location and taps "Partager ma position".
    page.context.grant_permissions(["geolocation"])
    page.context.set_geolocation(POSITION)
    page.get_by_role("button", name="Partager ma position").click()
    page.locator("#gps-status:not([hidden])").wait_for()
    assert "X: 4.834123 Y: 50.681805" in page.locator("#gps-status").inner_text()
    page.get_by_role("button", name="IN", exact=True).click()
    page.wait_for_url(CONFIRMATION)
    assert float(Registration.objects.get().latitude) == POSITION["latitude"]


def test_it_waits_for_a_position_on_its_way_then_stores_it(phone):
    page = phone.page
    fake_geolocation(page, delay_ms=2500)
    phone.login("/registrations/new/")
    waiting = page.locator("#gps-waiting")
    waiting.wait_for()
    assert waiting.inner_text() == "Recherche de votre position…"
    below = page.locator("#free-address-toggle").bounding_box()["y"]
    # No empty notice bar while waiting.
    assert page.locator(".notice:visible").count() == 0
    page.get_by_label("Numéro de déclaration", exact=True).select_option("unknown")
    page.get_by_role("button", name="IN", exact=True).click()
    page.wait_for_url(CONFIRMATION)
    registration = Registration.objects.get()
    assert float(registration.latitude) == POSITION["latitude"]
    assert below > 0


def test_it_keeps_the_layout_when_the_position_arrives(phone):
    page = phone.page
    fake_geolocation(page, delay_ms=1500)
    phone.login("/registrations/new/")
    page.locator("#gps-waiting:not([hidden])").wait_for()
    before = page.locator("#free-address-toggle").bounding_box()["y"]
    page.locator("#gps-status:not([hidden])").wait_for()
    assert page.locator("#free-address-toggle").bounding_box()["y"] == before


def test_it_labels_the_quick_out_while_the_position_is_awaited(phone):
    page = phone.page
    stored(recorded_at=timezone.now() - timedelta(hours=2))
    fake_geolocation(page, delay_ms=2000)
    phone.login("/")
    page.locator("#quick-out-form").get_by_role("button", name="OUT").click()
    button = page.locator("#quick-out-form button")
    assert button.inner_text().replace("\xa0", " ") == "OUT : recherche de votre position…"
    assert button.is_disabled()
    page.wait_for_url(CONFIRMATION)
    assert Registration.objects.filter(kind="OUT").count() == 1


def test_it_keeps_the_address_choice_after_an_error_on_a_located_form(phone):
    page = phone.page
    phone.login("/registrations/new/")
    page.locator("#gps-status:not([hidden])").wait_for()
    # The worker walked on meanwhile: the form shown again refreshes the position.
    page.context.set_geolocation({"latitude": 50.8451, "longitude": 4.3495, "accuracy": 7})
    # No DDT choice: refused, with the position kept.
    page.get_by_role("button", name="IN", exact=True).click()
    page.get_by_text("Choisissez un numéro de déclaration").wait_for()
    assert not Registration.objects.exists()
    assert page.locator("#gps-status").is_visible()
    page.wait_for_function("document.querySelector('#gps-status .x').textContent === '4.349500'")
    assert focused_name(page) == "ddt_choice"
    toggle = page.get_by_role("button", name="Indiquer plutôt une adresse")
    assert toggle.is_visible()
    toggle.click()
    assert page.get_by_label("Code postal").is_visible()


def test_it_opens_the_new_address_part_for_a_worker_with_saved_addresses(phone):
    page = phone.page
    stored(house_number="100", box="5")
    phone.login("/registrations/new/")
    page.locator("#gps-status:not([hidden])").wait_for()
    page.get_by_role("button", name="Indiquer plutôt une adresse").click()
    assert page.locator("details.new-address[open]").count() == 1
    assert page.get_by_label("Code postal").is_visible()
    options = page.locator("[name=saved_address] option").all_inner_texts()
    assert "Rue du Midi 100/Bte 5, 1000 Bruxelles" in options


def test_it_shows_no_empty_notice_when_a_typed_address_comes_back(phone_without_location):
    phone, page = phone_without_location, phone_without_location.page
    phone.login("/registrations/new/")
    phone.type_address()
    # No DDT choice: the form comes back with the typed address.
    page.get_by_role("button", name="IN", exact=True).click()
    page.get_by_text("Choisissez un numéro de déclaration").wait_for()
    assert page.get_by_label("Rue").input_value() == "Rue du Midi"
    for notice in page.locator(".notice:visible").all():
        assert notice.inner_text().strip()


def test_it_says_the_typed_number_wins_over_the_ticked_employer(phone):
    page = phone.page
    other = Employer.objects.create(number="0755123422", name="Net & Propre SRL")
    Contract.objects.create(worker=anne(), employer=other, kind="DIMONA", start_date="2025-01-01")
    phone.login("/registrations/new/")
    note = page.locator("#typed-wins")
    page.get_by_label(re.compile("Net & Propre")).check()
    assert note.is_hidden()
    page.get_by_label("Autre numéro d’entreprise").fill("0202.239.951")
    assert note.is_visible()
    assert "numéro tapé qui sera enregistré" in note.inner_text()


# Item 2: the QR lock belongs to the form reached from the QR code.


def test_it_drops_the_qr_lock_back_at_the_list_then_a_new_registration(any_phone):
    page = any_phone.page
    any_phone.login("/qr/1Y1002V9KLZ6Z/")
    assert page.locator("output.locked").inner_text() == "1Y1002V9KLZ6Z"
    page.get_by_role("link", name="Retour à la liste").click()
    page.get_by_role("link", name="Nouvel enregistrement").click()
    page.wait_for_load_state()
    assert page.locator("output.locked").count() == 0
    page.get_by_label("Numéro de déclaration", exact=True).select_option("unknown")
    any_phone.type_address()
    page.get_by_role("button", name="IN", exact=True).click()
    page.wait_for_url(CONFIRMATION)
    registration = Registration.objects.get()
    assert (registration.source, registration.ddt_number) == ("smartphone", "")
    assert "Code QR" not in page.locator("main").inner_text()


def test_it_lets_a_worker_who_scanned_the_wrong_poster_choose_the_number(any_phone):
    page = any_phone.page
    any_phone.login("/qr/1Y1002V9KLZ6Z/")
    page.get_by_role("link", name="Ce n’est pas mon chantier").click()
    page.wait_for_load_state()
    assert page.locator("output.locked").count() == 0
    page.get_by_label("Autre numéro de déclaration").fill("1Y1003A8HTX2K")
    any_phone.type_address()
    page.get_by_role("button", name="IN", exact=True).click()
    page.wait_for_url(CONFIRMATION)
    registration = Registration.objects.get()
    assert (registration.source, registration.ddt_number) == ("smartphone", "1Y1003A8HTX2K")


# Item 3: a foreign number of no known country is refused before anything is stored.


@pytest.mark.parametrize("typed", ["XX123", "ZZ1234567"])
def test_it_refuses_a_vat_number_of_no_known_country(phone, typed):
    page = phone.page
    phone.login("/registrations/new/")
    page.locator("#gps-status:not([hidden])").wait_for()
    page.get_by_label("Numéro d’entreprise").fill(typed)
    page.get_by_label("Numéro de déclaration", exact=True).select_option("unknown")
    page.get_by_role("button", name="IN", exact=True).click()
    page.get_by_text(f"{typed[:2]} n’est pas le code pays d’un numéro de TVA.").wait_for()
    assert not Registration.objects.exists()
    assert focused_name(page) == "enterprise_number"
    assert page.get_by_label("Numéro d’entreprise").input_value() == typed


# The list: calendar, language on another day, cards, 320 px.


def test_it_shows_the_chosen_date_at_once_with_javascript(phone):
    page = phone.page
    stored(recorded_at=timezone.now() - timedelta(days=3), source="badge")
    phone.login("/")
    day = timezone.localdate() - timedelta(days=3)
    page.locator("input[type=date]").fill(day.isoformat())
    # No tap on "Afficher": the day is shown.
    page.wait_for_url(f"**date={day.isoformat()}")
    page.locator(".cards summary").first.click()
    assert "Badgeuse" in page.locator(".cards").inner_text()


def test_it_keeps_the_day_shown_when_the_language_changes(phone):
    page = phone.page
    phone.login("/")
    page.get_by_role("link", name="Jour précédent").click()
    yesterday = timezone.localdate() - timedelta(days=1)
    page.wait_for_url(f"**date={yesterday.isoformat()}")
    page.locator(".usermenu summary").click()
    page.get_by_role("button", name="Deutsch").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "de"
    assert f"date={yesterday.isoformat()}" in page.url
    with translation.override("de"):
        expected = format_date(yesterday, "l, j. F Y")  # "Samstag, 28. November 2026"
    assert page.locator("#day-heading").inner_text() == expected


def test_it_shows_that_a_card_opens(phone):
    page = phone.page
    stored(recorded_at=timezone.now() - timedelta(minutes=5))
    phone.login("/")
    summary = page.locator(".cards summary").first
    marker = "el => { const s = getComputedStyle(el, '::after'); return [s.content, s.transform]; }"
    closed = summary.evaluate(marker)
    assert closed[0] not in ("none", "normal")
    summary.click()
    opened = summary.evaluate(marker)
    assert opened[0] not in ("none", "normal") and opened[1] != closed[1]


def test_it_shows_the_whole_date_field_at_320_px(phone):
    page = phone.page
    page.set_viewport_size({"width": 320, "height": 640})
    phone.login("/")
    field = page.locator("input[type=date]")
    box = field.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 320
    # The date itself is not cut: inside its padding, the field holds a whole date
    # ("00/00/0000" in its own font) and the picker icon.
    assert field.evaluate(
        """el => {
            const style = getComputedStyle(el);
            const context = document.createElement("canvas").getContext("2d");
            context.font = style.font;
            const inner = el.clientWidth - parseFloat(style.paddingLeft)
                - parseFloat(style.paddingRight);
            return inner >= context.measureText("00/00/0000").width + 24;
        }"""
    )


# Item 5: localhost and 127.0.0.1 are the same demo server.


def test_it_logs_in_through_localhost_when_the_site_root_says_127_0_0_1(phone, settings):
    page = phone.page
    settings.SITE_ROOT = phone.site.replace("localhost", "127.0.0.1")
    phone.site = phone.site.replace("127.0.0.1", "localhost")
    phone.login("/")
    page.get_by_role("heading", name="Mes enregistrements").wait_for()
    assert page.url.startswith(phone.site)
