"""The employer space's actions: links sent by e-mail and SMS, registering for a worker, CSV
imports of declarations and contracts."""

import io
import re
import threading
import time
import uuid

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.utils import translation
from pytest_django.asserts import assertContains, assertNotContains

from checkins.models import Registration
from employers import sms
from employers.links import parse_recipients, record_sending, send_next
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


FIVE = "anne@example.be\njan@example.be\n0470 12 34 56\nels@example.be\n+32 471 00 00 01"
EMAILS_OF_FIVE = ["anne@example.be", "jan@example.be", "els@example.be"]
PHONES_OF_FIVE = ["+32470123456", "+32471000001"]


def send_form(recipients: str, token: str | None = None) -> dict:
    return {"recipients": recipients, "client_token": token or str(uuid.uuid4())}


def progress_text(response) -> str:
    """The live region's text (a page's, or an htmx answer's out-of-band copy)."""
    html = response.content.decode()
    found = re.search(r'<div (?:role="status" )?id="progress"[^>]*>(.*?)</div>', html, re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


def emailed() -> list[str]:
    return [to for message in mail.outbox for to in message.to]


def test_it_sends_the_link_by_email_and_sms_once_per_submission(staff, nsi, sms_outbox):
    token = str(uuid.uuid4())
    data = send_form("anne@example.be\n0470 12 34 56\n\nanne@example.be", token)
    response = staff.post(url(nsi, "link/"), data)
    sending = LinkSending.objects.get()
    assert response["Location"] == url(nsi, f"link/sendings/{sending.pk}/")
    # A short list is sent within the form's request.
    assert emailed() == ["anne@example.be"]
    assert f"/l/{nsi.link_token}/" in mail.outbox[0].body
    assert [to for to, _text in sms_outbox] == ["+32470123456"]
    # The same page submitted again: the same sending, nothing sent twice.
    again = staff.post(url(nsi, "link/"), data)
    assert again["Location"] == response["Location"]
    assert (len(mail.outbox), len(sms_outbox), LinkSending.objects.count()) == (1, 1, 1)
    page = staff.get(response["Location"])
    assert progress_text(page) == "2 of 2 sent, 0 failed, 0 waiting. All sent."
    assertContains(page, "+32470123456")
    assertNotContains(page, "hx-post")
    assertNotContains(page, 'http-equiv="refresh"')
    # The link page lists the sending with its result.
    assertContains(staff.get(url(nsi, "link/")), "2 of 2 sent, 0 failed, 0 waiting.")


def test_it_shows_the_progress_of_a_long_sending_until_all_are_sent(
    staff, nsi, sms_outbox, settings
):
    settings.CLAO_LINK_SEND_CHUNK = 2
    response = staff.post(url(nsi, "link/"), send_form(FIVE))
    sending_url = response["Location"]
    page = staff.get(sending_url)
    assert progress_text(page) == "2 of 5 sent, 0 failed, 3 waiting. Sending…"
    assertContains(page, '<td class="result-pending">Waiting</td>', count=3, html=True)
    # With JavaScript the page asks for the next ones by itself (htmx, a POST); without it,
    # a button does, and the page refreshes itself.
    assertContains(page, f'hx-post="{sending_url}send/"')
    assertContains(page, '<noscript><meta http-equiv="refresh" content="10"></noscript>')
    assertContains(page, "Send the waiting messages now")
    # Reading the page sends nothing.
    staff.get(sending_url)
    assert len(mail.outbox) + len(sms_outbox) == 2

    step = staff.post(sending_url + "send/", HTTP_HX_REQUEST="true")
    assert step.status_code == 200
    assert progress_text(step) == "4 of 5 sent, 0 failed, 1 waiting. Sending…"
    assertContains(step, 'hx-swap-oob="innerHTML"')
    assertContains(step, f'hx-post="{sending_url}send/"')
    step = staff.post(sending_url + "send/", HTTP_HX_REQUEST="true")
    assert progress_text(step) == "5 of 5 sent, 0 failed, 0 waiting. All sent."
    # Nothing waits: no further request is asked for.
    assertNotContains(step, "hx-post")
    assert sorted(emailed()) == sorted(EMAILS_OF_FIVE)
    assert sorted(to for to, _text in sms_outbox) == sorted(PHONES_OF_FIVE)
    assert set(LinkDelivery.objects.values_list("status", "attempts")) == {("sent", 1)}


def test_it_sends_the_rest_with_the_button_without_javascript(staff, nsi, sms_outbox, settings):
    settings.CLAO_LINK_SEND_CHUNK = 2
    sending_url = staff.post(url(nsi, "link/"), send_form(FIVE))["Location"]
    response = staff.post(sending_url + "send/")
    # Back to the job's page (a plain POST, then GET). One click sends what the request's time
    # budget allows, not just a chunk: nobody should have to click once per recipient.
    assert response.status_code == 302 and response["Location"] == sending_url
    assert progress_text(staff.get(sending_url)) == "5 of 5 sent, 0 failed, 0 waiting. All sent."
    # Once all are sent, another click sends nothing.
    staff.post(sending_url + "send/")
    assert len(mail.outbox) + len(sms_outbox) == 5


def test_it_sends_one_recipient_per_click_when_the_time_budget_is_spent(
    staff, nsi, sms_outbox, settings
):
    settings.CLAO_LINK_SEND_CHUNK = 2
    settings.CLAO_LINK_SEND_SECONDS = 0  # a slow provider: each request's budget is spent
    sending_url = staff.post(url(nsi, "link/"), send_form(FIVE))["Location"]
    # Each request still moves the job on by one, so the page never stalls.
    assert progress_text(staff.get(sending_url)).startswith("1 of 5 sent")
    staff.post(sending_url + "send/")
    assert progress_text(staff.get(sending_url)).startswith("2 of 5 sent")


def test_it_sends_each_recipient_once_when_the_page_is_submitted_twice(
    staff, nsi, sms_outbox, settings
):
    settings.CLAO_LINK_SEND_CHUNK = 2
    data = send_form(FIVE)
    first = staff.post(url(nsi, "link/"), data)
    # The second submission (a double tap) moves the same job on; it records no other one.
    second = staff.post(url(nsi, "link/"), data)
    assert first["Location"] == second["Location"]
    assert (LinkSending.objects.count(), LinkDelivery.objects.count()) == (1, 5)
    assert progress_text(staff.get(first["Location"])).startswith("4 of 5 sent")
    staff.post(first["Location"] + "send/", HTTP_HX_REQUEST="true")
    staff.post(url(nsi, "link/"), data)
    assert sorted(emailed()) == sorted(EMAILS_OF_FIVE)
    assert sorted(to for to, _text in sms_outbox) == sorted(PHONES_OF_FIVE)


def test_it_shows_a_failed_sms_with_its_reason_sends_the_others_and_retries(
    staff, nsi, settings, sms_outbox
):
    settings.CLAO_SMS_BACKEND = "twilio"  # not configured: refused before any network call
    settings.CLAO_SMS_TWILIO_ACCOUNT_SID = ""
    response = staff.post(url(nsi, "link/"), send_form("+32470123456\njan@example.be"))
    page = staff.get(response["Location"])
    assert progress_text(page) == (
        "1 of 2 sent, 1 failed, 0 waiting. Finished. The failed ones can be sent again."
    )
    assertContains(
        page,
        '<td class="result-failed">Failed – The SMS service is not configured.</td>',
        html=True,
    )
    assert emailed() == ["jan@example.be"]
    # The provider works again: the failed one is sent from the page, the others not again.
    settings.CLAO_SMS_BACKEND = "locmem"
    response = staff.post(response["Location"] + "retry/", follow=True)
    assertContains(response, "1 recipient will be sent the link again.")
    assert progress_text(response) == "2 of 2 sent, 0 failed, 0 waiting. All sent."
    assert [to for to, _text in sms_outbox] == ["+32470123456"]
    assert emailed() == ["jan@example.be"]
    sms = LinkDelivery.objects.get(channel="sms")
    assert (sms.status, sms.error, sms.attempts) == ("sent", "", 2)


def test_it_finishes_a_sending_nobody_watches_with_the_command(
    staff, nsi, nsi_manager, sms_outbox, settings
):
    settings.CLAO_LINK_SEND_CHUNK = 2
    staff.post(url(nsi, "link/"), send_form(FIVE))
    # Recorded from a Dutch page, never opened again: the command sends the rest in Dutch.
    sending, _created = record_sending(
        employer=nsi,
        sent_by=nsi_manager,
        recipients=parse_recipients("piet@example.be")[0],
        key="nl-page",
        language="nl",
    )
    out = io.StringIO()
    call_command("send_pending_links", stdout=out)
    assert "4 sent, 0 failed" in out.getvalue()
    assert sorted(emailed()) == sorted([*EMAILS_OF_FIVE, "piet@example.be"])
    assert sorted(to for to, _text in sms_outbox) == sorted(PHONES_OF_FIVE)
    assert not LinkDelivery.objects.filter(status="pending").exists()
    dutch = next(m for m in mail.outbox if m.to == ["piet@example.be"])
    assert dutch.subject == "N.S.I.: uw link naar ClaO"
    # Nothing left: a second run sends nothing.
    call_command("send_pending_links", stdout=io.StringIO())
    assert len(mail.outbox) + len(sms_outbox) == 6


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


@pytest.mark.django_db(transaction=True)
def test_it_never_sends_to_one_recipient_twice_from_senders_at_once(nsi, nsi_manager, monkeypatch):
    """Two tabs, two pods and the command at the same moment: each recipient once."""
    recipients, _refused = parse_recipients("\n".join(f"+3247000{i:04d}" for i in range(12)))
    sending, _created = record_sending(
        employer=nsi, sent_by=nsi_manager, recipients=recipients, key="k"
    )
    calls = []

    def slow_send(self, to, text):
        time.sleep(0.02)  # a provider's round trip: the others must not wait, nor take it
        calls.append((threading.get_ident(), to))

    monkeypatch.setattr(sms.LocmemBackend, "send", slow_send)
    start = threading.Barrier(3)
    errors = []

    def sender():
        try:
            start.wait()
            send_next(LinkSending.objects.get(pk=sending.pk), seconds=30)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sender) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(to for _thread, to in calls) == sorted(r.address for r in recipients)
    # They shared the work (each skipped the recipients another one held).
    assert len({thread for thread, _to in calls}) > 1
    assert set(LinkDelivery.objects.values_list("status", "attempts")) == {("sent", 1)}


