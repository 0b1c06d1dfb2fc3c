"""A badge reader's batch stored by the core's batch path (checkins.services.register_many):
through HTTP as a reader sends it, each item answered as register() would answer it alone, in a
constant number of queries, the hash chain intact; and the batch path against register() item
by item, on the same requests."""

import json
import os
import subprocess
import sys
import threading
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Person
from checkins.models import Registration
from checkins.services import (
    RegistrationRefused,
    RegistrationRequest,
    latest_registration,
    register,
    register_many,
)
from tests.factories import BRUSSELS_GPS, NSI_NUMBER, make_person, make_registration

URL = "/api/v1/presence-registrations"


def niss(serial: int) -> str:
    """A valid NISS born 1 January 1990, serial 1..997."""
    base = f"900101{serial:03d}"
    return base + f"{97 - int(base) % 97:02d}"


def item(ref: str, ssin: str, kind: str = "IN", when=None, **fields) -> dict:
    body = {
        "clientReference": ref,
        "ssin": ssin,
        "type": kind,
        "employer": {"enterpriseNumber": NSI_NUMBER},
        "placeOfWork": {"coordinates": {"latitude": 50.84506, "longitude": 4.34954}},
        "registeredAt": (when or timezone.now() - timedelta(seconds=30)).isoformat(),
    }
    body.update(fields)
    return body


