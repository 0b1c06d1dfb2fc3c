"""Querysets compiled once per process (clao/prepared.py): each run gets what the queryset built
with its values gets, never the first run's rows."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.db.models import BigIntegerField, DateTimeField, Exists, OuterRef
from django.test.utils import CaptureQueriesContext

from checkins.models import Registration
from clao import prepared
from clao.prepared import Prepared, Slot, install_functions

from .factories import make_registration

BRUSSELS = ZoneInfo("Europe/Brussels")


def at(hour: int, day: int = 27) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=BRUSSELS)


def since(worker, start):
    """The queryset of the test, with plain values."""
    corrections = Registration.objects.filter(corrects=OuterRef("pk"))
    return (
        Registration.objects.filter(worker_id=worker, recorded_at__gte=start)
        .annotate(corrected=Exists(corrections))
        .order_by("-recorded_at", "-pk")
    )


SINCE = Prepared(lambda: since(Slot("worker", BigIntegerField()), Slot("start", DateTimeField())))


def rows(registrations) -> list[tuple]:
    return [(r.pk, r.kind, r.recorded_at, r.enterprise_number, r.corrected) for r in registrations]


def test_it_gives_each_run_the_rows_of_the_queryset_built_with_its_values(anne, other_worker):
    for worker in (anne, other_worker):
        for hour in (7, 12, 17):
            make_registration(worker, "IN" if hour != 12 else "OUT", at(hour))
    make_registration(anne, "IN", at(9, day=26))

    for worker in (anne, other_worker, anne):
        for start in (at(0), at(10), at(0, day=20), at(20)):
            assert rows(SINCE.objects(worker=worker.pk, start=start)) == rows(
                since(worker.pk, start)
            )
    assert len(list(SINCE.objects(worker=anne.pk, start=at(10)))) == 2


@pytest.mark.django_db
def test_it_refuses_a_run_without_each_value_of_its_slots():
    with pytest.raises(TypeError):
        SINCE.objects(worker=1)
    with pytest.raises(TypeError):
        SINCE.objects(worker=1, start=at(0), end=at(1))


SINCE_VALUES = Prepared(
    lambda: (
        Registration.objects.filter(
            worker_id=Slot("worker", BigIntegerField()),
            recorded_at__gte=Slot("start", DateTimeField()),
        )
        .order_by("-recorded_at")
        .values_list("kind", "recorded_at", "employer__name", "accuracy_m", "latitude")
    )
)


def test_it_gives_the_tuples_of_a_values_list_queryset_converted_alike(anne, other_worker):
    make_registration(anne, "IN", at(7), employer_name="N.S.I.")
    make_registration(
        anne, "OUT", at(12), enterprise_number="0403170701", latitude="50.5", longitude="4.25"
    )
    make_registration(other_worker, "IN", at(8))

    for worker in (anne, other_worker):
        for start in (at(0), at(10)):
            expected = list(
                Registration.objects.filter(worker=worker, recorded_at__gte=start)
                .order_by("-recorded_at")
                .values_list("kind", "recorded_at", "employer__name", "accuracy_m", "latitude")
            )
            assert SINCE_VALUES.values(worker=worker.pk, start=start) == expected
    assert [kind for kind, *_ in SINCE_VALUES.values(worker=anne.pk, start=at(0))] == ["OUT", "IN"]


def test_it_inserts_a_registration_as_save_would_and_gives_back_what_the_database_set(anne):
    """register()'s INSERT, compiled once: the employer and its name looked up by the INSERT,
    the id, time and chain given back, each run with its own values."""
    from checkins.services import INSERT, Place, register

    from .factories import NSI_NUMBER, make_employer

    employer = make_employer(NSI_NUMBER, name="N.S.I.")
    stored, compiled = [], []
    for kind, number in (("IN", NSI_NUMBER), ("OUT", "0403170701")):
        result = register(
            worker=anne,
            kind=kind,
            enterprise_number=number,
            place=Place(latitude="50.85", longitude="4.35", accuracy_m=12),
            source=Registration.Source.SMARTPHONE,
            idempotency_key=f"prepared-{kind}",
        )
        stored.append(result.registration)
        compiled.append(dict(INSERT._compiled))

    assert compiled[0] == compiled[1] != {}
    for registration in stored:
        again = Registration.objects.get(pk=registration.pk)
        for field in Registration._meta.concrete_fields:
            assert getattr(registration, field.attname) == getattr(again, field.attname), field
    assert (stored[0].employer_id, stored[0].employer_name) == (employer.pk, "N.S.I.")
    assert (stored[1].employer_id, stored[1].employer_name) == (None, "")
    assert stored[1].chain_previous == stored[0].chain_hash != ""


WITH_EMPLOYER = Prepared(
    lambda: (
        Registration.objects.filter(worker_id=Slot("worker", BigIntegerField()))
        .select_related("employer")
        .order_by("pk")
    )
)


def test_it_makes_the_instances_as_the_queryset_does_with_their_related_objects(
    anne, django_assert_num_queries
):
    from .factories import NSI_NUMBER, make_employer

    make_employer(NSI_NUMBER, name="N.S.I.")
    make_registration(anne, "IN", at(7))
    make_registration(anne, "OUT", at(12), enterprise_number="0403170701")

    with django_assert_num_queries(1):
        made = WITH_EMPLOYER.objects(worker=anne.pk)
        names = [r.employer.name if r.employer else None for r in made]

    assert names == ["N.S.I.", None]
    assert [r.pk for r in made] == sorted(r.pk for r in Registration.objects.filter(worker=anne))
    assert all(not r._state.adding and r._state.db == "default" for r in made)


# The same queries, run on PostgreSQL through functions of their own (plans kept).
SINCE_FUNCTION = Prepared(
    lambda: since(Slot("worker", BigIntegerField()), Slot("start", DateTimeField())),
    function="test_since",
)
SINCE_VALUES_FUNCTION = Prepared(SINCE_VALUES.build, function="test_since_values")
on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="functions are PostgreSQL's"
)


def function_calls(action) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        action()
    return [q["sql"] for q in captured.captured_queries if prepared.FUNCTION_PREFIX in q["sql"]]


@on_postgresql
def test_it_runs_through_its_function_with_the_rows_of_its_queryset(
    anne, other_worker, monkeypatch
):
    install_functions()
    make_registration(anne, "IN", at(7), employer_name="N.S.I.")
    make_registration(anne, "OUT", at(12), latitude="50.5", longitude="4.25")
    make_registration(other_worker, "IN", at(8))
    make_registration(anne, "IN", at(9, day=26))
    runs = [(worker.pk, start) for worker in (anne, other_worker) for start in (at(0), at(10))]

    through_function = []
    for worker, start in runs:
        calls = function_calls(
            lambda w=worker, s=start: through_function.append(
                (
                    rows(SINCE_FUNCTION.objects(worker=w, start=s)),
                    SINCE_VALUES_FUNCTION.values(worker=w, start=s),
                )
            )
        )
        called = [call.removeprefix("SELECT * FROM ").split("(")[0] for call in calls]
        assert called == [
            SINCE_FUNCTION.compiled("default").function.name,
            SINCE_VALUES_FUNCTION.compiled("default").function.name,
        ]
    # Where the function is not there (before `migrate`), the SQL itself: the same rows.
    monkeypatch.setattr(prepared, "_INSTALLED", {})
    for (worker, start), found in zip(runs, through_function, strict=True):
        assert (
            function_calls(lambda w=worker, s=start: SINCE_FUNCTION.objects(worker=w, start=s))
            == []
        )
        assert found == (
            rows(since(worker, start)),
            SINCE_VALUES.values(worker=worker, start=start),
        )
    assert [kind for _pk, kind, *_ in through_function[0][0]] == ["OUT", "IN"]


@on_postgresql
@pytest.mark.django_db
def test_migrate_installs_each_function_once_with_a_kept_generic_plan():
    install_functions()
    assert install_functions() == []  # already there: nothing created again
    name = SINCE_FUNCTION.compiled("default").function.name
    assert name.startswith("clao_q_test_since_")
    with connection.cursor() as cursor:
        cursor.execute("SELECT proconfig, provolatile FROM pg_proc WHERE proname = %s", [name])
        assert cursor.fetchall() == [(["plan_cache_mode=force_generic_plan"], "s")]


@on_postgresql
@pytest.mark.django_db
def test_a_changed_queryset_gets_a_function_of_another_name():
    changed = Prepared(
        lambda: since(Slot("worker", BigIntegerField()), Slot("start", DateTimeField()))[:5],
        function="test_since_changed",
    )
    try:
        names = [p.compiled("default").function.name for p in (SINCE_FUNCTION, changed)]
        digests = [name.rsplit("_", 1)[1] for name in names]
        assert digests[0] != digests[1]
        # Not yet installed: the SQL runs, and the next `migrate` creates it.
        assert function_calls(lambda: changed.objects(worker=1, start=at(0))) == []
        assert install_functions() == [names[1]]
        assert len(function_calls(lambda: changed.objects(worker=1, start=at(0)))) == 1
    finally:
        prepared.FUNCTIONS.pop("test_since_changed")


@on_postgresql
def test_the_application_role_runs_the_functions_migrate_made(anne, other_worker, request):
    install_functions()  # as the owner, as `migrate` does
    make_registration(anne, "IN", at(7))
    make_registration(other_worker, "IN", at(8))
    request.getfixturevalue("as_app_role")
    found = []
    calls = function_calls(
        lambda: found.extend(SINCE_FUNCTION.objects(worker=anne.pk, start=at(0)))
    )
    assert len(calls) == 1
    assert rows(found) == rows(since(anne.pk, at(0))) != []
