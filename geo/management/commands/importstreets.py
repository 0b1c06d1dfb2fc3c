"""Imports the official street names from BeST Address's OpenAddress CSV.

The operator downloads the file (national or regional, .csv or .zip) from
https://opendata.bosa.be/ and runs `manage.py importstreets openaddress-be.zip`.
Needs the municipalities that `migrate` loads. Running it again with a newer file adds the new
streets.
"""

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from geo.best import BestFormatError, ImportSummary, import_best_streets

BAR_WIDTH = 30


class Command(BaseCommand):
    help = "Imports street names from a BeST Address OpenAddress CSV file (.csv or .zip)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", type=Path, help="The OpenAddress .csv, or a .zip holding it.")
        parser.add_argument(
            "--no-progress", action="store_true", help="Do not show the progress bar."
        )

    def handle(self, *args, path: Path, no_progress: bool = False, **options) -> None:
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        self._last_drawn = (-1, 0.0)
        started = time.monotonic()
        try:
            summary = import_best_streets(path, progress=None if no_progress else self._progress)
        except BestFormatError as exc:
            raise CommandError(f"{path}: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise CommandError(f"{path}: not UTF-8 ({exc})") from exc
        if not no_progress:
            self.stderr.write("", style_func=_plain)  # ends the progress bar's line
        self.stdout.write(
            f"Rows read: {summary.rows} in {time.monotonic() - started:.1f} s\n"
            f"Streets: {summary.streets_written} in {len(summary.municipalities)} "
            f"municipalities ({summary.streets_added} new official streets)\n"
            f"Parts of municipalities (post office names): {summary.parts_written}"
        )
        if summary.skipped_status:
            self.stdout.write(f"Rows of retired or rejected addresses: {summary.skipped_status}")
        if summary.skipped_unknown_municipality:
            unknown = ", ".join(sorted(summary.unknown_municipalities)[:10])
            self.stdout.write(
                f"Rows of unknown municipalities: {summary.skipped_unknown_municipality} "
                f"({unknown}); is `loadgeo` up to date?"
            )

    def _progress(self, done: int, total: int, summary: ImportSummary) -> None:
        """A text bar on stderr, redrawn in place when the percentage moves."""
        percent = min(100, done * 100 // total) if total else 100
        now = time.monotonic()
        last_percent, last_time = self._last_drawn
        if percent == last_percent and now - last_time < 1:
            return
        self._last_drawn = (percent, now)
        filled = BAR_WIDTH * percent // 100
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        self.stderr.write(
            f"\r[{bar}] {percent:3d}%  {done / 1e6:.1f}/{total / 1e6:.1f} MB  "
            f"{summary.rows} rows  {len(summary.municipalities)} municipalities",
            ending="",
            style_func=_plain,  # stderr is red by default; this is not an error
        )
        self.stderr.flush()


def _plain(text: str) -> str:
    return text
