"""The ONSS inspector space: who reaches it, search, access log, corrections and proofs."""

import csv
import io
import uuid
from datetime import datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction
from pytest_django.asserts import assertContains, assertNotContains

from checkins.models import Registration
from inspection.models import (
    AccessedWorker,
    AccessLog,
    AppendOnlyLogError,
    CorrectionProof,
    proof_storage,
)
from inspection.roles import active_role, grant, revoke
from tests.factories import make_registration

pytestmark = pytest.mark.django_db

BRUSSELS = ZoneInfo("Europe/Brussels")
NOW = datetime(2026, 11, 29, 10, 0, tzinfo=BRUSSELS)
YESTERDAY = NOW.date() - timedelta(days=1)
ANNE_NISS = "85073003328"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def at(hour: int, day=YESTERDAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=BRUSSELS)


@pytest.fixture
def english(anne, other_worker, inspector):
    for person in (anne, other_worker, inspector):
        person.language = "en"
        person.save()


@pytest.fixture
def as_inspector(client, inspector, english):
    client.force_login(inspector)
    return client


@pytest.fixture
def day_of_anne(anne, other_worker, nsi):
    """Anne's yesterday: an IN, a wrong IN (double), an OUT; Jan's IN the same morning."""
    return {
        "in": make_registration(anne, "IN", at(8), employer=nsi, ddt_number="1Y1002V9KLZ6Z"),
        "wrong": make_registration(
            anne,
            "IN",
            at(9),
            enterprise_number="0403170701",
            postal_code="1000",
            municipality="Bruxelles",
            street="Rue du Midi",
        ),
        "out": make_registration(anne, "OUT", at(12), employer=nsi),
        "jan": make_registration(other_worker, "IN", at(8), employer=nsi),
    }


def inspector_urls(registration: Registration, proof_pk: int = 1) -> list[str]:
    return [
        "/onss/",
        f"/onss/?niss={ANNE_NISS}",
        f"/onss/export.csv?niss={ANNE_NISS}",
        f"/onss/workers/{registration.worker_id}/",
        f"/onss/registrations/{registration.pk}/correct/",
        f"/onss/proofs/{proof_pk}/",
        "/onss/log/",
    ]


def cancel(client, registration: Registration, token: str | None = None, **extra):
    data = {
        "token": token or str(uuid.uuid4()),
        "correction_kind": "cancel",
        "correction_reason": "duplicate",
        "reason": "Second IN by mistake",
        **extra,
    }
    return client.post(f"/onss/registrations/{registration.pk}/correct/", data)


def pdf(name: str = "pv.pdf", content: bytes = PDF):
    upload = io.BytesIO(content)
    upload.name = name
    return upload


# Who reaches the space


@pytest.mark.parametrize("persona", ["anonymous", "worker", "employer staff", "revoked inspector"])
def test_it_answers_404_to_everyone_but_inspectors(
    client, request, persona, anne, day_of_anne, inspector
):
    wrong = day_of_anne["wrong"]
    cancel(_logged(client, inspector), wrong, proof=pdf())
    proof = CorrectionProof.objects.get()
    client.logout()
    if persona == "worker":
        client.force_login(anne)
    elif persona == "employer staff":
        # N.S.I.'s access manager, whose workers' registrations these are.
        client.force_login(request.getfixturevalue("nsi_manager"))
    elif persona == "revoked inspector":
        revoke(inspector)
        client.force_login(inspector)
    stored = Registration.objects.count()
    for url in inspector_urls(wrong, proof.pk):
        assert client.get(url).status_code == 404, url
    assert cancel(client, day_of_anne["in"]).status_code == 404
    assert Registration.objects.count() == stored
    assert AccessLog.objects.filter(action="search").count() == 0


def _logged(client, person):
    client.force_login(person)
    return client


def test_it_grants_and_revokes_the_role_by_command(anne):
    out = StringIO()
    call_command("grant_inspector", "80.05.12-123.68", "--office", "ONSS Liège", stdout=out)
    assert "is an inspector of ONSS Liège" in out.getvalue()
    role = active_role(anne.__class__.objects.get(niss="80051212368"))
    assert role.office == "ONSS Liège" and role.origin == "command"
    call_command("revoke_inspector", "80051212368", stdout=StringIO())
    assert active_role(role.person) is None
    with pytest.raises(CommandError, match="holds no inspector role"):
        call_command("revoke_inspector", "80051212368")
    with pytest.raises(CommandError, match="not a valid NISS"):
        call_command("grant_inspector", "123", "--office", "X")
    # The history of grants is kept.
    assert role.person.inspector_roles.count() == 1


