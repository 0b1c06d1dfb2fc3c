"""The home page: the worker's registrations of one local day in Europe/Brussels."""

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from accounts.models import Person
from checkins.models import Registration
from tests.factories import make_registration
from tests.pages import field_value, tree
from tests.saml import JAN

pytestmark = pytest.mark.django_db

BRUSSELS = ZoneInfo("Europe/Brussels")
UTC = ZoneInfo("UTC")
# A Sunday morning; "today" in every test unless it travels elsewhere.
NOW = datetime(2026, 11, 29, 10, 0, tzinfo=BRUSSELS)
TODAY = NOW.date()
YESTERDAY = TODAY - timedelta(days=1)

_TIME = re.compile(r'<time datetime="[^"]+">([^<]+)</time>')
_SUMMARY_KIND = re.compile(r'<span class="kind kind-(?:in|out)">(IN|OUT)</span>')


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def owner(client, anne, frozen):
    # English msgids: the assertions do not depend on the state of the catalogs.
    anne.language = "en"
    anne.save()
    client.force_login(anne)
    return anne


@pytest.fixture
def jan(db):
    return Person.objects.create_user(JAN["niss"], first_name=JAN["first_name"])


def register(worker, kind: str, when: datetime, **fields) -> Registration:
    return make_registration(worker, kind, when, **({"employer_name": "N.S.I."} | fields))


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BRUSSELS)


def page(client, url: str = "/", **headers) -> str:
    response = client.get(url, **headers)
    assert response.status_code == 200
    return response.content.decode()


def times(html: str) -> list[str]:
    """The times on the cards, top to bottom."""
    return _TIME.findall(html)


def cards(html: str) -> list[str]:
    return re.findall(r'<details class="card registration.*?</details>', html, re.S)


# The list of today


def test_it_lists_todays_registrations_newest_first(client, owner):
    register(owner, "IN", local(TODAY, 6, 5))
    register(owner, "OUT", local(TODAY, 9, 45))
    register(owner, "IN", local(TODAY, 8, 0))
    # Yesterday's does not belong to today's list.
    register(owner, "OUT", local(YESTERDAY, 17, 0))

    html = page(client)

    assert times(html) == ["09:45", "08:00", "06:05"]
    assert _SUMMARY_KIND.findall(html) == ["OUT", "IN", "IN"]
    assert "Sunday 29 November 2026" in html
    assert 'href="/registrations/new/"' in html
    assert 'href="/help/#others"' in html


def test_it_says_when_there_is_no_registration(client, owner):
    register(owner, "IN", local(TODAY - timedelta(days=3), 8))

    html = page(client)
    assert cards(html) == []
    assert '<p class="empty">No registrations yet for this day.</p>' in html

    html = page(client, f"/?date={YESTERDAY}")
    assert '<p class="empty">No registrations on this day.</p>' in html


def test_it_shows_every_source(client, owner):
    for minute, source in enumerate(Registration.Source.values):
        register(owner, "IN", local(TODAY, 7, minute), source=source)

    html = page(client)

    assert len(cards(html)) == 5
    for label in (
        "Smartphone",
        "QR code",
        "Badge reader",
        "Employer application",
        "ONSS application",
    ):
        assert f"<dd>{label}</dd>" in html


