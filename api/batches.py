"""A batch of a badge reader, item by item through the one write path (checkins.register).

What can be looked up once for the whole batch is (the employers the device may send for, the
workers by NISS, the addresses), so that an item costs the core's own few queries and nothing
more. Every refusal is per item, with a stable code; one bad item never stops the others.
"""

import contextlib
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from accounts.models import Person
from accounts.niss import compact_niss
from checkins.models import Registration
from checkins.services import Place, RegistrationRefused, register
from employers.ddt import parse_ddt
from employers.models import Employer
from employers.numbers import parse_enterprise_number
from geo.addresses import resolve_addresses

from .models import Device
from .schemas import RegistrationIn

# The country's extent (with a margin of a few hundred metres): a position outside it is not a
# Belgian workplace.
BELGIUM_LATITUDE = (49.49, 51.51)
BELGIUM_LONGITUDE = (2.54, 6.41)
SIX_DECIMALS = Decimal("0.000001")


# Every code an item may be refused with, and its meaning (the docs page lists them; the
# answer carries the precise message, e.g. which check a number failed).
REFUSALS = {
    "invalid_ssin": _("This is not a valid NISS or BIS number."),
    "invalid_employer": _(
        "Give the employer's enterprise number or its foreign VAT number (one of them)."
    ),
    "invalid_enterprise_number": _("This is not a valid enterprise or VAT number."),
    "unknown_employer": _("No employer with this number is known to ClaO."),
    "employer_not_allowed": _("This credential may not send registrations for this employer."),
    "invalid_ddt": _("A declaration number has 13 characters: digits and letters, without I or O."),
    "missing_place": _("Give the place of work: GPS coordinates or an address (one of them)."),
    "place_outside_belgium": _("This position is not in Belgium."),
    "unknown_address": _("This postal code and municipality are not a Belgian address."),
    "too_late": _("This swipe reached ClaO more than 10 minutes after it was made."),
    "in_future": _("The time of this swipe is later than the time it arrived."),
}


@dataclass
class ItemResult:
    index: int
    clientReference: str  # noqa: N815 (the API's field name)
    status: str
    id: int | None = None
    code: str | None = None
    message: str | None = None


class Refused(Exception):
    def __init__(self, code: str, message=None) -> None:
        super().__init__(code)
        self.code = code
        self.message = str(message or REFUSALS[code])


def enterprise_number_of(item: RegistrationIn) -> str:
    ref = item.employer
    if bool(ref.enterpriseNumber) == bool(ref.foreignVatNumber):
        raise Refused("invalid_employer")
    if ref.enterpriseNumber:
        raw = ref.enterpriseNumber
    else:
        raw = ref.foreignVatNumber.strip()
        country = (ref.countryCode or "").strip().upper()
        if country and not raw.upper().startswith(country):
            raw = country + raw
    try:
        return parse_enterprise_number(raw).number
    except ValidationError as exc:
        raise Refused("invalid_enterprise_number", exc.messages[0]) from exc


def place_of(item: RegistrationIn, municipality_found: bool) -> Place:
    place = item.placeOfWork
    if place is None or (place.coordinates is None) == (place.address is None):
        raise Refused("missing_place")
    if place.coordinates is not None:
        lat, lon = place.coordinates.latitude, place.coordinates.longitude
        if not (
            BELGIUM_LATITUDE[0] <= lat <= BELGIUM_LATITUDE[1]
            and BELGIUM_LONGITUDE[0] <= lon <= BELGIUM_LONGITUDE[1]
        ):
            raise Refused("place_outside_belgium")
        return Place(
            latitude=Decimal(str(lat)).quantize(SIX_DECIMALS),
            longitude=Decimal(str(lon)).quantize(SIX_DECIMALS),
        )
    address = place.address
    if not municipality_found:
        raise Refused("unknown_address")
    if not address.streetName.strip():
        raise Refused("missing_place")
    return Place(
        postal_code=address.postCode.strip(),
        municipality=address.municipalityName.strip(),
        street=address.streetName.strip(),
        house_number=address.houseNumber.strip(),
        box=address.boxNumber.strip(),
    )


