"""A batch of a badge reader, through the one write path's batch form (checkins.register_many).

Everything is looked up once for the whole batch (the employers the device may send for, the
workers by NISS, the addresses), and the core stores the batch in a constant number of queries
with register()'s rules item by item. Every refusal is per item, with a stable code; one bad
item never stops the others.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from accounts.models import Person
from accounts.niss import compact_niss
from checkins.models import Registration
from checkins.partitions import ids_under_keys
from checkins.services import Place, RegistrationRefused, RegistrationRequest, register_many
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


def _workers(numbers: set[str]) -> dict[str, Person]:
    """The workers of these NISS numbers; those who never logged in are created (the badge
    comes before the smartphone), all in one INSERT."""
    workers = {p.niss: p for p in Person.objects.filter(niss__in=numbers)}
    missing = numbers - workers.keys()
    if missing:
        new = [Person(niss=niss) for niss in sorted(missing)]
        for person in new:
            # Workers never log in with a password: only through the SAML identity provider.
            person.set_unusable_password()
        # A worker created meanwhile (another batch, a first login) is kept as it is.
        Person.objects.bulk_create(new, ignore_conflicts=True)
        workers |= {p.niss: p for p in Person.objects.filter(niss__in=missing)}
    return workers


def store_batch(device: Device, items: list[RegistrationIn]) -> list[ItemResult]:
    """One transaction for the batch (one commit instead of 200: a commit waits for the disk).
    The items that pass the service's own checks are stored together by
    checkins.services.register_many, with register()'s rules item by item and in order, in a
    constant number of queries; one bad item never stops the others."""
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
    addresses = [
        (i.placeOfWork.address.postCode, i.placeOfWork.address.municipalityName)
        if i.placeOfWork and i.placeOfWork.address
        else ("", "")
        for i in items
    ]
    municipalities = resolve_addresses(addresses) if any(a != ("", "") for a in addresses) else []
    numbers: list[str | Refused] = []
    for item in items:
        try:
            numbers.append(enterprise_number_of(item))
        except Refused as refused:
            numbers.append(refused)
    known = set(
        Employer.objects.filter(number__in={n for n in numbers if isinstance(n, str)}).values_list(
            "number", flat=True
        )
    )

    # References already stored are answered first, whatever the item says now: a reader
    # resending after an outage gets "duplicate" (with the first id), not a refusal.
    stored = ids_under_keys(device.key_scope, {item.clientReference for item in items})

    results = [
        ItemResult(index=index, clientReference=item.clientReference, status="refused")
        for index, item in enumerate(items)
    ]
    accepted: list[tuple[int, dict]] = []
    for index, item in enumerate(items):
        if item.clientReference in stored:
            results[index].status = "duplicate"
            results[index].id = stored[item.clientReference]
            continue
        try:
            accepted.append(
                (
                    index,
                    _checked_item(
                        item,
                        ssins[index],
                        numbers[index],
                        bool(municipalities and municipalities[index]),
                        allowed,
                        known,
                    ),
                )
            )
        except Refused as exc:
            results[index].code, results[index].message = exc.code, exc.message
    if not accepted:
        return results
    workers = _workers({fields["niss"] for _index, fields in accepted})
    outcomes = register_many(
        [
            RegistrationRequest(
                worker=workers[fields.pop("niss")],
                source=Registration.Source.BADGE_READER,
                key_scope=device.key_scope,
                device=device,
                **fields,
            )
            for _index, fields in accepted
        ]
    )
    for (index, _fields), outcome in zip(accepted, outcomes, strict=True):
        result = results[index]
        if isinstance(outcome, RegistrationRefused):
            result.code, result.message = outcome.code, str(outcome.message)
        else:
            result.status = "created" if outcome.created else "duplicate"
            result.id = outcome.registration.pk
    return results


def _checked_item(
    item: RegistrationIn,
    niss: str | None,
    number: str | Refused,
    municipality_found: bool,
    allowed: dict[str, Employer],
    known: set[str],
) -> dict:
    """The service's own checks of one item (the core's come after): register()'s arguments."""
    if niss is None:
        raise Refused("invalid_ssin")
    if isinstance(number, Refused):
        raise number
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
    return {
        "niss": niss,
        "kind": item.type,
        "enterprise_number": number,
        "ddt_number": ddt,
        "place": place_of(item, municipality_found),
        "idempotency_key": item.clientReference,
        "swiped_at": item.registeredAt,
    }