def test_it_shows_the_details_of_a_card_when_unfolded(client, owner):
    register(owner, "IN", local(TODAY, 7), ddt_number="1Y1002V9KLZ6Z", employer_name="N.S.I.")
    register(
        owner,
        "OUT",
        local(TODAY, 9),
        ddt_number="",
        employer_name="",
        latitude=None,
        longitude=None,
        postal_code="1000",
        municipality="Bruxelles",
        street="Rue de la Loi",
        house_number="16",
        source=Registration.Source.BADGE_READER,
    )

    out_card, in_card = cards(page(client))

    # The summary: type, time, enterprise number; the rest folded in <details>.
    assert re.search(r"<summary>.*kind-in.*07:00.*0450\.905\.686.*</summary>", in_card, re.S)
    assert "<dd>1Y1002V9KLZ6Z</dd>" in in_card
    assert "X: 4.349540 Y: 50.845060" in in_card
    assert "<dd>N.S.I.</dd>" in in_card
    assert "<dd>Smartphone</dd>" in in_card
    assert "<dd>not known</dd>" in out_card  # no DDT number, and no employer name
    assert "Rue de la Loi 16, 1000 Bruxelles" in out_card
    assert "X:" not in out_card
    assert "<dd>Badge reader</dd>" in out_card


# Other days


def test_it_shows_the_registrations_of_the_chosen_date(client, owner):
    register(owner, "IN", local(date(2026, 11, 3), 8, 15))
    register(owner, "OUT", local(date(2026, 11, 3), 16, 30))
    register(owner, "IN", local(date(2026, 11, 4), 8, 0))
    register(owner, "IN", local(TODAY, 8, 0))

    html = page(client, "/?date=2026-11-03")

    assert times(html) == ["16:30", "08:15"]
    assert "Tuesday 3 November 2026" in html
    assert field_value(html, "date") == "2026-11-03"
    assert tree(html).xpath('//p[@class="today-link"]/a/@href') == ["/"]


def test_it_offers_the_native_date_picker(client, owner):
    html = page(client)

    (picker,) = tree(html).xpath('//form[contains(@class, "daypicker")]')
    assert (picker.get("method"), picker.get("action")) == ("get", "/")
    (date_input,) = picker.xpath('.//input[@name="date"]')
    assert date_input.attrib == {
        "type": "date",
        "id": "day-date",
        "name": "date",
        "value": "2026-11-29",
        "max": "2026-11-29",
    }
    (label,) = picker.xpath('.//label[@for="day-date"]')
    assert label.xpath(".//svg/@aria-hidden") == ["true"]
    assert label.text_content().strip() == "Choose a date"
    assert [b.text_content() for b in picker.xpath('.//button[@type="submit"]')] == ["Show"]


def test_it_links_the_arrows_to_the_previous_and_next_day(client, owner):
    html = page(client, "/?date=2026-03-01")

    arrow = r'<a class="arrow"[^>]* href="\?date={}"[^>]*aria-label="{}"'
    assert re.search(arrow.format("2026-02-28", "Previous day"), html)
    assert re.search(arrow.format("2026-03-02", "Next day"), html)
    # The same links drive htmx, which swaps the list and pushes the URL.
    assert 'hx-get="?date=2026-02-28"' in html
    assert 'hx-target="#day-list"' in html
    assert 'hx-push-url="true"' in html


def test_it_disables_the_forward_arrow_on_today_only(client, owner):
    today = page(client)
    (forward,) = tree(today).xpath('//*[@id="next-day"]')
    assert forward.tag == "span"
    assert (forward.get("aria-disabled"), forward.get("aria-label")) == ("true", "Next day")
    assert f'href="?date={TODAY + timedelta(days=1)}"' not in today
    # Going back has no limit.
    assert f'href="?date={YESTERDAY}"' in today

    yesterday = page(client, f"/?date={YESTERDAY}")
    assert 'aria-disabled="true"' not in yesterday
    assert f'href="?date={TODAY}"' in yesterday


def test_it_shows_today_for_a_date_in_the_future(client, owner):
    register(owner, "IN", local(TODAY, 8))
    register(owner, "IN", local(TODAY + timedelta(days=1), 8))  # cannot happen; must not show

    html = page(client, f"/?date={TODAY + timedelta(days=1)}")

    assert "This date is in the future: today&#x27;s registrations are shown." in html
    assert times(html) == ["08:00"]
    assert "Sunday 29 November 2026" in html


