"""Every string a person can see exists in French, Dutch, German and English."""

import re
from datetime import timedelta
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.utils import timezone

from checkins.models import Registration
from demo.people import PEOPLE
from employers.models import Employer, WorkDeclaration
from tests.factories import make_registration
from tests.saml import open_idp

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ["fr", "nl", "de", "en"]
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\w*\}")


def catalogs(language: str) -> list[Path]:
    """The root catalog and each app's own (an app may keep its translations beside it)."""
    found = [ROOT / "locale" / language / "LC_MESSAGES" / "django.po"]
    for path in sorted(ROOT.glob(f"*/locale/{language}/LC_MESSAGES/django.po")):
        if path.parts[len(ROOT.parts)] not in {".venv", "node_modules"}:
            found.append(path)
    return found


def catalog(language: str) -> list[dict]:
    """The entries of every .po file of a language: msgctxt, msgid, msgstr and flags."""
    return [entry for path in catalogs(language) for entry in _entries(path)]


def _entries(path: Path) -> list[dict]:
    entries, entry, field = [], {}, None
    for line in path.read_text().splitlines():
        if not line.strip():
            if entry:
                entries.append(entry)
            entry, field = {}, None
        elif line.startswith("#,"):
            entry["flags"] = line
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            entry[field] += _unquote(line)
        else:
            field, _space, value = line.partition(" ")
            entry[field] = _unquote(value)
    if entry:
        entries.append(entry)
    return [e for e in entries if e.get("msgid")]


def _unquote(value: str) -> str:
    return value.strip()[1:-1].encode().decode("unicode_escape").encode("latin-1").decode()


@pytest.mark.parametrize("language", LANGUAGES)
def test_it_has_every_entry_translated_without_fuzzy(language):
    entries = catalog(language)
    assert len(entries) > 100
    untranslated = [e["msgid"] for e in entries if not e.get("msgstr", e.get("msgstr[0]"))]
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e.get("flags", "")]
    assert untranslated == []
    assert fuzzy == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_it_keeps_every_placeholder(language):
    for entry in catalog(language):
        translated = entry.get("msgstr", entry.get("msgstr[0]", ""))
        expected = sorted(PLACEHOLDER.findall(entry["msgid"]))
        assert sorted(PLACEHOLDER.findall(translated)) == expected, entry["msgid"]


class _Text(HTMLParser):
    """Visible text and the attributes read aloud or shown (title, aria-label, placeholder)."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name in ("title", "aria-label", "placeholder", "alt") and value:
                self.texts.append(value.strip())
            if name.startswith("data-msg-") and value:
                self.texts.append(value.strip())

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.texts.append(" ".join(data.split()))


def visible_texts(page: str) -> set[str]:
    parser = _Text()
    parser.feed(page)
    return set(parser.texts)


# Words that are the same in every language: names, codes, the manual's IN and OUT.
PEOPLE = "|".join(f"{p['first_name']} {p['last_name']}" for p in PEOPLE)
SAME_EVERYWHERE = re.compile(
    rf"^({PEOPLE}|[^A-Za-zÀ-ÿ]*|m\)|ClaO|CSAM|IN|OUT|itsme|Français|Nederlands|Deutsch|English|N\.S\.I\.|Anne-Sophie|"
    r"Dubois|X:|Y:|[\d\s.,:/()±+\-–]*m?|UTC[+-]\d|IN / OUT|Android \(Chrome\)|.*\d{4}.*|"
    r"Rue du Midi.*|Bruxelles|Brussel|Brüssel|1Y1002V9KLZ6Z|Chrome|Safari|eID)$"
)


def _data(anne) -> Registration:
    nsi = Employer.objects.create(number="0450905686", name="N.S.I.", link_token="nsi")
    WorkDeclaration.objects.create(
        number="1Y1002V9KLZ6Z",
        employer=nsi,
        postal_code="1000",
        municipality="Bruxelles",
        street="Rue du Midi",
    )
    registration = make_registration(
        anne,
        "IN",
        timezone.now() - timedelta(hours=1),
        latitude=Decimal("50.681805"),
        longitude=Decimal("4.834123"),
        source=Registration.Source.BADGE_READER,
    )
    return registration


def _pages(client, anne, registration) -> dict[str, str]:
    client.force_login(anne)
    pages = {
        "home": client.get("/"),
        "yesterday": client.get(f"/?date={timezone.localdate() - timedelta(days=1)}"),
        "bad date": client.get("/?date=2099-01-01"),
        "form": client.get("/registrations/new/"),
        "form errors": client.post("/registrations/new/", {"kind": "IN"}),
        "qr form": client.get("/qr/1Y1002V9KLZ6Z/", follow=True),
        "confirmation": client.get(f"/registrations/{registration.pk}/"),
        "help": client.get("/help/"),
        "bad qr": client.get("/qr/NOPE/"),
        "unknown qr": client.get("/qr/AAAAAAAAAAAAA/"),
        "unknown link": client.get("/l/nope/"),
        "404": client.get(f"/registrations/{registration.pk + 1000}/"),
        "municipalities": client.get("/geo/municipalities/?q=brux"),
    }
    client.post("/logout/")
    pages["logged out"] = client.get("/logged-out/")
    pages["idp"] = open_idp(client, "/")
    pages["refused"] = client.post(
        "/accounts/saml/csam/acs/", {"SAMLResponse": "garbage"}, follow=True
    )
    return {name: response.content.decode() for name, response in pages.items()}


def test_it_leaves_no_text_untranslated_on_any_page(client, anne, geo_data):
    registration = _data(anne)
    by_language = {}
    for language in LANGUAGES:
        anne.language = language
        anne.save()
        client.cookies.clear()
        client.cookies["django_language"] = language
        by_language[language] = _pages(client, anne, registration)
    leaks = []
    for name in by_language["fr"]:
        texts = {language: visible_texts(by_language[language][name]) for language in LANGUAGES}
        for language in ("fr", "nl", "de"):
            assert f'<html lang="{language}">' in by_language[language][name], name
            # A text shown unchanged in French, Dutch and German was not translated.
            others = [texts[other] for other in ("fr", "nl", "de") if other != language]
            for text in texts[language]:
                if all(text in other for other in others) and not SAME_EVERYWHERE.match(text):
                    leaks.append((name, text))
    assert sorted(set(leaks)) == [], "\n".join(map(str, sorted(set(leaks))))