def _worker(niss: str, workers: dict[str, Person]) -> Person:
    """The worker of this NISS; one who never logged in is created (the badge comes before the
    smartphone)."""
    if niss not in workers:
        try:
            with transaction.atomic():
                workers[niss] = Person.objects.create_user(niss)
        except (IntegrityError, ValidationError):
            # Created meanwhile by another batch or a first login.
            workers[niss] = Person.objects.get(niss=niss)
    return workers[niss]


def store_batch(device: Device, items: list[RegistrationIn]) -> list[ItemResult]:
    """One transaction for the batch (one commit instead of 200: a commit waits for the disk);
    register() needs no savepoint of its own and raises its refusals outside its block, so a
    refused item leaves the batch's transaction usable. The known workers are locked first, in
    one query and in id order, so that two batches naming the same workers cannot deadlock."""
    with transaction.atomic():
        return _store_batch(device, items)


def _store_batch(device: Device, items: list[RegistrationIn]) -> list[ItemResult]:
    allowed = {e.number: e for e in device.may_send_for.all()}
    ssins = []
    for item in items:
        try:
            ssins.append(compact_niss(item.ssin))
        except ValidationError:
            ssins.append(None)
    workers = {
        p.niss: p
        for p in Person.objects.select_for_update()
        .filter(niss__in={s for s in ssins if s})
        .order_by("pk")
    }
    addresses = [
        (i.placeOfWork.address.postCode, i.placeOfWork.address.municipalityName)
        if i.placeOfWork and i.placeOfWork.address
        else ("", "")
        for i in items
    ]
    municipalities = resolve_addresses(addresses) if any(a != ("", "") for a in addresses) else []
    known = set(
        Employer.objects.filter(number__in=_numbers(items)).values_list("number", flat=True)
    )
    # References already stored are answered first: a reader resending after an outage gets
    # "duplicate" (with the first id), not "too late".
    stored = dict(
        Registration.objects.filter(
            key_scope=device.key_scope,
            idempotency_key__in={item.clientReference for item in items},
        ).values_list("idempotency_key", "pk")
    )

    results = []
    for index, item in enumerate(items):
        result = ItemResult(index=index, clientReference=item.clientReference, status="refused")
        if item.clientReference in stored:
            result.status, result.id = "duplicate", stored[item.clientReference]
            results.append(result)
            continue
        try:
            registered = _store_item(
                device,
                item,
                ssins[index],
                bool(municipalities and municipalities[index]),
                allowed,
                known,
                workers,
            )
        except Refused as exc:
            result.code, result.message = exc.code, exc.message
        except RegistrationRefused as exc:
            result.code, result.message = exc.code, str(exc.message)
        else:
            result.status = "created" if registered.created else "duplicate"
            result.id = registered.registration.pk
        results.append(result)
    return results


def _numbers(items: list[RegistrationIn]) -> set[str]:
    numbers = set()
    for item in items:
        with contextlib.suppress(Refused):
            numbers.add(enterprise_number_of(item))
    return numbers


def _store_item(
    device: Device,
    item: RegistrationIn,
    niss: str | None,
    municipality_found: bool,
    allowed: dict[str, Employer],
    known: set[str],
    workers: dict[str, Person],
):
    if niss is None:
        raise Refused("invalid_ssin")
    number = enterprise_number_of(item)
    if number not in known:
        raise Refused("unknown_employer")
    if number not in allowed:
        raise Refused("employer_not_allowed")
    ddt = ""
    if item.workDeclaration:
        try:
            ddt = parse_ddt(item.workDeclaration)
        except ValidationError as exc:
            raise Refused("invalid_ddt", exc.messages[0]) from exc
    place = place_of(item, municipality_found)
    return register(
        worker=_worker(niss, workers),
        kind=item.type,
        enterprise_number=number,
        ddt_number=ddt,
        place=place,
        source=Registration.Source.BADGE_READER,
        idempotency_key=item.clientReference,
        key_scope=device.key_scope,
        device=device,
        swiped_at=item.registeredAt,
    )