def test_it_hides_the_sendings_of_another_enterprise(client, staff, nsi, other_manager, settings):
    settings.CLAO_LINK_SEND_CHUNK = 1
    staff.post(url(nsi, "link/"), send_form("a@example.be\nb@example.be"))
    sending = LinkSending.objects.get()
    client.force_login(other_manager)
    other = other_manager.mandates.get().employer
    for enterprise in (nsi, other):
        base = url(enterprise, f"link/sendings/{sending.pk}/")
        assert client.get(base).status_code == 404
        assert client.post(base + "send/").status_code == 404
        assert client.post(base + "send/", HTTP_HX_REQUEST="true").status_code == 404
        assert client.post(base + "retry/").status_code == 404
    assert client.post(url(nsi, "link/replace/")).status_code == 404
    # Their requests sent nothing: the second recipient still waits.
    assert emailed() == ["a@example.be"]
    assert LinkDelivery.objects.get(recipient="b@example.be").status == "pending"


def test_it_sends_anonymous_people_to_the_login_and_sends_nothing(client, staff, nsi, settings):
    settings.CLAO_LINK_SEND_CHUNK = 1
    staff.post(url(nsi, "link/"), send_form("a@example.be\nb@example.be"))
    sending = LinkSending.objects.get()
    base = url(nsi, f"link/sendings/{sending.pk}/")
    client.logout()
    for response in (client.get(base), client.post(base + "send/")):
        assert response.status_code == 302 and "/login/" in response["Location"]
    assert emailed() == ["a@example.be"]


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
        if len(seen) == 3:
            raise urllib.error.URLError("connection refused")
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
    with translation.override("en"):
        with pytest.raises(sms.SmsError) as refused:
            backend.send("+32470123456", "Hello")
        assert str(refused.value) == "The SMS service refused the message (error 400)."
        with pytest.raises(sms.SmsError) as unreachable:
            backend.send("+32470123456", "Hello")
        assert str(unreachable.value) == "The SMS service could not be reached."


