"""Declarations of works (DDT) of an enterprise: the one write path (the form and the CSV
import both call `create_declaration`).

Refusals are `DeclarationRefused(errors)`: a dict field -> message, with the fields of the
form ("number", "postal_code", "municipality", "street", "house_number", "box", "latitude",
"longitude").
"""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from geo.addresses import (
    POSTAL_CODE,
    municipalities_for_postal_code,
    municipality_display_name,
    resolve_address,
)
from geo.text import search_key

from .ddt import parse_ddt
from .models import Employer, WorkDeclaration

FIELDS = (
    "number",
    "postal_code",
    "municipality",
    "street",
    "house_number",
    "box",
    "latitude",
    "longitude",
)


class DeclarationRefused(Exception):
    def __init__(self, errors: dict) -> None:
        super().__init__(", ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class SiteAddress:
    postal_code: str
    municipality: str
    street: str
    house_number: str = ""
    box: str = ""


def _coordinate(value, low: int, high: int, errors: dict, field: str) -> Decimal | None:
    text = str(value or "").strip().replace(",", ".")
    if not text:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or not low <= number <= high:
        errors[field] = _("Give a number between %(low)s and %(high)s (decimal degrees).") % {
            "low": low,
            "high": high,
        }
        return None
    return number.quantize(Decimal("0.000001"))


def check_address(values: dict) -> tuple[dict, dict]:
    """A Belgian address (postal code, municipality, street, number, box): cleaned, errors."""
    errors: dict = {}
    names = ("postal_code", "municipality", "street", "house_number", "box")
    clean = {name: str(values.get(name) or "").strip() for name in names}
    limits = {"house_number": 10, "box": 10, "street": 200}
    for name, limit in limits.items():
        if len(clean[name]) > limit:
            errors[name] = _("At most %(count)s characters.") % {"count": limit}
    if not clean["street"]:
        errors["street"] = _("Enter the street.")
    if not clean["postal_code"]:
        errors["postal_code"] = _("Enter the postal code.")
    elif not POSTAL_CODE.fullmatch(clean["postal_code"]):
        errors["postal_code"] = _("A Belgian postal code has 4 digits.")
    elif not municipalities_for_postal_code(clean["postal_code"]):
        errors["postal_code"] = _("This Belgian postal code does not exist.")
    elif not clean["municipality"]:
        errors["municipality"] = _("Enter the municipality.")
    else:
        # The worker form's rule (geo.addresses.resolve_address): a municipality of the
        # postal code, or a part of one that the post office names under it.
        candidates = municipalities_for_postal_code(clean["postal_code"])
        municipality = resolve_address(clean["postal_code"], clean["municipality"])
        if municipality is None:
            names = sorted({municipality_display_name(m, get_language()) for m in candidates})
            errors["municipality"] = _(
                "This municipality does not match postal code %(code)s: type %(names)s, "
                "or the part of it that the post office names under this code."
            ) % {"code": clean["postal_code"], "names": " / ".join(names)}
        elif search_key(clean["municipality"]) in municipality.search_names:
            clean["municipality"] = municipality_display_name(municipality, get_language())
        # Otherwise a known part ("Laeken", "Jambes"): kept as typed.
    return clean, errors


def check_site(values: dict) -> tuple[dict, dict]:
    """The cleaned fields of a declaration, and the errors (field -> message)."""
    clean, errors = check_address(values)
    clean["number"] = str(values.get("number") or "").strip()
    try:
        clean["number"] = parse_ddt(clean["number"])
    except ValidationError as exc:
        errors["number"] = exc.messages[0]
    for name in ("latitude", "longitude"):
        clean[name] = str(values.get(name) or "").strip()
    clean["latitude"] = _coordinate(clean["latitude"], -90, 90, errors, "latitude")
    clean["longitude"] = _coordinate(clean["longitude"], -180, 180, errors, "longitude")
    if (clean["latitude"] is None) != (clean["longitude"] is None) and not (
        errors.keys() & {"latitude", "longitude"}
    ):
        errors["longitude" if clean["longitude"] is None else "latitude"] = _(
            "Give both coordinates of the site, or none."
        )
    return clean, errors


def create_declaration(employer: Employer, values: dict) -> WorkDeclaration:
    """Stores a declaration of works of `employer`, or raises DeclarationRefused."""
    clean, errors = check_site(values)
    if errors:
        raise DeclarationRefused(errors)
    try:
        with transaction.atomic():
            return WorkDeclaration.objects.create(employer=employer, **clean)
    except IntegrityError:
        raise DeclarationRefused(
            {"number": _("This declaration number is already registered in ClaO.")}
        ) from None
