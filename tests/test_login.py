import base64
import logging
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Person
from demo import idp
from demo.people import NEWCOMER
from employers.models import Employer, WorkDeclaration
from tests.pages import contains_html
from tests.saml import ANNE, idp_answer, open_idp, pending_request, post_to_acs, saml_login

pytestmark = pytest.mark.django_db

ACS = "/accounts/saml/csam/acs/"
SP_ENTITY_ID = "http://testserver/accounts/saml/csam/metadata/"
ACS_URL = "http://testserver" + ACS


def test_it_logs_in_from_home_through_the_idp(client):
    response = saml_login(client, "/")
    assert response.status_code == 200
    assert response.request["PATH_INFO"] == "/"
    page = response.content.decode()
    assert "Anne-Sophie" in page
    assert "85.07.30-033.28" in page


def test_it_sends_anonymous_visitors_to_the_idp_with_a_signed_request(client):
    response = client.get("/", follow=True)
    sso = response.redirect_chain[-1][0]
    assert sso.startswith("http://testserver/dev-idp/sso/?SAMLRequest=")
    assert "&Signature=" in sso and "&SigAlg=" in sso


def test_it_creates_a_worker_for_a_new_niss_and_refreshes_names(client):
    response = saml_login(client, "/", person=NEWCOMER, means="eid")
    assert "Karim" in response.content.decode()
    worker = Person.objects.get(niss=NEWCOMER["niss"])
    assert worker.last_name == "El Amrani"
    assert not worker.has_usable_password()

    Person.objects.filter(pk=worker.pk).update(first_name="Old", last_name="Name")
    client.post("/logout/")
    saml_login(client, "/", person=NEWCOMER)
    worker.refresh_from_db()
    assert (worker.first_name, worker.last_name) == ("Karim", "El Amrani")
    assert Person.objects.filter(niss=NEWCOMER["niss"]).count() == 1


def test_it_follows_the_employer_link_through_the_login(client):
    employer = Employer.objects.create(number="0450905686", name="N.S.I.", link_token="nsi-demo")
    response = saml_login(client, "/l/nsi-demo/")
    assert response.request["PATH_INFO"] == "/"
    assert "85.07.30-033.28" in response.content.decode()
    form = client.get("/registrations/new/").content.decode()
    assert 'value="0450.905.686"' in form
    assert employer.name in form


def test_it_follows_the_qr_code_through_the_login(client):
    employer = Employer.objects.create(number="0450905686", name="N.S.I.")
    WorkDeclaration.objects.create(
        number="1Y1002V9KLZ6Z",
        employer=employer,
        postal_code="1000",
        municipality="Bruxelles",
        street="Rue du Midi",
    )
    response = saml_login(client, "/qr/1Y1002V9KLZ6Z/")
    assert response.request["PATH_INFO"] == "/registrations/new/"
    page = response.content.decode()
    assert "Anne-Sophie" in page and "85.07.30-033.28" in page
    assert contains_html(
        page, '<output aria-labelledby="ddt-label" class="locked">1Y1002V9KLZ6Z</output>'
    )
    assert 'name="ddt_number"' not in page


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("NOT-A-DDT", "ne contient pas un numéro de déclaration valide"),
        ("1Y1002V9KLZ6A", "n’est pas connu"),
    ],
)
def test_it_explains_a_bad_qr_code(client, number, message):
    saml_login(client, "/")
    response = client.get(f"/qr/{number}/")
    assert response.status_code == 404
    assert message in response.content.decode()


def test_it_explains_an_unknown_employer_link(client):
    saml_login(client, "/")
    response = client.get("/l/no-such-token/")
    assert response.status_code == 404
    assert "Lien inconnu" in response.content.decode()


def _forged(client, **kwargs) -> tuple[dict, str]:
    pending = pending_request(client)
    fields = {
        "in_response_to": pending["id"],
        "acs_url": ACS_URL,
        "audience": SP_ENTITY_ID,
    } | kwargs
    return pending, idp.build_response(ANNE, **fields)


def _assert_refused(response, reason: str, caplog=None):
    page = response.content.decode()
    assert response.status_code == 403
    assert "Connexion refusée" in page
    assert reason in page
    # The way back: a link to a new login that returns to the list.
    assert re.search(r'<a [^>]*href="/login/\?next=/"[^>]*>\s*Se connecter à nouveau', page)
    assert "_auth_user_id" not in response.wsgi_request.session
    if caplog is not None:
        assert ANNE["niss"] not in caplog.text


