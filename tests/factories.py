"""Test data through the product's own paths: registrations only through checkins.services.

Personas (fixtures in tests/conftest.py): `anne` (a worker), `other_worker` (Jan), anonymous
(the plain `client`), `device` (a badge reader of N.S.I. with its token); employer staff:
`nsi_manager` (access manager of N.S.I.), `nsi_user`, `other_manager` (access manager of another
enterprise). Later issues add inspectors here.
"""

import uuid
from datetime import datetime
from decimal import Decimal

from accounts.models import Person
from api.credentials import issue_credential
from api.models import Device
from checkins.models import Registration
from checkins.partitions import ensure_month
from checkins.services import Place, register
from employers.mandates import grant
from employers.models import Employer, Mandate, WorkDeclaration

NSI_NUMBER = "0450905686"
# Another enterprise, for the scoping matrix: its staff never see N.S.I.'s data.
OTHER_NUMBER = "0755123422"
PLACE_FIELDS = (
    "latitude",
    "longitude",
    "accuracy_m",
    "postal_code",
    "municipality",
    "street",
    "house_number",
    "box",
)
BRUSSELS_GPS = Place(latitude=Decimal("50.845060"), longitude=Decimal("4.349540"))


def make_person(niss: str, **fields) -> Person:
    return Person.objects.create_user(niss, **fields)


def make_employer(number: str = NSI_NUMBER, name: str = "N.S.I.", **fields) -> Employer:
    employer, _created = Employer.objects.get_or_create(
        number=number, defaults={"name": name, **fields}
    )
    return employer


def make_registration(
    worker: Person,
    kind: str = "IN",
    when: datetime | None = None,
    *,
    enterprise_number: str = NSI_NUMBER,
    employer: Employer | None = None,
    employer_name: str | None = None,
    source: str = Registration.Source.SMARTPHONE,
    ddt_number: str = "",
    key: str | None = None,
    acted_by: Person | None = None,
    **place_fields,
) -> Registration:
    """One registration stored by `register()`, at `when` (history) or now.

    `employer_name` makes sure an employer of that name is known for the number, since the
    registration copies the name from the employer table as the product does.
    """
    if employer is not None:
        enterprise_number = employer.number
    unknown = set(place_fields) - set(PLACE_FIELDS)
    if unknown:
        raise TypeError(f"make_registration() got unexpected fields {sorted(unknown)}")
    if employer_name:
        make_employer(enterprise_number, employer_name)
    place = Place(**place_fields) if place_fields else BRUSSELS_GPS
    if place.latitude is not None and not isinstance(place.latitude, Decimal):
        place = Place(
            **{**place.__dict__, "latitude": Decimal(str(place.latitude))},
        )
    if place.longitude is not None and not isinstance(place.longitude, Decimal):
        place = Place(**{**place.__dict__, "longitude": Decimal(str(place.longitude))})
    if when is not None:
        # History: its month exists first, as a history loader makes it exist.
        ensure_month(when)
    return register(
        worker=worker,
        kind=kind,
        enterprise_number=enterprise_number,
        ddt_number=ddt_number,
        place=place,
        source=source,
        idempotency_key=key or str(uuid.uuid4()),
        acted_by=acted_by,
        recorded_at=when,
    ).registration


def make_device(
    owner: Employer | None = None, label: str = "Reader 1", may_send_for=()
) -> tuple[Device, str]:
    """A device credential issued as the employer space and the command do; (device, token)."""
    return issue_credential(owner or make_employer(), label, may_send_for)


def make_mandate(
    person: Person, employer: Employer, role: str = Mandate.Role.ACCESS_MANAGER, by=None
) -> Mandate:
    """A mandate through the product's own path (employers.mandates.grant)."""
    return grant(employer=employer, niss=person.niss, role=role, granted_by=by)


def make_declaration(
    employer: Employer, number: str = "1Y1002V9KLZ6Z", **fields
) -> WorkDeclaration:
    site = {"postal_code": "1000", "municipality": "Bruxelles", "street": "Rue du Midi"}
    return WorkDeclaration.objects.create(number=number, employer=employer, **{**site, **fields})


INSPECTOR_NISS = "80051212368"


def make_inspector(niss: str = INSPECTOR_NISS, office: str = "ONSS Bruxelles", **fields) -> Person:
    """A person holding the inspector role, granted as the grant_inspector command does."""
    from inspection.roles import grant

    person = Person.objects.filter(niss=niss).first() or make_person(niss, **fields)
    grant(person, office)
    return person
