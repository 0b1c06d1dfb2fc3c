"""The open-IN rule: is the worker's last IN still the work going on?

This module is the only place that answers it. The form's suggestion and notice, the day list's
warning and the quick OUT all ask `open_in_state` and nothing else.
"""

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import Registration

# An IN older than this is taken as forgotten: the worker is told, IN is suggested again, and
# the IN can still be closed by an OUT made now. A night shift (IN 22:00, seen 06:00) is
# well within it, whatever the calendar day or a DST change says.
OPEN_IN_LIMIT = timedelta(hours=16)


class State(enum.StrEnum):
    CLOSED = "closed"  # no registration yet, or the last one is an OUT
    OPEN = "open"  # the last registration is an IN younger than OPEN_IN_LIMIT
    FORGOTTEN = "forgotten"  # the last registration is an IN older than OPEN_IN_LIMIT


@dataclass(frozen=True)
class OpenIn:
    state: State
    # The IN concerned (OPEN or FORGOTTEN), else None.
    registration: "Registration | None" = None

    @property
    def is_open(self) -> bool:
        return self.state is State.OPEN

    @property
    def is_forgotten(self) -> bool:
        return self.state is State.FORGOTTEN

    @property
    def suggested_kind(self) -> str:
        """The button the form highlights: OUT while an IN is open, IN otherwise."""
        return "OUT" if self.state is State.OPEN else "IN"


def open_in_state(latest: "Registration | None", now: datetime) -> OpenIn:
    """The state after the worker's latest registration, seen at the server's time `now`.

    Elapsed time is measured in UTC instants, so 23- and 25-hour days count their real length.
    """
    if latest is None or latest.kind != "IN":
        return OpenIn(State.CLOSED)
    # In UTC: Python subtracts two times of the same zone on the wall clock, which would count
    # a DST night as 24 hours.
    if now.astimezone(UTC) - latest.recorded_at.astimezone(UTC) > OPEN_IN_LIMIT:
        return OpenIn(State.FORGOTTEN, latest)
    return OpenIn(State.OPEN, latest)


# A badge reader's swipe: the device's clock says when the worker swiped, the server's when it
# arrived. A swipe that reaches ClaO more than SWIPE_MAX_DELAY after it was made is refused
# (the reader was offline too long); one "later" than its receipt by more than the clock
# tolerance comes from a wrong clock. A swipe that arrives more than LATE_RECEIPT after it was
# made is stored, and its card says that it reached ClaO late.
SWIPE_MAX_DELAY = timedelta(minutes=10)
SWIPE_CLOCK_TOLERANCE = timedelta(minutes=2)
LATE_RECEIPT = timedelta(minutes=1)


class SwipeTiming(enum.StrEnum):
    ON_TIME = "on_time"
    TOO_LATE = "too_late"
    IN_FUTURE = "in_future"


def swipe_timing(swiped_at: datetime, received_at: datetime) -> SwipeTiming:
    delay = received_at.astimezone(UTC) - swiped_at.astimezone(UTC)
    if delay > SWIPE_MAX_DELAY:
        return SwipeTiming.TOO_LATE
    if -delay > SWIPE_CLOCK_TOLERANCE:
        return SwipeTiming.IN_FUTURE
    return SwipeTiming.ON_TIME


def reached_late(swiped_at: datetime | None, recorded_at: datetime) -> bool:
    """Whether a registration made on a device reached ClaO noticeably after the swipe."""
    return swiped_at is not None and recorded_at - swiped_at > LATE_RECEIPT
