"""Numbers of the declaration of works (DDT): 13 characters, no I or O, no known check character."""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

DDT_PATTERN = r"[A-HJ-NP-Z0-9]{13}"
_DDT_RE = re.compile(rf"^{DDT_PATTERN}$")


def normalise_ddt(value: str) -> str:
    return "".join((value or "").split()).upper()


def parse_ddt(value: str) -> str:
    number = normalise_ddt(value)
    if not _DDT_RE.match(number):
        raise ValidationError(
            _("A declaration number has 13 characters: digits and letters, without I or O."),
            code="invalid_ddt",
        )
    return number


def validate_ddt(value: str) -> None:
    parse_ddt(value)
