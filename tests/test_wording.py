"""The worker's words in each language: French grammar, day headings, the manual's field names."""

import re
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import translation

from checkins.models import Registration
from tests.factories import make_registration

pytestmark = pytest.mark.django_db

BRUSSELS = ZoneInfo("Europe/Brussels")


def register(worker, kind: str, when: datetime, **fields) -> Registration:
    values = {
        "worker": worker,
        "kind": kind,
        "recorded_at": when,
        "enterprise_number": "0450905686",
        "employer_name": "N.S.I.",
        "latitude": Decimal("50.845060"),
        "longitude": Decimal("4.349540"),
        "source": Registration.Source.SMARTPHONE,
    }
    values |= fields
    worker, kind, when = values.pop("worker"), values.pop("kind"), values.pop("recorded_at")
    return make_registration(worker, kind, when, **values)


def text(response) -> str:
    assert response.status_code == 200
    return response.content.decode().replace("\xa0", " ").replace("\u202f", " ")


def heading(page: str) -> str:
    return re.search(r'<h2 class="day" id="day-heading">([^<]+)</h2>', page).group(1)


@pytest.fixture
def worker(client, anne):
    client.force_login(anne)
    return anne


def speaking(client, worker, language: str) -> None:
    worker.language = language
    worker.save()


@pytest.mark.parametrize(
    ("language", "day", "expected"),
    [
        ("fr", "2026-11-01", "Dimanche 1er novembre 2026"),
        ("fr", "2026-11-29", "Dimanche 29 novembre 2026"),
        ("de", "2026-11-29", "Sonntag, 29. November 2026"),
        ("de", "2026-11-01", "Sonntag, 1. November 2026"),
        ("nl", "2026-11-29", "Zondag 29 november 2026"),
        ("en", "2026-11-01", "Sunday 1 November 2026"),
    ],
)
def test_it_names_the_day_as_each_language_writes_it(client, worker, language, day, expected):
    speaking(client, worker, language)
    with time_machine.travel(datetime(2026, 11, 29, 10, tzinfo=BRUSSELS), tick=False):
        page = text(client.get(f"/?date={day}"))
    assert heading(page) == expected


def test_it_writes_french_elision_before_in_and_out(client, worker):
    now = datetime(2026, 11, 29, 10, tzinfo=BRUSSELS)
    register(worker, "IN", now - timedelta(days=2, hours=2))
    register(worker, "IN", now - timedelta(days=1, hours=2))
    register(worker, "OUT", now - timedelta(days=1, hours=1))
    register(worker, "IN", now - timedelta(hours=20))
    with time_machine.travel(now, tick=False):
        earlier = text(client.get("/?date=2026-11-27"))
        yesterday = text(client.get("/?date=2026-11-28"))
        form = text(client.get("/registrations/new/"))
    assert "Aucun OUT enregistré après cet IN" in earlier
    assert "Clôture l’IN du 28/11/26, 08:00" in yesterday
    assert "Votre IN du 28/11/26, 14:00 n’a pas d’OUT." in form
    for page in (earlier, yesterday, form):
        assert "ce IN" not in page and "le IN" not in page and "de OUT" not in page


def test_it_names_the_onss_application_as_french_does(client, worker):
    register(worker, "IN", datetime.now(BRUSSELS), source=Registration.Source.ONSS_APP)
    page = text(client.get("/"))
    assert "Application de l’ONSS" in page


def test_it_greets_in_neutral_french_after_logging_out(client):
    from tests.saml import saml_login

    saml_login(client, "/")
    response = client.post("/logout/", follow=True)
    page = response.content.decode()
    assert "déconnecté" not in page and "identifié" not in page


def test_it_answers_the_dev_idp_login_in_neutral_french():
    with translation.override("fr"):
        assert translation.gettext("You are identified. Continue to ClaO.") == (
            "Identification réussie. Continuez vers ClaO."
        )


@pytest.mark.parametrize("language", ["fr", "nl", "de", "en"])
def test_it_names_the_place_field_in_the_help_as_on_the_form(client, worker, language):
    """The manual's guide names the field the form shows; the help quotes it exactly."""
    speaking(client, worker, language)
    form = text(client.get("/registrations/new/"))
    legend = re.search(r'<fieldset class="field place".*?<legend>([^<]+)</legend>', form, re.S)
    help_page = text(client.get("/help/"))
    quoted = re.findall(r"[«“„]\s?([^»”“]+?)\s?[»”“]", help_page)
    assert legend.group(1) in quoted