@pytest.mark.parametrize(
    "value", ["2026-13-01", "2026-02-30", "yesterday", "20261128", "2026-W48-6", "0001-01-01"]
)
def test_it_shows_today_for_a_malformed_date(client, owner, value):
    register(owner, "IN", local(TODAY, 8))
    register(owner, "IN", local(YESTERDAY, 8))

    html = page(client, f"/?date={value}")

    assert "This date is not valid: today&#x27;s registrations are shown." in html
    assert times(html) == ["08:00"]
    assert "Sunday 29 November 2026" in html


def test_it_returns_only_the_list_to_htmx(client, owner):
    register(owner, "IN", local(YESTERDAY, 8))

    response = client.get(f"/?date={YESTERDAY}", HTTP_HX_REQUEST="true")
    html = response.content.decode()

    assert response.status_code == 200
    assert "<html" not in html
    assert 'id="day-list"' not in html  # the container stays in the page; only its inside
    assert "Saturday 28 November 2026" in html
    assert times(html) == ["08:00"]
    assert "HX-Request" in response["Vary"]


def test_it_returns_the_whole_page_to_an_htmx_history_restore(client, owner):
    html = page(client, "/", HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert "<html" in html


def test_it_loads_htmx_without_breaking_the_csp(client, owner):
    response = client.get("/")
    html = response.content.decode()

    assert '<script src="/static/js/htmx.min.js" defer></script>' in html
    assert "script-src 'self' 'nonce-" in response["Content-Security-Policy"]
    assert " style=" not in html
    assert not re.search(r"\son[a-z]+=", html)  # no inline event handler
    for script in re.findall(r"<script[^>]*>", html):
        assert " src=" in script or ' nonce="' in script


# Local days and daylight saving time


def test_it_lists_every_registration_of_the_spring_change_day_once(client, owner):
    day = date(2026, 3, 29)  # 02:00 becomes 03:00: a 23-hour day
    stored = [
        register(owner, "IN", local(day - timedelta(days=1), 23, 59)),
        register(owner, "IN", local(day, 0, 10)),
        register(owner, "OUT", local(day, 1, 59)),
        register(owner, "IN", datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),  # 03:00 CEST
        register(owner, "OUT", local(day, 23, 59)),
        register(owner, "IN", local(day + timedelta(days=1), 0, 0)),
    ]

    html = page(client, "/?date=2026-03-29")

    assert times(html) == ["23:59", "03:00", "01:59", "00:10"]
    assert "(UTC" not in html  # no local time is ambiguous in spring
    shown = sum(len(times(page(client, f"/?date={d}"))) for d in ("2026-03-28", "2026-03-30"))
    assert shown + 4 == len(stored)


def test_it_lists_every_registration_of_the_autumn_change_day_once(client, owner):
    day = date(2026, 10, 25)  # 03:00 becomes 02:00 again: a 25-hour day
    stored = [
        register(owner, "IN", local(day, 0, 10)),
        register(owner, "OUT", datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),  # 02:30 CEST
        register(owner, "IN", datetime(2026, 10, 25, 1, 30, tzinfo=UTC)),  # 02:30 CET
        register(owner, "OUT", datetime(2026, 10, 25, 2, 0, tzinfo=UTC)),  # 03:00 CET
        register(owner, "IN", local(day, 23, 50)),
        register(owner, "OUT", local(day + timedelta(days=1), 0, 0)),
    ]

    html = page(client, "/?date=2026-10-25")

    # The repeated hour says which 02:30 it is; the other times need no offset.
    assert times(html) == ["23:50", "03:00", "02:30 (UTC+1)", "02:30 (UTC+2)", "00:10"]
    assert "2026-10-25T02:30:00+02:00" in html
    assert "2026-10-25T02:30:00+01:00" in html
    assert len(times(page(client, "/?date=2026-10-26"))) == 1
    assert len(stored) == 6


def test_it_puts_half_past_midnight_on_its_own_date(client, owner):
    # 00:30 in Brussels is still the previous day in UTC.
    register(owner, "IN", local(date(2026, 7, 14), 0, 30))

    assert times(page(client, "/?date=2026-07-14")) == ["00:30"]
    assert times(page(client, "/?date=2026-07-13")) == []


def test_it_shows_a_night_shift_on_both_days(client, owner):
    register(owner, "IN", local(YESTERDAY, 22, 0))
    register(owner, "OUT", local(TODAY, 6, 0))

    first = page(client, f"/?date={YESTERDAY}")
    assert times(first) == ["22:00"]
    assert "Closes the IN" not in first
    assert "No OUT registered" not in first

    second = page(client)
    assert times(second) == ["06:00"]
    assert '<p class="closes">Closes the IN of 28/11/26, 22:00</p>' in second


def test_it_says_which_in_an_out_of_the_same_day_closes(client, owner):
    register(owner, "IN", local(TODAY, 7, 0))
    register(owner, "OUT", local(TODAY, 9, 30))
    # An OUT after an OUT closes nothing.
    register(owner, "OUT", local(TODAY, 9, 40))

    html = page(client)
    assert html.count('class="closes"') == 1
    assert "Closes the IN of 29/11/26, 07:00" in html


# IN without OUT


def test_it_flags_an_open_in_from_an_earlier_day(client, owner):
    register(owner, "IN", local(TODAY - timedelta(days=2), 8, 0))

    earlier = page(client, "/?date=2026-11-27")
    (card,) = cards(earlier)
    assert "no-out" in tree(card).get("class").split()
    assert "No OUT registered after this IN" in card

    today = page(client)
    assert "Your IN of 27/11/26, 08:00 has no OUT." in today


def test_it_flags_an_in_followed_by_another_in(client, owner):
    register(owner, "IN", local(TODAY, 7, 0))
    register(owner, "IN", local(TODAY, 8, 0))

    html = page(client)
    latest, forgotten = cards(html)
    assert "No OUT registered" in forgotten
    # The IN of today without OUT yet is the shift going on.
    assert "No OUT registered" not in latest
    assert "has no OUT." not in html


def test_it_does_not_flag_an_in_that_has_its_out(client, owner):
    register(owner, "IN", local(YESTERDAY, 8, 0))
    register(owner, "OUT", local(TODAY, 1, 0))

    assert "No OUT registered" not in page(client, f"/?date={YESTERDAY}")
    assert "has no OUT." not in page(client)


def test_it_gives_the_open_in_to_the_page(client, owner):
    # The "Are you stopping work?" box uses it, whatever day is shown.
    register(owner, "OUT", local(TODAY - timedelta(days=10), 17))
    open_in = register(owner, "IN", local(TODAY, 7))

    response = client.get("/?date=2026-11-19")
    assert response.context["state"].registration == open_in
    assert 'id="quick-out-form"' in response.content.decode()

    register(owner, "OUT", local(TODAY, 9))
    response = client.get("/")
    assert response.context["state"].registration is None
    assert 'id="quick-out-form"' not in response.content.decode()


# Ownership


def test_it_checks_ownership(client, owner, jan):
    register(owner, "OUT", local(TODAY, 9, 0))
    # Jan's IN just before Anne's OUT, and Jan's open IN: none of it reaches Anne's page.
    register(jan, "IN", local(TODAY, 8, 0), enterprise_number="0202239951")
    register(jan, "IN", local(TODAY, 9, 30), enterprise_number="0202239951")
    register(jan, "IN", local(YESTERDAY, 8, 0), enterprise_number="0202239951")

    for url in ("/", f"/?date={YESTERDAY}", f"/?date={TODAY}"):
        response = client.get(url)
        html = response.content.decode()
        assert "0202239951" not in html
        assert "Closes the IN" not in html
        assert "has no OUT." not in html
        assert response.context["state"].registration is None
    assert times(page(client)) == ["09:00"]
    assert times(page(client, f"/?date={YESTERDAY}")) == []


def test_it_shows_other_sources_of_the_owner_only(client, owner, jan):
    register(owner, "IN", local(TODAY, 6), source=Registration.Source.ONSS_APP)
    register(jan, "IN", local(TODAY, 7), source=Registration.Source.EMPLOYER_APP)

    html = page(client)
    assert "<dd>ONSS application</dd>" in html
    assert "Employer application" not in html


def test_it_sends_anonymous_to_the_login(client, anne):
    register(anne, "IN", local(TODAY, 8))

    for url in ("/", f"/?date={YESTERDAY}"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=/")
    response = client.get("/", HTTP_HX_REQUEST="true")
    # htmx is told to load the login as a whole page rather than swap it into the list.
    assert response.status_code == 204
    assert response["HX-Redirect"] == "/login/?next=/"
    assert "0450.905.686" not in response.content.decode()


# Query budget


@pytest.mark.parametrize("count", [1, 30])
@pytest.mark.parametrize("headers", [{}, {"HTTP_HX_REQUEST": "true"}])
def test_it_runs_a_fixed_number_of_queries(
    client, owner, django_assert_num_queries, count, headers
):
    start = local(YESTERDAY, 6)
    for index in range(count):
        register(owner, "IN" if index % 2 == 0 else "OUT", start + timedelta(minutes=20 * index))
    # Neighbours on both sides, and an open IN: every feature of the page is exercised.
    register(owner, "IN", local(YESTERDAY - timedelta(days=1), 22))
    register(owner, "IN", local(TODAY, 7))

    # Issue 12's budget: 1. the session, 2. the worker, 3. the day's registrations with, in the
    # same query, the registration before the day, the one after it and the latest (open IN).
    # Issue 15: no query for corrections when the day has none.
    with django_assert_num_queries(3):
        response = client.get(f"/?date={YESTERDAY}", **headers)

    assert len(times(response.content.decode())) == count
    assert response.context["state"].registration is not None


def card_templates(response) -> int:
    return sum(1 for template in response.templates if template.name == "checkins/card.html")


def test_it_renders_each_card_once_then_shows_it_from_the_cache(client, owner):
    register(owner, "IN", local(TODAY, 7))
    register(owner, "OUT", local(TODAY, 12))

    first = client.get("/")
    second = client.get("/")

    assert card_templates(first) == 2
    assert card_templates(second) == 0
    assert cards(second.content.decode()) == cards(first.content.decode())
    assert second.content.decode().count('<details class="card registration') == 2


def test_it_shows_what_changed_a_card_since_it_was_cached(client, owner, inspector):
    from checkins.services import Place
    from checkins.services import register as store

    first_in = register(owner, "IN", local(TODAY, 7))
    assert "No OUT registered after this IN" not in page(client)

    # Another IN after it: the first one now has no OUT.
    register(owner, "IN", local(TODAY, 8))
    assert page(client).count("No OUT registered after this IN") == 1

    # A correction of the ONSS (a new registration): the card shows it.
    store(
        worker=owner,
        kind="IN",
        enterprise_number=first_in.enterprise_number,
        place=Place.of(first_in),
        source=Registration.Source.ONSS_APP,
        idempotency_key="cancel-first-in",
        acted_by=inspector,
        corrects=first_in,
        correction_kind="cancel",
        correction_reason="not_worked",
    )
    html = page(client)
    assert "Cancelled by the ONSS" in html
    assert "No OUT registered after this IN" not in html


def test_it_shows_a_cached_card_in_the_language_of_the_page(client, owner):
    register(owner, "IN", local(TODAY, 7))
    assert "Declaration number" in page(client)

    owner.language = "fr"
    owner.save()
    html = page(client)
    assert "Numéro de déclaration" in html
    assert "Declaration number" not in html