def test_it_moves_the_role_to_another_office_keeping_the_former_grant(inspector):
    grant(inspector, "ONSS Gent")
    assert active_role(inspector).office == "ONSS Gent"
    assert inspector.inspector_roles.filter(revoked_at__isnull=False).count() == 1


def test_it_shows_the_header_link_to_inspectors_only(client, anne, inspector, english):
    client.force_login(anne)
    assertNotContains(client.get("/"), 'href="/onss/"')
    client.force_login(inspector)
    assertContains(client.get("/"), 'href="/onss/"')


# Search


def test_it_finds_a_workers_registrations_by_niss_with_name_and_cards(as_inspector, day_of_anne):
    response = as_inspector.get(
        "/onss/", {"niss": "85.07.30-033.28", "date_from": YESTERDAY, "date_to": YESTERDAY}
    )
    assertContains(response, "3 registrations")
    assertContains(response, '<span class="niss">85.07.30-033.28</span>', count=3, html=True)
    assertContains(response, "Dubois Anne-Sophie", count=3)
    assertNotContains(response, "Peeters")
    # The worker's own cards: kind, time, enterprise number.
    assertContains(response, '<span class="number">0403.170.701</span>', html=True)
    page = response.content.decode()
    # Newest first.
    assert page.index(f'datetime="{at(12).isoformat()}"') < page.index(
        f'datetime="{at(8).isoformat()}"'
    )


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ({"enterprise_number": "BE 0403.170.701"}, 1),
        ({"ddt_number": "1Y1002V9KLZ6Z"}, 1),
        ({"postal_code": "1000"}, 1),
        ({"source": "smartphone"}, 4),
        ({"source": "onss"}, 0),
        ({"enterprise_number": "0450905686"}, 3),
        ({}, 4),
    ],
)
def test_it_searches_by_each_criterion(as_inspector, day_of_anne, criteria, expected):
    response = as_inspector.get(
        "/onss/", {"date_from": YESTERDAY, "date_to": YESTERDAY, **criteria}
    )
    assert response.context["page"].count == expected


def test_it_searches_only_within_the_dates(as_inspector, day_of_anne):
    response = as_inspector.get("/onss/", {"date_from": NOW.date(), "date_to": NOW.date()})
    assertContains(response, "No registration matches this search.")


@pytest.mark.parametrize(
    ("criteria", "message"),
    [
        ({"niss": "12345678901"}, "This is not a valid NISS or BIS number."),
        ({"postal_code": "10"}, "A Belgian postal code has 4 digits."),
        (
            {"date_from": "2026-11-20", "date_to": "2026-11-10"},
            "The end of the period is before its start.",
        ),
        ({"date_from": "2024-01-01", "date_to": "2026-11-10"}, "Search over at most 366 days."),
    ],
)
def test_it_explains_a_bad_criterion_and_logs_nothing(as_inspector, day_of_anne, criteria, message):
    response = as_inspector.get("/onss/", criteria)
    assertContains(response, message)
    assert response.context["page"] is None
    assert not AccessLog.objects.exists()


def test_it_pages_the_results(as_inspector, anne, nsi):
    for index in range(30):
        make_registration(anne, "IN" if index % 2 else "OUT", at(6) + timedelta(minutes=index))
    first = as_inspector.get("/onss/", {"niss": ANNE_NISS, "date_from": YESTERDAY})
    assert len(first.context["page"].registrations) == 25 and first.context["page"].has_next
    second = as_inspector.get("/onss/", {"niss": ANNE_NISS, "date_from": YESTERDAY, "page": 2})
    assert len(second.context["page"].registrations) == 5
    assert not second.context["page"].has_next


def test_it_searches_in_a_fixed_number_of_queries(
    as_inspector, anne, other_worker, nsi, django_assert_num_queries
):
    for index in range(20):
        make_registration(
            anne if index % 2 else other_worker, "IN", at(6) + timedelta(minutes=index)
        )
    # session, person, role, count, page, corrections, log entry (savepoint + insert + insert
    # of the workers concerned + release); the header's spaces come from the session.
    with django_assert_num_queries(10):
        response = as_inspector.get("/onss/", {"date_from": YESTERDAY})
    assert response.context["page"].count == 20


