"""The tamper-evident chain of each worker's registrations (docs/security.md).

Every registration stores `chain_previous`, the hash of the same worker's registration stored
just before it (empty for the first), and `chain_hash`:

    chain_hash = sha256(UTF-8 of the canonical text), in lowercase hex

The canonical text is a version line, then one line per field, in this order:

    <name>=<number of characters>:<value>      or, for an empty value (NULL), <name>=-

each ending with a newline ("\\n"), the lengths making any value (a reason with newlines)
unambiguous. The fields are FIELDS below, `previous` first. A registration with a device, a
swipe time or a correction is version 2 (`clao-registration-v2`, FIELDS then FIELDS_V2, checkins
migration 0009); any other is version 1 (`clao-registration-v1`, FIELDS), so the hashes stored
before the badge readers and corrections existed stay valid. Values as text: integers in decimal,
recorded_at in UTC as 2026-11-27T07:00:00.000000Z, latitude/longitude with their 6 decimals,
accuracy_m as PostgreSQL writes a double (shortest exact form, 1e+15 and up in exponent form).

On PostgreSQL a trigger computes it at insert, as the table's owner, after the database's
clock has set recorded_at (checkins/migrations: checkins_registration_chain), so every writer
is covered (COPY included) and the application's role cannot write a chain head itself. On
SQLite (the embedded demo), register() computes it with `link()`. `verify()` recomputes it
in Python, independently of the database's function: both must agree, and tests check it.

Workers' chains are separate: writers of different workers never wait on each other.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from hashlib import sha256
from math import copysign, isfinite

from .models import RegistrationChainHead

VERSION = "clao-registration-v1"
VERSION_2 = "clao-registration-v2"
# (name in the canonical text, model attribute), in order.
FIELDS = [
    ("worker", "worker_id"),
    ("kind", "kind"),
    ("recorded_at", "recorded_at"),
    ("enterprise_number", "enterprise_number"),
    ("employer", "employer_id"),
    ("employer_name", "employer_name"),
    ("ddt_number", "ddt_number"),
    ("latitude", "latitude"),
    ("longitude", "longitude"),
    ("accuracy_m", "accuracy_m"),
    ("postal_code", "postal_code"),
    ("municipality", "municipality"),
    ("street", "street"),
    ("house_number", "house_number"),
    ("box", "box"),
    ("source", "source"),
    ("key_scope", "key_scope"),
    ("idempotency_key", "idempotency_key"),
    ("acted_by", "acted_by_id"),
    ("reason", "reason"),
]
# Added by version 2 (after FIELDS); all empty means version 1.
FIELDS_V2 = [
    ("device", "device_id"),
    ("swiped_at", "swiped_at"),
    ("corrects", "corrects_id"),
    ("correction_kind", "correction_kind"),
    ("correction_reason", "correction_reason"),
]
ATTRIBUTES = [attribute for _name, attribute in FIELDS + FIELDS_V2]


def pg_float(value: float) -> str:
    """A double as PostgreSQL's float8 output writes it (extra_float_digits = 1)."""
    if not isfinite(value):
        return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
    if value == 0:
        return "-0" if copysign(1.0, value) < 0 else "0"
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        return f"{mantissa}e{exponent[0]}{int(exponent[1:]):02d}"
    if text.endswith(".0"):
        text = text[:-2]
    if abs(value) >= 1e15:
        # Python writes 1e15 to 1e16 in full, PostgreSQL in exponent form.
        sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
        significant = digits.rstrip("0")
        mantissa = significant[0] + (f".{significant[1:]}" if len(significant) > 1 else "")
        return f"{sign}{mantissa}e+{len(digits) - 1:02d}"
    return text


def as_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, Decimal):
        text = format(value.quantize(Decimal("0.000001")), "f")
        return "0.000000" if text == "-0.000000" else text
    if isinstance(value, float):
        return pg_float(value)
    return str(value)


def canonical(previous: str, values: dict) -> str:
    fields = FIELDS
    version = VERSION
    if any(values[attribute] not in (None, "") for _name, attribute in FIELDS_V2):
        fields, version = FIELDS + FIELDS_V2, VERSION_2
    lines = [version + "\n", _field("previous", previous)]
    lines += [_field(name, as_text(values[attribute])) for name, attribute in fields]
    return "".join(lines)


def _field(name: str, value: str | None) -> str:
    return f"{name}=-\n" if value is None else f"{name}={len(value)}:{value}\n"


def chain_hash(previous: str, values: dict) -> str:
    return sha256(canonical(previous, values).encode()).hexdigest()


def values_of(registration) -> dict:
    return {attribute: getattr(registration, attribute) for attribute in ATTRIBUTES}


def link(registration) -> None:
    """Where the database has no trigger (SQLite): chains `registration` before its insert.

    The caller holds the worker's lock (register() does) and saves the registration next.
    """
    head = RegistrationChainHead.objects.filter(worker_id=registration.worker_id).first()
    registration.chain_previous = head.head_hash if head else ""
    registration.chain_hash = chain_hash(registration.chain_previous, values_of(registration))


def advance_head(registration) -> None:
    """After the insert, where the database has no trigger: the worker's head moves on."""
    RegistrationChainHead.objects.update_or_create(
        worker_id=registration.worker_id,
        defaults={"head_hash": registration.chain_hash, "head_id": registration.pk},
    )


@dataclass(frozen=True)
class Break:
    """A broken link: `registration` (its values) and what is wrong with it."""

    registration_id: int
    worker_id: int
    recorded_at: datetime | None
    problem: str  # "content", "link", "head"


@dataclass(frozen=True)
class Row:
    id: int
    chain_previous: str
    chain_hash: str
    values: dict


def verify_worker(rows: Iterable[Row], expected_previous: str, head_hash: str | None):
    """Checks one worker's registrations in the order they were stored (ids ascending).

    Yields a Break per registration whose content no longer gives its stored hash ("content":
    changed after it was stored), per registration whose link does not name the hash of the
    one before ("link": one before it was removed, inserted or changed), and one "head" break
    when the chain head does not name the last registration (the last ones were removed).
    `expected_previous` is the hash the first row must link to ("" from the beginning).
    """
    previous = expected_previous
    last = None
    for row in rows:
        worker_id = row.values["worker_id"]
        if row.chain_previous != previous:
            yield Break(row.id, worker_id, row.values["recorded_at"], "link")
        if chain_hash(row.chain_previous, row.values) != row.chain_hash:
            yield Break(row.id, worker_id, row.values["recorded_at"], "content")
        previous = row.chain_hash
        last = row
    if head_hash is not None and last is not None and head_hash != last.chain_hash:
        yield Break(last.id, last.values["worker_id"], last.values["recorded_at"], "head")


def rows_of(queryset) -> Iterator[Row]:
    for values in queryset.values("id", "chain_previous", "chain_hash", *ATTRIBUTES).iterator(
        chunk_size=2000
    ):
        yield Row(values.pop("id"), values.pop("chain_previous"), values.pop("chain_hash"), values)
