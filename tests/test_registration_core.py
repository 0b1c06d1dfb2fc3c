"""The registration core: one open-IN rule, one write path, per-worker serialisation."""

import threading
from datetime import datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test import Client

from checkins.models import Registration
from checkins.rules import OPEN_IN_LIMIT, State, open_in_state
from checkins.services import Place, RegistrationRefused, register
from tests.factories import BRUSSELS_GPS, make_registration
from tests.pages import field_value, suggested_kind
from tests.saml import hidden_inputs

BRUSSELS = ZoneInfo("Europe/Brussels")
GPS = {"latitude": "50.681805", "longitude": "4.834123", "accuracy": "12"}
NO_OUT = "Your IN of"


def at(year, month, day, hour, minute=0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BRUSSELS)


def reg(kind: str, when: datetime) -> SimpleNamespace:
    return SimpleNamespace(kind=kind, recorded_at=when)


# The rule, table-driven: (what was registered, when it is looked at, expected state).
# DST 2026: clocks go forward on 29 March (23-hour day), back on 25 October (25-hour day).
CASES = [
    ("IN 08:00 seen 12:00", [("IN", at(2026, 11, 27, 8))], at(2026, 11, 27, 12), State.OPEN),
    (
        "night shift IN 22:00 seen 01:00",
        [("IN", at(2026, 11, 27, 22))],
        at(2026, 11, 28, 1),
        State.OPEN,
    ),
    (
        "night shift IN 22:00 seen 06:00",
        [("IN", at(2026, 11, 27, 22))],
        at(2026, 11, 28, 6),
        State.OPEN,
    ),
    (
        "IN 06:00 seen 23:30",
        [("IN", at(2026, 11, 27, 6))],
        at(2026, 11, 27, 23, 30),
        State.FORGOTTEN,
    ),
    (
        "two INs in a row: the latest counts",
        [("IN", at(2026, 11, 27, 6)), ("IN", at(2026, 11, 27, 9))],
        at(2026, 11, 27, 10),
        State.OPEN,
    ),
    (
        "the last one an OUT",
        [("IN", at(2026, 11, 27, 6)), ("OUT", at(2026, 11, 27, 14))],
        at(2026, 11, 27, 15),
        State.CLOSED,
    ),
    ("nothing yet", [], at(2026, 11, 27, 15), State.CLOSED),
    # Spring: 22:00 → 13:30 is 15.5 hours on the clock but 14.5 real hours: still open.
    (
        "IN across the 23-hour night, 14.5 h later",
        [("IN", at(2026, 3, 28, 22))],
        at(2026, 3, 29, 13, 30),
        State.OPEN,
    ),
    # Spring: 22:00 → 14:30 is 16.5 on the clock, 15.5 real hours: still open.
    (
        "IN across the 23-hour night, 15.5 real hours",
        [("IN", at(2026, 3, 28, 22))],
        at(2026, 3, 29, 14, 30),
        State.OPEN,
    ),
    # Autumn: 22:00 → 13:30 is 15.5 on the clock but 16.5 real hours: forgotten.
    (
        "IN across the 25-hour night, 16.5 real hours",
        [("IN", at(2026, 10, 24, 22))],
        at(2026, 10, 25, 13, 30),
        State.FORGOTTEN,
    ),
    (
        "IN across the 25-hour night, 8 real hours",
        [("IN", at(2026, 10, 24, 22))],
        at(2026, 10, 25, 5),
        State.OPEN,
    ),
]


@pytest.mark.parametrize(
    ("history", "seen", "expected"), [case[1:] for case in CASES], ids=[c[0] for c in CASES]
)
def test_it_applies_the_open_in_rule(history, seen, expected):
    latest = reg(*history[-1]) if history else None
    state = open_in_state(latest, seen)
    assert state.state is expected
    assert state.registration is (latest if expected is not State.CLOSED else None)
    assert state.suggested_kind == ("OUT" if expected is State.OPEN else "IN")


def test_it_names_the_limit_once():
    assert timedelta(hours=16) == OPEN_IN_LIMIT


# The rule as the worker sees it, on every page that asks it.


@pytest.fixture
def worker(client, anne):
    anne.language = "en"
    anne.save()
    client.force_login(anne)
    return anne


def pages(client) -> dict[str, str]:
    return {
        "list": client.get("/").content.decode(),
        "form": client.get("/registrations/new/").content.decode(),
    }


