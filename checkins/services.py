"""The one function that stores a registration, for every channel.

The worker's form, the quick OUT, a QR code, badge readers, the employer application, ONSS
corrections and the demo data all call `register`; nothing else creates `Registration` rows
(tests/test_architecture.py checks it). Like pretix's `perform_checkin`: one write path,
idempotent per key, refusals with stable codes that each channel shows in its own way.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, connections, router, transaction
from django.db.models import BigIntegerField, CharField, DateTimeField, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from accounts.models import Person
from clao.prepared import Prepared, PreparedInsert, Slot
from employers.ddt import parse_ddt
from employers.models import Employer
from employers.numbers import parse_enterprise_number

from . import chain
from .models import Registration, RegistrationKey
from .partitions import older_windows
from .rules import SwipeTiming, open_in_state, swipe_timing
from .windows import horizon, recent_since

# PostgreSQL's "permission denied" (SQLSTATE 42501).
INSUFFICIENT_PRIVILEGE = "42501"


@dataclass(frozen=True)
class Place:
    """Where the work happens: the phone's GPS position, or a Belgian address (never both)."""

    latitude: Decimal | None = None
    longitude: Decimal | None = None
    accuracy_m: float | None = None
    postal_code: str = ""
    municipality: str = ""
    street: str = ""
    house_number: str = ""
    box: str = ""

    @property
    def has_gps(self) -> bool:
        return self.latitude is not None and self.longitude is not None

    @property
    def has_address(self) -> bool:
        return bool(self.postal_code and self.municipality and self.street)

    @classmethod
    def of(cls, registration: Registration) -> "Place":
        return cls(
            latitude=registration.latitude,
            longitude=registration.longitude,
            accuracy_m=registration.accuracy_m,
            postal_code=registration.postal_code,
            municipality=registration.municipality,
            street=registration.street,
            house_number=registration.house_number,
            box=registration.box,
        )

    def fields(self) -> dict:
        if self.has_gps:
            return {
                "latitude": self.latitude,
                "longitude": self.longitude,
                "accuracy_m": self.accuracy_m,
            }
        return {
            "postal_code": self.postal_code.strip(),
            "municipality": self.municipality.strip(),
            "street": self.street.strip(),
            "house_number": self.house_number.strip(),
            "box": self.box.strip(),
        }


class RegistrationRefused(Exception):
    """A registration that cannot be stored; `code` is stable, `message` is for people.

    Codes: invalid_kind, invalid_source, invalid_enterprise_number, invalid_ddt, invalid_place,
    invalid_key, already_closed (an OUT meant to close an IN that is no longer the open one:
    `registration` is what came after that IN), too_late and in_future (a device's swipe
    received more than rules.SWIPE_MAX_DELAY after it was made, or dated after its receipt),
    history_needs_owner (a `recorded_at` given through the application's database role, which
    may not date a registration), invalid_correction (a correction without a kind or reason,
    of another worker's registration or of a correction), already_cancelled (`registration`
    is the cancellation).
    """

    def __init__(
        self, code: str, message: str | Promise, registration: Registration | None = None
    ) -> None:
        super().__init__(code)
        self.code = code
        self.message = message
        self.registration = registration


@dataclass(frozen=True)
class Registered:
    registration: Registration
    # False when the key had already been used: `registration` is the one stored then.
    created: bool


def person_scope(person: Person) -> str:
    """The idempotency scope of keys made by a person's own forms."""
    return f"person:{person.pk}"


