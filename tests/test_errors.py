import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_it_explains_an_expired_form_in_the_workers_language(anne):
    anne.language = "nl"
    anne.save()
    client = Client(HTTP_HOST="testserver", enforce_csrf_checks=True)
    client.force_login(anne)
    response = client.post("/registrations/new/", {"kind": "IN"})
    assert response.status_code == 403
    page = response.content.decode()
    assert "Pagina verlopen" in page
    assert "CSRF" not in page


def test_it_shows_a_translated_not_found_page(client, anne):
    anne.language = "de"
    anne.save()
    client.force_login(anne)
    response = client.get("/registrations/999999/")
    assert response.status_code == 404
    assert "Seite nicht gefunden" in response.content.decode()


def test_it_shows_a_translated_page_for_an_unknown_host(anne):
    response = Client(HTTP_HOST="evil.example").get("/", HTTP_ACCEPT_LANGUAGE="nl")
    assert response.status_code == 400
    assert "Verzoek niet begrepen" in response.content.decode()


def test_it_shows_a_translated_server_error_page(client, settings):
    from django.test import RequestFactory
    from django.utils import translation

    from clao.errors import server_error

    with translation.override("fr"):
        response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    assert "Problème technique" in response.content.decode()
