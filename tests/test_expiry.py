from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from checkins.models import Registration
from employers.models import Employer
from tests.saml import hidden_inputs, saml_login

pytestmark = pytest.mark.django_db


def test_it_keeps_the_login_for_six_hours_counted_from_authentication(client):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        saml_login(client, "/")
    with time_machine.travel(start + timedelta(hours=5, minutes=59), tick=False):
        assert client.get("/").status_code == 200
    # Clicking at 5h59 did not extend the login.
    with time_machine.travel(start + timedelta(hours=6, minutes=1), tick=False):
        response = client.get("/registrations/new/?x=1")
        assert response.status_code == 302
        assert response["Location"] == "/login/?next=/registrations/new/%3Fx%3D1"


def test_it_sends_an_expired_worker_through_the_idp_back_to_the_page(client):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        saml_login(client, "/")
    with time_machine.travel(start + timedelta(hours=7), tick=True):
        response = saml_login(client, "/registrations/new/")
        assert response.request["PATH_INFO"] == "/registrations/new/"
        assert "Anne-Sophie" in response.content.decode()


@pytest.mark.parametrize("late", [timedelta(hours=6, seconds=1), timedelta(days=3)])
def test_it_restores_a_form_submitted_after_expiry(client, late, geo_data):
    Employer.objects.create(number="0450905686", name="N.S.I.")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        saml_login(client, "/")
        form = client.get("/registrations/new/").content.decode()
    token = hidden_inputs(form)["client_token"]
    typed = {
        "client_token": token,
        "enterprise_number": "0450.905.686",
        "ddt_choice": "other",
        "ddt_number": "1y1002v9klz6z",
        "postal_code": "1000",
        "municipality": "Bruxelles",
        "street": "Rue du Midi",
        "house_number": "100",
        "box": "5",
        "kind": "IN",
    }
    with time_machine.travel(start + late, tick=True):
        # As a browser does: the form's hidden fields go along with what was typed.
        response = client.post("/registrations/new/", hidden_inputs(form) | typed)
        assert response.status_code == 302
        assert response["Location"] == "/login/?next=/registrations/new/"
        assert not Registration.objects.exists()

        response = saml_login(client, "/registrations/new/")
        page = response.content.decode()
        assert response.request["PATH_INFO"] == "/registrations/new/"
        for value in ("0450.905.686", "1y1002v9klz6z", "Rue du Midi", "Bruxelles", token):
            assert f'value="{value}"' in page
        # Not stored silently: the worker confirms by submitting again.
        assert not Registration.objects.exists()

        response = client.post("/registrations/new/", hidden_inputs(page) | typed)
        assert response.status_code == 302
        registration = Registration.objects.get()
        assert registration.ddt_number == "1Y1002V9KLZ6Z"
        assert registration.street == "Rue du Midi"


def test_it_sends_an_htmx_request_after_expiry_to_the_login_as_a_whole_page(client):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        saml_login(client, "/")
    with time_machine.travel(start + timedelta(hours=6, minutes=1), tick=False):
        response = client.get("/?date=2026-11-01", HTTP_HX_REQUEST="true")
    # htmx follows HX-Redirect with a full navigation instead of swapping the login in the list.
    assert response.status_code == 204
    assert response["HX-Redirect"] == "/login/?next=/%3Fdate%3D2026-11-01"


@pytest.mark.parametrize("logged_in", [True, False])
def test_it_answers_nothing_to_suggestions_asked_after_the_login_ended(client, logged_in):
    start = timezone.now()
    if logged_in:
        with time_machine.travel(start, tick=False):
            saml_login(client, "/")
    with time_machine.travel(start + timedelta(hours=6, minutes=1), tick=False):
        for url in ("/geo/municipalities/?q=brux", "/employers/name/?enterprise_number=1"):
            response = client.get(url, HTTP_HX_REQUEST="true")
            # Nothing swapped, no navigation: the typed form stays on the screen...
            assert response.status_code == 204
            assert "HX-Redirect" not in response
        # ...and its submission goes through the login and comes back filled in.
        response = client.post("/registrations/new/", {"street": "Rue du Midi"})
        assert response["Location"] == "/login/?next=/registrations/new/"


def test_it_leaves_the_session_cookie_alone_when_a_suggestion_arrives_after_the_login_ended(
    client, anne
):
    """A suggestion asked with the cookie of a login that just ended must not delete the
    session cookie that the form's submission set meanwhile (the typed form kept in it)."""
    from django.test import Client

    client.force_login(anne)
    stale_cookie = client.cookies["sessionid"].value
    client.post("/logout/")
    late = Client(HTTP_HOST="testserver")
    late.cookies["sessionid"] = stale_cookie
    response = late.get(
        "/geo/streets/", {"q": "midi", "postal_code": "1000"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 204
    assert "sessionid" not in response.cookies


def test_it_keeps_the_qr_lock_of_a_form_submitted_after_expiry(client, geo_data):
    from employers.models import WorkDeclaration

    nsi = Employer.objects.create(number="0450905686", name="N.S.I.")
    WorkDeclaration.objects.create(
        number="1Y1002V9KLZ6Z",
        employer=nsi,
        postal_code="1000",
        municipality="Bruxelles",
        street="Rue du Midi",
    )
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        saml_login(client, "/")
        url = client.get("/qr/1Y1002V9KLZ6Z/")["Location"]
        form = client.get(url).content.decode()
    typed = {"enterprise_number": "0450.905.686", "postal_code": "1000", "kind": "IN"}
    typed |= {"municipality": "Bruxelles", "street": "Rue du Midi"}
    with time_machine.travel(start + timedelta(hours=7), tick=True):
        response = client.post(url, hidden_inputs(form) | typed)
        # The login comes back to the form of the QR code, lock included.
        assert response["Location"] == "/login/?next=/registrations/new/%3Fqr%3D1Y1002V9KLZ6Z"
        page = saml_login(client, url).content.decode()
        assert '<output aria-labelledby="ddt-label" class="locked">1Y1002V9KLZ6Z</output>' in page
        assert 'value="Rue du Midi"' in page
        client.post(url, hidden_inputs(page) | typed)
    registration = Registration.objects.get()
    assert (registration.ddt_number, registration.source) == ("1Y1002V9KLZ6Z", "qr")
