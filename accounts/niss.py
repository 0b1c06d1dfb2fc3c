"""NISS / BIS numbers (the Belgian social security identification number)."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from stdnum.be import nn, ssn
from stdnum.exceptions import ValidationError as StdnumError


def compact_niss(value: str) -> str:
    """Returns the 11-digit NISS or BIS number, or raises ValidationError."""
    try:
        return ssn.validate(value)
    except StdnumError as exc:
        raise ValidationError(
            _("This is not a valid NISS or BIS number."), code="invalid_niss"
        ) from exc


def validate_niss(value: str) -> None:
    compact_niss(value)


def format_niss(value: str) -> str:
    """85073003328 -> 85.07.30-033.28"""
    return nn.format(value)


def mask_niss(value: str) -> str:
    """For logs: never write a NISS in clear."""
    return f"{value[:2]}*******{value[-2:]}" if len(value) >= 4 else "***"
