"""The shapes of the web service, from which django-ninja (pydantic) both parses requests and
writes the OpenAPI description: no hand-written schema, no hand JSON parsing.

Field names follow the ONSS's presence-registration web services (clientReference, ssin,
workDeclaration, placeOfWork, registeredAt...). Numbers (NISS, enterprise, DDT, postal code)
are plain strings here: their rules live in the domain, and a wrong one refuses only its own
item, with a code, instead of the whole batch.
"""

from datetime import UTC, datetime
from typing import Annotated, Literal

from ninja import Field, Schema
from pydantic import AfterValidator, AwareDatetime, StringConstraints, model_validator

# No control characters (a NUL byte cannot be stored, a newline has no place in a number).
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
MAX_BATCH = 200


def text(max_length: int, min_length: int = 0):
    return Annotated[
        str,
        StringConstraints(min_length=min_length, max_length=max_length, pattern=PRINTABLE),
    ]


ClientReference = text(100, min_length=1)


def _in_utc(moment: datetime) -> datetime:
    # The database knows offsets up to 15:59 and years from 1: a time any device could mean is
    # taken in UTC, one that cannot be is refused like any malformed value.
    try:
        moment = moment.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("this time cannot be represented in UTC") from exc
    if not 1900 <= moment.year <= 9998:
        raise ValueError("the year must be between 1900 and 9998")
    return moment


Moment = Annotated[AwareDatetime, AfterValidator(_in_utc)]


class Coordinates(Schema):
    latitude: float = Field(ge=-90, le=90, allow_inf_nan=False, examples=[50.84506])
    longitude: float = Field(ge=-180, le=180, allow_inf_nan=False, examples=[4.34954])


class Address(Schema):
    postCode: text(10) = Field(examples=["1000"])
    municipalityName: text(100) = Field(examples=["Bruxelles"])
    streetName: text(200) = Field(examples=["Rue du Midi"])
    houseNumber: text(10) = ""
    boxNumber: text(10) = ""


class PlaceOfWork(Schema):
    """Either `coordinates` or `address`, as the worker's form: never both, never neither."""

    coordinates: Coordinates | None = None
    address: Address | None = None


class EmployerRef(Schema):
    """A Belgian employer by `enterpriseNumber` (BCE/KBO), or a foreign one by
    `foreignVatNumber` and `countryCode`."""

    enterpriseNumber: text(20) | None = Field(None, examples=["0450905686"])
    foreignVatNumber: text(20) | None = None
    countryCode: text(2) | None = Field(None, examples=["FR"])


class RegistrationIn(Schema):
    clientReference: ClientReference = Field(
        description="The sender's unique key for this item: sent again, it stores nothing twice.",
        examples=["reader-7-000123"],
    )
    ssin: text(20) = Field(description="The worker's NISS or BIS number.", examples=["85073003328"])
    type: Literal["IN", "OUT"]
    employer: EmployerRef
    workDeclaration: text(20) | None = Field(
        None, description="The declaration of works (DDT) number, if known."
    )
    placeOfWork: PlaceOfWork | None = None
    registeredAt: Moment = Field(
        description="The device's time of the badge swipe, with its UTC offset."
    )


class BatchIn(Schema):
    registrations: list[RegistrationIn] = Field(min_length=1, max_length=MAX_BATCH)


class ItemResult(Schema):
    """One answer per item, in the batch's order."""

    index: int
    clientReference: str
    status: Literal["created", "duplicate", "refused"]
    id: int | None = Field(
        None, description="The registration's id (for a duplicate: the first one's)."
    )
    code: str | None = Field(None, description="Why an item was refused: a stable code.")
    message: str | None = Field(
        None, description="The reason in the language of the request's Accept-Language."
    )


class BatchOut(Schema):
    created: int
    duplicates: int
    refused: int
    results: list[ItemResult]


class ApiError(Schema):
    code: str
    message: str
    detail: list[dict] | None = None


class StoredEmployer(Schema):
    enterpriseNumber: str | None = None
    foreignVatNumber: str | None = None
    name: str


class StoredRegistration(Schema):
    id: int
    clientReference: str
    ssin: str
    type: str
    employer: StoredEmployer
    workDeclaration: str | None = None
    placeOfWork: PlaceOfWork
    registeredAt: datetime | None = Field(None, description="The device's time of the swipe.")
    receivedAt: datetime = Field(description="The server's time of receipt.")


class RegistrationPage(Schema):
    count: int
    page: int
    pageSize: int
    items: list[StoredRegistration]


class RegistrationQuery(Schema):
    from_: Moment | None = Field(
        None, alias="from", description="Swipes from this time on (inclusive)."
    )
    to: Moment | None = Field(None, description="Swipes before this time (exclusive).")
    clientReference: ClientReference | None = None
    page: int = Field(1, ge=1, le=1_000_000)
    pageSize: int = Field(100, ge=1, le=MAX_BATCH)

    @model_validator(mode="after")
    def _ordered(self):
        if self.from_ and self.to and self.to < self.from_:
            raise ValueError("'to' is before 'from'")
        return self
