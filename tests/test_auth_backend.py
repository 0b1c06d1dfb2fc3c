"""The person of each request is read again on every request (accounts/backends.py, a query
compiled once): a deactivated or deleted person is out at the next click, and sessions opened
with allauth's own backend stay valid."""

import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.shortcuts import resolve_url
from django.utils import timezone

from accounts.expiry import AUTHENTICATED_AT
from tests.saml import saml_login

pytestmark = pytest.mark.django_db


def logged_in(client, person, backend: str = "accounts.backends.AuthenticationBackend"):
    session = client.session
    session[SESSION_KEY] = str(person.pk)
    session[BACKEND_SESSION_KEY] = backend
    session[HASH_SESSION_KEY] = person.get_session_auth_hash()
    session[AUTHENTICATED_AT] = timezone.now().timestamp()
    session.save()
    client.cookies["sessionid"] = session.session_key
    return client


def test_it_keeps_the_new_backend_in_the_session_of_an_idp_login(client):
    response = saml_login(client, "/")
    assert "Anne-Sophie" in response.content.decode()
    assert client.session[BACKEND_SESSION_KEY] == "accounts.backends.AuthenticationBackend"


@pytest.mark.parametrize(
    "backend",
    [
        "accounts.backends.AuthenticationBackend",
        "allauth.account.auth_backends.AuthenticationBackend",
    ],
)
def test_it_shows_the_list_to_a_session_of_either_backend(client, anne, backend):
    response = logged_in(client, anne, backend).get("/")
    assert response.status_code == 200
    assert anne.formatted_niss in response.content.decode()


def test_it_logs_out_a_deactivated_person_at_the_next_request(client, anne):
    logged_in(client, anne)
    assert client.get("/").status_code == 200
    anne.is_active = False
    anne.save()
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(resolve_url(settings.LOGIN_URL))


def test_it_logs_out_a_session_whose_person_is_gone(client, other_worker):
    logged_in(client, other_worker)
    other_worker.delete()
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(resolve_url(settings.LOGIN_URL))
