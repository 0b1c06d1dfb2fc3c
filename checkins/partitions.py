"""The monthly partitions of registrations on PostgreSQL (checkins migration 0011).

Registrations are partitioned by month of Brussels time, `checkins_registration_pYYYYMM`.
The months are created 12 ahead by `migrate` and every day by `manage.py ensurepartitions`
(deploy/ensurepartitions-cronjob.yaml); a history loader creates the months it fills first
(`ensure_months`). The retention (`manage.py purgeregistrations`) drops whole months older than
CLAO_RETENTION_YEARS through the one function its role may run. SQLite has one plain table:
every helper here does nothing there.

The worker's pages read registrations between literal bounds of time, so that PostgreSQL plans
and scans only those months (a query without a bound on recorded_at is planned over every
month: 90 ms for the day list with 8 years of months, docs/scaling.md). A window of recent
months comes first (`recent_since` to `horizon`); only when it falls short are the older
months read, from the worker's first registration on (`older_history`), never every month.
"""

from dataclasses import dataclass
from datetime import date, datetime

from django.core import checks
from django.db import DatabaseError, connections, router
from django.utils import timezone

from .models import FirstRegistration, Registration, RegistrationKey
from .windows import EARLIEST, windows_before

MONTHS_AHEAD = 12
# Fewer months ahead than this and `manage.py check --database default` warns: the daily job
# has not run for a month.
MONTHS_AHEAD_WARNING = 2


def history_starts(worker_id: int, using: str = "default") -> tuple[datetime, datetime | None]:
    """Times none of the worker's registrations, and none of those at an address, is older than
    (their first ones), or None when they have none: one read of checkins_firstregistration on
    PostgreSQL; on SQLite, EARLIEST. Read only when a window falls short: the older months to
    read are from there on."""
    if not is_partitioned(using):
        return EARLIEST, EARLIEST
    found = FirstRegistration.objects.using(using).filter(worker_id=worker_id)
    return next(iter(found.values_list("recorded_at", "first_address_at")), (None, None))


def older_windows(worker_id: int, since: datetime, using: str = "default"):
    """The windows before `since` that hold the worker's registrations (windows_before), their
    first registration read only when the first window is asked for."""
    yield from windows_before(history_starts(worker_id, using)[0], since)


def stored_at(pk: int, using: str = "default") -> datetime | None:
    """When registration `pk` was stored, or None when there is no such registration: on
    PostgreSQL from checkins_registrationkey (one index read), so that the registration is
    then read in its one month rather than looked for by id in every month."""
    if is_partitioned(using):
        found = RegistrationKey.objects.using(using).filter(registration_id=pk)
    else:
        found = Registration.objects.using(using).filter(pk=pk)
    return next(iter(found.values_list("recorded_at", flat=True)[:1]), None)


def by_id(queryset, pk: int):
    """`queryset` narrowed to registration `pk`, in its one month (stored_at)."""
    at = stored_at(pk, queryset.db)
    return queryset.none() if at is None else queryset.filter(pk=pk, recorded_at=at)


def id_under_key(scope: str, key: str, using: str | None = None) -> int | None:
    """The id of the registration stored under an idempotency key, or None (ids_under_keys)."""
    return ids_under_keys(scope, {key}, using).get(key)


def ids_under_keys(scope: str, keys: set[str], using: str | None = None) -> dict[str, int]:
    """Each of these keys of one scope already used -> its registration's id: on PostgreSQL
    from the key table alone (every month's keys are there)."""
    using = using or router.db_for_read(Registration)
    model = RegistrationKey if is_partitioned(using) else Registration
    column = "registration_id" if model is RegistrationKey else "pk"
    found = model.objects.using(using).filter(key_scope=scope, idempotency_key__in=keys)
    return dict(found.values_list("idempotency_key", column))


@dataclass(frozen=True)
class Partition:
    name: str
    lower: datetime
    upper: datetime


def is_partitioned(using: str = "default") -> bool:
    return connections[using].vendor == "postgresql"


def ensure_months(
    since: date | datetime, months_ahead: int = MONTHS_AHEAD, using: str = "default"
) -> int:
    """Creates the missing months from `since` through this month + `months_ahead` (as the
    tables' owner); how many were created."""
    if not is_partitioned(using):
        return 0
    if isinstance(since, datetime):
        since = timezone.localtime(since).date()
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT clao_ensure_registration_partitions(%s, %s)", [since, months_ahead])
        return cursor.fetchone()[0]


def ensure_month(moment: date | datetime, using: str = "default") -> int:
    """Creates the one month of `moment` if it is missing (a loader of a few registrations of
    an old month, the tests' history); 1 when it was created."""
    if not is_partitioned(using):
        return 0
    if isinstance(moment, datetime):
        moment = timezone.localtime(moment).date()
    today = timezone.localdate()
    # The function creates through this month + months_ahead: here, through `moment`'s month.
    ahead = (moment.year - today.year) * 12 + moment.month - today.month
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT clao_ensure_registration_partitions(%s, %s)", [moment.replace(day=1), ahead]
        )
        return cursor.fetchone()[0]


def partitions(using: str = "default") -> list[Partition]:
    """Every month of registrations, oldest first."""
    if not is_partitioned(using):
        return []
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT * FROM clao_registration_partitions()")
        return [Partition(*row) for row in cursor.fetchall()]


def expired(before: date, using: str = "default") -> list[Partition]:
    """The months a purge before `before` would drop (never younger than 7 years)."""
    if not is_partitioned(using):
        return []
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT * FROM clao_expired_partitions(%s)", [before])
        return [Partition(*row) for row in cursor.fetchall()]


def drop_expired(before: date, using: str = "default") -> list[str]:
    """Drops them (the retention role's one function); the names dropped."""
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT * FROM clao_drop_expired_partitions(%s)", [before])
        return [row[0] for row in cursor.fetchall()]


def retention_cutoff(years: int, today: date | None = None) -> date:
    """The first day kept: the first day of the month `years` years before this one's."""
    today = today or timezone.localdate()
    return date(today.year - years, today.month, 1)


@checks.register(checks.Tags.database)
def check_months_ahead(app_configs=None, databases=None, **kwargs):
    """A warning when fewer than 2 months ahead exist: a registration would be refused for a
    missing partition once they run out."""
    warnings = []
    for using in databases or ():
        if not is_partitioned(using):
            continue
        try:
            months = partitions(using)
        except DatabaseError:  # not migrated yet: nothing to warn about before migrate
            continue
        now = timezone.now()
        ahead = sum(1 for month in months if month.lower > now)
        if ahead < MONTHS_AHEAD_WARNING:
            warnings.append(
                checks.Warning(
                    f"Only {ahead} month(s) of registrations partitions exist after this one.",
                    hint="Run `manage.py ensurepartitions` (the daily CronJob "
                    "deploy/ensurepartitions-cronjob.yaml) to create 12 months ahead.",
                    id="checkins.W001",
                )
            )
    return warnings
