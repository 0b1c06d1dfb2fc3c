"""The SAML endpoints tried as an attacker would: garbage, huge posts, someone else's answer,
forged log lines, and the IdP's origins in the CSP when its metadata is a file."""

import base64
import logging
import zlib
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from accounts import saml
from accounts.models import Person
from clao.logging import OneLineFormatter
from demo import idp
from tests.saml import ANNE, idp_answer, open_idp, pending_request, post_to_acs

pytestmark = pytest.mark.django_db

ACS = "/accounts/saml/csam/acs/"
FINISH = "/accounts/saml/csam/acs/finish/"
SLS = "/accounts/saml/csam/sls/"
SP_ENTITY_ID = "http://testserver/accounts/saml/csam/metadata/"
ACS_URL = "http://testserver" + ACS
DTD = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><samlp:Response>&a;</samlp:Response>'


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def stranger() -> Client:
    return Client(HTTP_HOST="testserver")


@pytest.mark.parametrize(
    "saml_response",
    ["not base64 at all!", b64(b"not xml"), b64(DTD), "", b64(b"\x00\xff\xfe"), "\x00"],
    ids=["not-base64", "not-xml", "dtd", "empty", "binary", "nul"],
)
def test_it_refuses_an_unreadable_answer_and_stores_nothing(saml_response):
    client = stranger()
    before = Session.objects.count()
    response = client.post(ACS, {"SAMLResponse": saml_response})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Connexion refusée" in page
    assert "La réponse du service d’identification n’a pas pu être lue." in page
    assert Session.objects.count() == before
    assert "saml-acs-session" not in response.cookies
    # The finish step, reached without an answer kept for it, says so too.
    finish = client.get(FINISH)
    assert finish.status_code == 403
    assert "trop de temps ou a été commencée dans une autre fenêtre" in finish.content.decode()


def test_it_refuses_an_answer_larger_than_the_cap(settings):
    settings.CLAO_SAML_ACS_MAX_BYTES = 100_000
    before = Session.objects.count()
    response = stranger().post(ACS, {"SAMLResponse": "A" * 150_000})
    assert response.status_code == 413
    assert "trop volumineuse pour être acceptée" in response.content.decode()
    assert Session.objects.count() == before


def test_it_refuses_a_forged_answer_at_the_acs_without_storing_it(client):
    pending = pending_request(client)
    forged = idp.build_response(
        ANNE,
        in_response_to=pending["id"],
        acs_url=ACS_URL,
        audience=SP_ENTITY_ID,
        sign_assertion=False,
        sign_response=False,
    )
    before = Session.objects.count()
    response = stranger().post(ACS, {"SAMLResponse": forged})
    assert response.status_code == 403
    assert "n’a pas pu être vérifiée" in response.content.decode()
    assert Session.objects.count() == before


def test_it_keeps_a_valid_answer_for_the_finish_step(client):
    answer = idp_answer(client, open_idp(client, "/"))
    before = Session.objects.count()
    response = client.post(ACS, {"SAMLResponse": answer["SAMLResponse"]})
    assert response.status_code == 302
    assert response["Location"] == FINISH
    assert Session.objects.count() == before + 1


def test_it_does_not_lock_out_the_owner_of_an_answer_posted_from_another_session(client):
    answer = idp_answer(client, open_idp(client, "/"))
    attacker = stranger()
    response = post_to_acs(attacker, answer)
    assert response.status_code == 403
    assert "trop de temps ou a été commencée dans une autre fenêtre" in response.content.decode()
    assert "_auth_user_id" not in attacker.session
    # Anne, in her own browser, still logs in with it.
    response = post_to_acs(client, answer)
    assert response.status_code == 200
    assert "85.07.30-033.28" in response.content.decode()
    # And only once.
    client.post("/logout/")
    response = post_to_acs(client, answer)
    assert response.status_code == 403
    assert "a déjà été utilisée" in response.content.decode()


def test_it_logs_an_issuer_with_a_newline_on_one_line(client, caplog):
    pending = pending_request(client)
    issuer = "https://evil.example/idp\nSAML login accepted for worker 85073003328"
    forged = idp.build_response(
        ANNE,
        in_response_to=pending["id"],
        acs_url=ACS_URL,
        audience=SP_ENTITY_ID,
        issuer=issuer,
        sign_assertion=False,
        sign_response=False,
    )
    with caplog.at_level(logging.WARNING):
        response = client.post(ACS, {"SAMLResponse": forged})
    assert response.status_code == 403
    lines = "\n".join(OneLineFormatter().format(record) for record in caplog.records)
    assert lines.count("\n") == len(caplog.records) - 1
    assert not any(line.startswith("SAML login accepted") for line in lines.splitlines())
    assert not Person.objects.exists()


def test_it_configures_the_console_log_with_the_one_line_formatter():
    handler = logging.getHandlerByName("console")
    record = logging.makeLogRecord({"msg": "got %s", "args": ("a\nSAML login accepted\x00",)})
    assert handler.formatter.format(record) == "got a\\nSAML login accepted\\x00"


@pytest.mark.parametrize(
    "query",
    [
        {"SAMLRequest": "AAAA"},
        {"SAMLResponse": "AAAA"},
        {"SAMLRequest": "not base64!"},
        {"SAMLRequest": b64(zlib.compress(b"not xml")[2:-4])},
        {"SAMLRequest": b64(zlib.compress(b" " * 5_000_000)[2:-4])},
        {"SAMLRequest": "\x00"},
    ],
    ids=["request", "response", "not-base64", "not-xml", "inflates-to-5-mb", "nul"],
)
def test_it_answers_a_translated_400_to_an_unreadable_logout_message(client, query):
    response = client.get(SLS, query, HTTP_ACCEPT_LANGUAGE="nl")
    assert response.status_code == 400
    assert "Verzoek niet begrepen" in response.content.decode()


def _metadata_file(tmp_path, sso: str, slo: str):
    xml = idp.metadata_xml().replace(idp.url("sso/"), sso).replace(idp.url("slo/"), slo)
    path = tmp_path / "idp.xml"
    path.write_text(xml)
    return path


def test_it_allows_the_sso_and_slo_origins_of_a_metadata_file_in_form_action(
    client, settings, tmp_path
):
    path = _metadata_file(
        tmp_path, "https://sso.idp.example/saml/sso", "https://slo.idp.example:8443/saml/slo"
    )
    settings.CLAO_SAML_IDP_METADATA_URL = str(path)
    saml._metadata_cache.clear()
    try:
        csp = client.get("/help/")["Content-Security-Policy"]
    finally:
        saml._metadata_cache.clear()
    form_action = next(part for part in csp.split(";") if "form-action" in part).split()
    assert form_action == [
        "form-action",
        "'self'",
        "https://sso.idp.example",
        "https://slo.idp.example:8443",
    ]


def test_it_lets_clearsessions_remove_an_answer_never_fetched(client):
    import time_machine
    from django.core.management import call_command
    from django.utils import timezone

    answer = idp_answer(client, open_idp(client, "/"))
    before = Session.objects.count()
    client.post(ACS, {"SAMLResponse": answer["SAMLResponse"]})
    assert Session.objects.count() == before + 1
    with time_machine.travel(timezone.now() + timedelta(minutes=6)):
        call_command("clearsessions")
    assert Session.objects.count() == before