def send(client, items: list[dict]):
    response = client.post(
        URL, data=json.dumps({"registrations": items}), content_type="application/json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def statuses(answer: dict) -> list[tuple]:
    return [(r["clientReference"], r["status"], r["code"]) for r in answer["results"]]


@pytest.fixture(autouse=True)
def _api_rate(settings):
    settings.CLAO_API_RATE = "1000/m"


def test_it_stores_an_in_then_an_out_of_one_worker_in_one_batch(api_client, anne):
    answer = send(api_client, [item("in", anne.niss, "IN"), item("out", anne.niss, "OUT")])

    assert statuses(answer) == [("in", "created", None), ("out", "created", None)]
    stored_in, stored_out = (Registration.objects.get(pk=r["id"]) for r in answer["results"])
    # The OUT came second: stored after the IN, and it is the worker's latest.
    assert (stored_in.kind, stored_out.kind) == ("IN", "OUT")
    assert stored_in.pk < stored_out.pk
    assert latest_registration(anne) == stored_out
    assert stored_out.chain_previous == stored_in.chain_hash


def test_it_stores_a_reference_used_twice_in_one_batch_once(api_client, anne, other_worker):
    answer = send(
        api_client,
        [item("twice", anne.niss), item("other", anne.niss), item("twice", other_worker.niss)],
    )

    results = answer["results"]
    assert statuses(answer) == [
        ("twice", "created", None),
        ("other", "created", None),
        ("twice", "duplicate", None),
    ]
    assert results[2]["id"] == results[0]["id"]
    assert Registration.objects.get(idempotency_key="twice").worker == anne
    assert not other_worker.registrations.exists()


def test_it_stores_the_second_use_of_a_reference_whose_first_was_refused(api_client, anne):
    # As register() would: the refused item stored nothing, so its key is still free.
    late = timezone.now() - timedelta(minutes=30)
    answer = send(api_client, [item("k", anne.niss, when=late), item("k", anne.niss)])

    assert statuses(answer) == [("k", "refused", "too_late"), ("k", "created", None)]
    assert Registration.objects.get().pk == answer["results"][1]["id"]


def test_it_stores_the_accepted_items_of_a_mixed_batch_and_nothing_of_the_refused(
    api_client, anne, other_worker
):
    now = timezone.now()
    answer = send(
        api_client,
        [
            item("a", anne.niss, "IN"),
            item("bad-ssin", "12345678901"),
            item("late", other_worker.niss, when=now - timedelta(minutes=11)),
            item("b", other_worker.niss, "IN"),
            item("future", anne.niss, "OUT", when=now + timedelta(minutes=5)),
            item("bad-ddt", anne.niss, workDeclaration="1Y1002V9KLZ6I"),
            item("c", anne.niss, "OUT"),
        ],
    )

    assert statuses(answer) == [
        ("a", "created", None),
        ("bad-ssin", "refused", "invalid_ssin"),
        ("late", "refused", "too_late"),
        ("b", "created", None),
        ("future", "refused", "in_future"),
        ("bad-ddt", "refused", "invalid_ddt"),
        ("c", "created", None),
    ]
    assert (answer["created"], answer["duplicates"], answer["refused"]) == (3, 0, 4)
    assert answer["results"][2]["message"] == (
        "This swipe reached ClaO more than 10 minutes after it was made."
    )
    stored = Registration.objects.order_by("pk").values_list("idempotency_key", "worker", "kind")
    assert list(stored) == [
        ("a", anne.pk, "IN"),
        ("b", other_worker.pk, "IN"),
        ("c", anne.pk, "OUT"),
    ]


def test_it_answers_a_resent_batch_with_duplicates_and_stores_nothing_again(api_client, anne):
    batch = [item(f"r-{n}", anne.niss, "IN" if n % 2 == 0 else "OUT") for n in range(6)]
    first = send(api_client, batch)
    again = send(api_client, batch)

    assert [r["status"] for r in first["results"]] == ["created"] * 6
    assert [r["status"] for r in again["results"]] == ["duplicate"] * 6
    assert [r["id"] for r in again["results"]] == [r["id"] for r in first["results"]]
    assert Registration.objects.count() == 6


def test_it_stores_a_batch_in_as_many_queries_for_200_items_as_for_10(api_client, anne):
    workers = [make_person(niss(n + 1)) for n in range(50)]
    send(api_client, [item("warm-up", anne.niss)])  # the device's "last used" is now marked

    def batch(size: int, run: str) -> list[dict]:
        return [
            item(f"{run}-{n}", workers[n % 50].niss, "IN" if n < 50 or n >= 100 else "OUT")
            for n in range(size)
        ]

    counts = {}
    for size in (10, 200):
        with CaptureQueriesContext(connection) as captured:
            answer = send(api_client, batch(size, f"known-{size}"))
        assert answer["created"] == size
        counts[size] = len(captured)
    # Unknown workers are created in one INSERT (and read back): two queries more, for any size.
    for size, first in ((10, 100), (200, 300)):
        new = [item(f"new-{size}-{n}", niss(first + n)) for n in range(size)]
        with CaptureQueriesContext(connection) as captured:
            answer = send(api_client, new)
        assert answer["created"] == size
        counts[f"{size} new workers"] = len(captured)

    # The device; the batch's transaction (a savepoint inside the test's: begin and end); the
    # device's employers, the employers named, the references already stored, the workers;
    # then the core: the lock, the keys stored, the latest in force, the employers, and the
    # INSERT inside a savepoint (begin and end).
    assert counts == {10: 14, 200: 14, "10 new workers": 16, "200 new workers": 16}
    assert Person.objects.filter(niss=niss(499)).exists()


def test_it_keeps_every_workers_chain_intact_after_batches(api_client, anne, other_worker):
    make_registration(anne, "IN", key="from-the-phone")
    send(
        api_client,
        [
            item("1", anne.niss, "OUT"),
            item("2", other_worker.niss, "IN"),
            item("3", anne.niss, "IN"),
            item("4", niss(7), "IN"),
            item("5", other_worker.niss, "OUT"),
        ],
    )
    send(api_client, [item("6", anne.niss, "OUT"), item("7", niss(7), "OUT")])
    make_registration(anne, "IN", key="from-the-phone-again")

    for worker in Person.objects.all():
        chain = list(worker.registrations.order_by("pk"))
        assert [r.chain_previous for r in chain] == ["", *[r.chain_hash for r in chain[:-1]]]
    out = StringIO()
    call_command("verifyregistrations", stdout=out)
    assert "9 registrations of 3 workers verified: every chain holds." in out.getvalue()


def test_it_stores_a_batch_through_the_applications_own_database_role(
    api_client, anne, as_app_role
):
    # As in production: the role may not name recorded_at or the chain in an INSERT; the
    # database's clock dates every row of the batch and its trigger chains them.
    answer = send(
        api_client,
        [item("in", anne.niss, "IN"), item("new", niss(9), "IN"), item("out", anne.niss, "OUT")],
    )

    assert [r["status"] for r in answer["results"]] == ["created"] * 3
    stored_in, stored_new, stored_out = (
        Registration.objects.get(pk=r["id"]) for r in answer["results"]
    )
    assert stored_in.recorded_at == stored_out.recorded_at  # one INSERT: one statement's time
    assert stored_out.chain_previous == stored_in.chain_hash
    assert stored_new.chain_previous == ""
    assert latest_registration(anne) == stored_out


# The batch path against register() item by item.


def request(worker, key: str, kind: str = "IN", **fields) -> RegistrationRequest:
    return RegistrationRequest(
        worker=worker,
        kind=kind,
        enterprise_number=fields.pop("enterprise_number", NSI_NUMBER),
        place=BRUSSELS_GPS,
        source=Registration.Source.BADGE_READER,
        idempotency_key=key,
        key_scope="device:test",
        **fields,
    )


def outcome(result) -> tuple:
    if isinstance(result, RegistrationRefused):
        return ("refused", result.code, str(result.message))
    return ("created" if result.created else "duplicate", result.registration.kind)


def one_by_one(requests: list[RegistrationRequest]) -> list:
    results = []
    for one in requests:
        try:
            results.append(register(**one.__dict__))
        except RegistrationRefused as refused:
            results.append(refused)
    return results


@pytest.mark.django_db
def test_it_decides_each_item_of_a_batch_as_register_would(anne, other_worker, nsi):
    def scenario(worker, prefix: str, opened: Registration) -> list[RegistrationRequest]:
        now = timezone.now()
        return [
            request(worker, f"{prefix}-1", "OUT", closes=opened),
            # The same IN closed again: what the first OUT stored is now the latest.
            request(worker, f"{prefix}-2", "OUT", closes=opened),
            request(worker, f"{prefix}-1", "IN"),
            request(worker, f"{prefix}-3", "IN", swiped_at=now - timedelta(minutes=20)),
            request(worker, f"{prefix}-4", "IN", swiped_at=now + timedelta(minutes=20)),
            request(worker, f"{prefix}-5", "IN", enterprise_number="0450905687"),
            request(worker, f"{prefix}-6", "NAP"),
            request(worker, "", "IN"),
            request(worker, f"{prefix}-7", "IN", correction_kind="cancel"),
            request(worker, f"{prefix}-8", "IN", swiped_at=now - timedelta(minutes=1)),
            request(worker, f"{prefix}-9", "OUT"),
        ]

    alone = one_by_one(scenario(anne, "alone", make_registration(anne, "IN")))
    together = register_many(scenario(other_worker, "together", make_registration(other_worker)))

    assert [outcome(r) for r in together] == [outcome(r) for r in alone]
    assert [outcome(r)[:2] for r in together] == [
        ("created", "OUT"),
        ("refused", "already_closed"),
        ("duplicate", "OUT"),
        ("refused", "too_late"),
        ("refused", "in_future"),
        ("refused", "invalid_enterprise_number"),
        ("refused", "invalid_kind"),
        ("refused", "invalid_key"),
        ("refused", "invalid_correction"),
        ("created", "IN"),
        ("created", "OUT"),
    ]
    # already_closed carries what came after the IN, as register()'s refusal does.
    assert together[1].registration == together[0].registration
    assert latest_registration(other_worker) == together[-1].registration


@pytest.mark.django_db
def test_it_answers_a_key_stored_before_even_when_the_item_is_now_too_late(anne):
    first = register_many([request(anne, "kept")])[0]
    late = timezone.now() - timedelta(hours=2)

    again = register_many([request(anne, "kept", swiped_at=late)])[0]

    assert (again.created, again.registration) == (False, first.registration)


@pytest.mark.django_db
def test_it_takes_a_batch_with_a_correction_item_by_item(anne, nsi):
    original = make_registration(anne, "IN")

    results = register_many(
        [
            request(anne, "out", "OUT"),
            request(
                anne,
                "cancel",
                "IN",
                corrects=original,
                correction_kind="cancel",
                correction_reason="not_worked",
            ),
        ]
    )

    assert [outcome(r)[0] for r in results] == ["created", "created"]
    # The cancelled IN is no longer in force: the OUT is the worker's latest record.
    assert latest_registration(anne) == results[0].registration


def _parallel(count: int, action) -> list:
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(index):
        try:
            barrier.wait()
            results[index] = action(index)
        except Exception as error:  # noqa: BLE001 - reported by the test's assertion
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.django_db(transaction=True)
def test_it_completes_two_batches_naming_the_same_workers_in_opposite_orders(nsi):
    workers = [make_person(niss(n + 1)) for n in range(20)]

    def batch(index: int):
        order = workers if index == 0 else workers[::-1]
        return register_many([request(w, f"b{index}-{w.pk}") for w in order])

    results = _parallel(2, batch)

    assert all(isinstance(r, list) for r in results), results
    assert Registration.objects.count() == 40
    out = StringIO()
    call_command("verifyregistrations", stdout=out)
    assert "every chain holds" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_it_answers_a_key_another_batch_took_meanwhile_as_register_would(
    anne, other_worker, nsi, monkeypatch
):
    # Two batches of one sender name the same key for two workers (no common lock): both read
    # it free, then both insert. The second INSERT waits for the first's commit, the unique
    # constraint refuses it, and that batch goes through register() item by item, which
    # answers the key with the row stored under it.
    from checkins import services

    insert = services._insert
    both_read = threading.Barrier(2, timeout=30)

    def after_both_read(rows, using):
        both_read.wait()
        insert(rows, using)

    monkeypatch.setattr(services, "_insert", after_both_read)

    def batch(index: int):
        worker = (anne, other_worker)[index]
        return register_many([request(worker, f"own-{index}"), request(worker, "shared")])

    results = _parallel(2, batch)

    assert all(isinstance(r, list) for r in results), results
    outcomes = sorted([outcome(r)[0] for r in batch_results] for batch_results in results)
    assert outcomes == [["created", "created"], ["created", "duplicate"]]
    shared = Registration.objects.get(idempotency_key="shared")
    assert {r[1].registration.pk for r in results} == {shared.pk}
    assert Registration.objects.count() == 3
    out = StringIO()
    call_command("verifyregistrations", stdout=out)
    assert "3 registrations of 2 workers verified: every chain holds." in out.getvalue()


BATCH_ON_SQLITE = """
import json
from django.test import Client
from django.utils import timezone
from api.credentials import issue_credential
from employers.models import Employer

employer = Employer.objects.create(number="0450905686", name="N.S.I.")
device, token = issue_credential(employer, "demo reader")
now = timezone.now().isoformat()
items = [
    {
        "clientReference": ref,
        "ssin": ssin,
        "type": kind,
        "employer": {"enterpriseNumber": "0450905686"},
        "placeOfWork": {"coordinates": {"latitude": 50.84506, "longitude": 4.34954}},
        "registeredAt": now,
    }
    for ref, ssin, kind in [
        ("a", "85073003328", "IN"), ("b", "90010100123", "IN"), ("a", "85073003328", "OUT"),
        ("c", "85073003328", "OUT"), ("d", "1", "IN"),
    ]
]
answer = Client(HTTP_AUTHORIZATION=f"Bearer {token}").post(
    "/api/v1/presence-registrations",
    json.dumps({"registrations": items}),
    content_type="application/json",
)
print(json.dumps([(r["status"], r["code"]) for r in answer.json()["results"]]))
"""


def test_it_stores_a_batch_item_by_item_on_the_embedded_demos_sqlite(tmp_path):
    # No chain trigger on SQLite: register_many() goes through register() for each item.
    root = Path(__file__).resolve().parent.parent
    database = root / "var" / "test" / f"batch-demo-{os.getpid()}.sqlite3"
    database.parent.mkdir(parents=True, exist_ok=True)
    database.unlink(missing_ok=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith("CLAO_")}
    env |= {
        "DATABASE_URL": f"sqlite:///{database.relative_to(root)}",
        "DEBUG": "1",
        "CLAO_VAR_DIR": str(tmp_path),
        "ALLOWED_HOSTS": "testserver",
    }

    def manage(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    try:
        migrated = manage("migrate", "--no-input")
        assert migrated.returncode == 0, migrated.stderr
        sent = manage("shell", "-c", BATCH_ON_SQLITE)
        assert sent.returncode == 0, sent.stderr
        verified = manage("verifyregistrations")
    finally:
        database.unlink(missing_ok=True)
    assert json.loads(sent.stdout.strip().splitlines()[-1]) == [
        ["created", None],
        ["created", None],
        ["duplicate", None],
        ["created", None],
        ["refused", "invalid_ssin"],
    ]
    assert verified.returncode == 0, verified.stderr
    assert "3 registrations of 2 workers verified: every chain holds." in verified.stdout
