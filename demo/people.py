"""The people the development IdP can log in as: the demo workers, plus one newcomer."""

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

# Not in the demo data: the first login creates the worker.
NEWCOMER = {
    "niss": "88081219093",
    "first_name": "Karim",
    "last_name": "El Amrani",
    "language": "fr",
}

PEOPLE = [*DEMO_PEOPLE, NEWCOMER]


def find_person(niss: str) -> dict | None:
    return next((person for person in PEOPLE if person["niss"] == niss), None)
