"""Accessibility (axe-core, WCAG 2.2 AA), tap targets, small screens, page weight, screenshots."""

import gzip
import os
import re
import struct
from urllib.parse import urlparse

import pytest

from tests.browser.conftest import ARTIFACTS, ROOT

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CONFIRMATION = re.compile(r"/registrations/\d+/$")
LANGUAGE_NAMES = {"fr": "Français", "nl": "Nederlands", "de": "Deutsch", "en": "English"}
# CLAO_RECORD_DOCS=1 also writes the figures and screenshots under docs/ for the README.
RECORD = os.environ.get("CLAO_RECORD_DOCS") == "1"


def switch_language(phone, language: str) -> None:
    page = phone.page
    if page.locator("html").get_attribute("lang") == language:
        return
    page.locator(".usermenu summary").click()
    page.get_by_role("button", name=LANGUAGE_NAMES[language]).click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == language


def fill_address(page) -> None:
    page.locator("#free-address-toggle").click()
    if page.locator("details.new-address[open]").count() == 0:
        page.locator("details.new-address summary").click()
    page.locator("[name=postal_code]").press_sequentially("100", delay=40)
    page.locator("#municipality-box li").first.wait_for()


@pytest.mark.parametrize("language", ["fr", "nl", "de", "en"])
def test_it_has_no_accessibility_violation_in_any_language(phone, language):
    page = phone.page
    phone.go("/help/")
    switch_language(phone, language)
    page.locator("main details").first.click()
    phone.axe(f"{language} help, anonymous")
    phone.go("/")
    phone.axe(f"{language} identity provider")
    phone.login("/")
    switch_language(phone, language)
    phone.axe(f"{language} empty list")
    phone.go("/registrations/new/")
    page.locator("#gps-status:not([hidden])").wait_for()
    phone.axe(f"{language} form with GPS")
    fill_address(page)
    phone.axe(f"{language} form without GPS, suggestions open")
    page.locator("#municipality-box button").first.click()
    page.locator("[name=street]").press_sequentially("rue", delay=40)
    page.locator("#street-box li").first.wait_for()
    phone.axe(f"{language} street suggestions open")
    page.locator("button[name=kind][value=IN]").click()
    page.wait_for_load_state()
    phone.axe(f"{language} form with errors")
    page.locator("[name=enterprise_number]").fill("0450.905.686")
    page.locator("[name=ddt_choice]").select_option("unknown")
    page.locator("[name=street]").fill("Rue Neuve")
    page.locator("button[name=kind][value=IN]").click()
    page.wait_for_url(CONFIRMATION)
    phone.axe(f"{language} confirmation")
    phone.go("/")
    page.locator(".cards summary").first.click()
    phone.axe(f"{language} list with a registration unfolded")
    phone.go("/?date=2999-01-01")
    phone.axe(f"{language} list with a bad date")
    phone.go("/registrations/999999/")
    phone.axe(f"{language} not found")
    phone.go("/qr/NOPE/")
    phone.axe(f"{language} bad QR code")


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_it_fits_320_px_and_200_percent_text(phone):
    page = phone.page
    page.set_viewport_size({"width": 320, "height": 640})
    phone.login("/")
    paths = ["/", "/registrations/new/", "/help/", "/?date=2026-01-01"]
    for path in paths:
        phone.go(path)
        assert no_horizontal_scroll(page), path
        # 200% text: the CSSOM is not subject to the CSP, unlike a style attribute.
        page.evaluate("document.documentElement.style.fontSize = '200%'")
        assert no_horizontal_scroll(page), f"{path} at 200%"


def test_it_has_big_tap_targets_and_visible_focus(phone):
    page = phone.page
    phone.login("/")
    for name in ("Jour précédent", "Nouvel enregistrement"):
        box = page.get_by_role("link", name=name).bounding_box()
        assert box["width"] >= 44 and box["height"] >= 44, name
    box = page.locator("[aria-disabled=true]").bounding_box()
    assert box["width"] >= 44 and box["height"] >= 44
    phone.go("/registrations/new/")
    for kind in ("IN", "OUT"):
        box = page.locator(f"button[name=kind][value={kind}]").bounding_box()
        assert box["width"] >= 44 and box["height"] >= 44, kind
    page.locator("button[name=kind][value=IN]").focus()
    outline = page.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, s.outlineWidth]; })()"
    )
    assert outline[0] != "none" and outline[1] != "0px"