def register(
    *,
    worker: Person,
    kind: str,
    enterprise_number: str,
    place: Place,
    source: str,
    idempotency_key: str,
    key_scope: str | None = None,
    ddt_number: str = "",
    acted_by: Person | None = None,
    reason: str = "",
    closes: Registration | None = None,
    recorded_at: datetime | None = None,
    device=None,
    swiped_at: datetime | None = None,
    corrects: Registration | None = None,
    correction_kind: str = "",
    correction_reason: str = "",
) -> Registered:
    """Stores one registration of `worker`, once per `(key_scope, idempotency_key)`.

    - `key_scope` defaults to the acting person's scope (the worker's own, or `acted_by`'s);
      a device passes its own. The same key again returns the first registration, created=False.
    - The writes of one worker are serialised (a row lock on the person), so that two requests
      can never both act on the same latest registration.
    - `closes`: this OUT closes that IN (the quick OUT). If the worker's latest registration is
      no longer that IN (another tab closed it), nothing is stored: RegistrationRefused
      "already_closed" carries what came after it.
    - `recorded_at` is the time of receipt: the database's clock with the application's role;
      only history loading (the demo data, an import), connected as the owner, passes one.
      Channels never do.
    - The employer's name is copied as known now, so a later rename changes no record.
    - `device` (an api.Device) and `swiped_at` (its clock's time of the swipe): a swipe
      received too late or dated in the future is refused (rules.swipe_timing), unless its key
      was already stored (a device resending after an outage gets the first one back).
    - `corrects` (with `correction_kind` correct|cancel and a `correction_reason`): this
      registration corrects or cancels that one, which stays as it is. Refused for another
      worker's registration, for a correction, and once that one is cancelled. Corrections
      are not records of work: the open-IN rule ignores them and what they cancel.
    """
    return _register_one(
        RegistrationRequest(
            worker=worker,
            kind=kind,
            enterprise_number=enterprise_number,
            place=place,
            source=source,
            idempotency_key=idempotency_key,
            key_scope=key_scope,
            ddt_number=ddt_number,
            acted_by=acted_by,
            reason=reason,
            closes=closes,
            recorded_at=recorded_at,
            device=device,
            swiped_at=swiped_at,
            corrects=corrects,
            correction_kind=correction_kind,
            correction_reason=correction_reason,
        )
    )


@dataclass(frozen=True)
class RegistrationRequest:
    """One registration to store: register()'s arguments, as one value (for register_many)."""

    worker: Person
    kind: str
    enterprise_number: str
    place: Place
    source: str
    idempotency_key: str
    key_scope: str | None = None
    ddt_number: str = ""
    acted_by: Person | None = None
    reason: str = ""
    closes: Registration | None = None
    recorded_at: datetime | None = None
    device: object = None
    swiped_at: datetime | None = None
    corrects: Registration | None = None
    correction_kind: str = ""
    correction_reason: str = ""


@dataclass(frozen=True)
class _Checked:
    """What the checks of one request made of it: the numbers as stored, the key's scope."""

    number: str
    ddt_number: str
    scope: str


def _check(request: RegistrationRequest) -> _Checked:
    """The checks of one request that need no database (register() and register_many())."""
    if request.kind not in Registration.Kind.values:
        raise RegistrationRefused("invalid_kind", _("Choose IN or OUT."))
    if request.source not in Registration.Source.values:
        raise RegistrationRefused("invalid_source", _("This source of registrations is unknown."))
    if not request.idempotency_key or len(request.idempotency_key) > 100:
        raise RegistrationRefused("invalid_key", _("This submission has no valid key."))
    try:
        number = parse_enterprise_number(request.enterprise_number).number
    except ValidationError as exc:
        raise RegistrationRefused("invalid_enterprise_number", exc.messages[0]) from exc
    ddt_number = request.ddt_number
    if ddt_number:
        try:
            ddt_number = parse_ddt(ddt_number)
        except ValidationError as exc:
            raise RegistrationRefused("invalid_ddt", exc.messages[0]) from exc
    place = request.place
    if place.has_gps == place.has_address:
        raise RegistrationRefused(
            "invalid_place", _("Give the place of work: your GPS position or an address.")
        )
    corrects, worker = request.corrects, request.worker
    if corrects is not None and (
        corrects.worker_id != worker.pk
        or corrects.corrects_id is not None
        or request.correction_kind not in Registration.CorrectionKind.values
        or request.correction_reason not in Registration.CorrectionReason.values
    ):
        raise RegistrationRefused("invalid_correction", _("This correction is not valid."))
    if corrects is None and (request.correction_kind or request.correction_reason):
        raise RegistrationRefused("invalid_correction", _("This correction is not valid."))
    scope = request.key_scope or person_scope(request.acted_by or worker)
    return _Checked(number=number, ddt_number=ddt_number, scope=scope)


