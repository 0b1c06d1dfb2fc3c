"""The people the development IdP can log in as: the demo workers, the access manager of each
demo employer, plus one newcomer."""

DEMO_PEOPLE = [
    # One employer.
    {"niss": "85073003328", "first_name": "Anne-Sophie", "last_name": "Dubois", "language": "fr"},
    # Three employers.
    {"niss": "92021415810", "first_name": "Jan", "last_name": "Peeters", "language": "nl"},
    # No employer known yet.
    {"niss": "78110324522", "first_name": "Maria", "last_name": "Schmidt", "language": "de"},
    # A BIS number: a non-resident posted by a foreign employer (LIMOSA).
    {"niss": "98472899765", "first_name": "Ana", "last_name": "Popescu", "language": "en"},
]

# Employers' staff: the access manager of each demo employer (the link token of loaddemo's
# EMPLOYERS). They log in like everyone and find the employer space in the header.
DEMO_STAFF = [
    {"niss": "75041210175", "first_name": "Sophie", "last_name": "Lambert", "language": "fr",
     "employer": "nsi-demo"},
    {"niss": "80091520323", "first_name": "Marc", "last_name": "Dupont", "language": "fr",
     "employer": "net-propre"},
    {"niss": "69112230576", "first_name": "Els", "last_name": "Janssens", "language": "nl",
     "employer": "schoonmaak-vlaanderen"},
    {"niss": "83060740704", "first_name": "Nadia", "last_name": "Benali", "language": "fr",
     "employer": "clean-bruxelles"},
    {"niss": "77022850988", "first_name": "Ioana", "last_name": "Ionescu", "language": "en",
     "employer": "curatenie-ro"},
]  # fmt: skip


# An ONSS inspector: `loaddemo` grants the role (inspection/roles.py) for this office.
DEMO_INSPECTOR = {
    "niss": "80051212368",
    "first_name": "Inès",
    "last_name": "Lambert",
    "language": "fr",
}
DEMO_INSPECTOR_OFFICE = "ONSS Bruxelles"
# Sent by the development IdP when CLAO_SAML_ATTR_INSPECTOR_OFFICE names an attribute.
DEMO_INSPECTOR["office"] = DEMO_INSPECTOR_OFFICE

# Not in the demo data: the first login creates the worker.
NEWCOMER = {
    "niss": "88081219093",
    "first_name": "Karim",
    "last_name": "El Amrani",
    "language": "fr",
}

PEOPLE = [*DEMO_PEOPLE, *DEMO_STAFF, DEMO_INSPECTOR, NEWCOMER]


def find_person(niss: str) -> dict | None:
    return next((person for person in PEOPLE if person["niss"] == niss), None)
