"""The bounds of time the worker's pages read registrations between.

On PostgreSQL registrations are partitioned by month (checkins/partitions.py) and a query
without a bound on recorded_at is planned over every month: 90 ms for the day list with 8
years of months (docs/scaling.md). Django's psycopg backend writes the values into the SQL, so
with these literal bounds PostgreSQL plans and scans only the months they cover; a query run
through its function (clao/prepared.py) keeps one plan and prunes the other months as it runs.
A window of recent months comes first (`recent_since` to `horizon`); only when it falls short
are older months read (`windows_before`).
"""

from datetime import UTC, datetime, time, timedelta

from django.utils import timezone

# A worker at work registers within a week: the windows start at the month of a week ago, so
# from the 8th of a month on they are that one month.
RECENT_DAYS = 7
# The application's clock may lag the database's, which dates registrations: the horizon is the
# end of the month of an hour from now.
CLOCK_MARGIN = timedelta(hours=1)
# Before any registration: the lower bound of a search in every month (SQLite, unpartitioned).
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)


def month_start(moment: datetime) -> datetime:
    """The first instant of the month (of Brussels time) of `moment`: a partition's bound."""
    local = timezone.localtime(moment)
    return datetime.combine(local.date().replace(day=1), time.min, tzinfo=local.tzinfo)


def next_month_start(moment: datetime) -> datetime:
    local = timezone.localtime(moment)
    following = (local.date().replace(day=1) + timedelta(days=32)).replace(day=1)
    return datetime.combine(following, time.min, tzinfo=local.tzinfo)


def recent_since(moment: datetime | None = None) -> datetime:
    """The start of the window of recent months before `moment` (now): the month of a week
    before."""
    return month_start((moment or timezone.now()) - timedelta(days=RECENT_DAYS))


def horizon(now: datetime | None = None) -> datetime:
    """The end of every window: no registration is stored after it (the database dates them)."""
    return next_month_start((now or timezone.now()) + CLOCK_MARGIN)


def windows_after(start: datetime, until: datetime):
    """The windows from `start` to `until`, oldest first: the year after `start`, then the rest
    (a neighbour after a day of long ago is looked for a year at a time, not in every month)."""
    if start >= until:
        return
    year_after = min(until, next_month_start(start + timedelta(days=335)))
    yield start, year_after
    if year_after < until:
        yield year_after, until


def windows_before(first: datetime | None, since: datetime):
    """The windows to read, newest first, when the one from `since` fell short: a year at a
    time (about 12 months planned each) back to `first` (the worker's first registration).
    None when nothing is older than `since`. A worker seen twice a year is found in the year
    before, not by planning every month of their history."""
    if first is None:
        return
    while first < since:
        year_before = max(first, month_start(since - timedelta(days=335)))
        yield year_before, since
        since = year_before
