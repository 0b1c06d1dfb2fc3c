"""Every limited endpoint, driven past its limit through the test client: a translated 429
(an empty one while typing), never a 500, and nothing stored."""

from datetime import UTC, datetime

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from tests.saml import JAN, idp_answer, open_idp

pytestmark = pytest.mark.django_db

TOO_MANY = "ClaO a reçu trop de demandes de votre part en peu de temps."


@pytest.fixture
def limits(settings, time_machine):
    """Every limit at 2 a minute: the third request is refused. The clock stands still: a test
    straddling the start of a counter's next minute would see its count start again."""
    time_machine.move_to(datetime.now(UTC), tick=False)
    settings.CLAO_RATE_LIMITS = {group: "2/m" for group in settings.CLAO_RATE_LIMITS}
    return settings.CLAO_RATE_LIMITS


def _assert_limited_page(response, language_text: str = TOO_MANY):
    assert response.status_code == 429
    assert response["Retry-After"] == "60"
    assert language_text in response.content.decode()


def test_it_limits_starting_a_login_per_address(client, limits):
    for _ in range(2):
        assert client.get("/accounts/saml/csam/login/?next=/").status_code == 302
    _assert_limited_page(client.get("/accounts/saml/csam/login/?next=/"))
    # Another address still gets in.
    other = Client(HTTP_HOST="testserver", REMOTE_ADDR="192.0.2.7")
    assert other.get("/accounts/saml/csam/login/?next=/").status_code == 302


def test_it_limits_the_acs_per_address_and_stores_nothing(client, settings):
    settings.CLAO_RATE_LIMITS = {**settings.CLAO_RATE_LIMITS, "acs": "2/m"}
    answer = idp_answer(client, open_idp(client, "/"))
    stranger = Client(HTTP_HOST="testserver")
    for _ in range(2):
        stranger.post("/accounts/saml/csam/acs/", {"SAMLResponse": "garbage"})
    before = Session.objects.count()
    response = client.post("/accounts/saml/csam/acs/", {"SAMLResponse": answer["SAMLResponse"]})
    _assert_limited_page(response)
    assert Session.objects.count() == before


def test_it_limits_the_acs_per_client_behind_the_proxy(client, settings):
    settings.CLAO_BEHIND_PROXY = True
    settings.CLAO_RATE_LIMITS = {**settings.CLAO_RATE_LIMITS, "acs": "2/m"}
    for _ in range(2):
        client.post(
            "/accounts/saml/csam/acs/",
            {"SAMLResponse": "x"},
            HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.1",
        )
    limited = client.post(
        "/accounts/saml/csam/acs/", {"SAMLResponse": "x"}, HTTP_X_FORWARDED_FOR="198.51.100.1"
    )
    assert limited.status_code == 429
    other = client.post(
        "/accounts/saml/csam/acs/", {"SAMLResponse": "x"}, HTTP_X_FORWARDED_FOR="198.51.100.2"
    )
    assert other.status_code == 400


@pytest.mark.parametrize(
    "path",
    [
        "/geo/municipalities/?q=10",
        "/geo/streets/?q=midi&postal_code=1000",
        "/employers/name/?enterprise_number=0450905686",
    ],
)
def test_it_answers_an_empty_429_while_typing(client, anne, limits, path):
    client.force_login(anne)
    for _ in range(2):
        assert client.get(path, HTTP_HX_REQUEST="true").status_code == 200
    response = client.get(path, HTTP_HX_REQUEST="true")
    assert response.status_code == 429
    assert response.content == b""


@pytest.mark.parametrize(
    "path",
    [
        "/geo/municipalities/?q=10",
        "/geo/streets/?q=midi",
        "/employers/name/?enterprise_number=0450905686",
    ],
)
def test_it_shows_a_translated_429_page_without_htmx(client, anne, limits, path):
    anne.language = "de"
    anne.save()
    client.force_login(anne)
    for _ in range(2):
        client.get(path)
    _assert_limited_page(client.get(path), "ClaO hat in kurzer Zeit zu viele Anfragen")


def test_it_counts_each_worker_on_their_own(client, anne, limits):
    from accounts.models import Person

    client.force_login(anne)
    for _ in range(3):
        client.get("/geo/municipalities/?q=10", HTTP_HX_REQUEST="true")
    jan = Person.objects.create_user(JAN["niss"], first_name=JAN["first_name"])
    other = Client(HTTP_HOST="testserver")
    other.force_login(jan)
    assert other.get("/geo/municipalities/?q=10", HTTP_HX_REQUEST="true").status_code == 200


FORM = {
    "kind": "IN",
    "enterprise_number": "0450.905.686",
    "ddt_choice": "unknown",
    "postal_code": "1000",
    "municipality": "Bruxelles",
    "street": "Rue du Midi",
}


def test_it_limits_the_form_submissions_and_keeps_what_was_typed(client, anne, nsi, settings):
    import uuid

    from checkins.models import Registration

    settings.CLAO_RATE_LIMITS = {**settings.CLAO_RATE_LIMITS, "registration": "2/m"}
    client.force_login(anne)
    for kind in ("IN", "OUT"):
        stored = client.post(
            "/registrations/new/", FORM | {"kind": kind, "client_token": uuid.uuid4()}
        )
        assert stored.status_code == 302
    # Showing the form is not limited; a third submission within the minute is.
    assert client.get("/registrations/new/").status_code == 200
    typed = FORM | {"client_token": uuid.uuid4(), "street": "Rue Haute"}
    response = client.post("/registrations/new/", typed)
    _assert_limited_page(response)
    page = response.content.decode()
    assert "Ce que vous avez encodé est conservé" in page
    assert 'href="/registrations/new/"' in page
    assert Registration.objects.count() == 2
    # Back to the form: what was typed is there again.
    form = client.get("/registrations/new/").content.decode()
    assert 'value="Rue Haute"' in form


def test_it_limits_the_quick_out(client, anne, nsi, settings):
    from checkins.models import Registration
    from tests.factories import make_registration

    settings.CLAO_RATE_LIMITS = {**settings.CLAO_RATE_LIMITS, "quick_out": "2/m"}
    make_registration(anne, "IN", employer=nsi)
    client.force_login(anne)
    for _ in range(2):
        client.post("/registrations/quick-out/", {"client_token": "not a token"})
    response = client.post(
        "/registrations/quick-out/",
        {
            "client_token": "6f1c1f4e-8a53-4c61-9d83-3d2b6f0b7a10",
            "latitude": "50.8",
            "longitude": "4.3",
        },
    )
    _assert_limited_page(response)
    assert not Registration.objects.filter(kind="OUT").exists()