def _refusal(
    request: RegistrationRequest,
    latest: Registration | None,
    cancellation: Registration | None,
) -> RegistrationRefused | None:
    """The checks of a request whose key is new, against the worker's state under the lock:
    the swipe's timing, a cancelled original, an IN closed meanwhile."""
    refused = _swipe_refusal(request.swiped_at)
    if refused is not None:
        return refused
    if cancellation is not None:
        return RegistrationRefused(
            "already_cancelled",
            _("This registration has already been cancelled."),
            registration=cancellation,
        )
    closes = request.closes
    if closes is not None and (latest is None or latest.pk != closes.pk):
        return RegistrationRefused(
            "already_closed", _("This IN has already been closed."), registration=latest
        )
    return None


def _new_row(
    request: RegistrationRequest, checked: _Checked, employer_id, employer_name
) -> Registration:
    """The row to insert (not saved). `employer_id`/`employer_name`: values, or expressions
    evaluated by the INSERT itself."""
    fields = {
        "worker": request.worker,
        "kind": request.kind,
        "enterprise_number": checked.number,
        "employer_id": employer_id,
        "employer_name": employer_name,
        "ddt_number": checked.ddt_number,
        "source": request.source,
        "key_scope": checked.scope,
        "idempotency_key": request.idempotency_key,
        "acted_by": request.acted_by,
        "reason": request.reason,
        "device": request.device,
        "swiped_at": request.swiped_at,
        "corrects": request.corrects,
        "correction_kind": request.correction_kind,
        "correction_reason": request.correction_reason,
        **request.place.fields(),
    }
    recorded_at = request.recorded_at
    if recorded_at is None and not settings.CLAO_DB_CLOCK:
        # One database role for everything (the embedded demo, the tests): the server's clock.
        # The application's own role leaves it to the database, which refuses it any other
        # time (docs/security.md).
        recorded_at = timezone.now()
    if recorded_at is not None:
        fields["recorded_at"] = recorded_at
    return Registration(**fields)


def _register_one(request: RegistrationRequest) -> Registered:
    checked = _check(request)
    scope, key, worker, corrects = (
        checked.scope,
        request.idempotency_key,
        request.worker,
        request.corrects,
    )
    # Refusals are raised after the block: without a savepoint of its own, an exception inside
    # would doom a caller's enclosing transaction (a batch of a badge reader).
    refused = None
    # No savepoint: inside a caller's transaction it would cost two round trips for nothing.
    with transaction.atomic(using=_write_db(), savepoint=False):
        stored, latest = _lock_and_read(worker, scope, key)
        if stored is not None:
            return Registered(stored, created=False)
        # Under the worker's lock: two inspectors cannot both cancel the same registration.
        # From the table, never through `corrects.corrections` (a list may have cached them).
        cancellation = (
            Registration.objects.using(_write_db())
            .filter(
                corrects=corrects,
                correction_kind=Registration.CorrectionKind.CANCEL,
                # Stored after what it cancels: only those months are read.
                recorded_at__gte=corrects.recorded_at,
                recorded_at__lt=horizon(),
            )
            .first()
            if corrects is not None
            else None
        )
        refused = _refusal(request, latest, cancellation)
        if refused is None:
            # The employer and its name as known now: looked up by _store().
            registration = _new_row(request, checked, None, "")
            if scope == person_scope(worker):
                # Serialised by the lock: the key cannot have been taken meanwhile.
                return Registered(_store(registration), created=True)
            # Another scope (a device, someone acting for the worker) may race on the same key
            # for another worker: the unique constraint decides.
            try:
                with transaction.atomic(using=_write_db()):
                    return Registered(_store(registration), created=True)
            except IntegrityError:
                pass
    if refused is not None:
        raise refused
    return Registered(
        _stored_under_keys(_write_db(), Q(key_scope=scope, idempotency_key=key)).get(),
        created=False,
    )


