"""The monthly partitions of registrations on PostgreSQL (checkins migration 0010).

Registrations are partitioned by month of Brussels time, `checkins_registration_pYYYYMM`.
The months are created 12 ahead by `migrate` and every day by `manage.py ensurepartitions`
(deploy/ensurepartitions-cronjob.yaml); a history loader creates the months it fills first
(`ensure_months`). The retention (`manage.py purgeregistrations`) drops whole months older than
CLAO_RETENTION_YEARS through the one function its role may run. SQLite has one plain table:
every helper here does nothing there.
"""

from dataclasses import dataclass
from datetime import date, datetime

from django.core import checks
from django.db import DatabaseError, connections
from django.utils import timezone

MONTHS_AHEAD = 12
# Fewer months ahead than this and `manage.py check --database default` warns: the daily job
# has not run for a month.
MONTHS_AHEAD_WARNING = 2


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