def test_it_exports_a_search_as_csv_and_logs_it(as_inspector, day_of_anne):
    response = as_inspector.get(
        "/onss/export.csv", {"niss": ANNE_NISS, "date_from": YESTERDAY, "date_to": YESTERDAY}
    )
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:4] == ["id", "Date and time", "Type", "NISS or BIS number"]
    assert [row[2] for row in rows[1:]] == ["OUT", "IN", "IN"]
    assert {row[3] for row in rows[1:]} == {ANNE_NISS}
    entry = AccessLog.objects.get()
    assert entry.action == "export" and entry.result_count == 3
    assert entry.criteria["niss"] == ANNE_NISS


# The access log


def test_it_logs_every_search_with_criteria_count_and_the_workers_shown(
    as_inspector, inspector, anne, other_worker, day_of_anne
):
    as_inspector.get("/onss/", {"niss": ANNE_NISS, "date_from": YESTERDAY, "date_to": YESTERDAY})
    entry = AccessLog.objects.get()
    assert entry.inspector == inspector and entry.office == "ONSS Bruxelles"
    assert entry.action == "search" and entry.result_count == 3
    assert entry.criteria == {
        "date_from": YESTERDAY.isoformat(),
        "date_to": YESTERDAY.isoformat(),
        "niss": ANNE_NISS,
        "page": 1,
    }
    assert list(entry.subjects.values_list("worker", flat=True)) == [anne.pk]
    as_inspector.get("/onss/", {"postal_code": "1000", "date_from": YESTERDAY})
    as_inspector.get(f"/onss/workers/{other_worker.pk}/", {"date_from": YESTERDAY})
    assert AccessLog.objects.count() == 3
    assert AccessLog.objects.filter(action="worker", subjects__worker=other_worker).exists()
    assertContains(as_inspector.get("/onss/log/"), "niss=85073003328")


def test_it_shows_the_worker_who_looked_at_their_data_without_names_by_default(
    client, as_inspector, anne, other_worker, day_of_anne, settings
):
    as_inspector.get("/onss/", {"niss": ANNE_NISS, "date_from": YESTERDAY})
    client.force_login(anne)
    response = client.get("/my-data/inspections/")
    assertContains(response, "ONSS Bruxelles")
    assertContains(response, "<td>Search</td>", html=True)
    assertNotContains(response, "Lambert")
    settings.CLAO_SHOW_INSPECTOR_NAMES = True
    assertContains(client.get("/my-data/inspections/"), "Inès Lambert")
    client.force_login(other_worker)
    assertContains(
        client.get("/my-data/inspections/"), "No inspector has consulted your registrations."
    )


def test_it_keeps_the_access_log_append_only_in_django(as_inspector, day_of_anne):
    as_inspector.get("/onss/", {"niss": ANNE_NISS})
    entry = AccessLog.objects.get()
    entry.result_count = 0
    with pytest.raises(AppendOnlyLogError):
        entry.save()
    with pytest.raises(AppendOnlyLogError):
        entry.delete()
    with pytest.raises(AppendOnlyLogError):
        AccessLog.objects.update(result_count=0)
    with pytest.raises(AppendOnlyLogError):
        AccessedWorker.objects.all().delete()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE inspection_accesslog SET result_count = 0",
        "DELETE FROM inspection_accesslog",
        "DELETE FROM inspection_accessedworker",
        "TRUNCATE inspection_accesslog CASCADE",
        "TRUNCATE inspection_accessedworker",
    ],
)
def test_it_keeps_the_access_log_append_only_in_postgresql(as_inspector, day_of_anne, statement):
    as_inspector.get("/onss/", {"niss": ANNE_NISS})
    with connection.cursor() as cursor:
        # As in production: no TRUNCATE allowed, and no deferred check pending.
        cursor.execute("SET LOCAL clao.allow_truncate = 'off'")
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
            cursor.execute(statement)
    assert AccessLog.objects.get().result_count == 3
    assert AccessedWorker.objects.count() == 1


# Corrections


