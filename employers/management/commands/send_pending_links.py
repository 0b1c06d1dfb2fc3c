"""Sends the personalised links still waiting: the sendings whose page nobody keeps open.

    manage.py send_pending_links [--seconds 50]

Run every minute (deploy/send-pending-links-cronjob.yaml). Safe beside the web pages and
other copies of itself: each recipient is claimed under a row lock (employers/links.py).
"""

from django.core.management.base import BaseCommand

from employers.links import send_pending


class Command(BaseCommand):
    help = "Sends the personalised links still waiting (e-mail and SMS), for at most --seconds."

    def add_arguments(self, parser):
        parser.add_argument(
            "--seconds",
            type=int,
            default=50,
            help="stop starting new messages after this many seconds (default 50)",
        )

    def handle(self, *args, seconds, **options):
        tally = send_pending(seconds=seconds)
        self.stdout.write(f"send_pending_links: {tally.sent} sent, {tally.failed} failed")
