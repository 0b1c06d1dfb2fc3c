"""The access log: every search, export and view of registrations by an inspector.

Written in the same transaction as nothing else (an access is logged even if the page then
fails to render); append-only in the model and, on PostgreSQL, by a trigger (migration 0002).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction

from accounts.models import Person

from .models import AccessedWorker, AccessLog, Inspector


def log_access(
    role: Inspector,
    action: str,
    criteria: dict,
    result_count: int,
    workers: Iterable[int] = (),
    *,
    capped: bool = False,
) -> AccessLog:
    """Writes one entry, with the workers whose registrations it showed."""
    with transaction.atomic():
        entry = AccessLog.objects.create(
            inspector_id=role.person_id,
            office=role.office,
            action=action,
            criteria=criteria,
            result_count=result_count,
            result_count_capped=capped,
        )
        AccessedWorker.objects.bulk_create(
            AccessedWorker(access=entry, worker_id=worker_id) for worker_id in set(workers)
        )
    return entry


@dataclass(frozen=True)
class AccessSeen:
    """An access as the worker concerned sees it: when, which office, and a name by policy."""

    at: datetime
    office: str
    action_label: str
    inspector_name: str


def accesses_about(worker: Person, limit: int = 200) -> list[AccessSeen]:
    """The inspector accesses that showed this worker's registrations, newest first."""
    show_names = settings.CLAO_SHOW_INSPECTOR_NAMES
    entries = (
        AccessLog.objects.filter(subjects__worker=worker)
        .select_related("inspector")
        .order_by("-at", "-pk")[:limit]
    )
    return [
        AccessSeen(
            at=entry.at,
            office=entry.office,
            action_label=entry.get_action_display(),
            inspector_name=str(entry.inspector) if show_names else "",
        )
        for entry in entries
    ]


def accesses_by(person: Person, limit: int = 50) -> list[AccessLog]:
    """An inspector's own latest accesses (the inspector space shows them)."""
    return list(AccessLog.objects.filter(inspector=person).order_by("-at", "-pk")[:limit])
