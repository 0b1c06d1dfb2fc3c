"""Looking places up: the suggestions of the address fields and the checks of the form.

Every query here filters on an indexed column and is LIMITed, so that its cost does not grow
with the tables (the BeST import holds some 100 000 streets).
"""

import re
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, Exists, F, IntegerField, OuterRef, Q, QuerySet, Value, When
from django.utils.translation import get_language, pgettext

from .models import Municipality, MunicipalityPart, PostalCode, Street, StreetLearner
from .text import search_key

SUGGESTION_LIMIT = 10
# One letter or one digit matches too much to be of any help.
MIN_QUERY_LENGTH = 2
POSTAL_CODE = re.compile(r"[1-9][0-9]{3}")
NIS_CODE = re.compile(r"[0-9]{5}")
# "1000", "10", "1000 brux", "brux": an optional postal code (prefix), then a name (prefix).
_QUERY = re.compile(r"\s*([0-9]{0,4})[\s,-]*(.*)", re.DOTALL)
STREET_NAME_MAX_LENGTH = Street._meta.get_field("name").max_length
# What may be learned from a worker's typing: real names are shorter than the column allows.
LEARNED_NAME_MAX_LENGTH = 80
# Letters and digits of any alphabet, spaces, and the punctuation of real street names
# ("Rue de l'Église", "Sint-Pieters-Leeuwsesteenweg", "Av. W. Churchill", "Rue du 8 Mai (Jambes)").
_STREET_CHARACTERS = re.compile(r"(?:[^\W_]|[ .,'’()/&°-])+")
_LETTER_WORD = re.compile(r"[^\W\d_]{2,}")


def format_address(
    street: str, house_number: str, box: str, postal_code: str, municipality: str
) -> str:
    """One way to write a free address everywhere, the manual's: "Rue du Midi 100/Bte 5,
    1000 Bruxelles"."""
    box_word = pgettext("postal address, abbreviated", "box")
    box_text = f"{box_word} {box}" if box else ""
    number = "/".join(filter(None, [house_number, box_text]))
    return f"{' '.join(filter(None, [street, number]))}, {postal_code} {municipality}"


@dataclass(frozen=True)
class MunicipalitySuggestion:
    postal_code: str
    name: str
    nis_code: str

    @property
    def label(self) -> str:
        return f"{self.postal_code} {self.name}"


def _language(language: str | None) -> str:
    return (language or get_language() or "").split("-")[0].lower()


def municipality_display_name(municipality: Municipality, language: str | None = None) -> str:
    """The name shown in `language` (the active language by default)."""
    return municipality.display_name(_language(language))


def _name_order(language: str):
    """The search column of the name that will be shown, to sort the suggestions by it."""
    if language in ("fr", "nl", "de"):
        return F(f"municipality__search_{language}")
    return Case(
        When(municipality__region=Municipality.Region.FLANDERS, then=F("municipality__search_nl")),
        default=F("municipality__search_fr"),
    )


def suggest_municipalities(query: str, language: str | None = None) -> list[MunicipalitySuggestion]:
    """At most 10 "postal code + municipality" pairs for what was typed: a postal code prefix,
    a name prefix in French, Dutch or German, or both ("1000 brux"). One query."""
    language = _language(language)
    if len(query.strip()) < MIN_QUERY_LENGTH:
        return []
    digits, rest = _QUERY.fullmatch(query).groups()
    name = search_key(rest)
    if not name and (not digits or rest.strip()):  # nothing but punctuation
        return []
    codes = PostalCode.objects.select_related("municipality")
    if digits:
        codes = codes.filter(code__startswith=digits)
    if name:
        codes = codes.filter(
            Q(municipality__search_fr__startswith=name)
            | Q(municipality__search_nl__startswith=name)
            | Q(municipality__search_de__startswith=name)
        )
    order = ["code", _name_order(language)] if digits else [_name_order(language), "code"]
    return [
        MunicipalitySuggestion(
            postal_code.code,
            postal_code.municipality.display_name(language),
            postal_code.municipality.nis_code,
        )
        for postal_code in codes.order_by(*order)[:SUGGESTION_LIMIT]
    ]


def suggest_streets(
    query: str, *, nis_code: str = "", postal_code: str = "", person=None
) -> list[Street]:
    """At most 10 streets with a word starting with what was typed ("midi" finds "Rue du
    Midi"), official ones first, then by name. One query; nothing without a valid code.

    A learned street is among them once enough different workers typed it, or when `person`
    (the worker asking) is one of them: one worker's typing is never shown to others at once.

    The streets are those of the municipalities of the postal code when there is one, with
    those of `nis_code` first: the NIS code the form remembers from the suggestion chosen may
    be stale once the worker changes the postal code. Without a postal code, `nis_code` alone.
    """
    key = search_key(query)
    if len(key) < MIN_QUERY_LENGTH:
        return []
    nis_code = nis_code if NIS_CODE.fullmatch(nis_code) else ""
    if POSTAL_CODE.fullmatch(postal_code):
        # 1040, 1050 and 1804 serve two municipalities: the streets of both are offered.
        streets = Street.objects.filter(municipality__postal_codes__code=postal_code)
    elif nis_code:
        streets = Street.objects.filter(municipality__nis_code=nis_code)
    else:
        return []
    shared = ~Q(source=Street.Source.LEARNED) | Q(learner_count__gte=settings.CLAO_STREET_LEARNERS)
    if person is not None and person.pk is not None:
        shared |= Q(Exists(StreetLearner.objects.filter(street=OuterRef("pk"), person=person)))
    return list(_matching(streets.filter(shared), key, nis_code)[:SUGGESTION_LIMIT])


