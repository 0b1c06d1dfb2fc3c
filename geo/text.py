"""The search key of a place name: what a worker types must find it whatever the accents."""

import re
import unicodedata

# Ligatures that NFKD leaves alone but that people type as two letters ("Sainte-Cœur").
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ø": "o", "ł": "l", "đ": "d"})
_SEPARATORS = re.compile(r"[\W_]+")


def search_key(text: str) -> str:
    """Lower case, without accents, words separated by one space: "Chaussée d'Ixelles" gives
    "chaussee d ixelles", so that "ixelles" is a word prefix and "d'ixelles" matches too."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_LIGATURES))
    unaccented = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _SEPARATORS.sub(" ", unaccented).strip()
