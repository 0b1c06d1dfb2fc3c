"""Reads the streets out of BeST Address's "OpenAddress" CSV (FOD BOSA, opendata.bosa.be).

The file lists addresses, one row per address point (some 6.6 million for Belgium, a few GB),
so it is streamed: each street name is kept once per municipality and the streets are written
in batches. Columns used: municipality_id (the NIS code), else postcode, else
municipality_name_fr/_nl/_de to find the municipality; streetname_fr/_nl/_de; status.
"""

import csv
import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path

from django.db import transaction

from .models import Municipality, MunicipalityPart, PostalCode, Street
from .text import search_key

BATCH_SIZE = 2000
SNIFF_BYTES = 64 * 1024
STREET_COLUMNS = {"streetname_fr": "fr", "streetname_nl": "nl", "streetname_de": "de"}
PLACE_CODE_COLUMNS = ("municipality_id", "postcode")
MUNICIPALITY_NAME_COLUMNS = ("municipality_name_fr", "municipality_name_nl", "municipality_name_de")
# The post office's name of the place (the part of the municipality: "Laeken", "Jambes").
POSTNAME_COLUMNS = ("postname_fr", "postname_nl", "postname_de")
PART_NAME_MAX_LENGTH = MunicipalityPart._meta.get_field("name").max_length
# Addresses that no longer exist or never did: their streets may be gone too.
SKIPPED_STATUSES = {"retired", "rejected"}
NAME_MAX_LENGTH = Street._meta.get_field("name").max_length


class BestFormatError(ValueError):
    """The file is not a BeST OpenAddress CSV (or a zip holding one)."""


@dataclass
class ImportSummary:
    rows: int = 0
    streets_written: int = 0
    streets_added: int = 0
    skipped_unknown_municipality: int = 0
    skipped_status: int = 0
    unknown_municipalities: set[str] = field(default_factory=set)
    municipalities: set[int] = field(default_factory=set)
    parts_written: int = 0


class _CountingReader(io.RawIOBase):
    """Counts the bytes read from the file, for the progress bar."""

    def __init__(self, raw) -> None:
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)


