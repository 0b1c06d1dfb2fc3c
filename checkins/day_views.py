"""The home page: the worker's registrations of one local day, today unless ?date= says."""

import re
import uuid
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.db import router
from django.db.models import (
    BigIntegerField,
    DateTimeField,
    Exists,
    Q,
    QuerySet,
    Subquery,
)
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _

from clao.db_router import reads_may_lag
from clao.prepared import Prepared, Slot

from .cards import render_cards
from .models import (
    Registration,
    attach_corrections,
    corrections_of_outer,
    local_day_bounds,
    set_corrections,
)
from .partitions import history_starts
from .rules import OPEN_IN_LIMIT, OpenIn, open_in_state
from .windows import (
    RECENT_DAYS,
    horizon,
    next_month_start,
    recent_since,
    windows_after,
    windows_before,
)

# Only the form the date input and our own links send; date.fromisoformat alone would also
# accept "20261128" or "2026-W48-6", which would then never match the URL we show.
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# One day after date.min: the local midnight of date.min cannot be converted to UTC.
EARLIEST_DAY = date.min + timedelta(days=1)


@dataclass(frozen=True)
class Card:
    """One registration of the list, with what the page knows from its neighbours."""

    registration: Registration
    # "UTC+2"/"UTC+1" only when the local time occurs twice (the autumn change).
    utc_offset: str
    # For an OUT: the IN it closes, i.e. the worker's registration just before, if an IN.
    closes: Registration | None
    closes_utc_offset: str
    # For an OUT: the IN it closes had been forgotten (older than the open-IN limit).
    closes_forgotten: bool
    # For an IN: another IN came after it, or it is the latest and forgotten (checkins.rules).
    no_out: bool