def register_many(
    requests: Sequence[RegistrationRequest],
) -> list[Registered | RegistrationRefused]:
    """Stores a batch (a badge reader's), each item as register() would, in the items' order;
    the result of each item, in the same order: Registered, or the RegistrationRefused that
    register() would have raised.

    One transaction, and a constant number of queries however many items: the batch's workers
    are locked in one query in id order (two batches naming the same workers cannot deadlock);
    the registrations already stored under the batch's keys and each worker's latest record in
    force are read in one query each; every item is decided in memory, in order, with
    register()'s checks (an accepted item becomes its worker's latest for the items after it;
    a key used twice answers the first item's registration); the accepted rows are inserted
    with one multi-row INSERT, in order, so the database's chain trigger links them as if they
    had been stored one by one. On another database (the SQLite demo, chained in Python), for
    a correction or a given `recorded_at`, or if another sender's batch took one of the keys
    meanwhile, each item goes through register() instead, with the same results.
    """
    using = _write_db()
    if connections[using].vendor != "postgresql" or any(
        request.corrects is not None or request.recorded_at is not None for request in requests
    ):
        return _register_each(requests)
    with transaction.atomic(using=using, savepoint=False):
        return _register_together(requests, using)


def _register_each(requests: Sequence[RegistrationRequest]) -> list:
    results = []
    for request in requests:
        try:
            results.append(_register_one(request))
        except RegistrationRefused as refused:
            results.append(refused)
    return results


