"""CSV imports of the employer space: declarations of works, and DIMONA/LIMOSA contracts.

Each line is checked and stored on its own; the report says, line by line, what was stored
and why a line was refused (nothing of a refused line is stored). A header line is
recognised and skipped; the separator is ";" or ",".
"""

import csv
import io
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .declarations import FIELDS as DECLARATION_FIELDS
from .declarations import DeclarationRefused, create_declaration
from .mandates import MandateRefused, person_by_niss
from .models import Contract, Employer

MAX_LINES = 5000


@dataclass(frozen=True)
class LineResult:
    line: int
    text: str
    stored: bool
    message: str | Promise


def _rows(text: str):
    sample = text[:2000]
    delimiter = ";" if sample.count(";") >= sample.count(",") else ","
    for number, row in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), start=1):
        if not any(cell.strip() for cell in row):
            continue
        yield number, [cell.strip() for cell in row], delimiter.join(row)


def _is_header(row: list[str], first: str) -> bool:
    return bool(row) and row[0].strip().lower() == first


def import_declarations(employer: Employer, text: str) -> list[LineResult]:
    """Columns: number; postal code; municipality; street; number; box; latitude; longitude."""
    results = []
    for number, row, raw in _rows(text):
        if number == 1 and _is_header(row, "number"):
            continue
        if len(results) >= MAX_LINES:
            results.append(LineResult(number, raw, False, _("Too many lines: 5000 at most.")))
            break
        values = dict(zip(DECLARATION_FIELDS, row, strict=False))
        try:
            declaration = create_declaration(employer, values)
        except DeclarationRefused as refused:
            message = " ".join(str(m) for m in refused.errors.values())
            results.append(LineResult(number, raw, False, message))
        else:
            results.append(
                LineResult(number, raw, True, _("Stored: %(n)s") % {"n": declaration.number})
            )
    return results


def _date(value: str, required: bool) -> date | None:
    value = value.strip()
    if not value:
        if required:
            raise ValidationError(_("The start date is missing."))
        return None
    for parse in (date.fromisoformat, lambda v: date(*reversed([int(p) for p in v.split("/")]))):
        try:
            return parse(value)
        except (ValueError, TypeError):
            continue
    raise ValidationError(
        _("%(value)s is not a date (YYYY-MM-DD or DD/MM/YYYY).") % {"value": value}
    )


def import_contracts(employer: Employer, text: str) -> list[LineResult]:
    """Columns: NISS; kind (DIMONA or LIMOSA); start date; end date (optional)."""
    results = []
    for number, row, raw in _rows(text):
        if number == 1 and _is_header(row, "niss"):
            continue
        if len(results) >= MAX_LINES:
            results.append(LineResult(number, raw, False, _("Too many lines: 5000 at most.")))
            break
        niss, kind, start, end = (row + ["", "", "", ""])[:4]
        kind = kind.upper()
        try:
            if kind not in Contract.Kind.values:
                raise ValidationError(_("The kind must be DIMONA or LIMOSA."))
            start_date = _date(start, required=True)
            end_date = _date(end, required=False)
            if end_date is not None and end_date < start_date:
                raise ValidationError(_("The end date comes before the start date."))
            with transaction.atomic():
                worker = person_by_niss(niss)
                _contract, created = Contract.objects.get_or_create(
                    worker=worker,
                    employer=employer,
                    kind=kind,
                    start_date=start_date,
                    defaults={"end_date": end_date},
                )
                if not created and _contract.end_date != end_date:
                    _contract.end_date = end_date
                    _contract.save(update_fields=["end_date"])
        except MandateRefused as refused:
            results.append(LineResult(number, raw, False, refused.message))
        except ValidationError as exc:
            results.append(LineResult(number, raw, False, exc.messages[0]))
        else:
            results.append(
                LineResult(
                    number,
                    raw,
                    True,
                    _("Stored: %(kind)s of %(niss)s")
                    % {"kind": kind, "niss": worker.formatted_niss},
                )
            )
    return results