def _matching(streets: QuerySet[Street], key: str, nis_code: str) -> QuerySet[Street]:
    # The search key separates words by single spaces, so " midi" is the start of a word.
    # The whole-name prefix is on the index; the word prefix only scans the municipality.
    starts_name = Q(search_name__startswith=key)
    streets = streets.filter(starts_name | Q(search_name__contains=f" {key}")).annotate(
        # Demonstration streets are real names too: only learned ones come last.
        learned=_flag(Q(source=Street.Source.LEARNED)),
        word_only=_flag(~starts_name),
    )
    order = ["learned", "word_only", "search_name"]
    if nis_code:
        streets = streets.annotate(elsewhere=_flag(~Q(municipality__nis_code=nis_code)))
        order.insert(0, "elsewhere")
    return streets.order_by(*order)


def _flag(condition: Q) -> Case:
    """1 where the condition holds, else 0: for ORDER BY."""
    return Case(When(condition, then=Value(1)), default=Value(0), output_field=IntegerField())


def municipalities_for_postal_code(postal_code: str) -> list[Municipality]:
    code = postal_code.strip()
    if not POSTAL_CODE.fullmatch(code):
        return []
    return list(Municipality.objects.filter(postal_codes__code=code)[:5])


def is_municipality_name(text: str) -> bool:
    """Whether the text is the name of some municipality, in any language."""
    key = search_key(text)
    return Municipality.objects.filter(
        Q(search_fr=key) | Q(search_nl=key) | Q(search_de=key)
    ).exists()


def resolve_address(postal_code: str, municipality_text: str) -> Municipality | None:
    """The municipality of an address typed in the form: the postal code must exist, and the
    text must be one of the names of one of its municipalities in any language, or a part of
    one known under that postal code ("1020 Laeken": MunicipalityPart, from BeST Address),
    accents and case ignored. An empty text is enough when the code serves one municipality.
    None for anything else."""
    candidates = municipalities_for_postal_code(postal_code)
    key = search_key(municipality_text)
    if not key:
        return candidates[0] if len(candidates) == 1 else None
    found = next((m for m in candidates if key in m.search_names), None)
    if found is None and candidates:
        part = (
            MunicipalityPart.objects.filter(
                postal_code=postal_code.strip(), search_name=key, municipality__in=candidates
            )
            .select_related("municipality")
            .first()
        )
        found = part.municipality if part is not None else None
    return found


def resolve_addresses(addresses: list[tuple[str, str]]) -> list[Municipality | None]:
    """resolve_address for many (postal code, municipality text) pairs, each distinct pair
    once: a badge reader's batch of 200 usually names a handful of places."""
    found = {pair: resolve_address(*pair) for pair in set(addresses) if any(pair)}
    return [found.get(pair) for pair in addresses]


def is_plausible_street_name(name: str) -> bool:
    """Whether typed text may be learned as a street name: at most 80 characters of letters,
    digits, spaces and the punctuation of real names, with a word of two letters or more.
    Control characters, "' OR 1=1--", "<b>", "-----" or "12345" never are."""
    return (
        len(name) <= LEARNED_NAME_MAX_LENGTH
        and _STREET_CHARACTERS.fullmatch(name) is not None
        and _LETTER_WORD.search(name) is not None
    )


def learn_street(municipality: Municipality, name: str, person=None) -> Street | None:
    """Remembers a street a worker (`person`) typed, to suggest it in that municipality: to
    them at once, to other workers once CLAO_STREET_LEARNERS different workers typed it.

    Returns the street that now stands for that name: the existing one when the municipality
    already has it under any source and spelling (accents and case ignored), so a learned name
    never duplicates an official one. None when the text is not a plausible street name."""
    name = " ".join(name.split())
    key = search_key(name)
    if len(key) < MIN_QUERY_LENGTH or not is_plausible_street_name(name):
        return None
    street = Street.objects.filter(municipality=municipality, search_name=key).first()
    if street is None:
        try:
            with transaction.atomic():
                street = Street.objects.create(
                    municipality=municipality, name=name, source=Street.Source.LEARNED
                )
        except IntegrityError:
            # Another request learned (or an import brought) the same street meanwhile.
            street = Street.objects.get(municipality=municipality, search_name=key)
    if street.source == Street.Source.LEARNED and person is not None:
        with transaction.atomic():
            _learner, new = StreetLearner.objects.get_or_create(street=street, person=person)
            if new:
                Street.objects.filter(pk=street.pk).update(learner_count=F("learner_count") + 1)
    return street