@pytest.mark.django_db
@pytest.mark.parametrize("seen_hour", [1, 6])
def test_it_says_one_thing_everywhere_during_a_night_shift(client, worker, seen_hour):
    make_registration(worker, "IN", at(2026, 11, 27, 22))
    with time_machine.travel(at(2026, 11, 28, seen_hour), tick=False):
        shown = pages(client)
        assert NO_OUT not in shown["list"].replace("Your IN of 27/11/26, 22:00 (", "")
        assert "has no OUT" not in shown["list"]
        assert (
            "No OUT registered after this IN"
            not in client.get("/?date=2026-11-27").content.decode()
        )
        assert "is still open." in shown["list"]
        assert "has no OUT" not in shown["form"]
        assert suggested_kind(shown["form"]) == "OUT"


@pytest.mark.django_db
def test_it_says_a_forgotten_in_in_the_same_words_and_closes_it_now(client, worker):
    opened = make_registration(worker, "IN", at(2026, 11, 27, 6, 30))
    with time_machine.travel(at(2026, 11, 27, 22, 31), tick=False):
        shown = pages(client)
        sentence = "Your IN of 27/11/26, 06:30 has no OUT."
        assert sentence in shown["list"]
        assert sentence in shown["form"]
        assert "is still open." not in shown["list"]
        assert suggested_kind(shown["form"]) == "IN"
        # One tap from the notice, on the form as on the list.
        fields = hidden_inputs(shown["form"].split('id="quick-out-form"')[1].split("</form>")[0])
        response = client.post("/registrations/quick-out/", fields | GPS | {"kind": "OUT"})
    out = Registration.objects.get(kind="OUT")
    assert response["Location"] == f"/registrations/{out.pk}/"
    assert out.recorded_at == at(2026, 11, 27, 22, 31)
    assert out.enterprise_number == opened.enterprise_number
    with time_machine.travel(at(2026, 11, 27, 22, 32), tick=False):
        listed = client.get("/").content.decode()
    assert "Closes the forgotten IN of 27/11/26, 06:30" in listed
    assert "has no OUT" not in listed


# One write path: idempotent, serialised per worker.


@pytest.mark.django_db
def test_it_returns_the_first_registration_for_a_key_used_again(anne):
    first = register(
        worker=anne,
        kind="IN",
        enterprise_number="0450.905.686",
        place=BRUSSELS_GPS,
        source=Registration.Source.SMARTPHONE,
        idempotency_key="k1",
    )
    again = register(
        worker=anne,
        kind="OUT",
        enterprise_number="0450905686",
        place=BRUSSELS_GPS,
        source=Registration.Source.SMARTPHONE,
        idempotency_key="k1",
    )
    assert first.created and not again.created
    assert again.registration == first.registration
    assert Registration.objects.count() == 1


@pytest.mark.django_db
def test_it_keeps_keys_apart_per_scope(anne, other_worker):
    for worker in (anne, other_worker):
        result = register(
            worker=worker,
            kind="IN",
            enterprise_number="0450905686",
            place=BRUSSELS_GPS,
            source=Registration.Source.SMARTPHONE,
            idempotency_key="same-value",
        )
        assert result.created
    assert Registration.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"kind": "MAYBE"}, "invalid_kind"),
        ({"source": "fax"}, "invalid_source"),
        ({"enterprise_number": "0450.905.687"}, "invalid_enterprise_number"),
        ({"ddt_number": "1Y1002V9KLZ6O"}, "invalid_ddt"),
        ({"place": Place()}, "invalid_place"),
        ({"idempotency_key": ""}, "invalid_key"),
    ],
)
def test_it_refuses_with_a_stable_code_and_stores_nothing(anne, change, code):
    values = {
        "worker": anne,
        "kind": "IN",
        "enterprise_number": "0450905686",
        "place": BRUSSELS_GPS,
        "source": Registration.Source.SMARTPHONE,
        "idempotency_key": "k",
    }
    with pytest.raises(RegistrationRefused) as refused:
        register(**(values | change))
    assert refused.value.code == code
    assert str(refused.value.message)
    assert not Registration.objects.exists()


@pytest.mark.django_db
def test_it_copies_the_employer_name_as_known_now(anne, nsi):
    stored = make_registration(anne, "IN")
    assert (stored.employer, stored.employer_name) == (nsi, "N.S.I.")


