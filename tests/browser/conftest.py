"""Real-browser journeys: Debian's Chromium driven by Playwright, on a phone-sized screen."""

import json
import os
from pathlib import Path

import pytest
from django.core.management import call_command

from accounts.models import Person
from demo.streets import load_demo_streets
from employers.models import Contract, Employer, WorkDeclaration
from tests.saml import ANNE

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "docs"
CHROMIUM = os.environ.get("CLAO_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps calling Google's hosts.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
PHONE = {
    "viewport": {"width": 360, "height": 740},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "user_agent": (
        "Mozilla/5.0 (Linux; Android 13; SM-A145R) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/156.0.0.0 Mobile Safari/537.36"
    ),
    "locale": "fr-BE",
    "timezone_id": "Europe/Brussels",
}
POSITION = {"latitude": 50.681805, "longitude": 4.834123, "accuracy": 12}


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the tests' own database work
    # (fixtures, assertions) is still plain synchronous code.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def site(live_server, settings, transactional_db):
    """The live server, its geo data, and a worker with one employer and one DDT poster."""
    settings.SITE_ROOT = live_server.url
    # A live server's test flushes the tables after it, the migration's geo data included.
    call_command("loadgeo", verbosity=0)
    load_demo_streets()
    anne = Person.objects.create_user(ANNE["niss"], first_name="Anne-Sophie", last_name="Dubois")
    nsi = Employer.objects.create(number="0450905686", name="N.S.I.", link_token="nsi")
    Contract.objects.create(worker=anne, employer=nsi, kind="DIMONA", start_date="2025-01-01")
    WorkDeclaration.objects.create(
        number="1Y1002V9KLZ6Z",
        employer=nsi,
        postal_code="1000",
        municipality="Bruxelles",
        street="Rue du Midi",
        house_number="100",
    )
    return live_server.url


def _context(browser, *, javascript: bool = True, geolocation: bool = True):
    options = dict(PHONE, java_script_enabled=javascript)
    if geolocation:
        options |= {"geolocation": POSITION, "permissions": ["geolocation"]}
    return browser.new_context(**options)


@pytest.fixture
def phone(browser, site):
    """A phone that shares its position, with a page that records what it downloads."""
    context = _context(browser)
    yield Phone(context.new_page(), site)
    context.close()


@pytest.fixture
def phone_without_location(browser, site):
    context = _context(browser, geolocation=False)
    yield Phone(context.new_page(), site)
    context.close()


@pytest.fixture(params=[True, False], ids=["js", "nojs"])
def any_phone(request, browser, site):
    """The same journey with and without JavaScript: the forms must work without it."""
    context = _context(browser, javascript=request.param, geolocation=False)
    phone = Phone(context.new_page(), site)
    phone.javascript = request.param
    yield phone
    context.close()


class Phone:
    javascript = True

    def __init__(self, page, site: str) -> None:
        self.page = page
        self.site = site
        self.requests: list = []
        page.set_default_timeout(10_000)
        page.on("requestfinished", lambda request: self.requests.append(request))

    def go(self, path: str):
        return self.page.goto(self.site + path)

    def login(self, start: str = "/", person: str = ANNE["niss"], means: str = "itsme"):
        """Through the development IdP: the real SAML round trip, as a worker would."""
        self.go(start)
        self.answer_idp(person, means)

    def answer_idp(self, person: str = ANNE["niss"], means: str = "itsme") -> None:
        """On the IdP's page, in whatever language it speaks: choose the means and the person."""
        self.page.locator(f"input[name=means][value={means}]").check()
        self.page.locator(f"input[name=person][value='{person}']").check()
        self.page.locator("main form button[type=submit]").click()
        if not self.javascript:
            # Without JavaScript the IdP's answer waits for a tap on "Continue".
            self.page.locator("#saml-post button").click()
        self.page.wait_for_load_state()

    def use_address(self) -> None:
        """Without a position shared, the worker taps "give an address instead"."""
        toggle = self.page.locator("#free-address-toggle")
        if self.javascript and toggle.is_visible():
            toggle.click()

    def type_address(self) -> None:
        """The free address typed by hand, as without JavaScript (no suggestion tapped)."""
        self.use_address()
        self.page.get_by_label("Code postal").fill("1000")
        self.page.get_by_label("Commune").fill("Bruxelles")
        self.page.get_by_label("Rue").fill("Rue du Midi")

    def axe(self, context: str) -> None:
        """No WCAG 2.2 AA violation reported by axe-core on the page as it is now."""
        if not self.javascript:
            return
        # Evaluated through the DevTools protocol: a <script> tag would be refused by our CSP.
        self.page.evaluate((ROOT / "node_modules/axe-core/axe.min.js").read_text())
        result = self.page.evaluate(
            """async () => {
                const r = await axe.run(document, {runOnly: {type: 'tag', values:
                  ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}});
                return r.violations.map(v => ({id: v.id, help: v.help,
                  nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}));
            }"""
        )
        assert result == [], f"{context}: " + json.dumps(result, indent=1, ensure_ascii=False)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" and report.failed:
        # What the phone showed when the journey failed, for whoever reads the CI log.
        for name in ("phone", "phone_without_location", "any_phone"):
            phone = item.funcargs.get(name)
            if phone is not None:
                target = ROOT / "test-artifacts" / f"{item.name}.png"
                target.parent.mkdir(exist_ok=True)
                phone.page.screenshot(path=str(target), full_page=True)
                report.sections.append(("screenshot", str(target)))
    return report