def _register_together(requests: Sequence[RegistrationRequest], using: str) -> list:
    results: list = []
    checked: dict[int, _Checked] = {}
    for index, request in enumerate(requests):
        try:
            checked[index] = _check(request)
        except RegistrationRefused as refused:
            results.append(refused)
        else:
            results.append(None)
    if not checked:
        return results
    workers = sorted({requests[index].worker.pk for index in checked})
    # Each statement below takes a fresh snapshot once the locks are held: they see what the
    # previous holder of a lock committed.
    list(
        Person.objects.using(using)
        .select_for_update()
        .filter(pk__in=workers)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    keys: dict[str, set[str]] = {}
    for index, done in checked.items():
        keys.setdefault(done.scope, set()).add(requests[index].idempotency_key)
    already = Q()
    for scope, scope_keys in keys.items():
        already |= Q(key_scope=scope, idempotency_key__in=scope_keys)
    stored = {
        (row.key_scope, row.idempotency_key): row for row in _stored_under_keys(using, already)
    }
    latest = {row.worker_id: row for row in _fetch_rows(using, LATEST_IN_FORCE, [workers])}
    employers = {
        number: (pk, name)
        for number, pk, name in Employer.objects.using(using)
        .filter(number__in={done.number for done in checked.values()})
        .values_list("number", "pk", "name")
    }

    rows: list[Registration] = []
    for index, done in checked.items():
        request = requests[index]
        key = (done.scope, request.idempotency_key)
        if key in stored:
            results[index] = Registered(stored[key], created=False)
            continue
        refused = _refusal(request, latest.get(request.worker.pk), cancellation=None)
        if refused is not None:
            results[index] = refused
            continue
        # The employer and its name as known now.
        row = _new_row(request, done, *employers.get(done.number, (None, "")))
        rows.append(row)
        stored[key] = latest[request.worker.pk] = row
        results[index] = Registered(row, created=True)
    if not rows:
        return results
    if all(row.key_scope == person_scope(row.worker) for row in rows):
        # Serialised by the locks: no key can have been taken meanwhile.
        _insert(rows, using)
        return results
    # Another scope (a device) may race on the same key for a worker this batch did not lock:
    # the unique constraint decides, and then each item goes through register(), which
    # answers such a key with the registration stored under it.
    try:
        with transaction.atomic(using=using):
            _insert(rows, using)
    except IntegrityError:
        return _register_each(requests)
    return results


def _insert(rows: list[Registration], using: str) -> None:
    """One INSERT of every row, in order; RETURNING gives each its id, its time (the
    database's clock) and its chain hash (the trigger, row by row in this order)."""
    Registration.objects.using(using).bulk_create(rows)


def _swipe_refusal(swiped_at: datetime | None) -> RegistrationRefused | None:
    if swiped_at is None:
        return None
    timing = swipe_timing(swiped_at, timezone.now())
    if timing is SwipeTiming.TOO_LATE:
        return RegistrationRefused(
            "too_late", _("This swipe reached ClaO more than 10 minutes after it was made.")
        )
    if timing is SwipeTiming.IN_FUTURE:
        return RegistrationRefused(
            "in_future", _("The time of this swipe is later than the time it arrived.")
        )
    return None


def _employer_of_number(column: str):
    known = Employer.objects.filter(number=Slot("number", CharField()))
    return Subquery(known.values(column)[:1])


# One registration's INSERT on PostgreSQL, compiled once per process (clao/prepared.py). The
# employer and its name as known now are looked up inside it (one round trip); RETURNING gives
# them back to the instance, with its id, time and chain.
INSERT = PreparedInsert(
    Registration,
    computed=lambda: {
        "employer_id": _employer_of_number("pk"),
        "employer_name": Coalesce(_employer_of_number("name"), Value("")),
    },
)


def _store(registration: Registration) -> Registration:
    """Inserts it, chained to the worker's previous registration (checkins/chain.py).

    PostgreSQL sets recorded_at (unless history is loaded) and its trigger the chain, and
    RETURNING hands them back; another database (the embedded demo on SQLite) gets the chain
    computed here, under the same lock, with the employer's values looked up first.
    """
    using = _write_db()
    chained_here = connections[using].vendor != "postgresql"
    if chained_here:
        known = (
            Employer.objects.using(using)
            .filter(number=registration.enterprise_number)
            .values_list("pk", "name")
            .first()
        )
        registration.employer_id, registration.employer_name = known or (None, "")
        chain.link(registration)
    try:
        if chained_here:
            registration.save(force_insert=True, using=using)
        else:
            INSERT.insert(registration, using, number=registration.enterprise_number)
    except DatabaseError as error:
        if getattr(error.__cause__, "sqlstate", None) != INSUFFICIENT_PRIVILEGE:
            raise
        # A time supplied through the application's role: only the owner loads history.
        raise RegistrationRefused(
            "history_needs_owner",
            _("Only the database owner's role may store a registration with a given time."),
        ) from error
    if chained_here:
        chain.advance_head(registration)
    return registration


def _stored_under_keys(using: str, keys: Q):
    """The registrations stored under these keys (a Q on key_scope and idempotency_key).

    On PostgreSQL through the key table (checkins migration 0011): registrations are
    partitioned by month, and a key's row gives the month of its registration, so each is read
    in its own partition, not looked for in every month."""
    if connections[using].vendor != "postgresql":
        return Registration.objects.using(using).filter(keys)
    found = RegistrationKey.objects.using(using).filter(keys)
    pairs = list(found.values_list("registration_id", "recorded_at"))
    if not pairs:
        return Registration.objects.using(using).none()
    match = Q()
    for registration_id, recorded_at in pairs:
        match |= Q(pk=registration_id, recorded_at=recorded_at)
    return Registration.objects.using(using).filter(match)


def _write_db() -> str:
    return router.db_for_write(Registration)


# On PostgreSQL the lock and the read are one call of a function (checkins migration 0004;
# 0005 makes its "latest" the latest record in force, as `in_force()` below).
LOCK_AND_READ = "SELECT * FROM clao_lock_worker_and_read(%s, %s, %s)"


# Each worker's latest record in force (the rule of `in_force()`), by the function of the
# lock-and-read (checkins migration 0011): one walk down the index (worker, -recorded_at) per
# worker in the recent months' partitions, older ones only for a worker with none there.
LATEST_IN_FORCE = """
SELECT r.* FROM unnest(%s::bigint[]) AS w(id)
CROSS JOIN LATERAL clao_worker_latest_in_force(w.id) AS r
"""


def _fetch_rows(using: str, sql: str, params: list) -> list[Registration]:
    """The registrations a `SELECT *` of whole rows gives, as raw() would make them, without
    raw()'s work on each call (a third of a millisecond a check-in): the columns are matched to
    the fields once per order of columns."""
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        order = _COLUMN_ORDER.get(sql)
        if order is None:
            # Once per statement: reading the description builds an object per column.
            columns = [column.name for column in cursor.description]
            order = _COLUMN_ORDER[sql] = tuple(
                columns.index(field.column) for field in Registration._meta.concrete_fields
            )
        return [
            Registration.from_db(using, None, [row[i] for i in order]) for row in cursor.fetchall()
        ]


# Where each of the model's fields is among a statement's columns, in the model's order.
_COLUMN_ORDER: dict[str, tuple[int, ...]] = {}


def _lock_and_read(
    worker: Person, scope: str, key: str
) -> tuple[Registration | None, Registration | None]:
    """Locks the worker's row (serialising their writes until the commit), then reads the
    registration already stored under the key (any worker) and the worker's latest one."""
    using = _write_db()
    if connections[using].vendor == "postgresql":
        found = _fetch_rows(using, LOCK_AND_READ, [worker.pk, scope, key])
    else:
        # Elsewhere (the SQLite demo) the same two steps as two queries.
        Person.objects.using(using).select_for_update().filter(pk=worker.pk).values_list(
            "pk"
        ).first()
        latest_pk = (
            Registration.objects.using(using)
            .filter(worker=worker)
            .in_force()
            .order_by("-recorded_at", "-pk")
            .values("pk")[:1]
        )
        found = list(
            Registration.objects.using(using).filter(
                Q(key_scope=scope, idempotency_key=key) | Q(pk=Subquery(latest_pk))
            )
        )
    stored = next((r for r in found if (r.key_scope, r.idempotency_key) == (scope, key)), None)
    latest = next((r for r in found if r.worker_id == worker.pk), None)
    return stored, latest


def _in_force_between(worker, since, until, horizon):
    """The worker's records in force stored in [since, until), newest first, with their
    employer (a cancellation is stored after what it cancels: looked for up to the horizon)."""
    return (
        Registration.objects.filter(worker_id=worker, recorded_at__gte=since, recorded_at__lt=until)
        .in_force(since, horizon)
        .select_related("employer")
        .order_by("-recorded_at", "-pk")
    )


# The latest one in the recent window, compiled once (clao/prepared.py): the quick OUT asks it
# at every tap, the form at every display.
LATEST = Prepared(
    lambda: _in_force_between(
        Slot("worker", BigIntegerField()),
        Slot("since", DateTimeField()),
        Slot("horizon", DateTimeField()),
        Slot("horizon", DateTimeField()),
    )[:1],
    function="latest_in_force",
)


def latest_registration(worker: Person) -> Registration | None:
    """The worker's latest record in force (no correction, nothing cancelled): in the recent
    months first, then in the older ones of the worker's history (checkins/partitions.py)."""
    since, until = recent_since(), horizon()
    found = next(iter(LATEST.objects(worker=worker.pk, since=since, horizon=until)), None)
    if found is not None:
        return found
    for start, end in older_windows(worker.pk, since, router.db_for_read(Registration)):
        if (found := _in_force_between(worker.pk, start, end, until).first()) is not None:
            return found
    return None


def current_open_in(worker: Person, now: datetime | None = None):
    """The open-IN state of a worker right now (see rules.open_in_state)."""
    return open_in_state(latest_registration(worker), now or timezone.now())