def _parallel(count: int, action) -> list:
    """Runs `action(index)` in `count` threads released at once; returns their results."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(index):
        try:
            barrier.wait()
            results[index] = action(index)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.django_db(transaction=True)
def test_it_stores_one_out_for_five_quick_outs_from_five_pages(anne):
    opened = make_registration(anne, "IN")
    shown = []
    for _ in range(5):
        browser = Client(HTTP_HOST="testserver")
        browser.force_login(anne)
        fields = hidden_inputs(browser.get("/").content.decode())
        assert fields["closes"] == str(opened.pk)
        shown.append((browser, fields))
    assert len({fields["client_token"] for _, fields in shown}) == 5

    answers = _parallel(
        5,
        lambda i: shown[i][0].post(
            "/registrations/quick-out/", shown[i][1] | GPS | {"kind": "OUT"}
        ),
    )

    out = Registration.objects.get(kind="OUT")
    assert Registration.objects.count() == 2
    assert [answer["Location"] for answer in answers] == [f"/registrations/{out.pk}/"] * 5


@pytest.mark.django_db(transaction=True)
def test_it_stores_one_row_for_twenty_posts_with_one_token(anne, nsi):
    browser = Client(HTTP_HOST="testserver")
    browser.force_login(anne)
    form = hidden_inputs(browser.get("/registrations/new/").content.decode())
    data = form | GPS | {"enterprise_number": "0450905686", "ddt_choice": "unknown", "kind": "IN"}

    answers = _parallel(20, lambda i: browser.post("/registrations/new/", data))

    stored = Registration.objects.get()
    assert stored.idempotency_key == form["client_token"]
    assert {answer.status_code for answer in answers} == {302}
    assert {answer["Location"] for answer in answers} == {f"/registrations/{stored.pk}/"}


@pytest.mark.django_db(transaction=True)
def test_it_serialises_the_writes_of_one_worker(anne):
    # Ten different keys at once, each an OUT closing the same IN: one wins.
    opened = make_registration(anne, "IN")

    def close(index):
        try:
            return register(
                worker=anne,
                kind="OUT",
                enterprise_number="0450905686",
                place=BRUSSELS_GPS,
                source=Registration.Source.SMARTPHONE,
                idempotency_key=f"tab-{index}",
                closes=opened,
            )
        except RegistrationRefused as refused:
            return refused

    results = _parallel(10, close)
    created = [r for r in results if not isinstance(r, RegistrationRefused)]
    refused = [r for r in results if isinstance(r, RegistrationRefused)]
    assert len(created) == 1 and len(refused) == 9
    assert {r.code for r in refused} == {"already_closed"}
    assert {r.registration.pk for r in refused} == {created[0].registration.pk}
    assert Registration.objects.filter(kind="OUT").count() == 1


# A phone shared by two workers.


@pytest.mark.django_db
def test_it_gives_a_form_kept_across_an_expired_login_back_only_to_its_worker(
    client, anne, other_worker, nsi
):
    from tests.saml import ANNE, JAN, saml_login

    start = datetime.now(tz=BRUSSELS)
    with time_machine.travel(start, tick=False):
        saml_login(client, "/", person=ANNE)
        form = client.get("/registrations/new/").content.decode()
    annes = hidden_inputs(form)
    typed = {"enterprise_number": "0450.905.686", "ddt_choice": "unknown", "kind": "IN"} | GPS
    with time_machine.travel(start + timedelta(hours=6, minutes=1), tick=True):
        # Anne's login has expired: sent to the login, nothing stored, she walks away.
        response = client.post("/registrations/new/", annes | typed)
        assert response["Location"] == "/login/?next=/registrations/new/"
        assert not Registration.objects.exists()
        # Jan logs in on the same browser: an empty form with a fresh token.
        saml_login(client, "/", person=JAN)
        jans = client.get("/registrations/new/").content.decode()
        assert field_value(jans, "enterprise_number") == ""
        assert "4.834123" not in jans
        assert hidden_inputs(jans)["client_token"] != annes["client_token"]
        # Jan happens to submit Anne's token value: his own row, under his own key.
        response = client.post(
            "/registrations/new/",
            hidden_inputs(jans) | typed | {"client_token": annes["client_token"]},
        )
        assert Registration.objects.get().worker == other_worker

    # Anne's own resubmission from her phone later is stored as hers, not answered 404.
    phone = Client(HTTP_HOST="testserver")
    phone.force_login(anne)
    response = phone.post("/registrations/new/", annes | typed)
    mine = Registration.objects.get(worker=anne)
    assert response["Location"] == f"/registrations/{mine.pk}/"
    assert phone.get(response["Location"]).status_code == 200


@pytest.mark.django_db
def test_it_gives_the_kept_form_back_to_the_same_worker(client, anne, nsi):
    from tests.saml import ANNE, saml_login

    start = datetime.now(tz=BRUSSELS)
    with time_machine.travel(start, tick=False):
        saml_login(client, "/", person=ANNE)
        annes = hidden_inputs(client.get("/registrations/new/").content.decode())
    with time_machine.travel(start + timedelta(hours=6, minutes=1), tick=True):
        client.post("/registrations/new/", annes | {"enterprise_number": "0450.905.686"})
        page = saml_login(client, "/registrations/new/", person=ANNE).content.decode()
        assert field_value(page, "enterprise_number") == "0450.905.686"
        assert hidden_inputs(page)["client_token"] == annes["client_token"]