def ambiguous_offset(moment: datetime, tz: ZoneInfo) -> str:
    """The UTC offset, only if the local wall time also exists with the other offset."""
    local = moment.astimezone(tz)
    other = local.replace(fold=1 - local.fold)
    if other.utcoffset() == local.utcoffset():
        return ""
    minutes = int(local.utcoffset().total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, minutes = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{minutes:02d}" if minutes else "")


def chosen_day(value: str | None, today: date) -> tuple[date, str]:
    """The day asked for in ?date=, or today with the reason it could not be shown."""
    if not value:
        return today, ""
    try:
        day = date.fromisoformat(value) if ISO_DAY.fullmatch(value) else None
    except ValueError:  # well formed but no such day, e.g. 2026-02-30
        day = None
    if day is None or day < EARLIEST_DAY:
        return today, _("This date is not valid: today's registrations are shown.")
    if day > today:
        return today, _("This date is in the future: today's registrations are shown.")
    return day, ""


def _day_and_neighbours_query() -> QuerySet:
    """The query of day_and_neighbours, with the worker, the day's bounds and the windows of
    the neighbours (literal bounds of time: PostgreSQL plans only those months) as slots."""
    owned = Registration.objects.records().filter(worker_id=Slot("worker", BigIntegerField()))
    start, end = Slot("start", DateTimeField()), Slot("end", DateTimeField())
    recent, until = Slot("recent", DateTimeField()), Slot("horizon", DateTimeField())
    # Each part with its window, also in the outer query: its id alone would be looked for in
    # every month.
    before_window = Q(recorded_at__gte=Slot("before_since", DateTimeField()), recorded_at__lt=start)
    after_window = Q(recorded_at__gte=end, recorded_at__lt=Slot("after_until", DateTimeField()))
    recent_window = Q(recorded_at__gte=recent, recorded_at__lt=until)
    before = owned.filter(before_window).order_by("-recorded_at", "-pk")
    after = owned.filter(after_window).order_by("recorded_at", "pk")
    # The latest record in force: a cancelled IN is not an open one.
    latest = owned.filter(recent_window).in_force(recent, until).order_by("-recorded_at", "-pk")
    return (
        with_corrections_known(owned, Slot("corrections_since", DateTimeField()), until)
        .filter(
            Q(recorded_at__gte=start, recorded_at__lt=end)
            | before_window & Q(pk=Subquery(before.values("pk")[:1]))
            | after_window & Q(pk=Subquery(after.values("pk")[:1]))
            | recent_window & Q(pk=Subquery(latest.values("pk")[:1]))
        )
        .order_by("-recorded_at", "-pk")
    )


# Built and compiled once per process: building and compiling it cost more CPU than running it.
DAY_AND_NEIGHBOURS = Prepared(_day_and_neighbours_query, function="day_and_neighbours")


def day_and_neighbours(
    worker, start: datetime, end: datetime
) -> tuple[list[Registration], list[Registration]]:
    """In ONE query: the worker's registrations of the day (newest first), and beside them the
    registration just before the day, the one just after and the latest.

    The day is a range walk of the (worker, -recorded_at) index, each neighbour a LIMIT 1 walk
    of it, however long the worker's history is. Only this worker's rows are ever read, and
    only in the months of the day and of the windows (checkins/partitions.py): the neighbour
    before in the month of a week before the day and after, the one after up to the month of a
    week after it, the latest from the month of a week ago. A neighbour not found in its
    window is looked for beyond it, in the months of the worker's history only (rare: a worker
    away for weeks).
    """
    now = timezone.now()
    windows = {
        "recent": recent_since(now),
        "horizon": horizon(now),
        "before_since": recent_since(start),
        "after_until": min(horizon(now), next_month_start(end + timedelta(days=RECENT_DAYS))),
    }
    windows["corrections_since"] = min(windows["before_since"], windows["recent"])
    rows = list(DAY_AND_NEIGHBOURS.objects(worker=worker.pk, start=start, end=end, **windows))
    shown = {r.pk for r in rows}
    # A neighbour found beyond its window may be one of these already (the latest, a day's).
    rows += [r for r in _beyond_windows(worker, start, end, rows, windows) if r.pk not in shown]
    day = [r for r in rows if start <= r.recorded_at < end]
    around = [r for r in rows if not start <= r.recorded_at < end]
    # The corrections shown inside their cards: one more query, only if the day has any; the
    # others get an evaluated empty list (an unevaluated one is compiled for every card).
    attach_corrections([r for r in day if r.corrected])
    for registration in day:
        if not registration.corrected:
            set_corrections(registration, [])
    return day, around


def _beyond_windows(
    worker, start: datetime, end: datetime, rows: list[Registration], windows: dict
) -> list[Registration]:
    """The neighbours the windows missed, each a LIMIT 1 query in the months beyond its window
    that may hold it; no query when every window found its neighbour."""
    until = windows["horizon"]
    found = []
    # Today's page has no months after its window (they would start at the horizon).
    missing_after = windows["after_until"] < until and not any(
        end <= r.recorded_at < windows["after_until"] for r in rows
    )
    missing_before = not any(r.recorded_at < start for r in rows)
    missing_latest = not any(r.recorded_at >= windows["recent"] and not r.cancelled for r in rows)
    if not (missing_after or missing_before or missing_latest):
        # The usual page: every window found its neighbour, and no queryset is even built.
        return found
    owned = Registration.objects.records().filter(worker=worker)
    if missing_after:
        for since, before in windows_after(windows["after_until"], until):
            beyond = owned.filter(recorded_at__gte=since, recorded_at__lt=before)
            following = with_corrections_known(beyond, since, until)
            if found_here := list(following.order_by("recorded_at", "pk")[:1]):
                found += found_here
                break
    if not (missing_before or missing_latest):
        return found
    first = history_starts(worker.pk, using=router.db_for_read(Registration))[0]
    previous = None
    if missing_before:
        for since, before in windows_before(first, windows["before_since"]):
            older = with_corrections_known(owned.filter(recorded_at__gte=since), since, until)
            older = older.filter(recorded_at__lt=before).order_by("-recorded_at", "-pk")
            if previous := next(iter(older[:1]), None):
                found.append(previous)
                break
    # Today's page of a worker away for weeks: nothing since the window's start, so the record
    # before the day, if in force, is the latest one.
    if (
        missing_latest
        and previous is not None
        and not previous.cancelled
        and windows["before_since"] == windows["recent"]
    ):
        missing_latest = False
    if missing_latest:
        for since, before in windows_before(first, windows["recent"]):
            older = with_corrections_known(owned.filter(recorded_at__gte=since), since, until)
            older = older.filter(recorded_at__lt=before).in_force(since, until)
            if latest := next(iter(older.order_by("-recorded_at", "-pk")[:1]), None):
                found.append(latest)
                break
    # The same registration may be both.
    return list({r.pk: r for r in found}.values())


def with_corrections_known(registrations: QuerySet, since=None, until=None) -> QuerySet:
    """Each registration knows whether it was corrected at all and whether it was cancelled;
    corrections are looked for in [since, until) when given (they are stored after what they
    correct)."""
    corrections = corrections_of_outer(since, until)
    return registrations.annotate(
        corrected=Exists(corrections),
        cancelled=Exists(corrections.filter(correction_kind=Registration.CorrectionKind.CANCEL)),
    )


def order_key(registration: Registration) -> tuple[datetime, int]:
    # The model's ordering, oldest first: ties on the time are broken by the id.
    return registration.recorded_at, registration.pk


def build_cards(
    registrations: list[Registration],
    previous: Registration | None,
    following: Registration | None,
    state: OpenIn,
    tz: ZoneInfo,
) -> list[Card]:
    """The day's cards, newest first; previous/following are the neighbours outside the day."""
    # Oldest first, framed by the neighbours, so that each one sees the one before and after.
    chronological = [previous, *reversed(registrations), following]
    cards = []
    for index in range(1, len(chronological) - 1):
        before, registration, after = chronological[index - 1 : index + 2]
        is_in = registration.kind == Registration.Kind.IN
        closes = before if not is_in and before and before.kind == Registration.Kind.IN else None
        # An IN still open (a shift going on, a night shift past midnight) is not flagged.
        no_out = (
            is_in
            and not getattr(registration, "cancelled", False)
            and (
                (after is not None and after.kind == Registration.Kind.IN)
                or (
                    after is None
                    and state.is_forgotten
                    and state.registration.pk == registration.pk
                )
            )
        )
        cards.append(
            Card(
                registration=registration,
                utc_offset=ambiguous_offset(registration.recorded_at, tz),
                closes=closes,
                closes_utc_offset=ambiguous_offset(closes.recorded_at, tz) if closes else "",
                closes_forgotten=closes is not None
                and registration.recorded_at - closes.recorded_at > OPEN_IN_LIMIT,
                no_out=no_out,
            )
        )
    return cards[::-1]


@login_required
def home(request: HttpRequest) -> HttpResponse:
    tz = timezone.get_default_timezone()
    today = timezone.localdate()
    day, problem = chosen_day(request.GET.get("date"), today)
    start, end = local_day_bounds(day)
    # Only the logged-in worker's registrations are queried. Corrections are shown inside the
    # card of the registration they correct.
    # A past day may come from a replica a little behind (clao/db_router.py); today, and any
    # page of a browser that has just written, read the primary.
    with reads_may_lag() if day < today else nullcontext():
        registrations, around = day_and_neighbours(request.user, start, end)

    previous = next((r for r in around if r.recorded_at < start), None)
    following = min((r for r in around if r.recorded_at >= end), key=order_key, default=None)
    in_force = [r for r in [*registrations, *around] if not r.cancelled]
    latest = max(in_force, key=order_key, default=None)
    state = open_in_state(latest, timezone.now())

    context = {
        "day": day,
        "today": today,
        "previous_day": day - timedelta(days=1) if day > EARLIEST_DAY else None,
        "next_day": day + timedelta(days=1) if day < today else None,
        "problem": problem,
        "cards": render_cards(build_cards(registrations, previous, following, state, tz)),
        "state": state,
        # The quick OUT form posts once per page shown: a double tap is one OUT.
        "quick_out_token": uuid.uuid4() if state.registration else None,
    }
    # A history restore after a cache miss needs the whole page, not the fragment.
    if request.htmx and not request.htmx.history_restore_request:
        response = render(request, "checkins/home.html#day-list", context)
    else:
        response = render(request, "checkins/home.html", context)
    # The same URL gives a fragment or a page: caches must keep them apart.
    patch_vary_headers(response, ["HX-Request"])
    return response
