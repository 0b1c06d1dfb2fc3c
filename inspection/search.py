"""The inspectors' search over every registration.

Index-friendly at 10 million rows: every search is bounded by a recorded_at range (at most
MAX_RANGE_DAYS) and each criterion has an index ending in -recorded_at (checkins migration
0004), so the newest rows of a page are an index walk; the count stops at COUNT_LIMIT. Filters
stay on recorded_at ranges so that a table partitioned by month is pruned.
"""

from dataclasses import dataclass, field
from datetime import date

from django.db.models import QuerySet

from checkins.models import Registration, attach_corrections, local_day_bounds

from .models import Inspector
from .roles import registrations_for

MAX_RANGE_DAYS = 366
COUNT_LIMIT = 10_000
PAGE_SIZE = 25


@dataclass(frozen=True)
class Criteria:
    """A validated search (inspection.forms.SearchForm makes them from what was typed)."""

    date_from: date
    date_to: date
    niss: str = ""
    enterprise_number: str = ""
    ddt_number: str = ""
    postal_code: str = ""
    source: str = ""

    def as_log(self) -> dict:
        """What the access log keeps: only the criteria given."""
        return {
            name: value.isoformat() if isinstance(value, date) else value
            for name, value in self.__dict__.items()
            if value
        }


def matching(role: Inspector, criteria: Criteria) -> QuerySet:
    """The registrations (corrections excluded: they show inside their card), newest first."""
    start, _end = local_day_bounds(criteria.date_from)
    _start, end = local_day_bounds(criteria.date_to)
    found = registrations_for(role).records().filter(recorded_at__gte=start, recorded_at__lt=end)
    if criteria.niss:
        found = found.filter(worker__niss=criteria.niss)
    if criteria.enterprise_number:
        found = found.filter(enterprise_number=criteria.enterprise_number)
    if criteria.ddt_number:
        found = found.filter(ddt_number=criteria.ddt_number)
    if criteria.postal_code:
        found = found.filter(postal_code=criteria.postal_code)
    if criteria.source:
        found = found.filter(source=criteria.source)
    return found.order_by("-recorded_at", "-pk")


@dataclass
class Page:
    registrations: list[Registration]
    number: int
    count: int
    count_capped: bool
    has_next: bool = False
    has_previous: bool = field(init=False)

    def __post_init__(self) -> None:
        self.has_previous = self.number > 1


def page_of(found: QuerySet, number: int) -> Page:
    """One page (PAGE_SIZE rows) and the count, stopped at COUNT_LIMIT."""
    count = found.order_by()[: COUNT_LIMIT + 1].count()
    offset = (number - 1) * PAGE_SIZE
    rows = attach_corrections(
        list(found.select_related("worker", "employer")[offset : offset + PAGE_SIZE + 1])
    )
    return Page(
        registrations=rows[:PAGE_SIZE],
        number=number,
        count=min(count, COUNT_LIMIT),
        count_capped=count > COUNT_LIMIT,
        has_next=len(rows) > PAGE_SIZE,
    )