def measure(phone, path: str) -> dict:
    """Requests and bytes of one page load, from an empty cache; gzip as a server would send."""
    phone.requests.clear()
    response = phone.go(path)
    phone.page.wait_for_load_state("networkidle")
    origin = urlparse(phone.site)
    raw = compressed = 0
    for request in phone.requests:
        parts = urlparse(request.url)
        assert (parts.scheme, parts.netloc) == (origin.scheme, origin.netloc), request.url
        body = request.response().body()
        raw += len(body)
        compressed += len(gzip.compress(body))
    assert response.ok
    return {"requests": len(phone.requests), "bytes": raw, "gzip": compressed}


def test_it_keeps_the_form_and_the_list_under_50_kb(browser, site):
    from tests.browser.conftest import PHONE, POSITION, Phone

    figures = {}
    for name, path in [("list", "/"), ("form", "/registrations/new/"), ("help", "/help/")]:
        # A new context each time: an empty cache, as on a first visit.
        context = browser.new_context(**PHONE, geolocation=POSITION, permissions=["geolocation"])
        phone = Phone(context.new_page(), site)
        phone.login("/")
        figures[name] = measure(phone, path)
        context.close()
    assert figures["list"]["gzip"] < 50 * 1024
    assert figures["form"]["gzip"] < 50 * 1024
    lines = [
        "# Page weight",
        "",
        "Recorded by `tests/browser/test_quality.py` (`CLAO_RECORD_DOCS=1 make test`) on a phone",
        "profile with an empty cache: every request of one page load, all from ClaO's own origin.",
        "The budget, asserted by the test, is 50 KB gzip for the list and for the form.",
        "",
        "| page | requests | bytes | gzip bytes |",
        "|---|---:|---:|---:|",
        *[
            f"| {name} | {f['requests']} | {f['bytes']:,} | {f['gzip']:,} |"
            for name, f in figures.items()
        ],
        "",
    ]
    target = (ARTIFACTS if RECORD else ROOT / "test-artifacts") / "page-weight.md"
    target.parent.mkdir(exist_ok=True)
    target.write_text("\n".join(lines))


def test_it_takes_the_screenshots_of_the_readme(phone):
    from accounts.models import Person
    from checkins.models import Registration
    from tests.factories import make_registration

    folder = ARTIFACTS / "screenshots" if RECORD else ROOT / "test-artifacts" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    page = phone.page
    phone.login("/")
    make_registration(
        Person.objects.get(),
        "IN",
        employer_name="N.S.I.",
        ddt_number="1Y1002V9KLZ6Z",
        postal_code="1000",
        municipality="Bruxelles",
        street="Rue du Midi",
        house_number="100",
        source=Registration.Source.BADGE_READER,
    )
    phone.go("/")
    page.locator(".cards summary").first.click()
    page.screenshot(path=str(folder / "list.png"), full_page=True)
    phone.go("/registrations/new/")
    page.locator("#gps-status:not([hidden])").wait_for()
    page.screenshot(path=str(folder / "form-gps.png"), full_page=True)
    page.locator("[name=ddt_choice]").select_option("1Y1002V9KLZ6Z")
    page.locator("button[name=kind][value=OUT]").click()
    page.wait_for_url(CONFIRMATION)
    page.screenshot(path=str(folder / "confirmation.png"), full_page=True)
    phone.go("/registrations/new/")
    fill_address(page)
    page.screenshot(path=str(folder / "form-address.png"), full_page=True)
    phone.go("/help/")
    page.locator("main details").first.click()
    page.screenshot(path=str(folder / "help.png"), full_page=True)
    shots = {path.name: path.read_bytes() for path in folder.glob("*.png")}
    assert sorted(shots) == [
        "confirmation.png",
        "form-address.png",
        "form-gps.png",
        "help.png",
        "list.png",
    ]
    for name, data in shots.items():
        # Real pictures of the phone's screen: PNG, 360 px at a device scale of 2, full pages.
        assert data[:8] == b"\x89PNG\r\n\x1a\n", name
        width, height = struct.unpack(">II", data[16:24])
        assert width == 720, name
        assert height >= 1000, name
        assert len(data) > 20_000, name
