"""Enterprise numbers: Belgian BCE/KBO numbers and foreign VAT numbers.

Checked offline with python-stdnum only: VIES (check_vies) would need the network and
would make a registration depend on an outside service.
"""

import pkgutil
import re
from dataclasses import dataclass
from functools import cache

import stdnum
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from stdnum.be import vat as be_vat
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.util import clean, get_cc_module

# The stored number (Employer.number, Registration.enterprise_number). Real VAT numbers with
# their prefix stay well below it: 14 for the EU (NL123456789B01), 16 for CHE...MWST.
MAX_LENGTH = 20
# What a number may hold once spaces, dashes, dots and slashes are taken out: ASCII letters
# and digits ("²" or "٣" are digits for Python, not for a VAT number).
_CHARACTERS = re.compile(r"[A-Z0-9]+")
# The VAT prefixes of the EU that are not the ISO code: Greece writes EL, Northern Ireland XI
# (its numbers are British ones).
VAT_PREFIX_COUNTRY = {"EL": "gr", "XI": "gb"}


@cache
def known_prefixes() -> frozenset[str]:
    """Every prefix a foreign VAT number may start with: the EU VAT prefixes (EL, XI, ...) and
    the countries python-stdnum knows, whether or not it can check their VAT numbers."""
    countries = {
        module.name.upper()
        for module in pkgutil.iter_modules(stdnum.__path__)
        if module.ispkg and len(module.name) == 2
    }
    return frozenset(countries | VAT_PREFIX_COUNTRY.keys())


@dataclass(frozen=True)
class EnterpriseNumber:
    country: str  # ISO 3166 alpha-2, upper case
    number: str  # BE: 10 digits; elsewhere: the compact number with its country prefix
    checked: bool  # False when no checker is known for that country

    @property
    def display(self) -> str:
        return format_enterprise_number(self.number)


def format_enterprise_number(number: str) -> str:
    """0450.905.686 for a stored Belgian number (10 digits); a VAT number as it is."""
    if len(number) == 10 and number.isdigit():
        return f"{number[:4]}.{number[4:7]}.{number[7:]}"
    return number


def parse_enterprise_number(value: str) -> EnterpriseNumber:
    """Accepts 0450.905.686, BE0450905686, 450905686 or a foreign VAT number with its prefix."""
    raw = clean(value or "", " -./").upper().strip()
    if not raw:
        raise ValidationError(_("Enter the enterprise number."), code="required")
    # Checked before anything reads the number: a NUL byte cannot reach the database and
    # 5,000 digits cannot reach int().
    if len(raw) > MAX_LENGTH:
        raise ValidationError(
            _("An enterprise number has at most %(max)d characters.") % {"max": MAX_LENGTH},
            code="too_long",
        )
    if not _CHARACTERS.fullmatch(raw):
        raise ValidationError(
            _("An enterprise number holds only letters and digits."), code="characters"
        )
    if raw.isdigit() or raw.startswith("BE"):
        try:
            return EnterpriseNumber("BE", be_vat.validate(raw), True)
        except StdnumError as exc:
            raise ValidationError(
                _("This is not a valid Belgian enterprise number."), code="invalid_be"
            ) from exc
    country = raw[:2]
    if not country.isalpha() or len(raw) < 4:
        raise ValidationError(
            _("Start a foreign VAT number with its country code, for example FR or NL."),
            code="no_country",
        )
    if country not in known_prefixes():
        raise ValidationError(
            _(
                "%(prefix)s is not the country code of a VAT number. Start a foreign VAT "
                "number with its country code, for example FR or NL."
            ),
            code="unknown_country",
            params={"prefix": country},
        )
    module = get_cc_module(VAT_PREFIX_COUNTRY.get(country, country.lower()), "vat")
    if module is None:
        # A country python-stdnum knows without a VAT checker: kept as typed, with a note.
        return EnterpriseNumber(country, raw, False)
    try:
        number = module.validate(raw)
    except StdnumError as exc:
        raise ValidationError(
            _("This is not a valid VAT number for that country."), code="invalid_vat"
        ) from exc
    if not number.startswith(country):
        number = country + number
    return EnterpriseNumber(country, number, True)


def validate_enterprise_number(value: str) -> None:
    parse_enterprise_number(value)