def test_it_cancels_a_registration_with_a_reason_and_a_pdf(
    as_inspector, inspector, anne, day_of_anne
):
    wrong = day_of_anne["wrong"]
    response = cancel(as_inspector, wrong, proof=pdf())
    assert response.status_code == 302
    correction = Registration.objects.get(corrects=wrong)
    assert correction.source == "onss" and correction.acted_by == inspector
    assert correction.worker == anne and correction.correction_kind == "cancel"
    assert correction.correction_reason == "duplicate"
    assert correction.reason == "Second IN by mistake"
    assert correction.enterprise_number == wrong.enterprise_number
    # The original is untouched.
    wrong.refresh_from_db()
    assert (wrong.kind, wrong.enterprise_number, wrong.source) == ("IN", "0403170701", "smartphone")
    proof = correction.proof
    assert proof.content_type == "application/pdf" and proof.size == len(PDF)
    with proof_storage().open(proof.file_name) as stored:
        assert stored.read() == PDF
    page = as_inspector.get(response["Location"])
    assertContains(page, "The correction has been stored.")
    assertContains(page, "Cancelled by the ONSS")


def test_it_stores_one_correction_for_a_double_submit(as_inspector, day_of_anne):
    token = str(uuid.uuid4())
    cancel(as_inspector, day_of_anne["wrong"], token=token, proof=pdf())
    response = cancel(as_inspector, day_of_anne["wrong"], token=token, proof=pdf())
    assert response.status_code == 302
    assert Registration.objects.filter(corrects=day_of_anne["wrong"]).count() == 1
    assert CorrectionProof.objects.count() == 1
    assertContains(
        as_inspector.get(response["Location"]), "This correction had already been stored."
    )


def test_it_refuses_to_cancel_twice(as_inspector, day_of_anne):
    cancel(as_inspector, day_of_anne["wrong"])
    stored = Registration.objects.count()
    response = cancel(as_inspector, day_of_anne["wrong"])
    assertContains(response, "This registration has already been cancelled.", status_code=400)
    assert Registration.objects.count() == stored
    assertContains(
        as_inspector.get(f"/onss/registrations/{day_of_anne['wrong'].pk}/correct/"),
        "This registration has already been cancelled.",
    )


def test_it_refuses_a_correction_outside_the_window(as_inspector, anne, nsi, settings):
    settings.CLAO_CORRECTION_WINDOW_DAYS = 30
    old = make_registration(anne, "IN", NOW - timedelta(days=30, minutes=1), employer=nsi)
    recent = make_registration(anne, "OUT", NOW - timedelta(days=29), employer=nsi)
    response = cancel(as_inspector, old)
    assertContains(
        response,
        "This registration can no longer be corrected: corrections are accepted 30 days after it.",
        status_code=400,
    )
    assert not Registration.objects.filter(corrects__isnull=False).exists()
    assert cancel(as_inspector, recent).status_code == 302


def test_it_refuses_to_correct_a_correction(as_inspector, day_of_anne):
    cancel(as_inspector, day_of_anne["wrong"])
    correction = Registration.objects.get(corrects__isnull=False)
    response = cancel(as_inspector, correction)
    assertContains(response, "A correction cannot itself be corrected.", status_code=400)
    assert Registration.objects.filter(corrects__isnull=False).count() == 1


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (
            lambda: pdf("virus.pdf", b"MZ\x90\x00 not a pdf"),
            "The proof must be a PDF file or an image",
        ),
        (lambda: pdf("big.pdf", PDF + b"0" * 2048), "The proof is too large: at most 0 MB."),
    ],
)
def test_it_refuses_a_bad_proof_and_stores_nothing(
    as_inspector, day_of_anne, settings, upload, message
):
    settings.CLAO_PROOF_MAX_BYTES = 1024
    response = cancel(as_inspector, day_of_anne["wrong"], proof=upload())
    assertContains(response, message, status_code=400)
    assert not Registration.objects.filter(corrects__isnull=False).exists()
    assert not CorrectionProof.objects.exists()


def test_it_accepts_an_image_as_proof_and_serves_it_to_inspectors_only(
    client, as_inspector, inspector, anne, day_of_anne, settings
):
    cancel(as_inspector, day_of_anne["wrong"], proof=pdf("photo.png", PNG))
    proof = CorrectionProof.objects.get()
    response = as_inspector.get(f"/onss/proofs/{proof.pk}/")
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("attachment;")
    assert b"".join(response.streaming_content) == PNG
    assert AccessLog.objects.filter(action="proof").count() == 1
    client.force_login(anne)
    assert client.get(f"/onss/proofs/{proof.pk}/").status_code == 404
    # On the private "proofs" storage, not under MEDIA_ROOT.
    assert proof_storage().exists(proof.file_name)
    assert settings.STORAGES["proofs"]["OPTIONS"]["location"].endswith("/proofs")