class _Source:
    """The CSV inside `path`: the file itself, or the first .csv member of a zip."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.zip: zipfile.ZipFile | None = None
        self.handle = None

    def __enter__(self) -> tuple[_CountingReader, int]:
        if zipfile.is_zipfile(self.path):
            self.zip = zipfile.ZipFile(self.path)
            members = [
                info
                for info in self.zip.infolist()
                if info.filename.lower().endswith(".csv") and not info.is_dir()
            ]
            if not members:
                raise BestFormatError(f"{self.path} holds no .csv file")
            # The national file is one CSV; the regional zips also hold one each.
            member = max(members, key=lambda info: info.file_size)
            self.handle = self.zip.open(member)
            return _CountingReader(self.handle), member.file_size
        self.handle = self.path.open("rb")
        return _CountingReader(self.handle), self.path.stat().st_size

    def __exit__(self, *exc) -> None:
        if self.handle is not None:
            self.handle.close()
        if self.zip is not None:
            self.zip.close()


def _rows(stream: io.TextIOBase) -> tuple[list[str], Iterator[list[str]]]:
    """The column names (lower case) and the rows, as lists: a csv.reader is twice as fast
    as a DictReader, which counts on a file of millions of rows."""
    # The sample is completed to the end of a line so that the rows go on where it stops.
    sample = stream.read(SNIFF_BYTES)
    sample += stream.readline()
    header = sample.split("\n", 1)[0]
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=";,\t").delimiter
    except csv.Error:
        delimiter = ""
    if not delimiter or delimiter not in header:
        # Column names never hold a delimiter: the one the header is full of is the one.
        delimiter = max(";,\t", key=header.count)
    reader = csv.reader(_chain(io.StringIO(sample), stream), delimiter=delimiter)
    columns = [name.strip().lower() for name in next(reader, [])]
    return columns, reader


def _chain(*iterables) -> Iterator[str]:
    for iterable in iterables:
        yield from iterable


class _Columns:
    """Reads the columns of a row by name. Rows are padded to the header's width first, so a
    column missing from a short row reads as "", and one missing from the file too."""

    def __init__(self, names: list[str]) -> None:
        self.index = {name: position for position, name in enumerate(names)}
        self.width = len(names)

    def __contains__(self, name: str) -> bool:
        return name in self.index

    def getter(self, name: str) -> Callable[[list[str]], str]:
        if name not in self.index:
            return lambda row: ""
        get = itemgetter(self.index[name])
        return lambda row: get(row).strip()

    def key(self, *names: str) -> Callable[[list[str]], tuple[str, ...]]:
        """The raw values of the columns present, as a tuple (at least two columns)."""
        return itemgetter(*[self.index[name] for name in names if name in self.index])


class _Municipalities:
    """Finds the municipality of a row: by NIS code, else by a postal code that serves only one
    municipality (an older file may carry the NIS code of a municipality merged since), else by
    its name in any language."""

    def __init__(self, columns: _Columns) -> None:
        self.nis_code = columns.getter("municipality_id")
        self.postcode = columns.getter("postcode")
        self.names = [columns.getter(name) for name in MUNICIPALITY_NAME_COLUMNS]
        self.by_nis = dict(Municipality.objects.values_list("nis_code", "pk"))
        by_code: dict[str, set[int]] = {}
        for code, pk in PostalCode.objects.values_list("code", "municipality_id"):
            by_code.setdefault(code, set()).add(pk)
        self.by_code = {code: next(iter(pks)) for code, pks in by_code.items() if len(pks) == 1}
        self.by_name: dict[str, int] = {}
        for pk, *names in Municipality.objects.values_list(
            "pk", "search_fr", "search_nl", "search_de"
        ):
            for name in names:
                self.by_name.setdefault(name, pk)

    def find(self, row: list[str]) -> int | None:
        pk = self.by_nis.get(self.nis_code(row)) or self.by_code.get(self.postcode(row))
        if pk is not None:
            return pk
        for name in self.names:
            pk = self.by_name.get(search_key(name(row)))
            if pk is not None:
                return pk
        return None

    def label(self, row: list[str]) -> str:
        return self.nis_code(row) or self.postcode(row) or "?"


def import_best_streets(
    path: Path, progress: Callable[[int, int, ImportSummary], None] | None = None
) -> ImportSummary:
    """Adds the streets of the file as official streets. An existing street of the same
    municipality and search key takes the official spelling and becomes official (it may have
    been learned or demo); running the same file twice changes nothing."""
    if not Municipality.objects.exists():
        raise BestFormatError("no municipalities: run `manage.py migrate` (or `loadgeo`) first")
    summary = ImportSummary()
    before = Street.objects.filter(source=Street.Source.OFFICIAL).count()
    with _Source(Path(path)) as (raw, total):
        stream = io.TextIOWrapper(io.BufferedReader(raw), encoding="utf-8-sig", newline="")
        names, rows = _rows(stream)
        columns = _Columns(names)
        street_columns = [
            (columns.getter(name), language)
            for name, language in STREET_COLUMNS.items()
            if name in columns
        ]
        if not street_columns:
            raise BestFormatError("no streetname_fr, streetname_nl or streetname_de column")
        if not any(name in columns for name in (*PLACE_CODE_COLUMNS, *MUNICIPALITY_NAME_COLUMNS)):
            raise BestFormatError("no municipality_id, postcode or municipality_name column")
        status = columns.getter("status")
        postcode = columns.getter("postcode")
        postnames = [columns.getter(name) for name in POSTNAME_COLUMNS if name in columns]
        parts: dict[tuple[int, str, str], str] = {}  # (municipality, code, key): name
        municipalities = _Municipalities(columns)
        known: dict[tuple[str, ...], int | None] = {}
        seen: set[tuple[int, str]] = set()  # (municipality, search key) already in a batch
        batch: list[Street] = []
        # The file has a row per address: a street comes back once per house number.
        street_key = columns.key(*PLACE_CODE_COLUMNS, *MUNICIPALITY_NAME_COLUMNS, *STREET_COLUMNS)
        for row in rows:
            summary.rows += 1
            if len(row) < columns.width:
                row.extend([""] * (columns.width - len(row)))
            if progress is not None and summary.rows % 10_000 == 0:
                progress(raw.count, total, summary)
            if status(row).lower() in SKIPPED_STATUSES:
                summary.skipped_status += 1
                continue
            raw_key = street_key(row)
            if raw_key in known:
                if known[raw_key] is None:
                    summary.skipped_unknown_municipality += 1
                continue
            municipality = known[raw_key] = municipalities.find(row)
            if municipality is None:
                summary.skipped_unknown_municipality += 1
                summary.unknown_municipalities.add(municipalities.label(row))
                continue
            summary.municipalities.add(municipality)
            code = postcode(row)
            for postname in postnames:
                name = " ".join(postname(row).split())
                key = search_key(name)
                if key and len(name) <= PART_NAME_MAX_LENGTH and len(code) == 4:
                    parts.setdefault((municipality, code, key), name)
            for street, language in street_columns:
                name = " ".join(street(row).split())
                key = search_key(name)
                if not key or len(name) > NAME_MAX_LENGTH or (municipality, key) in seen:
                    continue
                seen.add((municipality, key))
                batch.append(
                    Street(
                        municipality_id=municipality,
                        name=name,
                        search_name=key,
                        language=language,
                        source=Street.Source.OFFICIAL,
                    )
                )
            if len(batch) >= BATCH_SIZE:
                summary.streets_written += _write(batch)
                batch = []
        summary.streets_written += _write(batch)
        summary.parts_written = _write_parts(parts)
        if progress is not None:
            progress(raw.count, total, summary)
    summary.streets_added = Street.objects.filter(source=Street.Source.OFFICIAL).count() - before
    return summary


def _write_parts(parts: dict[tuple[int, str, str], str]) -> int:
    """The parts of municipalities named in the file; those already known stay as they are."""
    with transaction.atomic():
        MunicipalityPart.objects.bulk_create(
            [
                MunicipalityPart(
                    municipality_id=municipality, postal_code=code, name=name, search_name=key
                )
                for (municipality, code, key), name in parts.items()
            ],
            batch_size=BATCH_SIZE,
            ignore_conflicts=True,
        )
    return len(parts)


def _write(batch: list[Street]) -> int:
    if not batch:
        return 0
    with transaction.atomic():
        Street.objects.bulk_create(
            batch,
            update_conflicts=True,
            unique_fields=["municipality", "search_name"],
            update_fields=["name", "language", "source"],
        )
    return len(batch)
