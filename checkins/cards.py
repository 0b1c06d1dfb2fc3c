"""The day list's cards, each rendered once and kept in the cache.

Rendering the cards was half of the day list's CPU (the template's includes, translations and
date formats, for each card). A card cannot change under a key that names all it shows: a
registration is never updated (append-only), nor is a correction; what the card knows from its
neighbours is in `Card`. The key names the registration, its corrections, the card's facts,
the language and the time zone, and a digest of the card's templates and of the language's
translations, so that a release that changes either never shows an old card. The cache is the
default one: Redis in production (shared by every process), memory in the embedded demo.
"""

import hashlib
from typing import TYPE_CHECKING

from django.core.cache import cache
from django.template.loader import get_template, render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, trans_real

if TYPE_CHECKING:
    from .day_views import Card

TEMPLATE = "checkins/card.html"
# The templates a card is made of (card.html includes the fields).
TEMPLATES = (TEMPLATE, "checkins/registration_fields.html")
# A day's card for a week: the list is mostly looked at on the day.
TIMEOUT = 7 * 24 * 3600

_digests: dict[str, str] = {}


def _digest(language: str) -> str:
    """Of the card's templates and the language's translations, once per process."""
    if language not in _digests:
        digest = hashlib.sha256()
        for name in TEMPLATES:
            digest.update(get_template(name).template.source.encode())
        catalog = trans_real.translation(language)._catalog
        for msgid, message in sorted(catalog.items(), key=repr):
            digest.update(repr((msgid, message)).encode())
        _digests[language] = digest.hexdigest()[:16]
    return _digests[language]


def _key(card: "Card", prefix: str) -> str:
    corrections = ",".join(str(c.pk) for c in card.registration.corrections.all())
    # The IN it closes is a registration too: its id says all of it.
    closes = card.closes.pk if card.closes is not None else ""
    facts = f"{card.utc_offset}:{card.closes_utc_offset}:{card.closes_forgotten:d}:{card.no_out:d}"
    return f"{prefix}:{card.registration.pk}:{corrections}:{closes}:{facts}"


def render_cards(cards: list["Card"]) -> list[SafeString]:
    """Each card's HTML (templates/checkins/card.html), in order: those in the cache from it,
    the others rendered and stored; one cache round trip for the hits, one for the new."""
    language = get_language()
    prefix = f"card:{_digest(language)}:{language}:{timezone.get_current_timezone_name()}"
    keys = [_key(card, prefix) for card in cards]
    found = cache.get_many(keys)
    made = {}
    for key, card in zip(keys, cards, strict=True):
        if key not in found:
            made[key] = render_to_string(
                TEMPLATE, {"registration": card.registration, "card": card}
            )
    if made:
        cache.set_many(made, TIMEOUT)
    return [mark_safe(found.get(key) or made[key]) for key in keys]  # noqa: S308 - our template's output
