"""How a day is named in each language, beyond what one date format string can say."""

from datetime import date

from django import template
from django.utils.dateformat import format as format_date
from django.utils.formats import get_format
from django.utils.text import capfirst

register = template.Library()


@register.filter
def day_heading(day: date) -> str:
    """ "Dimanche 1er novembre 2026", "Sonntag, 29. November 2026": each language's format
    module says how; capitalised here, as a heading starts."""
    name = "FIRST_DAY_HEADING_FORMAT" if day.day == 1 else "DAY_HEADING_FORMAT"
    return capfirst(format_date(day, get_format(name)))
