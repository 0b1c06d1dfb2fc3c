"""What the form proposes from the worker's own history: employers, DDT numbers, addresses."""

from dataclasses import dataclass
from datetime import timedelta

from django.db import router
from django.db.models import BigIntegerField, DateTimeField, F, OrderBy, Subquery, Value
from django.utils import timezone

from clao.prepared import Prepared, Slot
from employers.models import Employer
from employers.numbers import format_enterprise_number
from geo.addresses import format_address

from .models import FirstRegistration, Registration
from .partitions import history_starts, is_partitioned
from .windows import horizon, recent_since, windows_before

MAX_EMPLOYERS = 5
MAX_DDT_REGISTRATIONS = 15
MAX_ADDRESSES = 10
# The saved addresses are the distinct ones of this many latest registrations at an address.
MAX_ADDRESS_ROWS = 200
ADDRESS_FIELDS = ("postal_code", "municipality", "street", "house_number", "box")


@dataclass(frozen=True)
class EmployerOption:
    """An employer the form proposes: its number, and its name when ClaO knows it."""

    number: str
    name: str = ""

    @classmethod
    def of(cls, employer: Employer) -> "EmployerOption":
        return cls(employer.number, employer.name)

    @property
    def display_number(self) -> str:
        return format_enterprise_number(self.number)

    @property
    def label(self) -> str:
        return f"{self.display_number} - {self.name}" if self.name else self.display_number


def _worker() -> Slot:
    return Slot("worker", BigIntegerField())


def _since() -> Slot:
    return Slot("since", DateTimeField())


def _horizon() -> Slot:
    return Slot("horizon", DateTimeField())


def _newest_first() -> OrderBy:
    """Newest first by an expression no index gives. The plan PostgreSQL keeps for a query
    (clao/prepared.py) is made without the worker's value: ordered by the column itself, it
    may walk a month's time index over every worker's rows to stop at the LIMIT; ordered so,
    only the worker's index is cheap, and its few rows are sorted."""
    return (F("recorded_at") + Value(timedelta(0))).desc()


def _recent(worker, since, until):
    """The worker's rows in [since, until), on PostgreSQL only in those months."""
    return Registration.objects.filter(
        worker_id=worker, recorded_at__gte=since, recorded_at__lt=until
    )


def _in_force(worker, since, until):
    """The worker's records in force stored in [since, until), newest first (cancellations are
    stored later: up to the horizon)."""
    return _recent(worker, since, until).in_force(since, horizon()).order_by("-recorded_at", "-pk")


def _addresses(worker, since, until):
    return (
        _recent(worker, since, until)
        .exclude(postal_code="")
        .order_by("-recorded_at")
        .values_list(*ADDRESS_FIELDS)
    )


# The form's queries, built and compiled once per process (clao/prepared.py): building and
# compiling them cost more CPU than running them. Each reads only the worker's own rows, and
# only in the window of recent months (checkins/windows.py); the older months are read by
# a query of its own when that window falls short.
NUMBERS_USED = Prepared(
    lambda: (
        Registration.objects.filter(
            worker_id=_worker(),
            recorded_at__gte=Slot("since", DateTimeField()),
            recorded_at__lt=_horizon(),
        )
        .order_by(_newest_first())
        .values_list("enterprise_number", "employer__name", "employer_name", "recorded_at")[:500]
    ),
    function="numbers_used",
)
CONTRACT_EMPLOYERS = Prepared(
    lambda: Employer.objects.filter(contracts__worker_id=_worker()).order_by("pk").distinct()
)


def _first(column: str) -> Subquery:
    """The worker's first registration (checkins_firstregistration), read once by the query
    that may fall short: when it does, no query more tells whether older months hold more."""
    first = FirstRegistration.objects.filter(worker_id=_worker()).values(column)[:1]
    return Subquery(first, output_field=DateTimeField())


RECENT = Prepared(
    lambda: (
        _recent(_worker(), _since(), _horizon())
        .in_force(_since(), _horizon())
        .annotate(first_recorded_at=_first("recorded_at"))
        .order_by("-recorded_at", "-pk")[:MAX_DDT_REGISTRATIONS]
    ),
    function="recent_registrations",
)
ADDRESSES = Prepared(
    lambda: (
        _addresses(_worker(), _since(), _horizon())
        .annotate(first_address_at=_first("first_address_at"))
        .values_list(*ADDRESS_FIELDS, "first_address_at")[:MAX_ADDRESS_ROWS]
    ),
    function="addresses_used",
)