def test_it_refuses_a_tampered_attribute(client, caplog):
    pending, saml_response = _forged(client)
    xml = base64.b64decode(saml_response).decode().replace("Anne-Sophie", "Mallory")
    tampered = base64.b64encode(xml.encode()).decode()
    with caplog.at_level(logging.WARNING):
        response = client.post(ACS, {"SAMLResponse": tampered}, follow=True)
    _assert_refused(response, "n’a pas pu être vérifiée", caplog)
    assert not Person.objects.filter(first_name="Mallory").exists()


def test_it_refuses_an_unsigned_response(client):
    _pending, saml_response = _forged(client, sign_assertion=False, sign_response=False)
    response = client.post(ACS, {"SAMLResponse": saml_response}, follow=True)
    _assert_refused(response, "n’a pas pu être vérifiée")


def test_it_refuses_a_response_with_an_unsigned_assertion(client):
    _pending, saml_response = _forged(client, sign_assertion=False)
    response = client.post(ACS, {"SAMLResponse": saml_response}, follow=True)
    _assert_refused(response, "n’a pas pu être vérifiée")


def test_it_refuses_a_replayed_response(client):
    answer = idp_answer(client, open_idp(client, "/"))
    assert post_to_acs(client, answer).status_code == 200
    client.post("/logout/")
    response = post_to_acs(client, answer)
    _assert_refused(response, "a déjà été utilisée")


def test_it_refuses_an_expired_response(client):
    _pending, saml_response = _forged(client, issued_at=timezone.now() - timedelta(minutes=30))
    response = client.post(ACS, {"SAMLResponse": saml_response}, follow=True)
    _assert_refused(response, "est arrivée trop tard")


def test_it_refuses_a_response_for_another_audience(client):
    _pending, saml_response = _forged(client, audience="https://other.example/metadata/")
    response = client.post(ACS, {"SAMLResponse": saml_response}, follow=True)
    _assert_refused(response, "destinée à un autre service")


def test_it_refuses_a_response_from_an_unknown_idp(client):
    _pending, saml_response = _forged(client, issuer="https://evil.example/idp")
    response = client.post(ACS, {"SAMLResponse": saml_response}, follow=True)
    _assert_refused(response, "ne connaît pas")


def test_it_refuses_a_response_that_nobody_asked_for(client):
    saml_response = idp.build_response(
        ANNE, in_response_to="ONELOGIN_unknown", acs_url=ACS_URL, audience=SP_ENTITY_ID
    )
    response = client.post(ACS, {"SAMLResponse": saml_response}, follow=True)
    _assert_refused(response, "trop de temps ou a été commencée dans une autre fenêtre")


def test_it_logs_out_with_single_logout(client):
    saml_login(client, "/")
    response = client.post("/logout/")
    assert response.status_code == 302
    assert response["Location"].startswith("http://testserver/dev-idp/slo/?SAMLRequest=")
    response = client.get(response["Location"], follow=True)
    assert response.redirect_chain[0][0].startswith("http://testserver/accounts/saml/csam/sls/")
    assert response.request["PATH_INFO"] == "/logged-out/"
    assert "Votre session ClaO est fermée" in response.content.decode()
    assert client.get("/").status_code == 302


def test_it_serves_sp_metadata(client):
    response = client.get("/accounts/saml/csam/metadata/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'AuthnRequestsSigned="true"' in body
    assert 'WantAssertionsSigned="true"' in body
    assert ACS_URL in body


def test_it_has_no_password_login(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_it_logs_out_locally_when_the_idp_has_no_single_logout(client, settings, tmp_path):
    from accounts import saml

    metadata = tmp_path / "idp.xml"
    xml = "\n".join(line for line in idp.metadata_xml().splitlines() if "SingleLogout" not in line)
    metadata.write_text(xml)
    settings.CLAO_SAML_IDP_METADATA_URL = str(metadata)
    saml._metadata_cache.clear()
    try:
        saml_login(client, "/")
        response = client.post("/logout/")
        assert response["Location"] == "/logged-out/"
        assert client.get("/").status_code == 302
    finally:
        saml._metadata_cache.clear()
