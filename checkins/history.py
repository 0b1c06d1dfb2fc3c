"""What the form proposes from the worker's own history: employers, DDT numbers, addresses."""

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from employers.models import Employer

MAX_EMPLOYERS = 5
MAX_DDT_REGISTRATIONS = 15
MAX_ADDRESSES = 10


def employer_options(worker) -> list[Employer]:
    """At most 5: employers used in the last 30 days first, then contracts and this year's."""
    now = timezone.now()
    year_start = timezone.localtime(now).replace(
        month=1, day=1, hour=0, minute=0, second=0, microsecond=0
    )
    # One query: this year's registrations' employers, the most recent use first.
    used = (
        worker.registrations.filter(recorded_at__gte=min(year_start, now - timedelta(days=30)))
        .exclude(employer=None)
        .order_by("-recorded_at")
        .values_list("employer_id", "recorded_at")[:500]
    )
    recent, this_year = [], []
    for employer_id, recorded_at in used:
        (recent if recorded_at >= now - timedelta(days=30) else this_year).append(employer_id)
    recent = list(dict.fromkeys(recent))[:MAX_EMPLOYERS]
    contracts = sorted(set(worker.contracts.values_list("employer_id", flat=True)))
    ordered = list(dict.fromkeys([*recent, *contracts, *this_year]))[:MAX_EMPLOYERS]
    employers = Employer.objects.in_bulk(ordered)
    return [employers[pk] for pk in ordered if pk in employers]


def ddt_options(worker) -> list[str]:
    """The DDT numbers of the last 15 registrations, newest first, without repeats."""
    numbers = worker.registrations.order_by("-recorded_at").values_list("ddt_number", flat=True)
    return [number for number in dict.fromkeys(numbers[:MAX_DDT_REGISTRATIONS]) if number]


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
        number = " ".join(filter(None, [self.house_number, self.box and f"/{self.box}"]))
        street = f"{self.street} {number}".strip()
        return f"{street}, {self.postal_code} {self.municipality}"

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
    rows = (
        worker.registrations.exclude(postal_code="")
        .order_by("-recorded_at")
        .values_list("postal_code", "municipality", "street", "house_number", "box")[:200]
    )
    return list(dict.fromkeys(SavedAddress(*row) for row in rows))[:MAX_ADDRESSES]
