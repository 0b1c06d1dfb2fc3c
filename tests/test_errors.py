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


def test_it_shows_a_translated_server_error_page(settings, monkeypatch):
    # Through the project's URLconf: a view that fails reaches clao.urls' handler500.
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("checkins.views.render", broken)
    settings.DEBUG = False
    client = Client(HTTP_HOST="testserver", raise_request_exception=False)
    response = client.get("/help/", HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 500
    page = response.content.decode()
    assert "Problème technique" in page
    assert "a bug" not in page
    assert '<html lang="fr">' in page
