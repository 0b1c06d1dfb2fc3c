"""The employer space's actions: links sent by e-mail and SMS, registering for a worker, CSV
imports of declarations and contracts."""

import io
import uuid

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from pytest_django.asserts import assertContains

from checkins.models import Registration
from employers import sms
from employers.models import Contract, LinkDelivery, LinkSending, WorkDeclaration
from tests.factories import make_declaration

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, nsi_manager):
    nsi_manager.language = "en"
    nsi_manager.save()
    client.force_login(nsi_manager)
    return client


@pytest.fixture(autouse=True)
def sms_outbox(settings):
    settings.CLAO_SMS_BACKEND = "locmem"
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()


def url(enterprise, rest=""):
    return f"/employer/{enterprise.pk}/{rest}"


# -- The personalised link -------------------------------------------------------------------


def test_it_replaces_the_link_and_the_old_one_says_so(staff, client, nsi, anne):
    old = nsi.link_token
    response = staff.post(url(nsi, "link/replace/"))
    assert response.status_code == 302
    nsi.refresh_from_db()
    assert nsi.link_token != old
    anne.language = "en"
    anne.save()
    client.force_login(anne)
    response = client.get(f"/l/{old}/")
    assertContains(response, "N.S.I. has replaced this link with a new one.", status_code=410)
    assert client.get(f"/l/{nsi.link_token}/").status_code == 302


def test_it_sends_the_link_by_email_and_sms_once_per_submission(staff, nsi, sms_outbox):
    token = str(uuid.uuid4())
    data = {
        "recipients": "anne@example.be\n0470 12 34 56\n\nanne@example.be",
        "client_token": token,
    }
    response = staff.post(url(nsi, "link/"), data)
    sending = LinkSending.objects.get()
    assert response["Location"] == url(nsi, f"link/sendings/{sending.pk}/")
    assert [m.to for m in mail.outbox] == [["anne@example.be"]]
    assert f"/l/{nsi.link_token}/" in mail.outbox[0].body
    assert [to for to, _text in sms_outbox] == ["+32470123456"]
    # The same page submitted again: the same sending, nothing sent twice.
    again = staff.post(url(nsi, "link/"), data)
    assert again["Location"] == response["Location"]
    assert (len(mail.outbox), len(sms_outbox), LinkSending.objects.count()) == (1, 1, 1)
    page = staff.get(response["Location"])
    assertContains(page, "2 of 2 sent, 0 failed.")
    assertContains(page, "+32470123456")


def test_it_shows_a_failed_sms_per_recipient(staff, nsi, settings):
    settings.CLAO_SMS_BACKEND = "twilio"  # not configured: refused before any network call
    settings.CLAO_SMS_TWILIO_ACCOUNT_SID = ""
    response = staff.post(
        url(nsi, "link/"),
        {"recipients": "+32470123456\njan@example.be", "client_token": str(uuid.uuid4())},
        follow=True,
    )
    assertContains(response, "1 of 2 sent, 1 failed.")
    assertContains(response, "Twilio is not configured")
    assert LinkDelivery.objects.get(channel="sms").status == "failed"


def test_it_refuses_bad_recipients_and_sends_nothing(staff, nsi, sms_outbox):
    response = staff.post(
        url(nsi, "link/"),
        {"recipients": "anne@example.be\nnot a number", "client_token": str(uuid.uuid4())},
    )
    assertContains(response, "Correct the lines below; nothing was sent.", status_code=400)
    assertContains(
        response, "This is neither an e-mail address nor a mobile number", status_code=400
    )
    assertContains(response, "anne@example.be", status_code=400)
    assert (mail.outbox, sms_outbox, LinkSending.objects.count()) == ([], [], 0)


def test_it_hides_the_sendings_of_another_enterprise(client, staff, nsi, other_manager):
    staff.post(url(nsi, "link/"), {"recipients": "a@example.be", "client_token": str(uuid.uuid4())})
    sending = LinkSending.objects.get()
    client.force_login(other_manager)
    other = other_manager.mandates.get().employer
    assert client.get(url(nsi, f"link/sendings/{sending.pk}/")).status_code == 404
    assert client.get(url(other, f"link/sendings/{sending.pk}/")).status_code == 404
    assert client.post(url(nsi, "link/replace/")).status_code == 404


# -- Registering for a worker ----------------------------------------------------------------


def test_it_registers_for_a_worker_who_could_not(staff, client, nsi, anne, nsi_manager):
    site = make_declaration(nsi, house_number="100")
    response = staff.post(
        url(nsi, "register/"),
        {
            "niss": anne.formatted_niss,
            "kind": "IN",
            "ddt": site.number,
            "reason": "Dead battery",
            "client_token": str(uuid.uuid4()),
        },
    )
    assert response.status_code == 302
    registration = Registration.objects.get()
    assert (registration.worker, registration.source, registration.acted_by) == (
        anne,
        "employer",
        nsi_manager,
    )
    assert (registration.reason, registration.ddt_number, registration.street) == (
        "Dead battery",
        site.number,
        "Rue du Midi",
    )
    anne.language = "en"
    anne.save()
    client.force_login(anne)
    assertContains(client.get("/"), "<dd>Employer application</dd>", html=True)


