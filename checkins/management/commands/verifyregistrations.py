"""Recomputes the tamper-evident chains of registrations and reports every broken link.

    manage.py verifyregistrations [--worker NISS] [--since YYYY-MM-DD]

Exit code 0 when every chain holds, 1 when a link is broken (each one printed with the
registration concerned). Reads only: any role that may SELECT registrations can run it, an
inspector's read-only role included. How to read its answer: docs/security.md.
"""

from datetime import date
from itertools import groupby

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Min
from django.utils import timezone

from accounts.models import Person
from accounts.niss import compact_niss, format_niss
from checkins.chain import Break, rows_of, verify_worker
from checkins.models import ChainCut, Registration, RegistrationChainHead, local_day_bounds

PROBLEMS = {
    "content": "its content no longer gives its stored hash: it was changed after it was stored",
    "link": "it does not link to the registration stored before it: that one was removed, "
    "changed or another was inserted before it",
    "head": "the worker's chain head does not name it: registrations stored after it were removed",
}


class Command(BaseCommand):
    help = (
        "Recomputes every worker's chain of registrations and reports each broken link "
        "(exit code 1 when one is found)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--worker", help="Only this worker (NISS, with or without dots).")
        parser.add_argument(
            "--since",
            help="From the worker's first registration recorded on or after this day "
            "(YYYY-MM-DD, Brussels time) to the end of the chain.",
        )

    def handle(self, *args, worker=None, since=None, **options):
        registrations = Registration.objects.all()
        if worker:
            try:
                niss = compact_niss(worker)
            except ValidationError as exc:
                raise CommandError(f"--worker: {worker!r} is not a valid NISS.") from exc
            person = Person.objects.filter(niss=niss).first()
            if person is None:
                raise CommandError(f"No worker with NISS {worker!r}.")
            registrations = registrations.filter(worker=person)
        starts = {}
        if since:
            try:
                start = local_day_bounds(date.fromisoformat(since))[0]
            except ValueError as exc:
                raise CommandError(f"--since: expected YYYY-MM-DD, got {since!r}") from exc
            starts = dict(
                registrations.filter(recorded_at__gte=start)
                .values("worker_id")
                .annotate(first=Min("id"))
                .values_list("worker_id", "first")
            )
            registrations = registrations.filter(worker_id__in=starts)
        heads = dict(RegistrationChainHead.objects.values_list("worker_id", "head_hash"))
        # Where a chain starts once the retention dropped its oldest months: the hash of the
        # last registration dropped (docs/security.md), "" for a chain kept whole.
        cuts = dict(ChainCut.objects.values_list("worker_id", "hash"))
        breaks: list[Break] = []
        counted = workers = 0
        rows = rows_of(registrations.order_by("worker_id", "id"))
        for worker_id, chain in groupby(rows, key=lambda row: row.values["worker_id"]):
            workers += 1
            previous = cuts.get(worker_id, "")
            if worker_id in starts:
                chain = (row for row in chain if row.id >= starts[worker_id])
                previous = (
                    Registration.objects.filter(worker_id=worker_id, id__lt=starts[worker_id])
                    .order_by("-id")
                    .values_list("chain_hash", flat=True)
                    .first()
                ) or cuts.get(worker_id, "")
            chain = list(chain)
            counted += len(chain)
            breaks += verify_worker(chain, previous, heads.get(worker_id))
        self.report(breaks)
        summary = f"{counted} registrations of {workers} workers verified"
        if breaks:
            raise CommandError(f"{summary}: {len(breaks)} broken links.")
        self.stdout.write(f"{summary}: every chain holds.")
        if worker and counted:
            # The inspector notes it: a later run must show a chain that still ends there or
            # continues from it.
            self.stdout.write(f"Chain head of {format_niss(person.niss)}: {heads[person.pk]}")

    def report(self, breaks: list[Break]) -> None:
        niss = dict(
            Person.objects.filter(pk__in={b.worker_id for b in breaks}).values_list("pk", "niss")
        )
        tz = timezone.get_default_timezone()
        for broken in breaks:
            when = broken.recorded_at.astimezone(tz).strftime("%d/%m/%Y %H:%M:%S")
            self.stdout.write(
                f"BROKEN registration #{broken.registration_id} of worker "
                f"{format_niss(niss[broken.worker_id])}, recorded {when}: "
                f"{PROBLEMS[broken.problem]}."
            )
