"""The presence-registration web service (issue 13), through Django's test client as a badge
reader would use it: per-item answers, refusal codes, duplicates, 401/4xx, ownership."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django.utils.translation import override

from accounts.models import Person
from api.batches import REFUSALS
from api.credentials import revoke_credential
from checkins.models import Registration
from tests.factories import NSI_NUMBER, make_device, make_employer

URL = "/api/v1/presence-registrations"


def niss(serial: int) -> str:
    """A valid NISS born 1 January 1990, serial 1..997."""
    base = f"900101{serial:03d}"
    return base + f"{97 - int(base) % 97:02d}"


def item(ref="r-1", ssin="85073003328", kind="IN", when=None, **fields) -> dict:
    body = {
        "clientReference": ref,
        "ssin": ssin,
        "type": kind,
        "employer": {"enterpriseNumber": NSI_NUMBER},
        "placeOfWork": {"coordinates": {"latitude": 50.84506, "longitude": 4.34954}},
        "registeredAt": (when or timezone.now()).isoformat(),
    }
    body.update(fields)
    return body


def send(client, *items, **headers):
    return client.post(
        URL,
        data=json.dumps({"registrations": list(items)}),
        content_type="application/json",
        **headers,
    )


@pytest.fixture(autouse=True)
def _api_rate(settings):
    settings.CLAO_API_RATE = "1000/m"


def test_it_stores_a_swipe_as_a_badge_registration_of_the_worker(api_client, anne, device):
    swiped = timezone.now() - timedelta(minutes=3)
    response = send(api_client, item(when=swiped, workDeclaration="1Y1002V9KLZ6Z"))

    assert response.status_code == 200
    result = response.json()["results"][0]
    assert result["status"] == "created"
    registration = Registration.objects.get(pk=result["id"])
    assert registration.worker == anne
    assert registration.source == Registration.Source.BADGE_READER
    assert registration.device == device
    assert registration.swiped_at == swiped
    assert registration.recorded_at > swiped  # the server's time of receipt
    assert registration.key_scope == f"device:{device.pk}"
    assert registration.ddt_number == "1Y1002V9KLZ6Z"


def test_it_answers_a_resent_reference_with_the_first_id_and_stores_nothing_again(api_client, anne):
    first = send(api_client, item("same")).json()["results"][0]
    # Resent after an outage, long after the swipe: still a duplicate, not "too late".
    again = send(api_client, item("same", when=timezone.now() - timedelta(hours=2)))

    assert again.json()["results"][0] == {
        "index": 0,
        "clientReference": "same",
        "status": "duplicate",
        "id": first["id"],
        "code": None,
        "message": None,
    }
    assert Registration.objects.count() == 1


def test_it_answers_a_reference_twice_in_one_batch_as_a_duplicate(api_client, anne):
    results = send(api_client, item("x"), item("x", kind="OUT")).json()["results"]

    assert [r["status"] for r in results] == ["created", "duplicate"]
    assert results[1]["id"] == results[0]["id"]
    assert Registration.objects.get().kind == "IN"


def test_it_keeps_references_apart_between_devices(api_client, anne, nsi):
    other, token = make_device(nsi, "Back door")
    send(api_client, item("shared"))
    response = send(Client(HTTP_AUTHORIZATION=f"Bearer {token}"), item("shared", kind="OUT"))

    assert response.json()["results"][0]["status"] == "created"
    assert Registration.objects.count() == 2


def test_it_creates_the_worker_of_a_niss_that_never_logged_in(api_client, nsi):
    new = niss(123)
    formatted = f"{new[:2]}.{new[2:4]}.{new[4:6]}-{new[6:9]}.{new[9:]}"

    response = send(api_client, item(ssin=formatted))

    assert response.json()["results"][0]["status"] == "created"
    worker = Person.objects.get(niss=new)
    assert worker.registrations.get().source == "badge"
    assert not worker.has_usable_password()


REFUSED = [
    ("invalid_ssin", {"ssin": "12345678901"}),
    ("invalid_employer", {"employer": {}}),
    ("invalid_employer", {"employer": {"enterpriseNumber": NSI_NUMBER, "foreignVatNumber": "X"}}),
    ("invalid_enterprise_number", {"employer": {"enterpriseNumber": "0450905687"}}),
    ("unknown_employer", {"employer": {"enterpriseNumber": "0755123422"}}),
    ("invalid_ddt", {"workDeclaration": "1Y1002V9KLZ6I"}),
    ("missing_place", {"placeOfWork": None}),
    ("missing_place", {"placeOfWork": {}}),
    (
        "missing_place",
        {
            "placeOfWork": {
                "coordinates": {"latitude": 50.8, "longitude": 4.3},
                "address": {
                    "postCode": "1000",
                    "municipalityName": "Bruxelles",
                    "streetName": "Rue",
                },
            }
        },
    ),
    (
        "place_outside_belgium",
        {"placeOfWork": {"coordinates": {"latitude": 48.85, "longitude": 2.35}}},
    ),
    (
        "unknown_address",
        {
            "placeOfWork": {
                "address": {"postCode": "9999", "municipalityName": "Nowhere", "streetName": "Rue"}
            }
        },
    ),
]


@pytest.mark.parametrize(("code", "fields"), REFUSED)
def test_it_refuses_an_item_with_its_code_and_stores_nothing(
    api_client, anne, geo_data, code, fields
):
    response = send(api_client, item(**fields))

    result = response.json()["results"][0]
    assert (result["status"], result["code"]) == ("refused", code)
    assert result["message"]
    assert result["id"] is None
    assert not Registration.objects.exists()


def test_it_refuses_a_swipe_that_reached_clao_more_than_10_minutes_late(api_client, anne):
    late = send(api_client, item(when=timezone.now() - timedelta(minutes=11)))
    almost = send(api_client, item("r-2", when=timezone.now() - timedelta(minutes=9)))

    assert late.json()["results"][0]["code"] == "too_late"
    assert late.json()["results"][0]["message"] == str(REFUSALS["too_late"])
    assert almost.json()["results"][0]["status"] == "created"
    assert Registration.objects.count() == 1


def test_it_refuses_a_swipe_dated_in_the_future_beyond_the_clock_tolerance(api_client, anne):
    future = send(api_client, item(when=timezone.now() + timedelta(minutes=5)))
    skewed = send(api_client, item("r-2", when=timezone.now() + timedelta(seconds=60)))

    assert future.json()["results"][0]["code"] == "in_future"
    assert skewed.json()["results"][0]["status"] == "created"


def test_it_refuses_an_employer_the_credential_may_not_send_for(api_client, anne):
    make_employer("0755123422", "Net & Propre SRL")

    response = send(api_client, item(employer={"enterpriseNumber": "0755.123.422"}))

    assert response.json()["results"][0]["code"] == "employer_not_allowed"
    assert not Registration.objects.exists()


def test_it_sends_for_every_employer_the_owner_allowed(anne, nsi):
    other = make_employer("0755123422", "Net & Propre SRL")
    reader, token = make_device(nsi, "Shared reader", may_send_for=[other])

    response = send(
        Client(HTTP_AUTHORIZATION=f"Bearer {token}"),
        item(employer={"enterpriseNumber": "BE0755123422"}),
    )

    assert response.json()["results"][0]["status"] == "created"
    assert Registration.objects.get().employer_name == "Net & Propre SRL"


def test_it_accepts_an_address_in_belgium(api_client, anne, geo_data):
    place = {
        "address": {
            "postCode": "1000",
            "municipalityName": "Bruxelles",
            "streetName": "Rue du Midi",
            "houseNumber": "100",
        }
    }

    response = send(api_client, item(placeOfWork=place))

    assert response.json()["results"][0]["status"] == "created"
    assert Registration.objects.get().address == "Rue du Midi 100, 1000 Bruxelles"


def test_it_answers_each_item_of_a_mixed_batch_in_order(api_client, anne, other_worker):
    response = send(
        api_client,
        item("a"),
        item("b", ssin="bad"),
        item("c", ssin=other_worker.niss),
        item("d", when=timezone.now() - timedelta(minutes=30)),
        item("a"),
    )

    body = response.json()
    assert [
        (r["index"], r["clientReference"], r["status"], r["code"]) for r in body["results"]
    ] == [
        (0, "a", "created", None),
        (1, "b", "refused", "invalid_ssin"),
        (2, "c", "created", None),
        (3, "d", "refused", "too_late"),
        (4, "a", "duplicate", None),
    ]
    assert (body["created"], body["duplicates"], body["refused"]) == (2, 1, 2)
    assert Registration.objects.count() == 2


@pytest.mark.parametrize("language", ["fr", "nl", "de", "en"])
def test_it_writes_refusals_in_the_senders_language(api_client, language):
    response = send(api_client, item(ssin="1"), HTTP_ACCEPT_LANGUAGE=language)

    with override(language):
        expected = str(REFUSALS["invalid_ssin"])
    assert response.json()["results"][0]["message"] == expected
    if language != "en":
        assert expected != "This is not a valid NISS or BIS number."


@pytest.mark.parametrize(
    "authorization", [None, "Bearer", "Bearer clao_wrong", "Basic YTpi", "Token x"]
)
def test_it_answers_401_without_a_valid_token(db, authorization):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}

    response = send(Client(), item(), **headers)

    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert response["WWW-Authenticate"] == "Bearer"
    assert not Registration.objects.exists()


def test_it_answers_401_to_a_revoked_token(api_client, device, anne):
    revoke_credential(device)

    assert send(api_client, item()).status_code == 401
    assert api_client.get(URL).status_code == 401
    assert not Registration.objects.exists()


def test_it_marks_when_a_credential_was_last_used(api_client, device, anne):
    assert device.last_used_at is None

    send(api_client, item())

    device.refresh_from_db()
    assert timezone.now() - device.last_used_at < timedelta(seconds=5)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("{not json", 400, "malformed_body"),
        ("[]", 422, "invalid_body"),
        ('{"registrations": []}', 422, "invalid_body"),
        ('{"registrations": [{"clientReference": "x"}]}', 422, "invalid_body"),
        ('{"registrations": "x"}', 422, "invalid_body"),
    ],
)
def test_it_answers_one_clear_4xx_to_a_malformed_body(api_client, body, status, code):
    response = api_client.post(URL, data=body, content_type="application/json")

    assert response.status_code == status
    assert response.json()["code"] == code
    assert response.json()["message"]
    assert not Registration.objects.exists()


def test_it_refuses_a_batch_of_more_than_200(api_client, anne):
    response = send(api_client, *[item(f"r-{i}") for i in range(201)])

    assert response.status_code == 422
    assert response.json()["code"] == "too_many_items"
    assert response.json()["message"] == "A batch holds at most 200 registrations."
    assert not Registration.objects.exists()


def test_it_refuses_a_body_over_the_size_limit(api_client, settings, anne):
    settings.CLAO_API_MAX_BODY_BYTES = 1000

    response = send(api_client, *[item(f"r-{i}") for i in range(10)])

    assert response.status_code == 413
    assert response.json()["code"] == "body_too_large"
    assert not Registration.objects.exists()


def test_it_limits_the_requests_of_a_credential(api_client, settings, anne, nsi):
    settings.CLAO_API_RATE = "2/m"
    other, token = make_device(nsi, "Other reader")

    statuses = [api_client.get(URL).status_code for _ in range(3)]
    limited = api_client.get(URL)

    assert statuses == [200, 200, 429]
    assert limited.json()["code"] == "rate_limited"
    assert int(limited["Retry-After"]) >= 1
    # Another credential has its own count.
    assert Client(HTTP_AUTHORIZATION=f"Bearer {token}").get(URL).status_code == 200


def test_it_lists_only_what_this_sender_stored(api_client, anne, nsi, other_worker):
    from tests.factories import make_registration

    other, token = make_device(nsi, "Other reader")
    send(api_client, item("mine"))
    send(Client(HTTP_AUTHORIZATION=f"Bearer {token}"), item("theirs", ssin=other_worker.niss))
    make_registration(anne, "OUT")  # from the smartphone

    listed = api_client.get(URL).json()

    assert listed["count"] == 1
    assert [r["clientReference"] for r in listed["items"]] == ["mine"]
    assert listed["items"][0]["ssin"] == anne.niss
    assert listed["items"][0]["employer"]["enterpriseNumber"] == NSI_NUMBER


def test_it_lists_by_swipe_time_and_client_reference_with_pages(api_client, anne):
    now = timezone.now()
    send(
        api_client,
        *[item(f"r-{i}", kind="IN", when=now - timedelta(minutes=9 - i)) for i in range(5)],
    )

    window = api_client.get(
        URL,
        {
            "from": (now - timedelta(minutes=7)).isoformat(),
            "to": (now - timedelta(minutes=5)).isoformat(),
        },
    ).json()
    by_reference = api_client.get(URL, {"clientReference": "r-4"}).json()
    second_page = api_client.get(URL, {"pageSize": 2, "page": 2}).json()

    assert [r["clientReference"] for r in window["items"]] == ["r-2", "r-3"]
    assert [r["clientReference"] for r in by_reference["items"]] == ["r-4"]
    assert (second_page["count"], [r["clientReference"] for r in second_page["items"]]) == (
        5,
        ["r-2", "r-3"],
    )


def test_it_refuses_an_inverted_window(api_client):
    response = api_client.get(URL, {"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"})

    assert response.status_code == 422
    assert response.json()["code"] == "invalid_body"


def test_it_serves_its_openapi_31_description_generated_from_the_code(client, db):
    response = client.get("/api/v1/openapi.json")

    schema = response.json()
    assert schema["openapi"].startswith("3.1")
    assert set(schema["paths"]["/api/v1/presence-registrations"]) == {"get", "post"}
    item_schema = schema["components"]["schemas"]["RegistrationIn"]
    assert {"clientReference", "ssin", "type", "employer", "registeredAt"} <= set(
        item_schema["required"]
    )
    assert (
        schema["components"]["schemas"]["BatchIn"]["properties"]["registrations"]["maxItems"] == 200
    )


def test_it_serves_a_readable_translated_documentation_page(client, db):
    response = client.get("/api/v1/docs", HTTP_ACCEPT_LANGUAGE="nl")

    assert response.status_code == 200
    page = response.content.decode()
    assert "/api/v1/presence-registrations" in page
    assert "employer_not_allowed" in page
    assert "<script" not in page


def test_it_shows_the_swipe_in_the_workers_day_list_with_badgeuse_as_source(
    api_client, anne, client
):
    anne.language = "fr"
    anne.save()
    on_time = timezone.now() - timedelta(seconds=20)
    late = timezone.now() - timedelta(minutes=8)
    send(api_client, item("on-time", when=on_time), item("late", kind="OUT", when=late))
    client.force_login(anne)

    page = client.get("/").content.decode()

    assert page.count("Badgeuse") == 2
    local = timezone.localtime
    # Both swipe times are shown; only the late one carries the note on its card.
    assert f">{local(on_time):%H:%M:%S}</time>" in page
    assert f">{local(late):%H:%M:%S}</time>" in page
    with override("fr"):
        from django.utils.translation import gettext

        note = gettext("Badge swiped at %(swiped)s: reached ClaO late") % {
            "swiped": f"{local(late):%H:%M}"
        }
    assert page.count(note) == 1
    assert note != f"Badge swiped at {local(late):%H:%M}: reached ClaO late"