def test_it_refuses_to_register_without_reason_or_place(staff, nsi, anne, geo_data):
    base = {"niss": anne.niss, "kind": "IN", "client_token": str(uuid.uuid4())}
    response = staff.post(url(nsi, "register/"), {**base, "ddt": "", "reason": ""})
    assertContains(response, "This field is required.", status_code=400)
    response = staff.post(url(nsi, "register/"), {**base, "reason": "No phone", "ddt": ""})
    assertContains(response, "Enter the street.", status_code=400)
    assertContains(response, "No phone", status_code=400)
    response = staff.post(
        url(nsi, "register/"), {**base, "niss": "12345678901", "reason": "x", "ddt": ""}
    )
    assert response.status_code == 400
    assert not Registration.objects.exists()


def test_it_offers_only_its_own_declarations_to_register_for(staff, nsi, anne, other_enterprise):
    theirs = make_declaration(other_enterprise, "1Y1004C5GRV9D")
    response = staff.post(
        url(nsi, "register/"),
        {
            "niss": anne.niss,
            "kind": "IN",
            "ddt": theirs.number,
            "reason": "x",
            "client_token": str(uuid.uuid4()),
        },
    )
    assertContains(response, "Select a valid choice.", status_code=400)
    assert not Registration.objects.exists()


# -- CSV imports -----------------------------------------------------------------------------


def upload(text: str):
    return SimpleUploadedFile("import.csv", text.encode(), content_type="text/csv")


def test_it_imports_declarations_line_by_line(staff, nsi, geo_data):
    text = (
        "number;postal_code;municipality;street;house_number;box;latitude;longitude\n"
        "1Y1005D7JWM3B;1000;Bruxelles;Rue Neuve;12;;50.85;4.35\n"
        "1Y1005;1000;Bruxelles;Rue Neuve;12;;;\n"
        "1Y1003A8HTX2K;9999;Gent;Veldstraat;1;;;\n"
    )
    response = staff.post(url(nsi, "declarations/import/"), {"file": upload(text)})
    assertContains(response, "Line 2:")
    assertContains(response, "Stored: 1Y1005D7JWM3B")
    assertContains(response, "A declaration number has 13 characters")
    assertContains(response, "This Belgian postal code does not exist.")
    assert list(WorkDeclaration.objects.values_list("number", flat=True)) == ["1Y1005D7JWM3B"]


def test_it_imports_contracts_that_feed_the_workers_employers(staff, client, nsi, anne):
    text = (
        "niss;kind;start;end\n"
        f"{anne.niss};DIMONA;2026-01-01;\n"
        "88081219093;LIMOSA;01/02/2026;31/12/2026\n"
        f"{anne.niss};INTERIM;2026-01-01;\n"
        "12345678901;DIMONA;2026-01-01;\n"
        f"{anne.niss};DIMONA;2026-05-01;2026-04-01\n"
    )
    response = staff.post(url(nsi, "contracts/"), {"file": upload(text)})
    assertContains(response, "Stored: DIMONA of 85.07.30-033.28")
    assertContains(response, "The kind must be DIMONA or LIMOSA.")
    assertContains(response, "The end date comes before the start date.")
    assert Contract.objects.filter(employer=nsi).count() == 2
    karim = Contract.objects.get(kind="LIMOSA")
    assert (karim.worker.niss, str(karim.end_date)) == ("88081219093", "2026-12-31")
    client.force_login(anne)
    assertContains(client.get("/registrations/new/"), "N.S.I.")


def test_it_calls_twilio_with_the_message_and_reports_its_refusal(settings, monkeypatch):
    """The real provider's request, without the network: urlopen is replaced."""
    import urllib.error
    import urllib.parse

    settings.CLAO_SMS_BACKEND = "twilio"
    settings.CLAO_SMS_TWILIO_ACCOUNT_SID = "AC123"
    settings.CLAO_SMS_TWILIO_AUTH_TOKEN = "secret"
    settings.CLAO_SMS_FROM = "ClaO"
    seen = []

    class Answer(io.BytesIO):
        def __enter__(self):
            return self

        def __exit__(self, *args):
            return False

    def fake_urlopen(request, timeout):
        seen.append(request)
        if len(seen) == 2:
            raise urllib.error.HTTPError(request.full_url, 400, "Bad Request", {}, None)
        return Answer(b'{"sid": "SM1"}')

    monkeypatch.setattr("urllib.request.urlopen", fake_urlopen)
    backend = sms.get_backend()
    backend.send("+32470123456", "Hello")
    request = seen[0]
    assert request.full_url == "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages.json"
    assert urllib.parse.parse_qs(request.data.decode()) == {
        "To": ["+32470123456"],
        "From": ["ClaO"],
        "Body": ["Hello"],
    }
    with pytest.raises(sms.SmsError, match="HTTP 400"):
        backend.send("+32470123456", "Hello")