def employer_options(worker) -> list[EmployerOption]:
    """At most 5: the numbers used in the last 30 days first (the manual's history, known
    employer or not), then the employers of contracts, then the numbers used this year."""
    now = timezone.now()
    recent_start = now - timedelta(days=30)
    year_start = timezone.localtime(now).replace(
        month=1, day=1, hour=0, minute=0, second=0, microsecond=0
    )
    # One query: this year's numbers, the most recent use first, with today's name of a known
    # employer, else the name noted at registration (empty for an employer ClaO does not know).
    used = NUMBERS_USED.values(
        worker=worker.pk, since=min(year_start, recent_start), horizon=horizon(now)
    )
    recent, this_year = {}, {}
    for number, known_name, noted_name, recorded_at in used:
        into = recent if recorded_at >= recent_start else this_year
        into.setdefault(number, EmployerOption(number, known_name or noted_name or ""))
    contracts = {
        employer.number: EmployerOption.of(employer)
        for employer in CONTRACT_EMPLOYERS.objects(worker=worker.pk)
    }
    ordered = {}
    for options in (list(recent.values())[:MAX_EMPLOYERS], contracts.values(), this_year.values()):
        for option in options:
            ordered.setdefault(option.number, option)
    return list(ordered.values())[:MAX_EMPLOYERS]


def recent_registrations(worker) -> list:
    """The worker's last 15 registrations, newest first: the DDT history and the latest one
    (the open-IN rule) in one query. Records in force only: neither an ONSS correction nor a
    cancelled registration is the worker's latest."""
    rows = list(RECENT.objects(worker=worker.pk, since=recent_since(), horizon=horizon()))
    first = rows[0].first_recorded_at if rows else _UNREAD
    for since, until in _older_windows(worker, len(rows) < MAX_DDT_REGISTRATIONS, first):
        rows += _in_force(worker.pk, since, until)[: MAX_DDT_REGISTRATIONS - len(rows)]
        if len(rows) == MAX_DDT_REGISTRATIONS:
            break
    return rows


# The first registration was not read with the window's rows (the window was empty).
_UNREAD = object()


def _older_windows(worker, short: bool, first=_UNREAD, addresses: bool = False):
    """The older windows to read when the recent one fell short (no query otherwise): up to the
    worker's first registration (at an address, for `addresses`), as the window's query read it,
    else read here (an empty window). SQLite keeps no first registration: from EARLIEST."""
    if not short:
        return ()
    using = router.db_for_read(Registration)
    if first is _UNREAD or not is_partitioned(using):
        first = history_starts(worker.pk, using)[1 if addresses else 0]
    return windows_before(first, recent_since())


def ddt_options(recent: list) -> list[str]:
    """The DDT numbers of the last 15 registrations (recent_registrations), without repeats."""
    return [number for number in dict.fromkeys(r.ddt_number for r in recent) if number]


@dataclass(frozen=True)
class SavedAddress:
    postal_code: str
    municipality: str
    street: str
    house_number: str
    box: str

    @property
    def key(self) -> str:
        return "|".join(self.fields().values())

    @classmethod
    def from_key(cls, key: str) -> "SavedAddress | None":
        """The address a key of the list stands for (the key holds it whole)."""
        parts = (key or "").split("|")
        return cls(*parts) if len(parts) == 5 and all(parts[:3]) else None

    @property
    def label(self) -> str:
        return format_address(
            self.street, self.house_number, self.box, self.postal_code, self.municipality
        )

    def fields(self) -> dict[str, str]:
        return {
            "postal_code": self.postal_code,
            "municipality": self.municipality,
            "street": self.street,
            "house_number": self.house_number,
            "box": self.box,
        }


def saved_addresses(worker) -> list[SavedAddress]:
    """Free addresses of the worker's earlier registrations, most recent first (option 1)."""
    found = list(ADDRESSES.values(worker=worker.pk, since=recent_since(), horizon=horizon()))
    first = found[0][-1] if found else _UNREAD
    rows = [row[:-1] for row in found]

    # Older rows matter only when these are fewer than the rows read and give fewer addresses
    # than are shown: then the answer is the same as reading the latest 200 at once.
    def short() -> bool:
        return len(rows) < MAX_ADDRESS_ROWS and len(set(rows)) < MAX_ADDRESSES

    for since, until in _older_windows(worker, short(), first, addresses=True):
        rows += _addresses(worker.pk, since, until)[: MAX_ADDRESS_ROWS - len(rows)]
        if not short():
            break
    return list(dict.fromkeys(SavedAddress(*row) for row in rows))[:MAX_ADDRESSES]