def test_it_gives_a_mail_servers_refusal_in_the_senders_language(
    staff, nsi, nsi_manager, monkeypatch, sms_outbox
):
    import smtplib

    nsi_manager.language = "fr"
    nsi_manager.save()

    def refuse(*args, **kwargs):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed: 421 4.3.2 busy")

    monkeypatch.setattr("employers.links.send_mail", refuse)
    response = staff.post(
        url(nsi, "link/"),
        send_form("jan@example.be\n+32470123456"),
    )
    page = staff.get(response["Location"])
    assertContains(
        page,
        '<td class="result-failed">Échoué – Le serveur de courrier est injoignable ou a refusé '
        "le message.</td>",
        html=True,
    )
    assertNotContains(page, "421")
    assert [to for to, _text in sms_outbox] == ["+32470123456"]


def test_it_records_an_unexpected_failure_without_leaving_the_recipient_waiting(
    staff, nsi, monkeypatch, sms_outbox
):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("employers.links.send_mail", broken)
    response = staff.post(url(nsi, "link/"), send_form("jan@example.be\n+32470123456"))
    page = staff.get(response["Location"])
    assertContains(
        page,
        '<td class="result-failed">Failed – An unexpected error occurred; it has been recorded '
        "for the team.</td>",
        html=True,
    )
    assertNotContains(page, "a bug")
    assert [to for to, _text in sms_outbox] == ["+32470123456"]