def test_it_corrects_values_and_the_worker_sees_both(client, as_inspector, anne, day_of_anne):
    wrong = day_of_anne["wrong"]
    response = as_inspector.post(
        f"/onss/registrations/{wrong.pk}/correct/",
        {
            "token": str(uuid.uuid4()),
            "correction_kind": "correct",
            "correction_reason": "employer",
            "reason": "Worked for N.S.I.",
            "enterprise_number": "0450.905.686",
            "kind": "OUT",
        },
    )
    assert response.status_code == 302
    correction = Registration.objects.get(corrects=wrong)
    assert (correction.kind, correction.enterprise_number) == ("OUT", "0450905686")
    assert (correction.postal_code, correction.street) == ("1000", "Rue du Midi")
    client.force_login(anne)
    page = client.get(f"/?date={YESTERDAY}")
    assertContains(page, "Corrected by the ONSS")
    assertContains(page, "0403.170.701")  # the original value, in the unfolded card
    assertContains(page, "<dd>0450.905.686</dd>", html=True)
    assertContains(page, "Wrong employer: Worked for N.S.I.")
    assertContains(page, "<dd>ONSS application</dd>", html=True)
    # The correction is not a registration of its own in the list.
    assert len(page.context["cards"]) == 3


def test_it_explains_an_incomplete_correction(as_inspector, day_of_anne):
    response = as_inspector.post(
        f"/onss/registrations/{day_of_anne['wrong'].pk}/correct/",
        {
            "token": str(uuid.uuid4()),
            "correction_kind": "correct",
            "correction_reason": "place",
            "reason": "x",
            "postal_code": "1000",
        },
    )
    assertContains(
        response,
        "Give the whole new address: postal code, municipality and street.",
        status_code=400,
    )
    assert not Registration.objects.filter(corrects__isnull=False).exists()


def test_it_ignores_a_cancelled_open_in_and_the_correction_for_the_open_in_rule(
    client, as_inspector, anne, nsi, frozen
):
    open_in = make_registration(anne, "IN", NOW - timedelta(hours=1), employer=nsi)
    cancel(as_inspector, open_in)
    client.force_login(anne)
    page = client.get("/")
    assert page.context["state"].registration is None
    assertContains(page, "Cancelled by the ONSS")
    assertContains(page, "<dd>ONSS application</dd>", html=True)


def test_it_lets_a_login_carry_the_inspector_role_when_configured(client, settings, monkeypatch):
    from demo.people import DEMO_INSPECTOR
    from tests.saml import saml_login

    settings.CLAO_SAML_ATTR_INSPECTOR_OFFICE = "clao-inspector-office"
    saml_login(client, "/", person=DEMO_INSPECTOR)
    person = anne_model().objects.get(niss=DEMO_INSPECTOR["niss"])
    role = active_role(person)
    assert (role.office, role.origin) == ("ONSS Bruxelles", "idp")
    assert client.get("/onss/").status_code == 200
    # The IdP stops sending it: the role it granted ends at the next login.
    client.logout()
    monkeypatch.delitem(DEMO_INSPECTOR, "office")
    saml_login(client, "/", person=DEMO_INSPECTOR)
    assert active_role(person) is None
    assert client.get("/onss/").status_code == 404


def test_it_never_lets_the_idp_revoke_a_role_granted_by_command(
    client, settings, inspector, monkeypatch
):
    from demo.people import DEMO_INSPECTOR
    from tests.saml import saml_login

    assert inspector.niss == DEMO_INSPECTOR["niss"]
    settings.CLAO_SAML_ATTR_INSPECTOR_OFFICE = "clao-inspector-office"
    monkeypatch.delitem(DEMO_INSPECTOR, "office")
    saml_login(client, "/", person=DEMO_INSPECTOR)
    assert active_role(inspector).origin == "command"
    assert client.get("/onss/").status_code == 200


def anne_model():
    from accounts.models import Person

    return Person
