import re

import pytest

from accounts.models import Person
from demo.people import DEMO_PEOPLE
from tests.saml import ANNE, hidden_inputs, saml_login

MARIA = DEMO_PEOPLE[2]

pytestmark = pytest.mark.django_db


def test_it_uses_the_language_sent_by_the_idp(client):
    page = saml_login(client, "/", person=MARIA).content.decode()
    assert '<html lang="de">' in page


def test_it_switches_to_dutch_and_remembers_it_at_the_next_login(client):
    saml_login(client, "/")
    response = client.post("/language/", {"language": "nl", "next": "/help/"}, follow=True)
    page = response.content.decode()
    assert response.request["PATH_INFO"] == "/help/"
    assert '<html lang="nl">' in page
    assert "Hulp nodig?" in page
    assert Person.objects.get(niss=ANNE["niss"]).language == "nl"

    client.post("/logout/")
    client.cookies.clear()
    # The IdP still says French for Anne; the worker's own choice wins.
    page = saml_login(client, "/", person=ANNE).content.decode()
    assert '<html lang="nl">' in page


def test_it_ignores_an_unknown_language(client):
    saml_login(client, "/")
    response = client.post("/language/", {"language": "xx", "next": "/"})
    assert response.status_code == 302
    assert Person.objects.get(niss=ANNE["niss"]).language == ""


def test_it_refuses_an_outside_next_url(client):
    response = client.post("/language/", {"language": "en", "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_it_uses_accept_language_before_login(client):
    response = client.get("/logged-out/", HTTP_ACCEPT_LANGUAGE="de-BE,de;q=0.9")
    assert '<html lang="de">' in response.content.decode()


def test_it_defaults_to_french(client):
    response = client.get("/logged-out/", HTTP_ACCEPT_LANGUAGE="es")
    assert '<html lang="fr">' in response.content.decode()


def test_it_keeps_what_was_typed_when_switching_language_on_the_form(client, geo_data):
    saml_login(client, "/")
    page = client.get("/registrations/new/").content.decode()
    assert 'form="registration-form" formaction="/language/"' in page
    token = hidden_inputs(page)["client_token"]
    typed = {
        "client_token": token,
        "next": "/registrations/new/",
        "enterprise_number": "0450.905.686",
        "ddt_choice": "other",
        "ddt_number": "1Y1002V9KLZ6Z",
        "postal_code": "1000",
        "municipality": "Bruxelles",
        "street": "Rue du Midi",
        "language": "nl",
    }
    response = client.post("/language/", typed, follow=True)
    page = response.content.decode()
    assert response.request["PATH_INFO"] == "/registrations/new/"
    assert '<html lang="nl">' in page
    assert "Nieuwe registratie" in page
    for value in ("0450.905.686", "1Y1002V9KLZ6Z", "Rue du Midi", "Bruxelles", token):
        assert f'value="{value}"' in page
    assert 'class="error"' not in page


def test_it_gives_the_menu_the_page_s_csrf_token_which_the_switch_accepts(client):
    page = saml_login(client, "/").content.decode()
    # From here on, as a browser: the CSRF check applies.
    client.handler.enforce_csrf_checks = True
    tokens = set(re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', page))
    # One token masked for the page: the menu's and the logout form's are the same.
    assert len(tokens) == 1
    response = client.post(
        "/language/", {"csrfmiddlewaretoken": tokens.pop(), "language": "nl", "next": "/"}
    )
    assert response.status_code == 302
    assert Person.objects.get(niss=ANNE["niss"]).language == "nl"
