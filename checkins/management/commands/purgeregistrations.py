"""Drops the months of registrations older than the retention (7 years by default).

    manage.py purgeregistrations            # dry run: lists what would be dropped
    manage.py purgeregistrations --apply    # drops them

Whole monthly partitions only, entirely older than CLAO_RETENTION_YEARS. It connects with
DATABASE_RETENTION_URL (manage.py RETENTION_COMMANDS), a role that may run one database
function, `clao_drop_expired_partitions`, and nothing else; that function refuses any month
younger than 7 years whatever it is asked, records each worker's chain cut (verifyregistrations
starts from it) and removes the months' idempotency keys. docs/security.md, "Retention".
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from checkins.partitions import drop_expired, expired, is_partitioned, retention_cutoff


class Command(BaseCommand):
    help = (
        "Lists (or with --apply drops) the months of registrations older than "
        "CLAO_RETENTION_YEARS (at least 7)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--apply", action="store_true", help="Drop them (default: list).")
        parser.add_argument(
            "--years",
            type=int,
            default=None,
            help="Keep this many years (default CLAO_RETENTION_YEARS); fewer than 7 is refused.",
        )

    def handle(self, *args, apply=False, years=None, **options):
        if not is_partitioned():
            raise CommandError(
                "Registrations are one table here (not PostgreSQL): nothing to drop."
            )
        years = settings.CLAO_RETENTION_YEARS if years is None else years
        if years < 7:
            raise CommandError(f"Registrations are kept 7 years at least, not {years}.")
        before = retention_cutoff(years, timezone.localdate())
        months = expired(before)
        tz = timezone.get_default_timezone()
        if not months:
            self.stdout.write(f"No month of registrations ends before {before:%d/%m/%Y}.")
            return
        for month in months:
            self.stdout.write(
                f"{'Dropping' if apply else 'Would drop'} {month.name}: "
                f"{month.lower.astimezone(tz):%d/%m/%Y} to {month.upper.astimezone(tz):%d/%m/%Y}"
            )
        if not apply:
            self.stdout.write("Dry run: nothing dropped (--apply drops them).")
            return
        dropped = drop_expired(before)
        self.stdout.write(f"{len(dropped)} months of registrations dropped.")
