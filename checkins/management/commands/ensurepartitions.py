"""Creates the monthly partitions of registrations 12 months ahead (PostgreSQL).

    manage.py ensurepartitions [--since YYYY-MM-DD] [--months-ahead N]

Run daily (deploy/ensurepartitions-cronjob.yaml) as the tables' owner (manage.py
OWNER_COMMANDS: DATABASE_OWNER_URL). Idempotent: existing months are left as they are. A
history loader passes --since (or calls checkins.partitions.ensure_months) before it loads.
"""

from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from checkins.partitions import MONTHS_AHEAD, ensure_months, is_partitioned


class Command(BaseCommand):
    help = "Creates the missing monthly partitions of registrations, 12 months ahead."

    def add_arguments(self, parser):
        parser.add_argument(
            "--since", help="Also every month from this day's (YYYY-MM-DD); default this month."
        )
        parser.add_argument("--months-ahead", type=int, default=MONTHS_AHEAD)

    def handle(self, *args, since=None, months_ahead=MONTHS_AHEAD, **options):
        if not is_partitioned():
            self.stdout.write("Registrations are one table on this database: nothing to do.")
            return
        try:
            start = date.fromisoformat(since) if since else timezone.localdate()
        except ValueError as exc:
            raise CommandError(f"--since: expected YYYY-MM-DD, got {since!r}") from exc
        if months_ahead < 1:
            raise CommandError("--months-ahead must be at least 1.")
        created = ensure_months(start, months_ahead)
        self.stdout.write(f"{created} monthly partitions of registrations created.")
